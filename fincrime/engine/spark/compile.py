"""Expression nodes (:mod:`fincrime.engine.sparql.expr`) compiled to Spark SQL text.

Why text and not pyspark ``Column`` objects: every ``Column`` operation is a round trip to the
JVM, and a rule's SPARQL semantics needs thousands of them; building the expression as text
costs nothing, and the JVM parses it once per projection. Constants are already folded in the
nodes, so Spark's optimizer sees only the branches that can apply.

Host functions (:mod:`fincrime.engine.sparql.exact`) are Arrow batch UDFs registered in the
session (:func:`register_functions`); the JVM does everything else.

>>> from fincrime.engine.sparql.expr import cmp, col, lit, when
>>> compile_sql(when([(lit(False), col("x")), (cmp(">", col("x"), lit(3)), lit(1))], lit(0)))
'CASE WHEN (`x` > 3) THEN 1 ELSE 0 END'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType

from fincrime.engine.spark.sql import col as sql_col
from fincrime.engine.spark.sql import lit as sql_lit
from fincrime.engine.sparql.exact import HOST_FUNCTIONS
from fincrime.engine.sparql.expr import X
from fincrime.engine.sparql.model import BOOL, F64, I64, INT, STR, TERM

# pyspark warns about the pandas version when a pandas UDF is declared; the ones here work
warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*", category=FutureWarning)

SQL_TYPES = {BOOL: "BOOLEAN", INT: "INT", I64: "BIGINT", F64: "DOUBLE", STR: "STRING", TERM: "STRING",
             "list": "ARRAY<STRING>"}
HOST_PREFIX = "fincrime_"
_WHITE = r"^[ \t\n\r]+|[ \t\n\r]+$"  # XML white space (what XPath casting strips)


def _lit(x: X) -> str:
    if x.const is None:
        return f"CAST(NULL AS {SQL_TYPES[x.type or STR]})"
    if isinstance(x.const, int) and not isinstance(x.const, bool) and x.type == F64:
        return sql_lit(float(x.const)).sql
    return sql_lit(x.const).sql


def _when(args: list[str]) -> str:
    pairs = " ".join(f"WHEN {c} THEN {v}" for c, v in zip(args[:-1:2], args[1:-1:2], strict=True))
    tail = "" if args[-1].startswith("CAST(NULL AS") else f" ELSE {args[-1]}"
    return f"CASE {pairs}{tail} END"


def _substr(x: X, a: list[str]) -> str:
    start = f"(CAST({a[1]} AS INT) + 1)"
    if x.args[2].is_const and x.args[2].const is None:
        return f"substr({a[0]}, {start})"
    return f"substr({a[0]}, {start}, greatest(CAST({a[2]} AS INT), 0))"


def _first(x: X, a: list[str]) -> str:
    """The value at the least (greatest) keys: min (max) of a struct that puts null keys last."""
    flag = "IS NOT NULL" if x.param else "IS NULL"
    parts = []
    for i, key in enumerate(a[1:]):
        parts += [f"'f{i}', ({key} {flag})", f"'k{i}', {key}"]
    struct = f"named_struct({', '.join([*parts, chr(39) + 'v' + chr(39), a[0]])})"
    return f"{'max' if x.param else 'min'}(CASE WHEN {a[0]} IS NOT NULL THEN {struct} END).v"


def _extract(x: X, a: list[str]) -> str:
    pattern = sql_lit(x.param[0]).sql
    return f"CASE WHEN ({a[0]} RLIKE {pattern}) THEN regexp_extract({a[0]}, {pattern}, {x.param[1]}) END"


def _host(x: X, a: list[str]) -> str:
    return f"{HOST_PREFIX}{x.param}({', '.join(a)})"


_DIGESTS = {"MD5": "md5({})", "SHA1": "sha1({})", "SHA256": "sha2({}, 256)", "SHA384": "sha2({}, 384)",
            "SHA512": "sha2({}, 512)"}
_PARTS = {"year": "year", "month": "month", "day": "dayofmonth", "hours": "hour", "minutes": "minute"}

_OPS: dict[str, Callable[[X, list[str]], str]] = {
    "and": lambda x, a: "(" + " AND ".join(a) + ")",
    "or": lambda x, a: "(" + " OR ".join(a) + ")",
    "not": lambda x, a: f"(NOT {a[0]})",
    "cmp": lambda x, a: f"({a[0]} {x.param} {a[1]})",
    "is_null": lambda x, a: f"({a[0]} IS NULL)",
    "coalesce": lambda x, a: f"coalesce({', '.join(a)})",
    "when": lambda x, a: _when(a),
    "is_in": lambda x, a: f"({a[0]} IN ({', '.join(sql_lit(o).sql for o in x.param)}))",
    "arith": lambda x, a: f"({a[0]} {x.param} {a[1]})",
    "neg": lambda x, a: f"(- {a[0]})", "abs": lambda x, a: f"abs({a[0]})",
    "ceil": lambda x, a: f"CAST(ceil({a[0]}) AS DOUBLE)", "floor": lambda x, a: f"CAST(floor({a[0]}) AS DOUBLE)",
    "greatest": lambda x, a: f"greatest({', '.join(a)})",
    "ln": lambda x, a: f"ln({a[0]})",
    "is_nan": lambda x, a: f"CASE WHEN {a[0]} IS NOT NULL THEN isnan({a[0]}) END",
    "cast": lambda x, a: f"CAST({a[0]} AS {SQL_TYPES[x.param]})",
    "int_str": lambda x, a: f"CAST(CAST(bround({a[0]}, 0) AS BIGINT) AS STRING)",
    "num_str": lambda x, a: f"CAST({a[0]} AS STRING)",
    "concat": lambda x, a: f"concat({', '.join(a)})",
    "length": lambda x, a: f"CAST(char_length({a[0]}) AS BIGINT)",
    "substr": _substr,
    "upper": lambda x, a: f"upper({a[0]})", "lower": lambda x, a: f"lower({a[0]})",
    "trim": lambda x, a: f"regexp_replace({a[0]}, {sql_lit(_WHITE).sql}, '')",
    "contains": lambda x, a: f"contains({a[0]}, {a[1]})",
    "starts_with": lambda x, a: f"startswith({a[0]}, {a[1]})",
    "ends_with": lambda x, a: f"endswith({a[0]}, {a[1]})",
    "regex": lambda x, a: f"regexp_like({a[0]}, {a[1]})",
    "matches": lambda x, a: f"({a[0]} RLIKE {sql_lit(x.param).sql})",
    "extract": _extract,
    "replace_re": lambda x, a: f"regexp_replace({a[0]}, {sql_lit(x.param[0]).sql}, {sql_lit(x.param[1]).sql})",
    "replace": lambda x, a: f"replace({a[0]}, {sql_lit(x.param[0]).sql}, {sql_lit(x.param[1]).sql})",
    "digest": lambda x, a: _DIGESTS[x.param].format(a[0]),
    "parse_time": lambda x, a: f"unix_micros(to_timestamp({a[0]}))",
    "date_part": lambda x, a: (f"pmod({a[0]}, 60000000L)" if x.param == "micros_of_minute"
                               else f"CAST({_PARTS[x.param]}(timestamp_micros({a[0]})) AS BIGINT)"),
    "unescape": lambda x, a: (f"CASE WHEN contains({a[0]}, '\\\\') THEN reflect("
                              f"'org.apache.commons.text.StringEscapeUtils', 'unescapeJava', {a[0]}) ELSE {a[0]} END"),
    "host": _host,
    "agg_count": lambda x, a: f"count({a[0]})",
    "agg_count_distinct": lambda x, a: f"count(DISTINCT {a[0]})",
    "agg_count_all": lambda x, a: "count(1)",
    "agg_sum": lambda x, a: f"coalesce(sum({a[0]}), CAST(0 AS DOUBLE))",
    "agg_max": lambda x, a: f"max({a[0]})", "agg_min": lambda x, a: f"min({a[0]})",
    "agg_any": lambda x, a: f"coalesce(bool_or({a[0]}), FALSE)",
    "agg_first": _first,
    "agg_list": lambda x, a: f"collect_list({a[0]})",
    "agg_join": lambda x, a: f"array_join(array_sort(collect_list({a[0]})), {sql_lit(x.param).sql})",
}


def compile_sql(node: X, memo: dict[int, str] | None = None) -> str:
    """The Spark SQL text of a node (shared sub-trees are spelled once each)."""
    memo = {} if memo is None else memo
    found = memo.get(id(node))
    if found is not None:
        return found
    if node.op == "lit":
        out = _lit(node)
    elif node.op == "col":
        out = sql_col(node.param).sql
    elif node.op == "host" and all(a.is_const for a in node.args):
        from fincrime.engine.sparql.expr import lit

        out = _lit(lit(HOST_FUNCTIONS[node.param][0](*(a.const for a in node.args)), node.type))
    else:
        out = _OPS[node.op](node, [compile_sql(a, memo) for a in node.args])
    memo[id(node)] = out
    return out


def _cell(kind: str, value: Any) -> Any:
    """A pandas cell as the Python value a host function takes (pandas gives NaN for a null
    int, and a float column for a batch of null strings)."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if kind == "i":
        return None if missing else int(value)
    if kind in "sl":
        if isinstance(value, float):
            return None
        return value.tolist() if hasattr(value, "tolist") else value
    return None if value is None else float(value)


def _pandas_host(name: str):  # type: ignore[no-untyped-def]
    fn, type_, kinds = HOST_FUNCTIONS[name]

    def run(*columns):  # type: ignore[no-untyped-def]
        import pandas as pd

        cache: dict[tuple[Any, ...], Any] = {}
        out: list[Any] = []
        for row in zip(*columns, strict=True):
            values = [_cell(k, v) for k, v in zip(kinds, row, strict=True)]
            if values[0] is None:  # the gate: not asked for on this row
                out.append(None)
                continue
            key = tuple(tuple(v) if isinstance(v, list) else v for v in values)
            if key not in cache:
                cache[key] = fn(*values)
            out.append(cache[key])
        return pd.Series(out, dtype="Int64" if type_ == I64 else "object")

    return F.pandas_udf(run, LongType() if type_ == I64 else StringType())  # type: ignore[call-overload]


def register_functions(spark) -> None:  # type: ignore[no-untyped-def]
    """Make the host functions callable from SQL text in this session."""
    for name in HOST_FUNCTIONS:
        spark.udf.register(HOST_PREFIX + name, _pandas_host(name))


__all__ = ["SQL_TYPES", "compile_sql", "register_functions"]
