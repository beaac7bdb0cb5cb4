"""FILTER, BIND and aggregates of the in-memory executor: the shared SPARQL semantics
(:mod:`fincrime.engine.sparql`) run by the polars backend over frames of term ids."""

from __future__ import annotations

import polars as pl

from fincrime.engine.memory.backend import PolarsBackend
from fincrime.engine.memory.dictionary import ID, TermDictionary
from fincrime.engine.sparql import evaluate
from fincrime.engine.sparql.aggregates import aggregate
from fincrime.engine.sparql.heads import HeadCheck, head_checks
from fincrime.rules.ast import EVar, Expr, Rule
from fincrime.rules.plan import AggregatePlan


class Evaluator:
    """Evaluates FILTER conditions, BIND values and aggregates for one term dictionary."""

    def __init__(self, terms: TermDictionary) -> None:
        self.terms = terms
        self.backend = PolarsBackend(terms)
        self.skipped: dict[tuple[str, str], int] = {}  # (rule, reason) -> derived rows not written
        self._checks: dict[int, tuple[Rule, list[HeadCheck]]] = {}
        self.program_checks: dict[int, list[HeadCheck]] = {}  # from check_program, when known

    def valid_heads(self, rule: Rule, frame: pl.DataFrame) -> pl.DataFrame:
        """The body matches whose head triples are valid N-Triples (the others are counted)."""
        known = self._checks.get(id(rule))
        if known is None:
            checks = self.program_checks.get(id(rule))
            known = self._checks[id(rule)] = (rule, checks if checks is not None else head_checks(rule))
        if not known[1] or not frame.height:
            return frame
        kept, skipped = evaluate.valid_heads(self.backend, frame, known[1])
        for reason, n in skipped.items():
            self.skipped[(rule.label(), reason)] = self.skipped.get((rule.label(), reason), 0) + n
        return kept

    def filter(self, frame: pl.DataFrame, expr: Expr, base: str | None) -> pl.DataFrame:
        """The rows whose condition holds (an error is not a match), without scratch columns."""
        return evaluate.filter_rows(self.backend, frame, expr, base)

    def ids(self, frame: pl.DataFrame, expr: Expr, base: str | None) -> pl.Series:
        """Evaluate an expression per row and return term ids (null where it errs)."""
        if isinstance(expr, EVar):
            return frame[expr.name]
        scratch, value = evaluate.compile_value(self.backend, frame, expr, base)
        self.backend.encode(scratch, value, "__ids")
        return scratch.frame["__ids"]

    def bind(self, frame: pl.DataFrame, expr: Expr, base: str | None, var: str) -> pl.DataFrame:
        return evaluate.bind(self.backend, frame, expr, base, var)

    def aggregate(self, agg: AggregatePlan, rows: pl.DataFrame | None, base: str | None) -> pl.DataFrame:
        """The groups of an aggregate over the matches ``rows`` of its body."""
        if rows is None or rows.height == 0:
            if agg.group:
                return pl.DataFrame(schema={v: ID for v in agg.outputs})
            rows = pl.DataFrame({"__empty": [0]}).clear() if rows is None else rows
        return aggregate(self.backend, rows, list(agg.group), agg.binds, base)
