"""Spark SQL expression text built in Python, with constants folded as it is built.

Why text and not pyspark ``Column`` objects: every ``Column`` operation is a round trip to the
JVM, and a rule's SPARQL semantics (types, errors, canonical spelling) needs thousands of them;
building the same expression as text costs nothing, and the JVM parses it once per projection.
Folding matters as much: when a variable is known to hold one kind of term (say, only
``xsd:dateTime`` literals), its kind, datatype and numeric rank are constants, and the type
dispatch of a comparison collapses to the one branch that can apply, so Spark's optimizer and
code generator see a small expression instead of every case.

>>> a, b = col("x"), lit(3)
>>> when([(lit(False), a), (cmp(">", a, b), lit(1))], lit(0)).sql
'CASE WHEN (`x` > 3) THEN 1 ELSE 0 END'
>>> and_(lit(True), is_null(a)).sql
'(`x` IS NULL)'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_NOT_CONSTANT = object()
_SAFE = re.compile(r"[A-Za-z0-9 :/#._\-?=&%+,;@!~*()\[\]{}<>^$|]*")


@dataclass(frozen=True, slots=True)
class S:
    """An SQL expression; ``const`` is its Python value when it is a constant (None = NULL)."""

    sql: str
    const: Any = _NOT_CONSTANT

    @property
    def is_const(self) -> bool:
        return self.const is not _NOT_CONSTANT

    def __repr__(self) -> str:
        return f"S({self.sql!r})"


def quote(text: str) -> str:
    """A string literal; text with quotes, backslashes or control characters goes as hex."""
    if _SAFE.fullmatch(text):
        return f"'{text}'"
    return f"CAST(X'{text.encode('utf-8').hex()}' AS STRING)"


def lit(value: Any, type_: str | None = None) -> S:
    """A constant; ``type_`` (an SQL type name) types a NULL or forces a cast."""
    if value is None:
        return S(f"CAST(NULL AS {type_ or 'STRING'})", None)
    if isinstance(value, bool):
        return S("TRUE" if value else "FALSE", value)
    if isinstance(value, int):
        text = str(value) if -(2**31) <= value < 2**31 else f"{value}L"
        return S(f"CAST({text} AS {type_})" if type_ else text, value)
    if isinstance(value, float):
        spelled = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity") if math.isinf(value) else repr(value)
        return S(f"CAST('{spelled}' AS DOUBLE)", value)
    if isinstance(value, str):
        return S(quote(value), value)
    raise TypeError(f"no SQL literal for {value!r}")


TRUE, FALSE = lit(True), lit(False)


def null(type_: str) -> S:
    return lit(None, type_)


def col(name: str) -> S:
    return S("`" + name.replace("`", "``") + "`")


def fn(name: str, *args: S) -> S:
    return S(f"{name}({', '.join(a.sql for a in args)})")


def cast(x: S, type_: str) -> S:
    return S(f"CAST({x.sql} AS {type_})")


def _connective(word: str, absorbing: bool, xs: tuple[S, ...]) -> S:
    """AND / OR with constants folded: the absorbing constant decides, the neutral one drops."""
    keep = []
    for x in xs:
        if x.const is absorbing:
            return lit(absorbing)
        if x.const is not (not absorbing):
            keep.append(x)
    if not keep:
        return lit(not absorbing)
    return keep[0] if len(keep) == 1 else S("(" + f" {word} ".join(x.sql for x in keep) + ")")


def and_(*xs: S) -> S:
    return _connective("AND", False, xs)


def or_(*xs: S) -> S:
    return _connective("OR", True, xs)


def not_(x: S) -> S:
    if isinstance(x.const, bool):
        return lit(not x.const)
    if x.is_const:
        return null("BOOLEAN")
    return S(f"(NOT {x.sql})")


_PY_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _same_kind(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (isinstance(a, str) and isinstance(b, str))


def cmp(op: str, a: S, b: S) -> S:
    if a.is_const and b.is_const:
        if a.const is None or b.const is None:
            return null("BOOLEAN")
        nan = any(isinstance(c, float) and math.isnan(c) for c in (a.const, b.const))  # Spark orders NaN
        if _same_kind(a.const, b.const) and not nan:
            return lit(_PY_CMP[op](a.const, b.const))
    return S(f"({a.sql} {op} {b.sql})")


def eq(a: S, b: S) -> S:
    return cmp("=", a, b)


def is_null(x: S) -> S:
    return lit(x.const is None) if x.is_const else S(f"({x.sql} IS NULL)")


def not_null(x: S) -> S:
    return lit(x.const is not None) if x.is_const else S(f"({x.sql} IS NOT NULL)")


def is_in(x: S, options: Sequence[Any]) -> S:
    if x.is_const:
        return null("BOOLEAN") if x.const is None else lit(x.const in options)
    return S(f"({x.sql} IN ({', '.join(lit(o).sql for o in options)}))")


def when(branches: Sequence[tuple[S, S]], otherwise: S | None = None, type_: str = "STRING") -> S:
    """``CASE WHEN``; branches that cannot apply are dropped, a sure one ends the case."""
    keep: list[tuple[S, S]] = []
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
    text = " ".join(f"WHEN {c.sql} THEN {v.sql}" for c, v in keep)
    tail = "" if final.is_const and final.const is None else f" ELSE {final.sql}"
    return S(f"CASE {text}{tail} END")


def coalesce(*xs: S) -> S:
    keep = [x for x in xs if not (x.is_const and x.const is None)]
    if not keep:
        return xs[-1]
    if keep[0].is_const:
        return keep[0]
    out = []
    for x in keep:
        out.append(x)
        if x.is_const:
            break
    return out[0] if len(out) == 1 else fn("coalesce", *out)


def binop(op: str, a: S, b: S) -> S:
    if a.is_const and b.is_const and isinstance(a.const, int | float) and isinstance(b.const, int | float) \
            and not isinstance(a.const, bool) and not isinstance(b.const, bool) and op in "+-*":
        return lit({"+": a.const + b.const, "-": a.const - b.const, "*": a.const * b.const}[op])
    return S(f"({a.sql} {op} {b.sql})")


def rlike(x: S, pattern: str) -> S:
    return S(f"({x.sql} RLIKE {lit(pattern).sql})")


def alias(x: S, name: str) -> str:
    """``expr AS `name``` for a projection."""
    return f"{x.sql} AS {col(name).sql}"


__all__ = [
    "FALSE", "TRUE", "S", "alias", "and_", "binop", "cast", "cmp", "coalesce", "col", "eq", "fn",
    "is_in", "is_null", "lit", "not_", "not_null", "null", "or_", "quote", "rlike", "when",
]
