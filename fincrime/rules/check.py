"""Static checks on a parsed program: every variable a rule uses must be bound safely."""

from __future__ import annotations

from fincrime.errors import SourceError
from fincrime.rules.ast import (
    Aggregate,
    Atom,
    Bind,
    BodyItem,
    Filter,
    Negation,
    Pos,
    Program,
    Rule,
    expr_vars,
)


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
            for b in item.binds:
                for v in sorted(set().union(*(expr_vars(a) for a in b.args)) - inner):
                    raise _fail(rule, item.pos, f"unsafe AGGREGATE: ?{v} in {b.func} is not bound by its body")
            bound |= set(item.group) | {b.var for b in item.binds}
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


def check_program(program: Program) -> None:
    for rule in program.rules:
        check_rule(rule)
