"""Expression nodes (:mod:`fincrime.engine.sparql.expr`) compiled to polars expressions.

One entry per operation of :data:`fincrime.engine.sparql.expr.OPS`; host functions run in Python
on the distinct argument rows only (:func:`run_host`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import numpy as np
import polars as pl
import polars_hash  # noqa: F401  (registers the nchash/chash expression namespaces)

from fincrime.engine.sparql.exact import HOST_FUNCTIONS
from fincrime.engine.sparql.expr import X
from fincrime.engine.sparql.model import BOOL, F64, I64, INT, STR, TERM
from fincrime.rdf.terms import unescape_string

DTYPES: dict[str, pl.DataType] = {
    BOOL: pl.Boolean(), INT: pl.Int8(), I64: pl.Int64(), F64: pl.Float64(), STR: pl.String(), TERM: pl.UInt32(),
    "list": pl.List(pl.String()),
}


def _when(args: list[pl.Expr]) -> pl.Expr:
    chain: Any = pl
    for cond, value in zip(args[:-1:2], args[1:-1:2], strict=True):
        chain = chain.when(cond).then(value)
    return chain.otherwise(args[-1])


def _digest(kind: str, text: pl.Expr) -> pl.Expr:
    if kind == "MD5":
        return text.nchash.md5()
    if kind == "SHA1":
        return text.nchash.sha1()
    return {"SHA256": text.chash.sha2_256, "SHA384": text.chash.sha2_384, "SHA512": text.chash.sha2_512}[kind]()


def _date_part(part: str, micros: pl.Expr) -> pl.Expr:
    t = micros.cast(pl.Datetime("us"))
    if part == "micros_of_minute":
        return t.dt.second().cast(pl.Int64) * 1_000_000 + t.dt.microsecond().cast(pl.Int64)
    return {"year": t.dt.year(), "month": t.dt.month(), "day": t.dt.day(), "hours": t.dt.hour(),
            "minutes": t.dt.minute()}[part].cast(pl.Int64)


def _parse_time(form: str, naive: pl.Expr) -> pl.Expr:
    if form == "date":
        return naive.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.epoch("us")
    return naive.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us").dt.epoch("us")


def _unescape(series: pl.Series) -> pl.Series:
    """N-Triples unescaping in Python, on the rows that have an escape only."""
    escaped = series.str.contains("\\", literal=True).fill_null(False)
    if not escaped.any():
        return series
    rows = np.flatnonzero(escaped.to_numpy())
    fixed = pl.Series([unescape_string(t) for t in series.gather(rows).to_list()], dtype=pl.String)
    return series.scatter(rows, fixed)


def run_host(name: str, args: list[pl.Series]) -> pl.Series:
    """A host function (:mod:`fincrime.engine.sparql.exact`) over the rows whose gate (first
    argument) is set, each distinct argument row computed once."""
    fn, type_, _ = HOST_FUNCTIONS[name]
    dtype = DTYPES[type_]
    height = max(len(a) for a in args)
    args = [a if len(a) == height else a.extend_constant(a[0], height - 1) for a in args]
    gate = args[0]
    empty = pl.Series([None] * height, dtype=dtype)
    if gate.null_count() == height:
        return empty
    rows = np.flatnonzero(gate.is_not_null().to_numpy())
    frame = pl.DataFrame({f"a{i}": a.gather(rows) for i, a in enumerate(args)})
    nested = any(isinstance(a.dtype, pl.List) for a in args)
    distinct = frame if nested else frame.unique(maintain_order=True)
    values = [fn(*row) for row in zip(*(distinct[c].to_list() for c in distinct.columns), strict=True)]
    out = pl.Series("__value", values, dtype=dtype)
    if distinct.height < frame.height:  # repeated argument rows (a parameter, a constant): join back
        table = distinct.with_columns(out)
        out = frame.join(table, on=frame.columns, how="left", nulls_equal=True, maintain_order="left")["__value"]
    return empty.scatter(rows, out)


def _host(name: str, args: list[pl.Expr]) -> pl.Expr:
    fields = [a.alias(f"a{i}") for i, a in enumerate(args)]
    return pl.struct(fields).map_batches(
        lambda s: run_host(name, [s.struct.field(f"a{i}") for i in range(len(args))]),
        return_dtype=DTYPES[HOST_FUNCTIONS[name][1]],
    )


def _substr(x: pl.Expr, start: pl.Expr, length: pl.Expr | None) -> pl.Expr:
    return x.str.slice(start, length)


_CMP: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
_ARITH: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
}


def _first(args: list[pl.Expr], descending: bool) -> pl.Expr:
    value, keys = args[0], args[1:]
    present = value.is_not_null()
    return value.filter(present).sort_by([k.filter(present) for k in keys], descending=descending,
                                         nulls_last=True).first()


_OPS: dict[str, Callable[[X, list[pl.Expr]], pl.Expr]] = {
    "and": lambda x, a: reduce(lambda p, q: p & q, a),
    "or": lambda x, a: reduce(lambda p, q: p | q, a),
    "not": lambda x, a: ~a[0],
    "cmp": lambda x, a: _CMP[x.param](a[0], a[1]),
    "is_null": lambda x, a: a[0].is_null(),
    "coalesce": lambda x, a: pl.coalesce(a),
    "when": lambda x, a: _when(a),
    "is_in": lambda x, a: a[0].is_in(list(x.param)),
    "arith": lambda x, a: _ARITH[x.param](a[0], a[1]),
    "neg": lambda x, a: -a[0], "abs": lambda x, a: a[0].abs(),
    "ceil": lambda x, a: a[0].ceil(), "floor": lambda x, a: a[0].floor(),
    "greatest": lambda x, a: pl.max_horizontal(a),
    "is_nan": lambda x, a: a[0].is_nan(),
    "ln": lambda x, a: a[0].log(),
    "cast": lambda x, a: a[0].cast(DTYPES[x.param], strict=False),
    "int_str": lambda x, a: a[0].round(0).cast(pl.Int64, strict=False).cast(pl.String),
    "num_str": lambda x, a: a[0].cast(pl.String),
    "concat": lambda x, a: pl.concat_str(a),
    "length": lambda x, a: a[0].str.len_chars().cast(pl.Int64),
    "upper": lambda x, a: a[0].str.to_uppercase(), "lower": lambda x, a: a[0].str.to_lowercase(),
    "trim": lambda x, a: a[0].str.strip_chars(),
    "contains": lambda x, a: a[0].str.contains(a[1], literal=True),
    "starts_with": lambda x, a: a[0].str.starts_with(a[1]),
    "ends_with": lambda x, a: a[0].str.ends_with(a[1]),
    "regex": lambda x, a: a[0].str.contains(a[1]),
    "matches": lambda x, a: a[0].str.contains(x.param),
    "extract": lambda x, a: a[0].str.extract(x.param[0], x.param[1]),
    "replace_re": lambda x, a: a[0].str.replace_all(x.param[0], x.param[1]),
    "replace": lambda x, a: a[0].str.replace_all(x.param[0], x.param[1], literal=True),
    "digest": lambda x, a: _digest(x.param, a[0]),
    "parse_time": lambda x, a: _parse_time(x.param, a[0]),
    "date_part": lambda x, a: _date_part(x.param, a[0]),
    "unescape": lambda x, a: a[0].map_batches(_unescape, return_dtype=pl.String),
    "host": lambda x, a: _host(x.param, a),
    # aggregates (inside a group-by)
    "agg_count": lambda x, a: a[0].count().cast(pl.Int64),
    "agg_count_distinct": lambda x, a: a[0].drop_nulls().n_unique().cast(pl.Int64),
    "agg_count_all": lambda x, a: pl.len().cast(pl.Int64),
    "agg_sum": lambda x, a: a[0].sum(),
    "agg_max": lambda x, a: a[0].max(), "agg_min": lambda x, a: a[0].min(),
    "agg_any": lambda x, a: a[0].any(),
    "agg_first": lambda x, a: _first(a, bool(x.param)),
    "agg_list": lambda x, a: a[0].drop_nulls(),
    "agg_join": lambda x, a: a[0].drop_nulls().sort().str.join(x.param),
}


def compile_expr(node: X, memo: dict[int, pl.Expr] | None = None) -> pl.Expr:
    """The polars expression of a node (shared sub-trees are compiled once)."""
    memo = {} if memo is None else memo
    found = memo.get(id(node))
    if found is not None:
        return found
    if node.op == "lit":
        out = pl.lit(node.const, DTYPES[node.type or STR])
    elif node.op == "col":
        out = pl.col(node.param)
    elif node.op == "host" and all(a.is_const for a in node.args):
        out = pl.lit(HOST_FUNCTIONS[node.param][0](*(a.const for a in node.args)), DTYPES[node.type or STR])
    elif node.op == "substr":
        s, start, length = (compile_expr(a, memo) for a in node.args)
        out = _substr(s, start, None if node.args[2].is_const and node.args[2].const is None else length)
    else:
        out = _OPS[node.op](node, [compile_expr(a, memo) for a in node.args])
    memo[id(node)] = out
    return out



__all__ = ["DTYPES", "compile_expr", "run_host"]
