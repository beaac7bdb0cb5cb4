"""Why does a fact hold? Derivation trees over a finished materialization.

A fact derived in round r has a rule instance whose body facts were all known before round r;
following such instances down to input facts gives a finite, well-founded explanation. Facts
are triples or tuples of an n-ary tuple table (``Derivation.table`` names it; ``fact`` then
holds its arguments), so a flag derived through tuple tables is explained down to its inputs.

>>> from fincrime.rules import parse_program
>>> from fincrime.engine import materialize_frame
>>> import polars as pl
>>> prog = parse_program("[?x, :r, ?y] :- [?x, :p, ?y] .", prefixes={"": "http://e/"})
>>> res = materialize_frame(prog, pl.DataFrame({"s": ["<http://e/a>"], "p": ["<http://e/p>"], "o": ["<http://e/b>"]}))
>>> tree = explain(res, prog, ("<http://e/a>", "<http://e/r>", "<http://e/b>"))
>>> tree.rule is not None, tree.children[0].input
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from fincrime.engine.result import Result
from fincrime.errors import InputError
from fincrime.rules.ast import Atom, Const, Program, Var
from fincrime.rules.plan import TYPE_IRI, RelKey, RulePlan, build_plan


@dataclass
class Derivation:
    fact: tuple[str, ...]  # (s, p, o) of a triple, or the arguments of a tuple-table fact
    input: bool = False
    rule: RulePlan | None = None
    children: list[Derivation] = field(default_factory=list)
    note: str = ""
    table: str | None = None  # the tuple table (an ``<iri>`` term) of a tuple fact

    def text(self) -> str:
        """``s p o`` of a triple, ``<table>(a, b, ...)`` of a tuple."""
        return f"{self.table}({', '.join(self.fact)})" if self.table else " ".join(self.fact)


Fact = tuple[str | None, tuple[str, ...]]  # (tuple table or None, terms)


#: Answers of an AGGREGATE listed under the fact it produced (the note gives their number).
AGGREGATED_SHOWN = 10


def explain(result: Result, program: Program, fact: tuple[str, str, str], max_depth: int = 12) -> Derivation:
    plan = build_plan(program)
    ex = result.executor
    stated = {(h.table, tuple(a.term for a in h.args)) for r in plan.facts for h in r.head
              if all(isinstance(a, Const) for a in h.args)}
    return _explain(result, plan.rule_plans(), (None, tuple(fact)), max_depth, ex, stated)


def _key_and_row(ex, fact: Fact) -> tuple[RelKey, dict[str, int]] | None:  # type: ignore[no-untyped-def]
    table, terms = fact
    # predicates and classes name relations; they need not be terms of the dictionary
    looked_up = terms if table is not None else (terms[:1] if terms[1] == TYPE_IRI else (terms[0], terms[2]))
    ids = ex.terms.lookup(pl.Series(list(looked_up)))
    if ids.null_count():
        return None
    values = [int(i) for i in ids]
    if table is not None:
        return RelKey("t", table, len(terms)), {f"c{i}": v for i, v in enumerate(values)}
    if terms[1] == TYPE_IRI:
        return RelKey("c", terms[2], 1), {"s": values[0]}
    return RelKey("p", terms[1]), {"s": values[0], "o": values[1]}


def _round(ex, fact: Fact) -> int | None:  # type: ignore[no-untyped-def]
    found = _key_and_row(ex, fact)
    if found is None or found[0] not in ex.relations:
        return None
    key, row = found
    return ex.relations[key].round_of(row)


def _node(fact: Fact, **kw) -> Derivation:  # type: ignore[no-untyped-def]
    return Derivation(fact[1], table=fact[0], **kw)


def _explain(result: Result, rules: list[RulePlan], fact: Fact, depth: int, ex, stated: set[Fact]) -> Derivation:  # type: ignore[no-untyped-def]
    found = _key_and_row(ex, fact)
    shown = _node(fact).text()
    if found is None:
        raise InputError(f"not a fact: {shown} .")
    if fact in stated:
        return _node(fact, note="stated in a rule file (a parameter default or a fact)")
    key, row = found
    if key in result._input_rows and key in ex.relations:
        full = ex.relations[key].view("full").head(result._input_rows[key])
        if full.filter(pl.all_horizontal([pl.col(c) == v for c, v in row.items()])).height:
            return _node(fact, input=True)
    target_round = _round(ex, fact)
    if target_round is None:
        raise InputError(f"not a fact: {shown} .")
    if depth <= 0:
        return _node(fact, note="… (deeper derivation not shown)")
    for rp in rules:
        for head in rp.head:
            seed = _unify(head, fact, ex)
            if seed is None:
                continue
            frame = ex.evaluate_body(rp.body, None, rp.rule.base, seed=pl.DataFrame(seed, schema={k: pl.UInt32 for k in seed}))
            if frame is None or frame.height == 0:
                continue
            for binding in frame.head(200).iter_rows(named=True):
                body_facts = [_instantiate(a, binding, ex) for a in rp.body.atoms]
                rounds = [_round(ex, f) for f in body_facts]
                if all(r is not None and r < target_round for r in rounds):
                    node = _node(fact, rule=rp)
                    node.children = [_explain(result, rules, f, depth - 1, ex, stated) for f in body_facts]
                    notes = ["with its NOT conditions holding"] if rp.body.negations else []
                    for agg in rp.body.aggregates:
                        answers, total = _aggregated(agg, binding, rp, ex)
                        node.children += [_explain(result, rules, f, depth - 1, ex, stated) for f in answers]
                        notes.append(f"aggregating {total:,} answers" + (f" (first {len(answers)} shown)" if total > len(answers) else ""))
                    node.note = "; ".join(notes)
                    return node
    return _node(fact, note="derived (no rule instance found from earlier facts)")


def _aggregated(agg, binding: dict[str, int], rp: RulePlan, ex) -> tuple[list[Fact], int]:  # type: ignore[no-untyped-def]
    """The first body facts of the answers an AGGREGATE combined for this binding of its group."""
    seed = {g: [binding[g]] for g in agg.group if binding.get(g) is not None}
    frame = ex.evaluate_body(agg.body, None, rp.rule.base,
                             seed=pl.DataFrame(seed, schema={k: pl.UInt32 for k in seed}) if seed else None)
    if frame is None or frame.height == 0:
        return [], 0
    facts: list[Fact] = []
    for row in frame.head(AGGREGATED_SHOWN).iter_rows(named=True):
        for atom in agg.body.atoms:
            f = _instantiate(atom, row, ex)
            if f not in facts:
                facts.append(f)
    return facts, frame.height


def _unify(head: Atom, fact: Fact, ex) -> dict[str, list[int]] | None:  # type: ignore[no-untyped-def]
    table, terms = fact
    if head.table != table or len(head.args) != len(terms) or getattr(head, "graph", None) is not None:
        return None
    seed: dict[str, int] = {}
    for arg, term in zip(head.args, terms, strict=True):
        if isinstance(arg, Const):
            if arg.term != term:
                return None
        else:
            assert isinstance(arg, Var)
            tid = ex.terms.lookup_one(term)
            if tid is None or seed.get(arg.name, tid) != tid:
                return None
            seed[arg.name] = tid
    return {k: [v] for k, v in seed.items()}


def _instantiate(atom: Atom, binding: dict[str, int], ex) -> Fact:  # type: ignore[no-untyped-def]
    out = []
    for arg in atom.args:
        if isinstance(arg, Const):
            out.append(arg.term)
        else:
            out.append(ex.terms.decode(pl.Series([binding[arg.name]], dtype=pl.UInt32))[0])
    return atom.table, tuple(out)
