"""The SPARQL value model both executors share: what a term's value is made of.

A value is a fixed set of fields (:data:`FIELDS`): ``kind`` (:data:`KIND_IRI`, :data:`KIND_BLANK`,
:data:`KIND_LITERAL`), ``lex`` (IRI text, blank label or literal lexical form), ``dt`` (datatype
IRI), ``lang``, ``num`` (the double value of a numeric literal), ``ntype`` (its numeric rank, see
:data:`NUMERIC_DATATYPES`; 0 for anything that is not a number, ill-typed numerals included),
``time`` (microseconds since the epoch, UTC, of an ``xsd:dateTime`` / ``xsd:date``; a date-time
without a timezone is read as UTC) and ``boolv``.

Exact numbers: ``xsd:integer`` is unbounded and ``xsd:decimal`` is exact, so an integer or decimal
*computed* by a function carries its exact canonical lexical form in ``lex`` whenever ``num`` (a
double) would not hold it exactly (see :mod:`fincrime.engine.sparql.exact`). A computed integer
whose ``lex`` is null is exactly ``num`` (its magnitude is below :data:`EXACT_LIMIT`).

Type classes (:data:`TCLASS_DATATYPES`) name the common shapes of well-typed terms; when every value of a
variable in a frame has one class, the fields the class fixes are constants (:func:`fixed_fields`),
and the executors read nothing for them.

>>> term_fields('"12.5"^^<http://www.w3.org/2001/XMLSchema#int>')["ntype"]  # ill-typed: no number
0
>>> term_fields('"2.50"^^<http://www.w3.org/2001/XMLSchema#decimal>')["num"]
2.5
>>> promote(RANK_INTEGER, RANK_INTEGER, "/") == RANK_DECIMAL
True
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from fincrime.rdf.terms import (
    INTEGER_TYPES,
    RDF_LANGSTRING,
    XSD_BOOLEAN,
    XSD_DATE,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_FLOAT,
    XSD_INTEGER,
    XSD_STRING,
    parse_term,
)
from fincrime.vocab import XSD

KIND_IRI, KIND_BLANK, KIND_LITERAL = 0, 1, 2

RANK_NONE, RANK_INTEGER, RANK_DECIMAL, RANK_FLOAT, RANK_DOUBLE = 0, 1, 2, 3, 4
#: numeric rank -> the datatype of a computed number of that rank (type promotion goes up)
NUMERIC_DATATYPES = {RANK_INTEGER: XSD_INTEGER, RANK_DECIMAL: XSD_DECIMAL, RANK_FLOAT: XSD_FLOAT, RANK_DOUBLE: XSD_DOUBLE}
#: a computed integer below this magnitude is exact as a double; above it, it carries ``lex``
EXACT_LIMIT = 2.0**53

TCLASS_IRI, TCLASS_BLANK = 0, 1
TCLASS_STRING, TCLASS_LANGSTRING, TCLASS_BOOLEAN = 2, 3, 4
TCLASS_INTEGER, TCLASS_DECIMAL, TCLASS_FLOAT, TCLASS_DOUBLE = 5, 6, 7, 8
TCLASS_DATETIME, TCLASS_DATE, TCLASS_OTHER = 9, 10, 11
TCLASS_DATATYPES = {
    TCLASS_STRING: XSD_STRING, TCLASS_LANGSTRING: RDF_LANGSTRING, TCLASS_BOOLEAN: XSD_BOOLEAN,
    TCLASS_INTEGER: XSD_INTEGER, TCLASS_DECIMAL: XSD_DECIMAL, TCLASS_FLOAT: XSD_FLOAT,
    TCLASS_DOUBLE: XSD_DOUBLE, TCLASS_DATETIME: XSD_DATETIME, TCLASS_DATE: XSD_DATE,
}
TCLASS_RANKS = {TCLASS_INTEGER: RANK_INTEGER, TCLASS_DECIMAL: RANK_DECIMAL, TCLASS_FLOAT: RANK_FLOAT, TCLASS_DOUBLE: RANK_DOUBLE}

#: Logical types of expression results; each backend maps them to its own (polars, Spark SQL).
BOOL, INT, I64, F64, STR, TERM = "bool", "int", "i64", "f64", "str", "term"
#: The typed fields of a value, and their logical types.
FIELDS = ("kind", "lex", "dt", "lang", "num", "ntype", "time", "boolv")
FIELD_TYPES = {
    "kind": INT, "lex": STR, "dt": STR, "lang": STR, "num": F64, "ntype": INT, "time": I64, "boolv": BOOL,
}

# --- lexical spaces (the regular expressions both backends test) ---------------------------------
INTEGER_LEX = r"^[+-]?[0-9]+$"
DECIMAL_LEX = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
DOUBLE_LEX = r"^(([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?)|[+-]?INF|NaN)$"
DATETIME_LEX = r"^-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
DATE_LEX = r"^-?[0-9]{4,}-[0-9]{2}-[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?$"
TIMEZONE = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
#: An absolute IRI starts with a scheme (RFC 3986); N-Triples allows nothing else.
ABSOLUTE_IRI = r"^[A-Za-z][A-Za-z0-9+.\-]*:"
#: The value ranges of the bounded integer types (the unbounded ones have no entry).
INTEGER_BOUNDS: dict[str, tuple[int | None, int | None]] = {
    XSD + "long": (-(2**63), 2**63 - 1), XSD + "int": (-(2**31), 2**31 - 1),
    XSD + "short": (-(2**15), 2**15 - 1), XSD + "byte": (-128, 127),
    XSD + "unsignedLong": (0, 2**64 - 1), XSD + "unsignedInt": (0, 2**32 - 1),
    XSD + "unsignedShort": (0, 2**16 - 1), XSD + "unsignedByte": (0, 255),
    XSD + "nonNegativeInteger": (0, None), XSD + "positiveInteger": (1, None),
    XSD + "nonPositiveInteger": (None, 0), XSD + "negativeInteger": (None, -1),
}
BOOLEAN_TRUE, BOOLEAN_FALSE = ("true", "1"), ("false", "0")


def rank_of(datatype: str | None) -> int:
    """The numeric rank a datatype gives a well-typed literal."""
    if datatype in INTEGER_TYPES:
        return RANK_INTEGER
    return {XSD_DECIMAL: RANK_DECIMAL, XSD_FLOAT: RANK_FLOAT, XSD_DOUBLE: RANK_DOUBLE}.get(datatype or "", RANK_NONE)


def promote(a: int, b: int, op: str) -> int:
    """The rank of ``a op b`` (XPath numeric type promotion; integer division gives a decimal)."""
    rank = max(a, b)
    return RANK_DECIMAL if op == "/" and rank == RANK_INTEGER else rank


def well_typed_number(lex: str, datatype: str) -> bool:
    """Whether ``lex`` is in the lexical space (and range) of the numeric ``datatype``."""
    rank = rank_of(datatype)
    if rank == RANK_INTEGER:
        if not re.match(INTEGER_LEX, lex):
            return False
        low, high = INTEGER_BOUNDS.get(datatype, (None, None))
        value = int(lex)
        return (low is None or value >= low) and (high is None or value <= high)
    pattern = {RANK_DECIMAL: DECIMAL_LEX, RANK_FLOAT: DOUBLE_LEX, RANK_DOUBLE: DOUBLE_LEX}.get(rank)
    return pattern is not None and re.match(pattern, lex) is not None


def parse_double(lex: str) -> float:
    """The double value of a well-typed numeral (``INF``, ``-INF`` and ``NaN`` included)."""
    special = {"INF": math.inf, "+INF": math.inf, "-INF": -math.inf, "NaN": math.nan}
    return special[lex] if lex in special else float(lex)


def tclass_of(kind: int, datatype: str | None, well_typed: bool = True) -> int:
    """The type class of a term; an ill-typed literal (``"x"^^xsd:int``) is of no class."""
    if kind == KIND_IRI:
        return TCLASS_IRI
    if kind == KIND_BLANK:
        return TCLASS_BLANK
    for cls, dt in TCLASS_DATATYPES.items():
        if dt == datatype:
            return cls if well_typed else TCLASS_OTHER
    return TCLASS_OTHER


def term_fields(term: str) -> dict[str, object]:
    """The fields of one canonical term string, computed in Python (rule constants).

    The executors compute the same fields vectorized (their decoders are tested against this)."""
    parsed = parse_term(term)
    kind = {"iri": KIND_IRI, "blank": KIND_BLANK, "literal": KIND_LITERAL}[parsed.kind]
    out: dict[str, object] = dict.fromkeys(FIELDS)
    out.update(kind=kind, lex=parsed.value, ntype=RANK_NONE)
    if kind != KIND_LITERAL:
        return out
    dt = parsed.datatype or XSD_STRING
    out.update(dt=dt, lang=parsed.lang)
    lex = parsed.value
    if rank_of(dt) and well_typed_number(lex, dt):
        out.update(ntype=rank_of(dt), num=parse_double(lex))
    elif dt == XSD_BOOLEAN and lex in BOOLEAN_TRUE + BOOLEAN_FALSE:
        out["boolv"] = lex in BOOLEAN_TRUE
    elif dt in (XSD_DATETIME, XSD_DATE):
        out["time"] = time_value(lex, dt)
    return out


def time_value(lex: str, datatype: str) -> int | None:
    """Microseconds since the epoch (UTC) of an ``xsd:dateTime`` / ``xsd:date`` lexical form."""
    if not re.match(DATETIME_LEX if datatype == XSD_DATETIME else DATE_LEX, lex):
        return None
    zone = re.search(TIMEZONE, lex)
    naive = lex[: zone.start()] if zone else lex
    offset = 0
    if zone and zone.group(1) != "Z":
        sign = -1 if zone.group(1)[0] == "-" else 1
        offset = sign * (int(zone.group(1)[1:3]) * 60 + int(zone.group(1)[4:6]))
    try:
        if datatype == XSD_DATE:
            stamp = datetime.strptime(naive, "%Y-%m-%d")
        else:
            whole, _, fraction = naive.partition(".")
            stamp = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(microsecond=int((fraction + "000000")[:6]))
    except ValueError:
        return None
    micros = (stamp.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // _MICRO
    return int(micros) - offset * 60_000_000


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def fixed_fields(tclass: int | None) -> dict[str, object]:
    """The fields a type class fixes, as Python constants (None: a null field)."""
    if tclass is None or tclass == TCLASS_OTHER:
        return {}
    none = dict.fromkeys(("num", "time", "boolv", "lang", "dt"))
    if tclass in (TCLASS_IRI, TCLASS_BLANK):
        return {**none, "kind": KIND_IRI if tclass == TCLASS_IRI else KIND_BLANK, "ntype": RANK_NONE}
    fields: dict[str, object] = {**none, "kind": KIND_LITERAL, "dt": TCLASS_DATATYPES[tclass]}
    rank = TCLASS_RANKS.get(tclass, RANK_NONE)
    fields["ntype"] = rank
    varying = {"num"} if rank else set()
    varying |= {TCLASS_DATETIME: {"time"}, TCLASS_DATE: {"time"}, TCLASS_BOOLEAN: {"boolv"},
                TCLASS_LANGSTRING: {"lang"}}.get(tclass, set())
    return {k: v for k, v in fields.items() if k not in varying}
