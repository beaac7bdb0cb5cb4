"""Typed attributes of canonical term strings, and the spelling of computed values, as Spark SQL.

Same attributes and semantics as :mod:`fincrime.engine.memory.values`; terms are the canonical
N-Triples strings themselves (no dictionary), so equal terms are equal strings. When the type
class of a variable is known (every value an IRI, or every value an ``xsd:dateTime`` literal,
...; see :func:`tclass`), the attributes it fixes are constants and the others are read with
plain substring arithmetic instead of regular expressions.
"""

from __future__ import annotations

import warnings

from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from fincrime.engine.memory.values import (
    KIND_BLANK,
    KIND_IRI,
    KIND_LITERAL,
    NUMERIC_DATATYPES,
    TCLASS_BLANK,
    TCLASS_DATATYPES,
    TCLASS_IRI,
    TCLASS_OTHER,
)
from fincrime.engine.spark.sql import (
    TRUE,
    S,
    and_,
    binop,
    cast,
    cmp,
    coalesce,
    eq,
    fn,
    is_in,
    is_null,
    lit,
    not_,
    not_null,
    null,
    or_,
    rlike,
    when,
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
    canonical_decimal,
    canonical_double,
)

# pyspark warns about the pandas version when a pandas UDF is declared; the one here works
warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*", category=FutureWarning)

ATTRS = ("kind", "lex", "dt", "lang", "num", "ntype", "time", "boolv")
TYPES = {
    "kind": "INT", "lex": "STRING", "dt": "STRING", "lang": "STRING", "num": "DOUBLE",
    "ntype": "INT", "time": "BIGINT", "boolv": "BOOLEAN",
}
NUMBER_LEX_FUNCTION = "fincrime_number_lex"
# (?s): a literal's lexical form may hold line separators other than \n and \r
_LITERAL_RE = r'(?s)^"(.*)"(@[^"]*|\^\^<[^>]*>)?$'
_LANG_RE = r'"@([^"]*)$'
_TZ_RE = r"(Z|[+-]\d\d:\d\d)$"
_DATETIME_RE = r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$"
_DATE_RE = r"^-?\d{4,}-\d\d-\d\d$"
_RANKS = {5: 1, 6: 2, 7: 3, 8: 4}


def typed_null(attr: str) -> S:
    return null(TYPES[attr])


def ntype_of(dt: S) -> S:
    return when([
        (is_in(dt, sorted(INTEGER_TYPES)), lit(1)), (eq(dt, lit(XSD_DECIMAL)), lit(2)),
        (eq(dt, lit(XSD_FLOAT)), lit(3)), (eq(dt, lit(XSD_DOUBLE)), lit(4)),
    ], lit(0))


def time_of(lex: S, dt: S) -> S:
    """Microseconds since the epoch (UTC) of xsd:dateTime / xsd:date lexical forms."""
    tz = fn("regexp_extract", lex, lit(_TZ_RE), lit(1))
    naive = fn("regexp_replace", lex, lit(_TZ_RE), lit(""))
    sign = when([(fn("startswith", tz, lit("-")), lit(-1))], lit(1))
    offset_min = when(
        [(or_(eq(tz, lit("")), eq(tz, lit("Z"))), lit(0, "BIGINT"))],
        binop("*", binop("+", binop("*", cast(fn("substring", tz, lit(2), lit(2)), "BIGINT"), lit(60)),
                         cast(fn("substring", tz, lit(5), lit(2)), "BIGINT")), sign),
    )
    parsed = fn("unix_micros", fn("to_timestamp", naive))
    value = when([
        (and_(eq(dt, lit(XSD_DATETIME)), rlike(naive, _DATETIME_RE)), parsed),
        (and_(eq(dt, lit(XSD_DATE)), rlike(naive, _DATE_RE)), parsed),
    ], type_="BIGINT")
    return cast(binop("-", value, binop("*", offset_min, lit(60_000_000))), "BIGINT")


def unescape(body: S) -> S:
    """Undo the N-Triples escapes of a canonical lexical form, in the JVM (commons-text)."""
    java = fn("reflect", lit("org.apache.commons.text.StringEscapeUtils"), lit("unescapeJava"), body)
    return when([(fn("contains", body, lit("\\")), java)], body)


