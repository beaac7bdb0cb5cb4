"""Decoding canonical term strings into value fields, as expression nodes (both backends).

The in-memory executor compiles these nodes over the distinct terms of its dictionary (once per
term), the Spark executor over the term columns of a frame. A literal is decoded from its *body*
(the escaped text between the quotes) and its *suffix* (``@lang``, ``^^<datatype>`` or nothing);
:func:`term_field` adds the dispatch on the kind of term and, when the type class of a column is
known, the cheaper substring arithmetic that class allows.
"""

from __future__ import annotations

from fincrime.engine.sparql.expr import (
    FALSE,
    TRUE,
    X,
    and_,
    arith,
    call,
    cast,
    cmp,
    coalesce,
    eq,
    is_in,
    is_null,
    lit,
    not_,
    not_null,
    null,
    or_,
    when,
)
from fincrime.engine.sparql.model import (
    BOOL,
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    DATE_LEX,
    DATETIME_LEX,
    DECIMAL_LEX,
    DOUBLE_LEX,
    F64,
    FIELD_TYPES,
    I64,
    INT,
    INTEGER_BOUNDS,
    INTEGER_LEX,
    KIND_BLANK,
    KIND_IRI,
    KIND_LITERAL,
    RANK_DECIMAL,
    RANK_DOUBLE,
    RANK_FLOAT,
    RANK_INTEGER,
    RANK_NONE,
    TCLASS_BLANK,
    TCLASS_BOOLEAN,
    TCLASS_DATATYPES,
    TCLASS_DATE,
    TCLASS_DATETIME,
    TCLASS_DECIMAL,
    TCLASS_DOUBLE,
    TCLASS_FLOAT,
    TCLASS_INTEGER,
    TCLASS_IRI,
    TCLASS_LANGSTRING,
    TCLASS_OTHER,
    TCLASS_RANKS,
    TCLASS_STRING,
    TIMEZONE,
    fixed_fields,
)
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
)

# (?s): a literal's lexical form may hold line separators other than \n and \r
LITERAL_RE = r'(?s)^"(.*)"(@[^"]*|\^\^<[^>]*>)?$'
LANG_RE = r'"@([^"]*)$'
SHORT = 15  # characters: see value.SHORT_LENGTH
_SPECIAL = {"INF": float("inf"), "+INF": float("inf"), "-INF": float("-inf"), "NaN": float("nan")}


def _starts(x: X, prefix: str) -> X:
    return call("starts_with", x, lit(prefix), type_=BOOL)


def _ends(x: X, suffix: str) -> X:
    return call("ends_with", x, lit(suffix), type_=BOOL)


def _length(x: X) -> X:
    return call("length", x, type_=I64)


def _slice(x: X, start: int, drop_end: int) -> X:
    """``x`` without its first ``start`` and last ``drop_end`` characters."""
    return call("substr", x, lit(start), arith("-", _length(x), lit(start + drop_end)))


def _tail(x: X, start: int) -> X:
    return call("substr", x, lit(start), null(I64))


def parse_number(lex: X, rank: X, strict: bool = False) -> X:
    """The double of a numeral (``INF``, ``-INF``, ``NaN`` included); ``strict``: null unless
    ``lex`` is a numeral of the lexical space of doubles."""
    value = when([(eq(lex, lit(k)), lit(v)) for k, v in _SPECIAL.items()], cast(lex, F64), F64)
    if strict:
        return when([(call("matches", lex, param=DOUBLE_LEX, type_=BOOL), value)], type_=F64)
    return value


def _digits_at_most(digits: X, bound: int) -> X:
    text = str(bound)
    return or_(cmp("<", _length(digits), lit(len(text))),
               and_(eq(_length(digits), lit(len(text))), cmp("<=", digits, lit(text))))


def _in_range(lex: X, low: int | None, high: int | None) -> X:
    """Exact range check of an integer numeral, on its digits (no double rounding)."""
    digits = call("replace_re", lex, param=(r"^[+-]?0*", ""))
    negative = and_(_starts(lex, "-"), cmp(">", _length(digits), lit(0)))
    zero = eq(_length(digits), lit(0))
    if low is None:
        low_ok = TRUE
    elif low >= 0:
        low_ok = and_(not_(negative), or_(not_(zero), lit(low == 0)))
    else:
        low_ok = or_(not_(negative), _digits_at_most(digits, -low))
    if high is None:
        high_ok = TRUE
    elif high <= 0:
        high_ok = or_(negative, and_(zero, lit(high == 0)))
    else:
        high_ok = or_(negative, _digits_at_most(digits, high))
    return and_(low_ok, high_ok)


