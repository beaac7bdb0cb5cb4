"""RDFox-dialect Datalog: parsing, checking and planning.

>>> from fincrime.rules import load_program  # doctest: +SKIP
>>> program = load_program(["rules/suspicious-chains.dlog"], params={"maxChainLength": 10})
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime

from fincrime.errors import InputError
from fincrime.rdf.terms import (
    XSD_BOOLEAN,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INTEGER,
    iri,
    literal,
)
from fincrime.rules.ast import Atom, Const, Program, Rule
from fincrime.rules.parser import parse_files, parse_program
from fincrime.rules.plan import ProgramPlan, build_plan
from fincrime.vocab import PARAM, PARAM_SUBJECT

ParamValue = str | int | float | bool


def param_literal(value: ParamValue) -> str:
    """The RDF literal of a job parameter: numbers, booleans and ISO date-times keep their type."""
    if isinstance(value, bool):
        return literal("true" if value else "false", XSD_BOOLEAN)
    if isinstance(value, int):
        return literal(str(value), XSD_INTEGER)
    if isinstance(value, float):
        return literal(repr(value), XSD_DOUBLE if "e" in repr(value) else XSD_DECIMAL)
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return literal(text.lower(), XSD_BOOLEAN)
    try:
        int(text)
        return literal(str(int(text)), XSD_INTEGER)
    except ValueError:
        pass
    try:
        float(text)
        return literal(text, XSD_DOUBLE if "e" in text.lower() else XSD_DECIMAL)
    except ValueError:
        pass
    try:
        datetime.fromisoformat(text)
        if "T" in text:
            return literal(text, XSD_DATETIME)
    except ValueError:
        pass
    return literal(text)


def apply_params(program: Program, params: Mapping[str, ParamValue]) -> Program:
    """Replace the defaults ``[param:job, param:<name>, v] .`` by the supplied values."""
    if not params:
        return program
    for name in params:
        if not name or any(c.isspace() or c in '<>"{}|^`\\' for c in name):
            raise InputError(f"bad parameter name {name!r}")
    names = {iri(PARAM + n) for n in params}
    subject = Const(iri(PARAM_SUBJECT))
    kept = [
        r for r in program.rules
        if not (r.is_fact and len(r.head) == 1 and r.head[0].is_triple
                and r.head[0].args[0] == subject and r.head[0].args[1] in {Const(n) for n in names})
    ]
    for name, value in params.items():
        fact = Atom((subject, Const(iri(PARAM + name)), Const(param_literal(value))))
        kept.append(Rule((fact,), (), None, f"[param:job, param:{name}, {value}] ."))
    return Program(rules=kept, prefixes=program.prefixes, sources=program.sources)


def load_program(
    paths: Iterable[str | os.PathLike[str]],
    prefixes: Mapping[str, str] | None = None,
    params: Mapping[str, ParamValue] | None = None,
) -> Program:
    """Parse rule files, check them and apply job parameters. Raises ``SourceError`` on a bad
    rule (file:line:column) before anything runs."""
    program = apply_params(parse_files(paths, prefixes=prefixes), params or {})
    build_plan(program)  # stratification errors surface now, not half-way through a job
    return program


__all__ = ["ProgramPlan", "apply_params", "build_plan", "load_program", "param_literal", "parse_program"]
