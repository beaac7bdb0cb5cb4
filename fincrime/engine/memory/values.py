"""Typed values of terms, vectorized.

A term's value is described by a fixed set of attributes (:data:`ATTRS`): ``kind`` (0 IRI,
1 blank node, 2 literal), ``lex`` (IRI text, blank label or literal lexical form), ``dt``
(datatype IRI), ``lang``, ``num`` (float value of a numeric literal), ``ntype`` (numeric rank:
1 integer, 2 decimal, 3 float, 4 double; 0 not numeric), ``time`` (microseconds since the epoch of
an xsd:dateTime/xsd:date, UTC; a date-time without timezone is read as UTC) and ``boolv``.
"""

from __future__ import annotations

import polars as pl

from fincrime.rdf.terms import (
    INTEGER_TYPES,
    RDF_LANGSTRING,
    XSD_BOOLEAN,
    XSD_DATE,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_FLOAT,
    XSD_STRING,
    unescape_string,
)

ATTRS = ("kind", "lex", "dt", "lang", "num", "ntype", "time", "boolv", "tclass")
DTYPES: dict[str, pl.DataType] = {
    "kind": pl.Int8(),
    "lex": pl.String(),
    "dt": pl.String(),
    "lang": pl.String(),
    "num": pl.Float64(),
    "ntype": pl.Int8(),
    "time": pl.Int64(),
    "boolv": pl.Boolean(),
    "tclass": pl.UInt8(),
}
KIND_IRI, KIND_BLANK, KIND_LITERAL = 0, 1, 2
# Type classes: when every value of a variable in a frame has one class, the fields the class
# fixes are constants and need not be read (see expressions.constant_fields).
TCLASS_DATATYPES = {
    2: XSD_STRING, 3: RDF_LANGSTRING, 4: XSD_BOOLEAN, 5: "http://www.w3.org/2001/XMLSchema#integer",
    6: XSD_DECIMAL, 7: XSD_FLOAT, 8: XSD_DOUBLE, 9: XSD_DATETIME, 10: XSD_DATE,
}
TCLASS_IRI, TCLASS_BLANK, TCLASS_OTHER = 0, 1, 11
NUMERIC_DATATYPES = {1: "http://www.w3.org/2001/XMLSchema#integer", 2: XSD_DECIMAL, 3: XSD_FLOAT, 4: XSD_DOUBLE}

_LITERAL_RE = r'^"(.*)"(@[^"]*|\^\^<[^>]*>)?$'
_TZ_RE = r"(Z|[+-]\d\d:\d\d)$"


def ntype_expr(dt: pl.Expr) -> pl.Expr:
    return (
        pl.when(dt.is_in(list(INTEGER_TYPES))).then(pl.lit(1, pl.Int8))
        .when(dt == XSD_DECIMAL).then(pl.lit(2, pl.Int8))
        .when(dt == XSD_FLOAT).then(pl.lit(3, pl.Int8))
        .when(dt == XSD_DOUBLE).then(pl.lit(4, pl.Int8))
        .otherwise(pl.lit(0, pl.Int8))
    )


def time_expr(lex: pl.Expr, dt: pl.Expr) -> pl.Expr:
    """Microseconds since the epoch (UTC) of xsd:dateTime / xsd:date lexical forms."""
    tz = lex.str.extract(_TZ_RE, 1)
    naive = lex.str.replace(_TZ_RE, "")
    offset_min = (
        pl.when(tz.is_null() | (tz == "Z")).then(pl.lit(0, pl.Int64))
        .otherwise(
            (tz.str.slice(1, 2).cast(pl.Int64, strict=False) * 60 + tz.str.slice(4, 2).cast(pl.Int64, strict=False))
            * pl.when(tz.str.starts_with("-")).then(-1).otherwise(1)
        )
    )
    dt_us = naive.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us").dt.epoch("us")
    d_us = naive.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.epoch("us")
    value = pl.when(dt == XSD_DATETIME).then(dt_us).when(dt == XSD_DATE).then(d_us)
    return (value - offset_min * 60_000_000).cast(pl.Int64)


