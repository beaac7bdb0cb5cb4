"""The functions and aggregates of the rule language: names and arities, checked at parse time.

This table is the language's one list of built-ins: the parser rejects any other name, or a
call with another number of arguments, with the rule's file, line and column; the engines
implement every name listed here.

>>> arity_error("SUBSTR", 1)
'SUBSTR takes 2 or 3 arguments, got 1'
>>> aggregate_error("MIN_ARGMAX", 2) is None
True
"""

from __future__ import annotations

import polars as pl

from fincrime.vocab import XSD

#: name -> (fewest, most) arguments; ``None`` = any number. Operators are listed by symbol.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    **{op: (2, 2) for op in ("=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "&&", "||")},
    **{op: (1, 1) for op in ("NEG", "!")},
    "IF": (3, 3),
    "IN": (1, None), "NOT IN": (1, None),  # the tested value, then the options
    **{f: (1, 1) for f in (
        "STR", "IRI", "URI", "MD5", "SHA1", "SHA256", "SHA384", "SHA512", "STRLEN", "UCASE", "LCASE",
        "LANG", "DATATYPE", "ISIRI", "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC", "ABS", "CEIL",
        "FLOOR", "ROUND", "YEAR", "MONTH", "DAY", "HOURS", "MINUTES", "SECONDS",
    )},
    **{f: (2, 2) for f in ("CONTAINS", "STRSTARTS", "STRENDS")},
    "CONCAT": (0, None),
    "SUBSTR": (2, 3),
    "REGEX": (2, 3),
    "SKOLEM": (1, None),
    # extension functions, by IRI (XPath math namespace): natural logarithm
    "<http://www.w3.org/2005/xpath-functions/math#log>": (1, 1),
}

#: Datatypes whose IRI can be called as a cast, ``xsd:integer(?x)``.
CASTS = frozenset(f"<{XSD}{t}>" for t in ("string", "integer", "decimal", "double", "float", "boolean", "dateTime"))

#: Aggregates applied to one value (``COUNT`` also to none: ``COUNT(*)``).
PLAIN_AGGREGATES = ("COUNT", "SUM", "MUL", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT", "COUNT_MIN", "COUNT_MAX")
#: ``<F>_ARGMIN(value, key)`` / ``<F>_ARGMAX(value, key)``: F over the answers with the extreme key.
SELECTABLE = ("COUNT", "SUM", "MUL", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT")
AGGREGATES: dict[str, tuple[int, int]] = {
    **{f: (1, 1) for f in PLAIN_AGGREGATES},
    "COUNT": (0, 1),
    **{f"{f}_{s}": (2, 2) for f in SELECTABLE for s in ("ARGMIN", "ARGMAX")},
}

REGEX_FLAGS = frozenset("smixq")


def _span(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low} argument{'s' if low != 1 else ''}"
    if low == high:
        return f"{low} argument{'s' if low != 1 else ''}"
    if high == low + 1:
        return f"{low} or {high} arguments"
    return f"{low} to {high} arguments"


def arity_error(name: str, count: int, table: dict[str, tuple[int, int | None]] | None = None) -> str | None:
    """The message for a call of ``name`` with ``count`` arguments, or None when it is fine."""
    low, high = (table or FUNCTIONS)[name]
    if count < low or (high is not None and count > high):
        return f"{name} takes {_span(low, high)}, got {count}"
    return None


def aggregate_error(name: str, count: int) -> str | None:
    if name not in AGGREGATES:
        return f"unknown aggregate function {name} (known: {', '.join(sorted(AGGREGATES))})"
    return arity_error(name, count, AGGREGATES)  # type: ignore[arg-type]


def regex_error(pattern: str, flags: str = "") -> str | None:
    """Why a constant REGEX pattern (or its flags) cannot be used, or None.

    Patterns are checked with the engine's own regular-expression library (Rust ``regex``,
    which polars runs), so a pattern accepted here compiles when the rules run.
    """
    bad = sorted(set(flags) - REGEX_FLAGS)
    if bad:
        return f"unknown REGEX flag {bad[0]!r} (flags are s, m, i, x, q)"
    try:
        pl.Series([""]).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        text = str(exc).split("This error occurred", 1)[0]
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        first = lines[0].removeprefix("regex error:").strip() if lines else "invalid"
        reason = next((ln[len("error:"):].strip() for ln in lines if ln.startswith("error:")), first)
        return f"bad REGEX pattern {pattern!r}: {reason}"
    return None


__all__ = ["AGGREGATES", "CASTS", "FUNCTIONS", "aggregate_error", "arity_error", "regex_error"]
