"""RDFox-dialect Datalog: parsing, checking and planning.

>>> from fincrime.rules import load_program  # doctest: +SKIP
>>> program = load_program(["rules/suspicious-chains.dlog"], params={"maxChainLength": 10})
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from fincrime.params import SUBJECT, ParamValue, param_predicate, param_triples
from fincrime.rules.ast import Atom, Const, Program, Rule
from fincrime.rules.parser import parse_files, parse_program
from fincrime.rules.plan import ProgramPlan, build_plan


def apply_params(program: Program, params: Mapping[str, ParamValue]) -> Program:
    """Replace the defaults ``[param:job, param:<name>, v] .`` by the supplied values
    (typed by :func:`fincrime.params.param_literal`, as the job's queries see them)."""
    if not params:
        return program
    facts = param_triples(params)
    subject = Const(SUBJECT)
    names = {Const(param_predicate(n)) for n in params}
    kept = [
        r for r in program.rules
        if not (r.is_fact and len(r.head) == 1 and r.head[0].is_triple
                and r.head[0].args[0] == subject and r.head[0].args[1] in names)
    ]
    for (name, value), (_, predicate, term) in zip(params.items(), facts, strict=True):
        fact = Atom((subject, Const(predicate), Const(term)))
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


__all__ = ["ProgramPlan", "apply_params", "build_plan", "load_program", "parse_program"]
