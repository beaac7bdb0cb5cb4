"""The fields of dictionary terms, decoded vectorized (the shared decoder compiled to polars).

The fields are those of the shared value model (:mod:`fincrime.engine.sparql.model`) plus
``tclass``, the type class used for hints. Literal parsing, numbers and dates are computed on the
rows they apply to only: most terms in a reasoning run are IRIs minted by rules, and they should
cost a slice, not a regular expression.
"""

from __future__ import annotations

import polars as pl

from fincrime.engine.memory.compile import DTYPES, compile_expr
from fincrime.engine.sparql.decode import (
    LITERAL_RE,
    literal_text,
    literal_values,
    rank_of_literal,
    tclass_of_fields,
)
from fincrime.engine.sparql.expr import col, lit
from fincrime.engine.sparql.model import (
    FIELD_TYPES,
    FIELDS,
    INT,
    KIND_BLANK,
    KIND_IRI,
    KIND_LITERAL,
    RANK_NONE,
    STR,
    TCLASS_BLANK,
    TCLASS_IRI,
)

ATTRS = (*FIELDS, "tclass")
TYPES = {**FIELD_TYPES, "tclass": INT}


def term_attributes(keys: pl.Series, names: list[str] | tuple[str, ...] = ATTRS) -> dict[str, pl.Series]:
    """The fields ``names`` of canonical term strings, one series each."""
    frame = pl.DataFrame({"key": keys.cast(pl.String)}).with_row_index("row")
    key = pl.col("key")
    frame = frame.with_columns(
        pl.when(key.str.starts_with("<")).then(pl.lit(KIND_IRI, pl.Int8))
        .when(key.str.starts_with("_:")).then(pl.lit(KIND_BLANK, pl.Int8))
        .otherwise(pl.lit(KIND_LITERAL, pl.Int8)).alias("kind")
    )
    wanted = set(names)
    out = frame.select(
        "row", "kind",
        pl.when(pl.col("kind") == KIND_IRI).then(key.str.slice(1, key.str.len_chars() - 2))
        .when(pl.col("kind") == KIND_BLANK).then(key.str.slice(2)).alias("lex"),
        pl.when(pl.col("kind") == KIND_IRI).then(pl.lit(TCLASS_IRI, pl.Int8))
        .when(pl.col("kind") == KIND_BLANK).then(pl.lit(TCLASS_BLANK, pl.Int8)).alias("tclass"),
    )
    literals = frame.filter(pl.col("kind") == KIND_LITERAL)
    if literals.height and wanted - {"kind"}:
        decoded = _literals(literals, wanted).rename(lambda c: c if c == "row" else f"{c}_lit")
        out = out.join(decoded, on="row", how="left", maintain_order="left").with_columns(
            [pl.coalesce(c, f"{c}_lit").alias(c) for c in ("lex", "tclass")]
        )
    result: dict[str, pl.Series] = {}
    for n in names:
        source = n if n in ("kind", "lex", "tclass") else f"{n}_lit"
        series = out[source] if source in out.columns else pl.Series(n, [None] * out.height)
        if n == "ntype":
            series = series.fill_null(RANK_NONE)
        result[n] = series.cast(DTYPES[TYPES[n]]).rename(n)
    return result


def _literals(literals: pl.DataFrame, wanted: set[str]) -> pl.DataFrame:
    """Fields of literal terms in three projections, each reading the previous one's columns."""
    frame = literals.with_columns(pl.col("key").str.extract_groups(LITERAL_RE).alias("parts")).unnest(
        "parts"
    ).rename({"1": "body", "2": "suffix"}).with_columns(pl.col("suffix").fill_null(""))
    frame = frame.with_columns(_compiled(literal_text(col("body", STR), col("suffix", STR))))
    lex, dt = col("lex", STR), col("dt", STR)
    frame = frame.with_columns(_compiled({"ntype": rank_of_literal(lex, dt)}))
    typed = literal_values(lex, dt, col("ntype", INT))
    frame = frame.with_columns(_compiled({k: v for k, v in typed.items() if k != "ntype"}))
    if "tclass" in wanted:
        names = {f: col(f, FIELD_TYPES[f]) for f in ("dt", "ntype", "boolv", "time", "lex")}
        frame = frame.with_columns(compile_expr(tclass_of_fields(lit(KIND_LITERAL, INT), **names)).alias("tclass"))
    return frame.select("row", *[c for c in ATTRS if c in frame.columns and c != "kind"])


def _compiled(fields: dict) -> list[pl.Expr]:  # type: ignore[type-arg]
    memo: dict[int, pl.Expr] = {}
    return [compile_expr(x, memo).alias(f) for f, x in fields.items()]