def escape(lex: S) -> S:
    """Canonical N-Triples escaping (backslash first, so the order is safe)."""
    out = fn("replace", lex, lit("\\"), lit("\\\\"))
    out = fn("replace", out, lit('"'), lit('\\"'))
    out = fn("replace", out, lit("\n"), lit("\\n"))
    return fn("replace", out, lit("\r"), lit("\\r"))


def escape_column(column):  # type: ignore[no-untyped-def]
    """:func:`escape` for a pyspark column (the Parquet reader spells names with it)."""
    out = F.replace(column, F.lit("\\"), F.lit("\\\\"))
    out = F.replace(out, F.lit('"'), F.lit('\\"'))
    out = F.replace(out, F.lit("\n"), F.lit("\\n"))
    return F.replace(out, F.lit("\r"), F.lit("\\r"))


def tclass(term: S) -> S:
    """The type class of a term (the in-memory engine's numbering), for type hints."""
    branches = [
        (fn("startswith", term, lit("<")), lit(TCLASS_IRI)), (fn("startswith", term, lit("_:")), lit(TCLASS_BLANK)),
        (fn("endswith", term, lit('"')), lit(2)),
        (rlike(term, _LANG_RE), lit(3)),
    ]
    for cls, dt in TCLASS_DATATYPES.items():
        if cls > 3:
            branches.append((fn("endswith", term, lit(f'"^^<{dt}>')), lit(cls)))
    return when(branches, lit(TCLASS_OTHER))


def attribute(term: S, attr: str, hint: int | None = None) -> S:
    """One typed attribute of canonical term strings; ``hint``: their one type class, if known."""
    if hint is not None and hint != TCLASS_OTHER:
        return _hinted(term, attr, hint)
    is_iri, is_blank = fn("startswith", term, lit("<")), fn("startswith", term, lit("_:"))
    is_lit = and_(not_(is_iri), not_(is_blank))
    body = fn("regexp_extract", term, lit(_LITERAL_RE), lit(1))
    suffix = fn("regexp_extract", term, lit(_LITERAL_RE), lit(2))
    dt = when([
        (and_(is_lit, fn("startswith", suffix, lit("^^"))), fn("substr", suffix, lit(4), binop("-", fn("length", suffix), lit(4)))),
        (and_(is_lit, fn("startswith", suffix, lit("@"))), lit(RDF_LANGSTRING)),
        (is_lit, lit(XSD_STRING)),
    ])
    lit_lex = unescape(body)
    if attr == "kind":
        return when([(is_iri, lit(KIND_IRI)), (is_blank, lit(KIND_BLANK))], lit(KIND_LITERAL))
    if attr == "lex":
        return when([
            (is_iri, fn("substr", term, lit(2), binop("-", fn("length", term), lit(2)))),
            (is_blank, fn("substr", term, lit(3), lit(1 << 30))),
        ], lit_lex)
    if attr == "dt":
        return dt
    if attr == "lang":
        return when([(and_(is_lit, fn("startswith", suffix, lit("@"))), fn("substr", suffix, lit(2), lit(1 << 30)))])
    if attr == "ntype":
        return coalesce(ntype_of(dt), lit(0))
    if attr == "num":
        return when([(cmp(">", ntype_of(dt), lit(0)), cast(lit_lex, "DOUBLE"))], type_="DOUBLE")
    if attr == "boolv":
        return when([(eq(dt, lit(XSD_BOOLEAN)), _boolean_value(lit_lex))], type_="BOOLEAN")
    if attr == "time":
        return when([(is_in(dt, [XSD_DATETIME, XSD_DATE]), time_of(lit_lex, dt))], type_="BIGINT")
    raise AssertionError(attr)


def _boolean_value(lex: S) -> S:
    return when([(is_in(lex, ["true", "1"]), TRUE), (is_in(lex, ["false", "0"]), lit(False))], type_="BOOLEAN")


