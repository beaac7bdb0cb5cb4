"""Why does a fact hold? Derivation trees over a finished materialization.

A fact derived in round r has a rule instance whose body facts were all known before round r;
following such instances down to input facts gives a finite, well-founded explanation.

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
    fact: tuple[str, str, str]
    input: bool = False
    rule: RulePlan | None = None
    children: list[Derivation] = field(default_factory=list)
    note: str = ""


def explain(result: Result, program: Program, fact: tuple[str, str, str], max_depth: int = 12) -> Derivation:
    plan = build_plan(program)
    ex = result.executor
    return _explain(result, plan.rule_plans(), fact, max_depth, ex)


def _key_and_row(ex, fact: tuple[str, str, str]) -> tuple[RelKey, dict[str, int]] | None:  # type: ignore[no-untyped-def]
    ids = ex.terms.lookup(pl.Series(list(fact)))
    if ids.null_count():
        return None
    s, _p, o = (int(i) for i in ids)
    if fact[1] == TYPE_IRI:
        return RelKey("c", fact[2], 1), {"s": s}
    return RelKey("p", fact[1]), {"s": s, "o": o}


def _round(ex, fact: tuple[str, str, str]) -> int | None:  # type: ignore[no-untyped-def]
    found = _key_and_row(ex, fact)
    if found is None or found[0] not in ex.relations:
        return None
    key, row = found
    return ex.relations[key].round_of(row)


def _explain(result: Result, rules: list[RulePlan], fact, depth: int, ex) -> Derivation:  # type: ignore[no-untyped-def]
    found = _key_and_row(ex, fact)
    if found is None:
        raise InputError(f"not a fact: {' '.join(fact)} .")
    key, row = found
    if key in result._input_rows and key in ex.relations:
        full = ex.relations[key].view("full").head(result._input_rows[key])
        if full.filter(pl.all_horizontal([pl.col(c) == v for c, v in row.items()])).height:
            return Derivation(fact, input=True)
    target_round = _round(ex, fact)
    if target_round is None:
        raise InputError(f"not a fact: {' '.join(fact)} .")
    if depth <= 0:
        return Derivation(fact, note="… (deeper derivation not shown)")
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
                    node = Derivation(fact, rule=rp)
                    node.children = [_explain(result, rules, f, depth - 1, ex) for f in body_facts]
                    if rp.body.negations or rp.body.aggregates:
                        node.note = "with its NOT / AGGREGATE conditions holding"
                    return node
    return Derivation(fact, note="derived (no rule instance found from earlier facts)")


def _unify(head: Atom, fact: tuple[str, str, str], ex) -> dict[str, list[int]] | None:  # type: ignore[no-untyped-def]
    if not head.is_triple:
        return None
    seed: dict[str, int] = {}
    for arg, term in zip(head.args, fact, strict=True):
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


def _instantiate(atom: Atom, binding: dict[str, int], ex) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    out = []
    for arg in atom.args:
        if isinstance(arg, Const):
            out.append(arg.term)
        else:
            out.append(ex.terms.decode(pl.Series([binding[arg.name]], dtype=pl.UInt32))[0])
    return out[0], out[1], out[2]
