"""Static checks on a parsed program: every variable a rule uses must be bound safely, and
every tuple table is used with one arity."""

from __future__ import annotations

from fincrime.errors import SourceError
from fincrime.rdf.terms import iri
from fincrime.rules.ast import (
    Aggregate,
    Atom,
    Bind,
    BodyItem,
    Const,
    Filter,
    Negation,
    Pos,
    Program,
    Rule,
    expr_vars,
)
from fincrime.vocab import RDF_TYPE

_TYPE = Const(iri(RDF_TYPE))


def _fail(rule: Rule, pos: Pos | None, message: str) -> SourceError:
    p = pos or rule.pos
    if p is None:
        return SourceError(message, source="<rules>", line=1)
    line_text = rule.text.split("\n")[p.line - rule.pos.line] if rule.pos and rule.text else None
    if line_text is not None and rule.pos and p.line == rule.pos.line:
        line_text = " " * (rule.pos.column - 1) + line_text
    return SourceError(message, source=p.source, line=p.line, column=p.column, text=line_text)


def bound_by(items: tuple[BodyItem, ...], rule: Rule, outer: frozenset[str] = frozenset()) -> set[str]:
    """Variables a conjunction binds; raises on an unsafe BIND, FILTER, NOT or AGGREGATE."""
    bound = set(outer)
    for item in items:
        if isinstance(item, Atom):
            bound |= item.variables()
        elif isinstance(item, Aggregate):
            inner = bound_by(item.body, rule)
            for g in item.group:
                if g not in inner:
                    raise _fail(rule, item.pos, f"unsafe AGGREGATE: ?{g} after ON is not bound by its body")
            outputs: set[str] = set(item.group)
            for b in item.binds:
                for v in sorted(set().union(*(expr_vars(a) for a in b.args)) - inner):
                    raise _fail(rule, b.pos or item.pos, f"unsafe AGGREGATE: ?{v} in {b.func} is not bound by its body")
                if b.var in outputs:
                    what = "a grouping variable" if b.var in item.group else "bound by another aggregate"
                    raise _fail(rule, b.pos or item.pos, f"AGGREGATE binds ?{b.var}, which is {what}")
                outputs.add(b.var)
            bound |= outputs
    pending = [i for i in items if isinstance(i, Bind)]
    while pending:
        ready = [b for b in pending if expr_vars(b.expr) <= bound]
        if not ready:
            b = pending[0]
            missing = sorted(expr_vars(b.expr) - bound)[0]
            raise _fail(rule, b.pos, f"unsafe BIND: ?{missing} is not bound by the body")
        for b in ready:
            bound.add(b.var)
            pending.remove(b)
    for item in items:
        if isinstance(item, Filter):
            for v in sorted(expr_vars(item.expr) - bound):
                raise _fail(rule, item.pos, f"unsafe FILTER: ?{v} is not bound by the body")
        elif isinstance(item, Negation):
            local = set(item.exists)
            inner = bound_by(item.body, rule, frozenset(bound | local))
            free: set[str] = set()
            for sub in item.body:
                if isinstance(sub, Atom):
                    free |= sub.variables()
            for v in sorted(free - bound - local):
                raise _fail(
                    rule, item.pos,
                    f"unsafe NOT: ?{v} is not bound by the body (declare it with NOT EXISTS ?{v} IN (...))",
                )
            del inner
    return bound


def check_rule(rule: Rule) -> None:
    bound = bound_by(rule.body, rule)
    for atom in rule.head:
        for v in sorted(atom.variables() - bound):
            where = "fact" if rule.is_fact else "rule head"
            raise _fail(rule, atom.pos, f"unsafe {where}: ?{v} is not bound by the body")


def atoms_of(items: tuple[BodyItem, ...]) -> list[Atom]:
    """Every atom of a conjunction, including those inside NOT and AGGREGATE."""
    out: list[Atom] = []
    for item in items:
        if isinstance(item, Atom):
            out.append(item)
        elif isinstance(item, Negation | Aggregate):
            out += atoms_of(item.body)
    return out


def _table_label(name: str) -> str:
    return f"<{name}>" if ":" in name else name


def _where(pos: Pos | None) -> str:
    return f"{pos.source}:{pos.line}:{pos.column}" if pos else "another rule"


def check_tables(program: Program) -> None:
    """One arity per tuple table; and a name read as a class or property atom in the older
    ``:C(?x)`` spelling must not also be a tuple table, which the same spelling would mean."""
    tables: dict[str, Atom] = {}
    for rule in program.rules:
        for atom in (*rule.head, *atoms_of(rule.body)):
            if atom.table is None:
                continue
            first = tables.setdefault(atom.table, atom)
            if len(first.args) != len(atom.args):
                raise _fail(
                    rule, atom.pos,
                    f"tuple table {_table_label(atom.table)} has {len(atom.args)} arguments here but "
                    f"{len(first.args)} at {_where(first.pos)}: a tuple table has one arity",
                )
    if not tables:
        return
    for rule in program.rules:
        for atom in (*rule.head, *atoms_of(rule.body)):
            if atom.form != "paren":
                continue
            name = atom.args[2] if len(atom.args) == 3 and atom.args[1] == _TYPE else atom.args[1]
            table = tables.get(name.term[1:-1]) if isinstance(name, Const) else None
            if table is not None:
                raise _fail(
                    rule, atom.pos,
                    f"{_table_label(table.table or '')} is a tuple table of {len(table.args)} arguments at "
                    f"{_where(table.pos)}, so it cannot be read as a class or property here: write "
                    f"C[?x] / p[?x, ?y] for those, or give the table {len(table.args)} arguments",
                )


def check_program(program: Program) -> None:
    for rule in program.rules:
        check_rule(rule)
    check_tables(program)