def _hinted(term: S, attr: str, hint: int) -> S:
    """Attributes of terms all of one type class: constants, or substring arithmetic."""
    if hint in (TCLASS_IRI, TCLASS_BLANK):
        if attr == "kind":
            return lit(KIND_IRI if hint == TCLASS_IRI else KIND_BLANK)
        if attr == "ntype":
            return lit(0)
        if attr == "lex":
            if hint == TCLASS_IRI:
                return fn("substr", term, lit(2), binop("-", fn("length", term), lit(2)))
            return fn("substr", term, lit(3), lit(1 << 30))
        return typed_null(attr)
    dt = TCLASS_DATATYPES[hint]
    rank = _RANKS.get(hint, 0)
    if hint == 3:  # language-tagged: the tag has to be found
        body = fn("regexp_extract", term, lit(_LITERAL_RE), lit(1))
    else:  # "lex" or "lex"^^<dt>: the lexical form ends at a known offset
        tail = 1 if hint == 2 else len(f'"^^<{dt}>')
        body = fn("substr", term, lit(2), binop("-", fn("length", term), lit(1 + tail)))
    lex = unescape(body)
    if attr == "kind":
        return lit(KIND_LITERAL)
    if attr == "dt":
        return lit(dt)
    if attr == "ntype":
        return lit(rank)
    if attr == "lex":
        return lex
    if attr == "lang":
        return fn("regexp_extract", term, lit(_LANG_RE), lit(1)) if hint == 3 else typed_null("lang")
    if attr == "num":
        return cast(lex, "DOUBLE") if rank else typed_null("num")
    if attr == "time":
        return time_of(lex, lit(dt)) if dt in (XSD_DATETIME, XSD_DATE) else typed_null("time")
    if attr == "boolv":
        return _boolean_value(lex) if dt == XSD_BOOLEAN else typed_null("boolv")
    raise AssertionError(attr)


@F.pandas_udf(StringType())  # type: ignore[call-overload]
def _number_spelling(ntype, num):  # type: ignore[no-untyped-def]
    # Python, not the JVM: the canonical spelling needs the shortest round-trip digits of a
    # double (repr), which Java 17's Double.toString does not always give.
    import pandas as pd

    out = [
        None if pd.isna(t) or n is None or (n != n and int(t) == 2)
        else canonical_decimal(n) if int(t) == 2 else canonical_double(n)
        for t, n in zip(ntype, num, strict=True)
    ]
    return pd.Series(out, dtype="object")


def register_functions(spark) -> None:  # type: ignore[no-untyped-def]
    """Make the number-spelling function callable from SQL text in this session."""
    spark.udf.register(NUMBER_LEX_FUNCTION, _number_spelling)


def number_lex(ntype: S, num: S) -> S:
    """Canonical lexical form of a computed number (integers in the JVM, the rest in Python)."""
    fractional = when([(and_(cmp(">", ntype, lit(1)), not_null(num)), num)], type_="DOUBLE")
    spelled = fn(NUMBER_LEX_FUNCTION, when([(cmp(">", ntype, lit(1)), ntype)], type_="INT"), fractional)
    return when([
        (eq(ntype, lit(1)), cast(cast(fn("bround", num, lit(0)), "BIGINT"), "STRING")),
        (cmp(">", ntype, lit(1)), spelled),
    ])


def spell(kind: S, lex: S, dt: S, lang: S, ntype: S, num: S, may_be_number: bool) -> S:
    """The canonical term string of a computed value (not null; errors are handled by callers)."""
    lexv = coalesce(lex, number_lex(ntype, num)) if may_be_number else lex
    suffix = when([
        (and_(not_null(lang), cmp("!=", lang, lit(""))), fn("concat", lit("@"), lang)),
        (or_(is_null(dt), eq(dt, lit(XSD_STRING))), lit("")),
    ], fn("concat", lit("^^<"), dt, lit(">")))
    return when([
        (eq(kind, lit(KIND_IRI)), fn("concat", lit("<"), lex, lit(">"))),
        (eq(kind, lit(KIND_BLANK)), fn("concat", lit("_:"), lex)),
        (eq(kind, lit(KIND_LITERAL)), fn("concat", lit('"'), escape(lexv), lit('"'), suffix)),
    ])


__all__ = [
    "ATTRS", "NUMERIC_DATATYPES", "TYPES", "attribute", "escape", "escape_column", "number_lex",
    "register_functions", "spell", "tclass", "time_of", "typed_null",
]