def term_attributes(keys: pl.Series, names: list[str] | tuple[str, ...] = ATTRS) -> dict[str, pl.Series]:
    """Attributes of canonical term strings, computed column-wise.

    Literal parsing, numbers and dates are computed on the rows they apply to only: most terms
    in a reasoning run are IRIs minted by rules, and they should cost a slice, not a regex.
    """
    frame = pl.DataFrame({"key": keys.cast(pl.String)}).with_row_index("row")
    key = pl.col("key")
    frame = frame.with_columns(
        pl.when(key.str.starts_with("<")).then(pl.lit(KIND_IRI, pl.Int8))
        .when(key.str.starts_with("_:")).then(pl.lit(KIND_BLANK, pl.Int8))
        .otherwise(pl.lit(KIND_LITERAL, pl.Int8)).alias("kind")
    )
    wanted = set(names)
    out = frame.select(
        "row",
        "kind",
        pl.when(pl.col("kind") == KIND_IRI).then(key.str.slice(1, key.str.len_chars() - 2))
        .when(pl.col("kind") == KIND_BLANK).then(key.str.slice(2)).alias("lex"),
    )
    literals = frame.filter(pl.col("kind") == KIND_LITERAL)
    if literals.height and wanted - {"kind"}:
        lit = _literal_attributes(literals, wanted)
        out = out.join(lit, on="row", how="left", maintain_order="left").with_columns(
            pl.coalesce("lex", "lex_lit").alias("lex")
        )
    if "tclass" in wanted:
        dt_col = pl.col("dt") if "dt" in out.columns else pl.lit(None, pl.String)
        tclass = pl.when(pl.col("kind") == KIND_IRI).then(pl.lit(TCLASS_IRI, pl.UInt8)).when(
            pl.col("kind") == KIND_BLANK
        ).then(pl.lit(TCLASS_BLANK, pl.UInt8))
        for cls, dt in TCLASS_DATATYPES.items():
            tclass = tclass.when(dt_col == dt).then(pl.lit(cls, pl.UInt8))
        out = out.with_columns(tclass.otherwise(pl.lit(TCLASS_OTHER, pl.UInt8)).alias("tclass"))
    result: dict[str, pl.Series] = {}
    for n in names:
        if n in out.columns:
            series = out[n]
        elif n == "ntype":
            series = pl.Series(n, [0] * out.height)
        else:
            series = pl.Series(n, [None] * out.height)
        if n == "ntype":
            series = series.fill_null(0)
        result[n] = series.cast(DTYPES[n]).rename(n)
    return result


def _literal_attributes(literals: pl.DataFrame, wanted: set[str]) -> pl.DataFrame:
    frame = literals.with_columns(pl.col("key").str.extract_groups(_LITERAL_RE).alias("parts")).unnest(
        "parts"
    ).rename({"1": "body", "2": "suffix"})
    body, suffix = pl.col("body"), pl.col("suffix")
    needs_unescape = body.str.contains("\\", literal=True).fill_null(False)
    if frame.select(needs_unescape.any()).item():
        frame = frame.with_columns(
            pl.when(needs_unescape)
            .then(body.map_elements(unescape_string, return_dtype=pl.String))
            .otherwise(body)
            .alias("body")
        )
    frame = frame.with_columns(
        body.alias("lex_lit"),
        pl.when(suffix.str.starts_with("@")).then(pl.lit(RDF_LANGSTRING))
        .when(suffix.str.starts_with("^^")).then(suffix.str.slice(3, suffix.str.len_chars() - 4))
        .otherwise(pl.lit(XSD_STRING)).alias("dt"),
        pl.when(suffix.str.starts_with("@")).then(suffix.str.slice(1)).alias("lang"),
    )
    lex, dt = pl.col("lex_lit"), pl.col("dt")
    frame = frame.with_columns(ntype_expr(dt).alias("ntype"))
    extra = []
    if "num" in wanted:
        extra.append(pl.when(pl.col("ntype") > 0).then(lex.cast(pl.Float64, strict=False)).alias("num"))
    if "boolv" in wanted:
        extra.append(
            pl.when(dt == XSD_BOOLEAN)
            .then(pl.when(lex.is_in(["true", "1"])).then(True).when(lex.is_in(["false", "0"])).then(False))
            .alias("boolv")
        )
    if extra:
        frame = frame.with_columns(extra)
    if "time" in wanted:
        timed = frame.filter(dt.is_in([XSD_DATETIME, XSD_DATE]))
        times = timed.select("row", time_expr(lex, dt).alias("time"))
        frame = frame.join(times, on="row", how="left", maintain_order="left")
    keep = ["row", "lex_lit", "dt", "lang", "ntype"] + [c for c in ("num", "boolv", "time") if c in frame.columns]
    return frame.select(keep)
