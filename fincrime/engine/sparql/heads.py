"""Rule heads that could write invalid N-Triples: rejected before the run where the rule alone
shows it, otherwise checked per derived row (a bad row is skipped, and counted).

N-Triples allows an IRI or a blank node as subject, an IRI as predicate, and absolute IRIs only.
What a variable can hold is read from the rule: a triple atom's subject is an IRI or blank node,
its predicate an IRI (stored triples are valid: inputs are read strictly, derived ones checked
here); a BIND's value kind follows from its function (``IRI()`` without a BASE gives a relative
IRI for a relative string, ``STR()`` a literal, ``SKOLEM()`` a blank node, ...). A head position
whose every possible value is invalid is an error at plan time; one where only some are gets a
run-time check. Tuple-table heads are not N-Triples and are not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fincrime.errors import SourceError
from fincrime.rules.ast import (
    Aggregate,
    Atom,
    Bind,
    Const,
    ECall,
    EConst,
    EVar,
    Expr,
    Program,
    Rule,
    Var,
)
from fincrime.vocab import RDF_TYPE

IRI, RELATIVE, BLANK, LITERAL = "iri", "relative", "blank", "literal"
ANY = frozenset({IRI, RELATIVE, BLANK, LITERAL})
STORED_OBJECT = frozenset({IRI, BLANK, LITERAL})
#: what each head position must not hold
BAD = {"subject": frozenset({LITERAL, RELATIVE}), "predicate": frozenset({LITERAL, BLANK, RELATIVE}),
       "object": frozenset({RELATIVE})}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_LITERAL_FUNCTIONS_TO_IRI = {"DATATYPE": frozenset({IRI})}


@dataclass(frozen=True)
class HeadCheck:
    """A run-time check: variable ``var`` written at ``position`` of a head triple."""

    var: str
    position: str  # subject, predicate or object

    @property
    def reason(self) -> str:
        return {"subject": "a literal or relative IRI as subject", "predicate": "a non-IRI as predicate",
                "object": "a relative IRI as object"}[self.position]


def term_kind(term: str) -> str:
    if term.startswith("<"):
        return IRI if _SCHEME.match(term[1:]) else RELATIVE
    return BLANK if term.startswith("_:") else LITERAL


def _expr_kinds(expr: Expr, kinds: dict[str, frozenset[str]], base: str | None) -> frozenset[str]:
    if isinstance(expr, EVar):
        return kinds.get(expr.name, ANY)
    if isinstance(expr, EConst):
        return frozenset({term_kind(expr.term)})
    assert isinstance(expr, ECall)
    if expr.op in ("IRI", "URI"):
        if base is not None and _SCHEME.match(base):
            return frozenset({IRI})
        return _iri_kinds(expr.args[0], kinds)
    if expr.op == "IF":
        return _expr_kinds(expr.args[1], kinds, base) | _expr_kinds(expr.args[2], kinds, base)
    if expr.op == "SKOLEM":
        return frozenset({BLANK})
    return _LITERAL_FUNCTIONS_TO_IRI.get(expr.op, frozenset({LITERAL}))


def _iri_kinds(arg: Expr, kinds: dict[str, frozenset[str]]) -> frozenset[str]:
    """IRI(x) with no base: absolute when x is, relative when x cannot be."""
    if isinstance(arg, EConst):
        text = arg.term[1:].split('"', 1)[0] if arg.term.startswith('"') else arg.term[1:-1]
        return frozenset({IRI if _SCHEME.match(text) else RELATIVE})
    if isinstance(arg, EVar):
        held = kinds.get(arg.name, ANY)
        return frozenset({IRI} if held <= {IRI} else {IRI, RELATIVE})
    assert isinstance(arg, ECall)
    if arg.op in ("MD5", "SHA1", "SHA256", "SHA384", "SHA512"):
        return frozenset({RELATIVE})  # hex digits are no scheme
    if arg.op == "CONCAT" and arg.args and isinstance(arg.args[0], EConst) and _iri_kinds(arg.args[0], kinds) == {IRI}:
        return frozenset({IRI})  # a constant that starts with a scheme
    return frozenset({IRI, RELATIVE})


Tables = dict[tuple[str, int], list[frozenset[str]]]


def _atom_kinds(atom: Atom, tables: Tables | None) -> dict[str, frozenset[str]]:
    if not atom.is_triple:
        columns = (tables or {}).get((atom.table or "", len(atom.args))) if tables is not None else None
        out: dict[str, frozenset[str]] = {}
        for i, a in enumerate(atom.args):
            if isinstance(a, Var):
                held = columns[i] if columns is not None else (frozenset() if tables is not None else ANY)
                out[a.name] = out.get(a.name, ANY) & held
        return out
    s, p, o = atom.args
    out: dict[str, frozenset[str]] = {}
    for arg, held in ((s, frozenset({IRI, BLANK})), (p, frozenset({IRI})), (o, STORED_OBJECT)):
        if isinstance(arg, Var):
            out[arg.name] = out.get(arg.name, ANY) & held
    if isinstance(p, Const) and p.term == f"<{RDF_TYPE}>" and isinstance(o, Var):
        out[o.name] = out.get(o.name, ANY) & frozenset({IRI})
    return out


def variable_kinds(rule: Rule, tables: Tables | None = None) -> dict[str, frozenset[str]]:
    """What each variable of the rule's body can hold (``tables``: what each tuple-table column
    can hold, see :func:`table_kinds`; without it, anything)."""
    kinds: dict[str, frozenset[str]] = {}

    def meet(found: dict[str, frozenset[str]]) -> None:
        for v, k in found.items():
            kinds[v] = kinds.get(v, ANY) & k

    for item in rule.body:
        if isinstance(item, Atom):
            meet(_atom_kinds(item, tables))
        elif isinstance(item, Bind):
            meet({item.var: _expr_kinds(item.expr, kinds, rule.base)})
        elif isinstance(item, Aggregate):
            inner: dict[str, frozenset[str]] = {}
            for sub in item.body:
                if isinstance(sub, Atom):
                    for v, k in _atom_kinds(sub, tables).items():
                        inner[v] = inner.get(v, ANY) & k
            meet({g: inner.get(g, ANY) for g in item.group})
            for b in item.binds:
                picked = b.base in ("MIN", "MAX", "SAMPLE")
                meet({b.var: _expr_kinds(b.args[0], inner, rule.base) if picked and b.args else frozenset({LITERAL})})
    return kinds


def _positions(head: Atom) -> list[tuple[str, object]]:
    if not head.is_triple:
        return []
    s, p, o = head.args
    out: list[tuple[str, object]] = [("subject", s), ("predicate", p), ("object", o)]
    if isinstance(p, Const) and p.term == f"<{RDF_TYPE}>":
        out[2] = ("predicate", o)  # a class is an IRI, as a predicate is
    return out


def table_kinds(program: Program) -> Tables:
    """What each column of each tuple table can hold: tuple tables are written by rule heads
    only, so this is the least fixpoint of what the heads writing them put there."""
    tables: Tables = {}
    changed = True
    while changed:
        changed = False
        for rule in program.rules:
            kinds = variable_kinds(rule, tables)
            for head in rule.head:
                if head.is_triple:
                    continue
                columns = tables.setdefault((head.table or "", len(head.args)), [frozenset()] * len(head.args))
                for i, arg in enumerate(head.args):
                    held = frozenset({term_kind(arg.term)}) if isinstance(arg, Const) else kinds.get(arg.name, ANY)
                    if not held <= columns[i]:
                        columns[i] = columns[i] | held
                        changed = True
    return tables


def head_checks(rule: Rule, tables: Tables | None = None) -> list[HeadCheck]:
    """The run-time checks a rule needs; raises for a head that can never be valid N-Triples."""
    kinds = variable_kinds(rule, tables)
    checks: list[HeadCheck] = []
    for head in rule.head:
        for position, arg in _positions(head):
            bad = BAD[position]
            if isinstance(arg, Const):
                if term_kind(arg.term) in bad:
                    raise _error(rule, head, f"{arg.term} cannot be the {position} of an N-Triples triple")
                continue
            assert isinstance(arg, Var)
            held = kinds.get(arg.name, ANY)
            if held and held <= bad:
                what = " or ".join(sorted(held))
                hint = " (IRI() of a relative string needs a BASE)" if RELATIVE in held else ""
                raise _error(rule, head, f"?{arg.name} can only hold a {what} value here, which cannot be the "
                                         f"{position} of an N-Triples triple{hint}")
            if held & bad and HeadCheck(arg.name, position) not in checks:
                checks.append(HeadCheck(arg.name, position))
    return checks


def check_program(program: Program) -> dict[int, list[HeadCheck]]:
    """Every rule's run-time head checks, by ``id()`` of the rule (facts included; an executor
    looks its rules up here); raises :class:`SourceError` for a rule that could only write
    invalid N-Triples."""
    tables = table_kinds(program)
    return {id(rule): head_checks(rule, tables) for rule in program.rules}


def _error(rule: Rule, head: Atom, message: str) -> SourceError:
    pos = head.pos or rule.pos
    if pos is None:
        return SourceError(message, source="<rules>", line=1)
    return SourceError(message, source=pos.source, line=pos.line, column=pos.column)


__all__ = ["HeadCheck", "check_program", "head_checks", "term_kind", "variable_kinds"]
