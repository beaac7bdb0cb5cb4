"""RDF terms in their canonical N-Triples form.

Every component exchanges terms as one string each, exactly as N-Triples writes them:
``<iri>``, ``_:label``, ``"lexical"`` (xsd:string), ``"lexical"@lang`` or
``"lexical"^^<datatype>``. One canonical spelling per term makes term equality string equality,
so the in-memory engine can dictionary-encode terms and the Spark engine can join on strings and
both print byte-identical output.

>>> literal("1000", "http://www.w3.org/2001/XMLSchema#decimal")
'"1000"^^<http://www.w3.org/2001/XMLSchema#decimal>'
>>> parse_term('"a\\\\"b"@en')
Term(kind='literal', value='a"b', datatype='http://www.w3.org/1999/02/22-rdf-syntax-ns#langString', lang='en')
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from fincrime.vocab import RDF, XSD

XSD_STRING = XSD + "string"
XSD_BOOLEAN = XSD + "boolean"
XSD_INTEGER = XSD + "integer"
XSD_DECIMAL = XSD + "decimal"
XSD_DOUBLE = XSD + "double"
XSD_FLOAT = XSD + "float"
XSD_DATETIME = XSD + "dateTime"
XSD_DATE = XSD + "date"
RDF_LANGSTRING = RDF + "langString"

#: Datatypes whose values are integers (XSD derived types of xsd:integer).
INTEGER_TYPES = frozenset(
    XSD + t
    for t in (
        "integer", "long", "int", "short", "byte", "nonNegativeInteger", "positiveInteger",
        "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
        "unsignedByte",
    )
)

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def escape_string(lexical: str) -> str:
    """Escape a lexical form the way canonical N-Triples does (only \\\\, \\", \\n, \\r)."""
    if not any(c in lexical for c in _ESCAPES):
        return lexical
    return "".join(_ESCAPES.get(c, c) for c in lexical)


def unescape_string(text: str) -> str:
    """Undo N-Triples string escapes (ECHAR and \\uXXXX / \\UXXXXXXXX)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise EscapeError("dangling backslash", i)
        e = text[i + 1]
        if e in _UNESCAPES:
            out.append(_UNESCAPES[e])
            i += 2
        elif e in "uU":
            width = 4 if e == "u" else 8
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise EscapeError(f"bad \\{e} escape", i)
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:  # no such character, or half of a pair
                raise EscapeError(f"\\{e}{digits} is not a Unicode character", i)
            out.append(chr(code))
            i += 2 + width
        else:
            raise EscapeError(f"unknown escape \\{e}", i)
    return "".join(out)


class EscapeError(ValueError):
    """A bad escape in a string; ``offset`` is where it starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def iri(value: str) -> str:
    return f"<{value}>"


def blank(label: str) -> str:
    return f"_:{label}"


def literal(lexical: str, datatype: str | None = None, lang: str | None = None) -> str:
    """The canonical N-Triples form of a literal (xsd:string is written without datatype)."""
    body = f'"{escape_string(lexical)}"'
    if lang:
        return f"{body}@{lang.lower()}"
    if datatype is None or datatype == XSD_STRING:
        return body
    return f"{body}^^<{datatype}>"


@dataclass(frozen=True, slots=True)
class Term:
    """A parsed term: ``kind`` is ``iri``, ``blank`` or ``literal``."""

    kind: str
    value: str
    datatype: str | None = None
    lang: str | None = None

    def n3(self) -> str:
        if self.kind == "iri":
            return iri(self.value)
        if self.kind == "blank":
            return blank(self.value)
        return literal(self.value, self.datatype, self.lang)


def parse_term(text: str) -> Term:
    """Parse one canonical term string (as produced by this module or the N-Triples reader)."""
    if text.startswith("<") and text.endswith(">"):
        return Term("iri", text[1:-1])
    if text.startswith("_:"):
        return Term("blank", text[2:])
    if text.startswith('"'):
        end = text.rfind('"')
        if end <= 0:
            raise ValueError(f"not a term: {text!r}")
        lexical = unescape_string(text[1:end])
        rest = text[end + 1 :]
        if rest.startswith("@"):
            return Term("literal", lexical, RDF_LANGSTRING, rest[1:])
        if rest.startswith("^^<") and rest.endswith(">"):
            return Term("literal", lexical, rest[3:-1])
        if rest == "":
            return Term("literal", lexical, XSD_STRING)
    raise ValueError(f"not a term: {text!r}")


def canonical_decimal(value: Decimal | float | int | str) -> str:
    """XSD canonical lexical form of a decimal: no exponent, at least one digit each side."""
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    text = format(d.normalize(), "f")
    if "." not in text:
        text += ".0"
    if text.startswith("-0") and set(text[1:]) <= {"0", "."}:
        text = text[1:]
    return text


def canonical_double(value: float) -> str:
    """XSD canonical lexical form of a double (mantissa with one leading digit, ``E`` exponent)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "INF" if value > 0 else "-INF"
    if value == 0:
        return "0.0E0" if str(value)[0] != "-" else "-0.0E0"
    # repr() gives the shortest digits that round-trip; re-spell them as d.dddEn
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    coeff = "".join(map(str, digits)).rstrip("0") or "0"
    exp10 = int(exponent) + len(digits) - 1
    return f"{'-' if sign else ''}{coeff[0]}.{coeff[1:] or '0'}E{exp10}"