def rank_of_literal(lex: X, dt: X) -> X:
    """The numeric rank of a typed literal: 0 unless its lexical form is in the datatype's
    lexical space (and range): an ill-typed numeral is no number."""
    bounded = when([(eq(dt, lit(t)), _in_range(lex, lo, hi)) for t, (lo, hi) in INTEGER_BOUNDS.items()], TRUE, BOOL)
    matches = lambda pattern: call("matches", lex, param=pattern, type_=BOOL)  # noqa: E731
    return when([
        (and_(is_in(dt, sorted(INTEGER_TYPES)), matches(INTEGER_LEX), bounded), lit(RANK_INTEGER, INT)),
        (and_(eq(dt, lit(XSD_DECIMAL)), matches(DECIMAL_LEX)), lit(RANK_DECIMAL, INT)),
        (and_(eq(dt, lit(XSD_FLOAT)), matches(DOUBLE_LEX)), lit(RANK_FLOAT, INT)),
        (and_(eq(dt, lit(XSD_DOUBLE)), matches(DOUBLE_LEX)), lit(RANK_DOUBLE, INT)),
    ], lit(RANK_NONE, INT), INT)


def time_of(lex: X, dt: X) -> X:
    """Microseconds since the epoch (UTC) of xsd:dateTime / xsd:date lexical forms (else null)."""
    tz = call("extract", lex, param=(TIMEZONE, 1))
    naive = call("replace_re", lex, param=(TIMEZONE, ""))
    sign = when([(_starts(tz, "-"), lit(-1))], lit(1), I64)
    hours = cast(call("substr", tz, lit(1), lit(2)), I64)
    minutes = cast(call("substr", tz, lit(4), lit(2)), I64)
    offset_min = when([(or_(is_null(tz), eq(tz, lit("Z"))), lit(0))],
                      arith("*", arith("+", arith("*", hours, lit(60)), minutes), sign), I64)
    parse = lambda form: call("parse_time", naive, param=form, type_=I64)  # noqa: E731
    value = when([
        (and_(eq(dt, lit(XSD_DATETIME)), call("matches", lex, param=DATETIME_LEX, type_=BOOL)), parse("datetime")),
        (and_(eq(dt, lit(XSD_DATE)), call("matches", lex, param=DATE_LEX, type_=BOOL)), parse("date")),
    ], type_=I64)
    return arith("-", value, arith("*", offset_min, lit(60_000_000)))


def _boolean_value(lex: X) -> X:
    return when([(is_in(lex, list(BOOLEAN_TRUE)), TRUE), (is_in(lex, list(BOOLEAN_FALSE)), FALSE)], type_=BOOL)


def literal_text(body: X, suffix: X) -> dict[str, X]:
    """``lex``, ``dt`` and ``lang`` of literals from their escaped ``body`` and ``suffix``."""
    return {
        "lex": call("unescape", body),
        "dt": when([(_starts(suffix, "^^"), _slice(suffix, 3, 1)), (_starts(suffix, "@"), lit(RDF_LANGSTRING))],
                   lit(XSD_STRING)),
        "lang": when([(_starts(suffix, "@"), _tail(suffix, 1))]),
    }


def literal_values(lex: X, dt: X, ntype: X | None = None) -> dict[str, X]:
    """``ntype``, ``num``, ``boolv`` and ``time`` of literals (``ntype``: a column already holding
    :func:`rank_of_literal`, so it is not computed twice)."""
    rank = ntype if ntype is not None else rank_of_literal(lex, dt)
    return {
        "ntype": rank,
        "num": when([(cmp(">", rank, lit(RANK_NONE, INT)), parse_number(lex, rank))], type_=F64),
        "boolv": when([(eq(dt, lit(XSD_BOOLEAN)), _boolean_value(lex))], type_=BOOL),
        "time": when([(is_in(dt, [XSD_DATETIME, XSD_DATE]), time_of(lex, dt))], type_=I64),
    }


def literal_fields(body: X, suffix: X) -> dict[str, X]:
    text = literal_text(body, suffix)
    return {**text, **literal_values(text["lex"], text["dt"])}


def tclass_of_fields(kind: X, dt: X, ntype: X, boolv: X, time: X, lex: X) -> X:
    """The type class of decoded terms (well-typed, and for integers and decimals, short)."""
    short = cmp("<=", _length(lex), lit(SHORT))
    return when([
        (eq(kind, lit(KIND_IRI, INT)), lit(TCLASS_IRI, INT)), (eq(kind, lit(KIND_BLANK, INT)), lit(TCLASS_BLANK, INT)),
        (eq(dt, lit(XSD_STRING)), lit(TCLASS_STRING, INT)), (eq(dt, lit(RDF_LANGSTRING)), lit(TCLASS_LANGSTRING, INT)),
        (and_(eq(dt, lit(XSD_BOOLEAN)), not_null(boolv)), lit(TCLASS_BOOLEAN, INT)),
        *[(and_(eq(dt, lit(TCLASS_DATATYPES[c])), cmp(">", ntype, lit(RANK_NONE, INT)),
                short if c in (TCLASS_INTEGER, TCLASS_DECIMAL) else TRUE), lit(c, INT))
          for c in (TCLASS_INTEGER, TCLASS_DECIMAL, TCLASS_FLOAT, TCLASS_DOUBLE)],
        *[(and_(eq(dt, lit(TCLASS_DATATYPES[c])), not_null(time)), lit(c, INT)) for c in (TCLASS_DATETIME, TCLASS_DATE)],
    ], lit(TCLASS_OTHER, INT), INT)


