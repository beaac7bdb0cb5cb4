"""Backend-neutral expression nodes: the primitives SPARQL functions are written against.

The SPARQL functions (:mod:`functions`), the aggregates (:mod:`aggregates`) and the decoding of
terms (:mod:`decode`) are written once, as trees of :class:`X` nodes; each executor compiles a
tree to its own engine: the in-memory executor to polars expressions
(:mod:`fincrime.engine.memory.backend`), the Spark executor to Spark SQL text
(:mod:`fincrime.engine.spark.backend`). A backend implements every operation of :data:`OPS`,
nothing more, so a new function is written in one place and runs on both.

Constants are folded as a tree is built: when a variable is known to hold one kind of term (say,
only ``xsd:dateTime`` literals), its kind, datatype and rank are constants, and the type dispatch
of a comparison collapses to the one branch that can apply, on both backends.

>>> a = col("x")
>>> when([(lit(False), a), (cmp(">", a, lit(3)), lit(1))], lit(0)).op
'when'
>>> and_(lit(True), is_null(a)).op
'is_null'
>>> arith("+", lit(2), lit(3)).const
5
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fincrime.engine.sparql.model import BOOL, F64, I64, STR

_NOT_CONSTANT: Any = object()

#: Every operation a backend compiles, with what it means (``args``: child nodes; ``param``: a
#: Python parameter fixed when the tree is built).
OPS = {
    "lit": "a constant (``const``; None is a null of logical type ``type``)",
    "col": "a column of the frame (param: its name)",
    "and": "n-ary AND (SQL three-valued)", "or": "n-ary OR", "not": "NOT",
    "cmp": "comparison, param one of = != < <= > >= (NaN is the caller's business)",
    "is_null": "IS NULL", "coalesce": "first non-null argument",
    "when": "args c1, v1, c2, v2, ..., otherwise: the first value whose condition is true",
    "is_in": "membership in the constant tuple param",
    "arith": "param + - * or / on doubles (IEEE: x/0 is an infinity or NaN)",
    "neg": "unary minus", "abs": "absolute value", "ceil": "ceiling (a double)", "floor": "floor (a double)",
    "greatest": "n-ary maximum", "is_nan": "NaN test of a double", "ln": "natural logarithm of a double",
    "cast": "param: target logical type; a string that does not parse gives null",
    "int_str": "decimal digits of an integral double below 2**53",
    "num_str": "a string that parses back to the same double",
    "concat": "n-ary string concatenation", "length": "length in characters",
    "substr": "args s, start (0-based), length (or a null literal: to the end)",
    "upper": "upper case", "lower": "lower case", "trim": "strip white space",
    "contains": "substring test", "starts_with": "prefix test", "ends_with": "suffix test",
    "regex": "args s, pattern: does the (run-time) pattern match somewhere in s",
    "matches": "param: a constant pattern; does it match somewhere in s",
    "extract": "param (pattern, group): the group's text, null when there is no match",
    "replace_re": "param (pattern, replacement): every match replaced",
    "replace": "param (old, new): every literal occurrence replaced",
    "digest": "param MD5, SHA1, SHA256, SHA384 or SHA512: lower-case hex digest of UTF-8",
    "parse_time": "param datetime (YYYY-MM-DDTHH:MM:SS[.f]) or date: UTC microseconds, null if invalid",
    "date_part": "param year, month, day, hours, minutes or micros_of_minute, of UTC microseconds",
    "unescape": "undo N-Triples string escapes",
    "host": "param: the name of a batch Python function in exact.HOST_FUNCTIONS, applied to args",
    # aggregates: only inside a group-by (Backend.group); nulls are not values
    "agg_count": "how many non-null values", "agg_count_distinct": "how many distinct non-null values",
    "agg_count_all": "how many rows", "agg_sum": "sum of doubles (0 for none)",
    "agg_max": "greatest value", "agg_min": "least value", "agg_any": "some value is true (false for none)",
    "agg_first": "args value, keys...: the value of the row with the least keys (param True: greatest), "
                 "compared in order, a null key after any value",
    "agg_list": "the list of non-null values (any order)",
    "agg_join": "param separator: the non-null strings in code point order, joined",
}


@dataclass(frozen=True, slots=True, eq=False)
class X:
    """One node; ``const`` is its Python value when it is a constant (None = null)."""

    op: str
    args: tuple[X, ...] = ()
    param: Any = None
    const: Any = _NOT_CONSTANT
    type: str | None = None

    @property
    def is_const(self) -> bool:
        return self.const is not _NOT_CONSTANT

    def __repr__(self) -> str:
        if self.is_const:
            return f"lit({self.const!r})"
        if self.op == "col":
            return f"col({self.param!r})"
        inner = ", ".join(map(repr, self.args))
        return f"{self.op}[{self.param}]({inner})" if self.param is not None else f"{self.op}({inner})"


def lit(value: Any, type_: str | None = None) -> X:
    if type_ is None:
        type_ = BOOL if isinstance(value, bool) else I64 if isinstance(value, int) else \
            F64 if isinstance(value, float) else STR
    return X("lit", const=value, type=type_)


def null(type_: str) -> X:
    return lit(None, type_)


TRUE, FALSE = lit(True), lit(False)


def col(name: str, type_: str | None = None) -> X:
    return X("col", param=name, type=type_)


def call(op: str, *args: X, param: Any = None, type_: str | None = None) -> X:
    assert op in OPS, op
    return X(op, tuple(args), param, type=type_)


def _connective(op: str, absorbing: bool, xs: Sequence[X]) -> X:
    """AND / OR with constants folded: the absorbing constant decides, the neutral one drops."""
    keep = []
    for x in xs:
        if x.const is absorbing:
            return lit(absorbing)
        if x.const is not (not absorbing):
            keep.append(x)
    if not keep:
        return lit(not absorbing)
    return keep[0] if len(keep) == 1 else X(op, tuple(keep), type=BOOL)


def and_(*xs: X) -> X:
    return _connective("and", False, xs)


def or_(*xs: X) -> X:
    return _connective("or", True, xs)


def not_(x: X) -> X:
    if isinstance(x.const, bool):
        return lit(not x.const)
    if x.is_const:
        return null(BOOL)
    return X("not", (x,), type=BOOL)


_PY_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _same_kind(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (isinstance(a, str) and isinstance(b, str))


def cmp(op: str, a: X, b: X) -> X:
    if a.is_const and b.is_const:
        if a.const is None or b.const is None:
            return null(BOOL)
        nan = any(isinstance(c, float) and math.isnan(c) for c in (a.const, b.const))  # backends order NaN
        if _same_kind(a.const, b.const) and not nan:
            return lit(_PY_CMP[op](a.const, b.const))
    return X("cmp", (a, b), op, type=BOOL)


def eq(a: X, b: X) -> X:
    return cmp("=", a, b)


def is_null(x: X) -> X:
    return lit(x.const is None) if x.is_const else X("is_null", (x,), type=BOOL)


def not_null(x: X) -> X:
    return not_(is_null(x))


def is_in(x: X, options: Sequence[Any]) -> X:
    if x.is_const:
        return null(BOOL) if x.const is None else lit(x.const in options)
    return X("is_in", (x,), tuple(options), type=BOOL)


def when(branches: Sequence[tuple[X, X]], otherwise: X | None = None, type_: str = STR) -> X:
    """``CASE WHEN``; branches that cannot apply are dropped, a sure one ends the case."""
    keep: list[tuple[X, X]] = []
    final = otherwise
    for cond, value in branches:
        if cond.const is False or (cond.is_const and cond.const is None):
            continue
        if cond.const is True:
            final = value
            break
        keep.append((cond, value))
    if final is None:
        final = null(type_)
    if not keep:
        return final
    args = (*(x for pair in keep for x in pair), final)
    return X("when", args, type=final.type or type_)


def coalesce(*xs: X) -> X:
    keep = [x for x in xs if not (x.is_const and x.const is None)]
    if not keep:
        return xs[-1]
    out = []
    for x in keep:
        out.append(x)
        if x.is_const:
            break
    return out[0] if len(out) == 1 else X("coalesce", tuple(out), type=out[0].type)


def _number(x: X) -> bool:
    return x.is_const and isinstance(x.const, int | float) and not isinstance(x.const, bool)


def arith(op: str, a: X, b: X) -> X:
    if _number(a) and _number(b) and op in "+-*":
        return lit({"+": a.const + b.const, "-": a.const - b.const, "*": a.const * b.const}[op], F64)
    return X("arith", (a, b), op, type=a.type if a.type == b.type else F64)


def cast(x: X, type_: str) -> X:
    if x.is_const and x.const is None:
        return null(type_)
    return X("cast", (x,), type_, type=type_)


def host(name: str, *args: X, type_: str = STR) -> X:
    """A batch Python function (see :mod:`exact`) applied row by row to ``args``."""
    return X("host", tuple(args), name, type=type_)


__all__ = [
    "FALSE", "I64", "OPS", "TRUE", "X", "and_", "arith", "call", "cast", "cmp", "coalesce", "col", "eq",
    "host", "is_in", "is_null", "lit", "not_", "not_null", "null", "or_", "when",
]
