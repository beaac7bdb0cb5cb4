"""The Spark SQL backend of the shared SPARQL semantics (:mod:`fincrime.engine.sparql`).

Terms are canonical N-Triples strings (no dictionary), so equal terms are equal strings. A
variable's fields are decoded from its strings on first use (substring arithmetic when its type
class is known from the relations it comes from), unless a BIND step left them beside it as
attribute columns (``__num__x``); a computed value is spelled as its canonical string. Columns are
added in batches, one projection per level of an expression.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from fincrime.engine.spark.compile import compile_sql
from fincrime.engine.spark.sql import col as sql_col
from fincrime.engine.sparql.decode import (
    LITERAL_RE,
    literal_text,
    literal_values,
    rank_of_literal,
    tclass_of_term,
    term_field,
)
from fincrime.engine.sparql.evaluate import Backend, Scratch
from fincrime.engine.sparql.expr import X, and_, call, coalesce, col, lit, not_, when
from fincrime.engine.sparql.functions import lexical, spell
from fincrime.engine.sparql.model import (
    BOOL,
    FIELD_TYPES,
    FIELDS,
    INT,
    STR,
    TCLASS_BLANK,
    TCLASS_IRI,
    TCLASS_OTHER,
    TERM,
)
from fincrime.engine.sparql.value import Value

INLINE_SQL = 2000  # a sub-result with at most this much SQL is repeated where it is read, not stored


def attr_column(var: str, attr: str) -> str:
    return f"__{attr}__{var}"


def field_of(column: str) -> str | None:
    """The variable whose typed field ``column`` holds (``__num__x`` -> ``x``), if any."""
    if column.startswith("__"):
        attr, _, var = column[2:].partition("__")
        if attr in FIELDS and var:
            return var
    return None


def tclass_sql(column: str) -> str:
    """SQL giving the type class of a column of term strings (for the relations' hints)."""
    return compile_sql(tclass_of_term(col(column)))


class SparkBackend(Backend):
    """The shared evaluation code on Spark frames of term strings; ``hints``: the type classes
    the executor knows for the body's variables; ``statics``: what the body's BINDs so far know
    of the values they computed (shared by the steps of one body)."""

    def __init__(self, hints: dict[str, int] | None = None, statics: dict[str, dict] | None = None) -> None:  # type: ignore[type-arg]
        self._hints = hints or {}
        self._statics = statics if statics is not None else {}

    def statics(self) -> dict[str, dict]:  # type: ignore[type-arg]
        return self._statics

    # --- frames -----------------------------------------------------------------------------
    def columns(self, frame: DataFrame) -> list[str]:
        return frame.columns

    def add_columns(self, frame: DataFrame, columns: dict[str, X]) -> DataFrame:
        memo: dict[int, str] = {}
        return frame.withColumns({n: F.expr(compile_sql(x, memo)) for n, x in columns.items()})

    def filter(self, frame: DataFrame, condition: X) -> DataFrame:
        return frame.filter(F.expr(f"coalesce({compile_sql(condition)}, FALSE)"))

    def select(self, frame: DataFrame, names: list[str]) -> DataFrame:
        return frame.select(*[F.col(sql_col(n).sql) for n in names])

    def distinct(self, frame: DataFrame) -> DataFrame:
        return frame.distinct()

    def group(self, frame: DataFrame, keys: list[str], aggregates: dict[str, X]) -> DataFrame:
        memo: dict[int, str] = {}
        exprs = [F.expr(compile_sql(x, memo)).alias(n) for n, x in aggregates.items()]
        if not exprs:
            exprs = [F.count(F.lit(1)).alias("__group")]
        grouped = frame.groupBy(*[F.col(sql_col(k).sql) for k in keys]) if keys else frame
        return grouped.agg(*exprs)

    def join(self, left: DataFrame, right: DataFrame, on: list[str]) -> DataFrame:
        return left.join(right, on=on, how="inner") if on else left.crossJoin(right)

    def count(self, frame: DataFrame) -> int:
        return frame.count()

    def carry(self, frame: DataFrame) -> DataFrame:
        variables = {c for c in frame.columns if not c.startswith("__")}
        return frame.select(*[F.col(sql_col(c).sql) for c in frame.columns if c in variables or field_of(c) in variables])

    # --- values -----------------------------------------------------------------------------
    def field(self, scratch: Scratch, var: str, attr: str) -> X:
        if attr == "term":
            return col(var, TERM)
        column = attr_column(var, attr)
        if column in scratch.frame.columns or column in scratch.pending:
            return col(column, FIELD_TYPES[attr])
        hint = self._hints.get(var)
        if hint is not None and hint != TCLASS_OTHER:  # one class: constants or substrings
            node = term_field(col(var, TERM), attr, hint)
            if node.is_const:
                return node
            scratch.pending[column] = (0, node)
            return col(column, FIELD_TYPES[attr])
        self._decode(scratch, var, attr)
        return col(column, FIELD_TYPES[attr])

    def _decode(self, scratch: Scratch, var: str, attr: str) -> None:
        """Queue the columns that decode ``attr`` of any terms in stages (the literal's parts,
        then its text fields, then its typed ones), so no stage repeats another's work."""
        term = col(var, TERM)
        is_iri, is_blank = (call("starts_with", term, lit(p), type_=BOOL) for p in ("<", "_:"))
        is_lit = and_(not_(is_iri), not_(is_blank))
        pending = scratch.pending
        if attr == "kind":
            pending[attr_column(var, "kind")] = (0, term_field(term, "kind"))
            return
        body, suffix = f"__body__{var}", f"__suffix__{var}"
        pending.setdefault(body, (0, call("extract", term, param=(LITERAL_RE, 1))))
        pending.setdefault(suffix, (0, coalesce(call("extract", term, param=(LITERAL_RE, 2)), lit(""))))
        text = literal_text(col(body, STR), col(suffix, STR))
        text["lex"] = when([(is_iri, term_field(term, "lex", TCLASS_IRI)),
                            (is_blank, term_field(term, "lex", TCLASS_BLANK))], text["lex"])
        for name in ("lex", "dt", "lang"):
            pending.setdefault(attr_column(var, name), (1, when([(is_lit, text[name])]) if name != "lex" else text[name]))
        if attr in ("lex", "dt", "lang"):
            return
        lex, dt = col(attr_column(var, "lex"), STR), col(attr_column(var, "dt"), STR)
        rank = when([(is_lit, rank_of_literal(lex, dt))], lit(0, INT), INT)
        pending.setdefault(attr_column(var, "ntype"), (2, rank))
        if attr != "ntype":
            typed = literal_values(lex, dt, col(attr_column(var, "ntype"), INT))
            pending.setdefault(attr_column(var, attr), (3, when([(is_lit, typed[attr])], type_=FIELD_TYPES[attr])))

    def prepare(self, scratch: Scratch) -> None:
        todo = {c: v for c, v in scratch.pending.items() if c not in scratch.frame.columns}
        scratch.pending.clear()
        for level in sorted({lv for lv, _ in todo.values()}):
            scratch.frame = self.add_columns(scratch.frame, {c: x for c, (lv, x) in todo.items() if lv == level})

    def term_ref(self, term: str) -> X:
        return lit(term, TERM)

    def hints(self, frame: DataFrame, variables: set[str]) -> dict[str, int]:
        return {v: h for v, h in self._hints.items() if v in variables}

    def keep_inline(self, fields: dict[str, X]) -> bool:
        memo: dict[int, str] = {}
        return sum(len(compile_sql(x, memo)) for x in fields.values()) <= INLINE_SQL

    def encode(self, scratch: Scratch, value: Value, name: str) -> None:
        """The value's term string, and its typed fields beside it: a later step reads them
        instead of parsing the string it spells (nor re-expanding the expression behind it)."""
        term = when([(not_(value.err), coalesce(value.term, spell(value)))], type_=TERM)
        fields = {attr_column(name, a): getattr(value, a) for a in FIELDS}
        fields[attr_column(name, "lex")] = lexical(value)
        scratch.add({name: term, **fields})


__all__ = ["INLINE_SQL", "SparkBackend", "attr_column", "field_of", "tclass_sql"]