def _class_lex(term: X, cls: int) -> X:
    """The lexical form of terms all of class ``cls`` (a known offset from the end)."""
    if cls == TCLASS_LANGSTRING:
        return call("unescape", call("extract", term, param=(LITERAL_RE, 1)))
    tail = 1 if cls == TCLASS_STRING else len(f'"^^<{TCLASS_DATATYPES[cls]}>')
    return call("unescape", _slice(term, 1, tail))


def tclass_of_term(term: X) -> X:
    """The type class of canonical term strings, read with suffix tests and substrings (a
    hint: a date of the right shape but no calendar day still counts as a date, its time
    being read, and null, where used)."""
    branches = [
        (_starts(term, "<"), lit(TCLASS_IRI, INT)), (_starts(term, "_:"), lit(TCLASS_BLANK, INT)),
        (_ends(term, '"'), lit(TCLASS_STRING, INT)),
        (call("matches", term, param=LANG_RE, type_=BOOL), lit(TCLASS_LANGSTRING, INT)),
    ]
    for cls, dt in TCLASS_DATATYPES.items():
        if cls <= TCLASS_LANGSTRING:
            continue
        lex = _slice(term, 1, len(f'"^^<{dt}>'))
        if cls == TCLASS_BOOLEAN:
            well = is_in(lex, [*BOOLEAN_TRUE, *BOOLEAN_FALSE])
        elif cls in (TCLASS_DATETIME, TCLASS_DATE):
            well = call("matches", lex, param=DATETIME_LEX if cls == TCLASS_DATETIME else DATE_LEX, type_=BOOL)
        else:
            well = cmp(">", class_fields(lex, cls, {"ntype"})["ntype"], lit(RANK_NONE, INT))
        if cls in (TCLASS_INTEGER, TCLASS_DECIMAL):
            well = and_(well, cmp("<=", _length(lex), lit(SHORT)))
        branches.append((and_(_ends(term, f'"^^<{dt}>'), well), lit(cls, INT)))
    return when(branches, lit(TCLASS_OTHER, INT), INT)


def class_fields(lex: X, cls: int, wanted: set[str]) -> dict[str, X]:
    """The fields of literals of one type class from their lexical form."""
    dt = TCLASS_DATATYPES[cls]
    out: dict[str, X] = {}
    if "ntype" in wanted or "num" in wanted:
        out["ntype"] = rank_of_literal(lex, lit(dt)) if cls in TCLASS_RANKS else lit(RANK_NONE, INT)
        out["num"] = parse_number(lex, out["ntype"]) if cls in TCLASS_RANKS else null(F64)
    if "boolv" in wanted:
        out["boolv"] = _boolean_value(lex) if cls == TCLASS_BOOLEAN else null(BOOL)
    if "time" in wanted:
        out["time"] = time_of(lex, lit(dt)) if cls in (TCLASS_DATETIME, TCLASS_DATE) else null(I64)
    return out


def term_field(term: X, attr: str, hint: int | None = None) -> X:
    """One field of canonical term strings; ``hint``: their one type class, if known."""
    if hint is not None and hint != TCLASS_OTHER:
        fixed = fixed_fields(hint)
        if attr in fixed:
            return lit(fixed[attr], FIELD_TYPES[attr])
        if hint == TCLASS_IRI:
            return _slice(term, 1, 1)
        if hint == TCLASS_BLANK:
            return _tail(term, 2)
        lex = _class_lex(term, hint)
        if attr == "lex":
            return lex
        if attr == "lang":
            return call("extract", term, param=(LANG_RE, 1))
        return class_fields(lex, hint, {attr})[attr]
    is_iri, is_blank = _starts(term, "<"), _starts(term, "_:")
    is_lit = and_(not_(is_iri), not_(is_blank))
    if attr == "kind":
        return when([(is_iri, lit(KIND_IRI, INT)), (is_blank, lit(KIND_BLANK, INT))], lit(KIND_LITERAL, INT), INT)
    body = call("extract", term, param=(LITERAL_RE, 1))
    suffix = coalesce(call("extract", term, param=(LITERAL_RE, 2)), lit(""))
    fields = literal_fields(body, suffix)
    if attr == "lex":
        return when([(is_iri, _slice(term, 1, 1)), (is_blank, _tail(term, 2))], fields["lex"])
    if attr == "ntype":
        return when([(is_lit, fields["ntype"])], lit(RANK_NONE, INT), INT)
    return when([(is_lit, fields[attr])], type_=FIELD_TYPES[attr])


def ill_typed(v) -> X:  # type: ignore[no-untyped-def]
    """Literals of a numeric, boolean or date datatype whose lexical form is not of it."""
    numeric_types = sorted(INTEGER_TYPES | {XSD_DECIMAL, XSD_FLOAT, XSD_DOUBLE})
    return and_(eq(v.kind, lit(KIND_LITERAL, INT)), or_(
        and_(is_in(v.dt, numeric_types), eq(v.ntype, lit(RANK_NONE, INT))),
        and_(eq(v.dt, lit(XSD_BOOLEAN)), is_null(v.boolv)),
        and_(is_in(v.dt, [XSD_DATETIME, XSD_DATE]), is_null(v.time)),
    ))
