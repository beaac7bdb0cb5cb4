"""Exact numbers: the few SPARQL computations doubles cannot do, as plain Python functions.

``xsd:integer`` is unbounded and ``xsd:decimal`` is exact, so integer and decimal arithmetic that
a double would round (an integer beyond 2**53, any decimal result) is done here, with
:class:`decimal.Decimal`, and the result is spelled in its canonical lexical form. Both executors
call these same functions (the in-memory one on the distinct argument rows of a column, the Spark
one as Arrow batch UDFs), so their results are identical by construction. These are the
backends' "host functions" (:data:`HOST_FUNCTIONS`); each takes a *gate* first: a row whose gate
is null gives null without being computed, which is how a tree asks for exact work only on the
rows that need it.

Decimal division is exact when the quotient terminates within :data:`DIVISION_SCALE` fractional
digits and is otherwise rounded there, half to even (XPath asks for at least 18 digits).

>>> exact_arith("+", 1, "9223372036854775807", None, 1, "9223372036854775807", None)
'18446744073709551614'
>>> exact_arith("+", 2, "0.1", None, 2, "0.2", None)
'0.3'
>>> exact_arith("/", 1, "1", None, 1, "3", None)
'0.333333333333333333'
>>> exact_sum(2, ["0.1", "0.2", "0.3"])
'0.6'
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from fincrime.engine.sparql.model import (
    DECIMAL_LEX,
    I64,
    INTEGER_LEX,
    RANK_DECIMAL,
    RANK_INTEGER,
    STR,
    parse_double,
)
from fincrime.rdf.terms import canonical_decimal, canonical_double

DIVISION_SCALE = 18
# +, - and * are exact with unbounded precision; division sets its own precision
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.InvalidOperation])


def _value(rank: int, lex: str | None, num: float | None) -> Decimal | float | None:
    """An operand's exact value: integers and decimals as Decimal, floats and doubles as float."""
    if rank > RANK_DECIMAL:
        return parse_double(lex) if lex is not None else num
    try:
        if lex is not None:
            return Decimal(lex.strip())
        if num is None or not math.isfinite(num):
            return None
        return Decimal(int(num)) if rank == RANK_INTEGER else Decimal(repr(num))
    except (decimal.InvalidOperation, ValueError):
        return None


def spell(rank: int, value: Decimal | float) -> str:
    """The canonical lexical form of a number of ``rank``."""
    if rank > RANK_DECIMAL:
        return canonical_double(float(value))
    if rank == RANK_INTEGER:
        text = format(Decimal(value).to_integral_value(rounding=decimal.ROUND_FLOOR), "f")
        return "0" if text in ("-0", "+0") else text
    return canonical_decimal(Decimal(value))


def _divide(a: Decimal, b: Decimal) -> Decimal:
    digits = max(a.adjusted() - b.adjusted(), 0) + DIVISION_SCALE + 2
    quotient = decimal.Context(prec=digits, traps=[decimal.InvalidOperation]).divide(a, b)
    return quotient.quantize(Decimal(1).scaleb(-DIVISION_SCALE), rounding=decimal.ROUND_HALF_EVEN, context=_EXACT)


def exact_arith(op: str, arank: int | None, alex: str | None, anum: float | None,
                brank: int | None, blex: str | None, bnum: float | None) -> str | None:
    """``a op b`` in the promoted rank, spelled canonically; None for an error (``x / 0``)."""
    if arank is None or brank is None:
        return None
    rank = max(arank, brank)
    rank = RANK_DECIMAL if op == "/" and rank == RANK_INTEGER else rank
    a, b = _value(arank, alex, anum), _value(brank, blex, bnum)
    if a is None or b is None:
        return None
    if rank > RANK_DECIMAL:
        x, y = float(a), float(b)
        if op == "/":
            if y == 0:
                return spell(rank, math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x) * math.copysign(1, y))
            return spell(rank, x / y)
        return spell(rank, {"+": x + y, "-": x - y, "*": x * y}[op])
    a, b = Decimal(a), Decimal(b)
    if op == "/":
        return None if b == 0 else spell(rank, _divide(a, b))
    result = {"+": _EXACT.add, "-": _EXACT.subtract, "*": _EXACT.multiply}[op](a, b)
    return spell(rank, result)


def exact_unary(op: str, rank: int | None, lex: str | None, num: float | None) -> str | None:
    """NEG, ABS, CEIL, FLOOR and ROUND (XPath: half rounds up) of an integer or decimal."""
    if rank is None:
        return None
    value = _value(rank, lex, num)
    if value is None or rank > RANK_DECIMAL:
        return None
    d = Decimal(value)
    out = {
        "NEG": lambda: _EXACT.minus(d), "ABS": lambda: _EXACT.abs(d),
        "CEIL": lambda: d.to_integral_value(rounding=decimal.ROUND_CEILING),
        "FLOOR": lambda: d.to_integral_value(rounding=decimal.ROUND_FLOOR),
        "ROUND": lambda: _EXACT.add(d, Decimal("0.5")).to_integral_value(rounding=decimal.ROUND_FLOOR),
    }[op]()
    return spell(rank, out)


