"""Spark SQL text: literals and names, spelled safely.

Expressions themselves are built as backend-neutral nodes (:mod:`fincrime.engine.sparql.expr`,
where constants are folded) and spelled by :mod:`fincrime.engine.spark.compile`; this module
only quotes.

>>> lit("it's").sql
"CAST(X'69742773' AS STRING)"
>>> col("a`b").sql
'`a``b`'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_SAFE = re.compile(r"[A-Za-z0-9 :/#._\-?=&%+,;@!~*()\[\]{}<>^$|]*")


@dataclass(frozen=True, slots=True)
class S:
    """A piece of SQL text."""

    sql: str


def quote(text: str) -> str:
    """A string literal; text with quotes, backslashes or control characters goes as hex."""
    if _SAFE.fullmatch(text):
        return f"'{text}'"
    return f"CAST(X'{text.encode('utf-8').hex()}' AS STRING)"


def lit(value: Any, type_: str | None = None) -> S:
    """A constant; ``type_`` (an SQL type name) types a NULL or forces a cast."""
    if value is None:
        return S(f"CAST(NULL AS {type_ or 'STRING'})")
    if isinstance(value, bool):
        return S("TRUE" if value else "FALSE")
    if isinstance(value, int):
        text = str(value) if -(2**31) <= value < 2**31 else f"{value}L"
        return S(f"CAST({text} AS {type_})" if type_ else text)
    if isinstance(value, float):
        spelled = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity") if math.isinf(value) else repr(value)
        return S(f"CAST('{spelled}' AS DOUBLE)")
    if isinstance(value, str):
        return S(quote(value))
    raise TypeError(f"no SQL literal for {value!r}")


def col(name: str) -> S:
    return S("`" + name.replace("`", "``") + "`")


def alias(x: S, name: str) -> str:
    """``expr AS `name``` for a projection."""
    return f"{x.sql} AS {col(name).sql}"


__all__ = ["S", "alias", "col", "lit", "quote"]
