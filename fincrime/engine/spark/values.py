"""Typed attributes of canonical term strings, and the spelling of computed values, as Spark
columns. Same attributes and semantics as :mod:`fincrime.engine.memory.values`; terms are the
canonical N-Triples strings themselves (no dictionary), so equal terms are equal strings.
"""

from __future__ import annotations

import warnings

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from fincrime.engine.memory.values import KIND_BLANK, KIND_IRI, KIND_LITERAL, NUMERIC_DATATYPES
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
    "kind": "int", "lex": "string", "dt": "string", "lang": "string", "num": "double",
    "ntype": "int", "time": "bigint", "boolv": "boolean",
}
# (?s): a literal's lexical form may hold line separators other than \n and \r
_LITERAL_RE = r'(?s)^"(.*)"(@[^"]*|\^\^<[^>]*>)?$'
_TZ_RE = r"(Z|[+-]\d\d:\d\d)$"
_DATETIME_RE = r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$"
_DATE_RE = r"^-?\d{4,}-\d\d-\d\d$"


def null(attr: str) -> Column:
    return F.lit(None).cast(TYPES[attr])


def ntype_of(dt: Column) -> Column:
    return (
        F.when(dt.isin(sorted(INTEGER_TYPES)), F.lit(1))
        .when(dt == XSD_DECIMAL, F.lit(2)).when(dt == XSD_FLOAT, F.lit(3)).when(dt == XSD_DOUBLE, F.lit(4))
        .otherwise(F.lit(0))
    )


def time_of(lex: Column, dt: Column) -> Column:
    """Microseconds since the epoch (UTC) of xsd:dateTime / xsd:date lexical forms."""
    tz = F.regexp_extract(lex, _TZ_RE, 1)
    naive = F.regexp_replace(lex, _TZ_RE, "")
    sign = F.when(tz.startswith("-"), F.lit(-1)).otherwise(F.lit(1))
    offset_min = F.when((tz == "") | (tz == "Z"), F.lit(0).cast("bigint")).otherwise(
        (F.substring(tz, 2, 2).cast("bigint") * 60 + F.substring(tz, 5, 2).cast("bigint")) * sign
    )
    parsed = F.unix_micros(F.to_timestamp(naive))
    value = (
        F.when((dt == XSD_DATETIME) & naive.rlike(_DATETIME_RE), parsed)
        .when((dt == XSD_DATE) & naive.rlike(_DATE_RE), parsed)
    )
    return (value - offset_min * 60_000_000).cast("bigint")


def unescape(body: Column) -> Column:
    """Undo the N-Triples escapes of a canonical lexical form, in the JVM (commons-text)."""
    java = F.call_function("reflect", F.lit("org.apache.commons.text.StringEscapeUtils"), F.lit("unescapeJava"), body)
    return F.when(body.contains("\\"), java).otherwise(body)


def escape(lex: Column) -> Column:
    """Canonical N-Triples escaping (backslash first, so the order is safe)."""
    out = F.replace(lex, F.lit("\\"), F.lit("\\\\"))
    out = F.replace(out, F.lit('"'), F.lit('\\"'))
    out = F.replace(out, F.lit("\n"), F.lit("\\n"))
    return F.replace(out, F.lit("\r"), F.lit("\\r"))


def attribute(term: Column, attr: str) -> Column:
    """One typed attribute of a column of canonical term strings."""
    is_iri, is_blank = term.startswith("<"), term.startswith("_:")
    is_lit = ~is_iri & ~is_blank
    body = F.regexp_extract(term, _LITERAL_RE, 1)
    suffix = F.regexp_extract(term, _LITERAL_RE, 2)
    dt = F.when(is_lit & suffix.startswith("^^"), suffix.substr(F.lit(4), F.length(suffix) - 4)).otherwise(
        F.when(is_lit & suffix.startswith("@"), F.lit(RDF_LANGSTRING)).when(is_lit, F.lit(XSD_STRING))
    )
    lit_lex = unescape(body)
    if attr == "kind":
        return F.when(is_iri, F.lit(KIND_IRI)).when(is_blank, F.lit(KIND_BLANK)).otherwise(F.lit(KIND_LITERAL))
    if attr == "lex":
        return (
            F.when(is_iri, term.substr(F.lit(2), F.length(term) - 2))
            .when(is_blank, term.substr(F.lit(3), F.lit(1 << 30)))
            .otherwise(lit_lex)
        )
    if attr == "dt":
        return dt
    if attr == "lang":
        return F.when(is_lit & suffix.startswith("@"), suffix.substr(F.lit(2), F.lit(1 << 30)))
    if attr == "ntype":
        return F.coalesce(ntype_of(dt), F.lit(0))
    if attr == "num":
        return F.when(ntype_of(dt) > 0, lit_lex.cast("double"))
    if attr == "boolv":
        return F.when(
            dt == XSD_BOOLEAN,
            F.when(lit_lex.isin("true", "1"), F.lit(True)).when(lit_lex.isin("false", "0"), F.lit(False)),
        )
    if attr == "time":
        return F.when(dt.isin(XSD_DATETIME, XSD_DATE), time_of(lit_lex, dt))
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


def number_lex(ntype: Column, num: Column) -> Column:
    """Canonical lexical form of a computed number (integers in the JVM, the rest in Python)."""
    fractional = F.when((ntype > 1) & num.isNotNull(), num)
    return (
        F.when(ntype == 1, F.bround(num, 0).cast("bigint").cast("string"))
        .when(ntype > 1, _number_spelling(F.when(ntype > 1, ntype), fractional))
    )


def spell(kind: Column, lex: Column, dt: Column, lang: Column, ntype: Column, num: Column, may_be_number: bool) -> Column:
    """The canonical term string of a computed value (not null; errors are handled by callers)."""
    lexv = F.coalesce(lex, number_lex(ntype, num)) if may_be_number else lex
    suffix = (
        F.when(lang.isNotNull() & (lang != ""), F.concat(F.lit("@"), lang))
        .when(dt.isNull() | (dt == XSD_STRING), F.lit(""))
        .otherwise(F.concat(F.lit("^^<"), dt, F.lit(">")))
    )
    return (
        F.when(kind == KIND_IRI, F.concat(F.lit("<"), lex, F.lit(">")))
        .when(kind == KIND_BLANK, F.concat(F.lit("_:"), lex))
        .when(kind == KIND_LITERAL, F.concat(F.lit('"'), escape(lexv), F.lit('"'), suffix))
    )


__all__ = ["ATTRS", "NUMERIC_DATATYPES", "TYPES", "attribute", "escape", "null", "spell", "time_of"]