def exact_compare(arank: int | None, alex: str | None, anum: float | None,
                  brank: int | None, blex: str | None, bnum: float | None) -> int | None:
    """-1, 0 or 1: the exact order of two integers or decimals whose doubles tie."""
    if arank is None or brank is None:
        return None
    a, b = _value(arank, alex, anum), _value(brank, blex, bnum)
    if a is None or b is None:
        return None
    a, b = Decimal(a), Decimal(b)
    return (a > b) - (a < b)


def cast_number(rank: int | None, source_rank: int | None, lex: str | None, num: float | None) -> str | None:
    """xsd:integer(x) / xsd:decimal(x): ``x`` a number of ``source_rank``, or (rank 0) a numeral
    string (or a boolean spelled "1" / "0") in ``lex``; None when it has no such value. A
    fractional number is truncated towards zero (XPath casting)."""
    if rank is None or source_rank is None:
        return None
    if source_rank == 0:  # a string (trimmed, per XPath casting) or a boolean ("1"/"0" here)
        text = (lex or "").strip()
        if not re.match(INTEGER_LEX if rank == RANK_INTEGER else DECIMAL_LEX, text):
            return None
        value: Decimal | float | None = Decimal(text)
    else:
        value = _value(source_rank, lex, num)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return None
        value = Decimal(repr(value)) if isinstance(value, float) else value
    if rank == RANK_INTEGER:
        value = Decimal(value).to_integral_value(rounding=decimal.ROUND_DOWN)
    return spell(rank, value)


def _exact_total(values: Sequence[str], multiply: bool, doubles: bool) -> Decimal:
    """The exact sum (product) of numbers spelled as strings; with ``doubles``, of the doubles
    they denote (each taken exactly), as XPath promotes every operand to the result's type."""
    total = Decimal(1 if multiply else 0)
    step = _EXACT.multiply if multiply else _EXACT.add
    for v in values:
        total = step(total, Decimal(parse_double(v)) if doubles else Decimal(v))
    return total


def _fold(rank: int | None, values: Sequence[str] | None, multiply: bool = False) -> Decimal | float | None:
    """An order-independent sum or product: exact, and for doubles rounded once at the end."""
    if rank is None or values is None:
        return None
    try:
        total = _exact_total(values, multiply, rank > RANK_DECIMAL)
    except decimal.InvalidOperation:  # an infinity times zero, or infinities of both signs
        return math.nan
    return float(total) if rank > RANK_DECIMAL else total


def exact_sum(rank: int | None, values: Sequence[str] | None) -> str | None:
    """The sum of numbers spelled as strings (exact lexical forms, or doubles' ``num_str``),
    exact for integers and decimals, correctly rounded for doubles."""
    total = _fold(rank, values)
    return None if total is None or rank is None else spell(rank, total)


def exact_avg(rank: int | None, values: Sequence[str] | None) -> str | None:
    """The mean of a group (``rank``: the promoted one, integers averaging to a decimal); 0 for
    no values, as SPARQL's AVG."""
    total = _fold(rank, values)
    if total is None or rank is None or values is None:
        return None
    if not values:
        return spell(rank, 0)
    if isinstance(total, float):
        return spell(rank, float(Decimal(total) / Decimal(len(values))) if math.isfinite(total) else total)
    return spell(rank, _divide(total, Decimal(len(values))))


def exact_product(rank: int | None, values: Sequence[str] | None) -> str | None:
    """The product (RDFox's MUL aggregate), exact for integers and decimals."""
    total = _fold(rank, values, multiply=True)
    return None if total is None or rank is None else spell(rank, total)


def number_lex(rank: int | None, num: float | None) -> str | None:
    """The canonical spelling of a computed decimal or double held as a double."""
    if rank is None or num is None or (rank == RANK_DECIMAL and not math.isfinite(num)):
        return None
    return spell(rank, num if rank > RANK_DECIMAL else Decimal(repr(num)))


def _op(fn: Callable[..., Any], op: str) -> Callable[..., Any]:
    return lambda *args: fn(op, *args)


#: name -> (function, logical result type, argument kinds: i an int (rank), s a string, f a
#: double, l a list of strings); a backend converts its cells to these Python types
HOST_FUNCTIONS: dict[str, tuple[Callable[..., Any], str, str]] = {
    **{f"exact_{name}": (_op(exact_arith, op), STR, "isfisf") for name, op in
       (("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"))},
    **{f"exact_{op.lower()}": (_op(exact_unary, op), STR, "isf") for op in ("NEG", "ABS", "CEIL", "FLOOR", "ROUND")},
    "exact_compare": (exact_compare, I64, "isfisf"),
    "cast_number": (cast_number, STR, "iisf"),
    "number_lex": (number_lex, STR, "if"),
    "exact_sum": (exact_sum, STR, "il"),
    "exact_avg": (exact_avg, STR, "il"),
    "exact_product": (exact_product, STR, "il"),
}
ARITH_HOSTS = {"+": "exact_add", "-": "exact_sub", "*": "exact_mul", "/": "exact_div"}

__all__ = ["ARITH_HOSTS", "DIVISION_SCALE", "HOST_FUNCTIONS", "exact_arith", "exact_sum", "spell"]
