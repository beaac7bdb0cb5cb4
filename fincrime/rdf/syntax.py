"""The N-Triples / N-Quads line grammar: patterns for vectorized readers and a strict parser.

Two readers share these definitions: the polars reader (:mod:`fincrime.rdf.reader`) and
Spark's distributed one (``fincrime.engine.spark.io``). Both match lines with the *fast*
patterns below, which cover the plain lines that make up nearly all real data and accept
nothing the grammar refuses; every other line goes through :func:`parse_line`, which follows
the RDF 1.1 grammar character by character and reports errors with their column. Terms come
out in the canonical spelling of :mod:`fincrime.rdf.terms`.

>>> parse_line('<http://x/s> <http://x/p> "a\\\\u00e9"@EN .')
('<http://x/s>', '<http://x/p>', '"aé"@en')
>>> parse_line('<http://x/s> <http://x/p> <http://x/o> <http://x/g> .', quads=True)
('<http://x/s>', '<http://x/p>', '<http://x/o>', '<http://x/g>')
"""

from __future__ import annotations

import re

from fincrime.errors import SourceError
from fincrime.rdf.terms import XSD_STRING, escape_string, unescape_string

# --- fast patterns (regular expressions run by polars in Rust, and by Spark) ---------------------

IRI = r'<[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>"{}|^`\\]*>'
BNODE = r"_:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?"
LITERAL = r'"[^"\\\n\r]*"(?:\^\^' + IRI + r"|@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)?"
_END = r"[ \t]*\.[ \t]*(?:#.*)?\r?$"
#: A plain triple line: groups 1-3 are subject, predicate and object.
FAST_LINE = rf"^[ \t]*({IRI}|{BNODE})[ \t]*({IRI})[ \t]*({IRI}|{BNODE}|{LITERAL}){_END}"
#: A plain quad line: groups 1-4, the graph (group 4) optional.
FAST_QUAD = rf"^[ \t]*({IRI}|{BNODE})[ \t]*({IRI})[ \t]*({IRI}|{BNODE}|{LITERAL})(?:[ \t]*({IRI}|{BNODE}))?{_END}"
#: A line without a statement (blank, or a comment).
SKIP_LINE = r"^[ \t]*(?:#.*)?\r?$"
#: A triple in canonical spacing (one space between terms, `` .`` at the end): what generators
#: and stores write; such a line splits on its first two spaces.
CANONICAL_LINE = rf"^(?:{IRI}|{BNODE}) {IRI} (?:{IRI}|{BNODE}|{LITERAL}) \.$"
#: The suffix a canonical literal drops (``"a"^^xsd:string`` is ``"a"``).
STRING_SUFFIX = f"^^<{XSD_STRING}>"

# --- the strict parser ------------------------------------------------------------------------

_IRI_FORBIDDEN = frozenset('<>"{}|^`\\') | {chr(c) for c in range(0x21)}
_LANG_RE = re.compile(r"[a-zA-Z]+(?:-[a-zA-Z0-9]+)*")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_HEX = frozenset("0123456789abcdefABCDEF")
_PN_BASE_RANGES = (
    (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x2FF), (0x370, 0x37D), (0x37F, 0x1FFF), (0x200C, 0x200D),
    (0x2070, 0x218F), (0x2C00, 0x2FEF), (0x3001, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFFD),
    (0x10000, 0xEFFFF),
)


def _pn_chars_u(c: str) -> bool:
    """PN_CHARS_BASE or '_' (the RDF 1.1 test suite refuses ':' in labels, as does this)."""
    if c.isascii():
        return c.isalpha() or c == "_"
    code = ord(c)
    return any(lo <= code <= hi for lo, hi in _PN_BASE_RANGES)


def _pn_chars(c: str) -> bool:
    if _pn_chars_u(c) or c == "-" or (c.isascii() and c.isdigit()):
        return True
    code = ord(c)
    return code == 0xB7 or 0x300 <= code <= 0x36F or 0x203F <= code <= 0x2040


class _Cursor:
    def __init__(self, text: str, source: str, line: int) -> None:
        self.text, self.source, self.line, self.i = text, source, line, 0

    def fail(self, message: str, at: int | None = None) -> SourceError:
        column = (self.i if at is None else at) + 1
        return SourceError(message, source=self.source, line=self.line, column=column, text=self.text)

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r":
            self.i += 1

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def uchar(self) -> str:
        """``\\uXXXX`` / ``\\UXXXXXXXX`` at the cursor: one Unicode character (not a surrogate)."""
        esc = self.text[self.i + 1 : self.i + 2]
        width = {"u": 4, "U": 8}.get(esc, 0)
        digits = self.text[self.i + 2 : self.i + 2 + width]
        if not width or len(digits) != width or not set(digits) <= _HEX:
            raise self.fail("bad escape (\\uXXXX or \\UXXXXXXXX)")
        code = int(digits, 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.fail(f"\\{esc}{digits} is not a Unicode character")
        self.i += 2 + width
        return chr(code)

    def iri(self) -> str:
        start = self.i
        self.i += 1  # '<'
        out: list[str] = []
        while True:
            c = self.peek()
            if c == "":
                raise self.fail("unterminated IRI", start)
            if c == ">":
                self.i += 1
                break
            if c == "\\":
                at = self.i
                ch = self.uchar()
                if ch in _IRI_FORBIDDEN:
                    raise self.fail(f"character {ch!r} not allowed in an IRI", at)
                out.append(ch)
                continue
            if c in _IRI_FORBIDDEN:
                raise self.fail(f"character {c!r} not allowed in an IRI")
            out.append(c)
            self.i += 1
        value = "".join(out)
        if not _SCHEME_RE.match(value):
            raise self.fail("relative IRI (N-Triples needs absolute IRIs)", start)
        return f"<{value}>"

    def bnode(self) -> str:
        start = self.i
        if self.text[self.i : self.i + 2] != "_:":
            raise self.fail("expected a blank node '_:'")
        j = self.i + 2
        text = self.text
        if j >= len(text) or not (_pn_chars_u(text[j]) or (text[j].isascii() and text[j].isdigit())):
            raise self.fail("bad blank node label (it starts with a letter, a digit or '_')", j if j < len(text) else start)
        j += 1
        while j < len(text) and (_pn_chars(text[j]) or text[j] == "."):
            j += 1
        while text[j - 1] == ".":  # a label cannot end with '.': that is the statement's end
            j -= 1
        label = text[self.i + 2 : j]
        self.i = j
        return f"_:{label}"

    def literal(self) -> str:
        start = self.i
        self.i += 1
        j = self.i
        while True:
            if j >= len(self.text) or self.text[j] in "\n\r":
                raise self.fail("unterminated string literal", start)
            c = self.text[j]
            if c == "\\":
                j += 2
                continue
            if c == '"':
                break
            j += 1
        try:
            lexical = unescape_string(self.text[self.i : j])
        except ValueError as exc:
            raise self.fail(str(exc), self.i + getattr(exc, "offset", 0)) from None
        self.i = j + 1
        body = f'"{escape_string(lexical)}"'
        if self.peek() == "@":
            m = _LANG_RE.match(self.text, self.i + 1)
            if not m:
                raise self.fail("bad language tag")
            self.i = m.end()
            return f"{body}@{m.group(0).lower()}"
        if self.text.startswith("^^", self.i):
            self.i += 2
            if self.peek() != "<":
                raise self.fail("expected a datatype IRI after '^^'")
            datatype = self.iri()
            return body if datatype == f"<{XSD_STRING}>" else f"{body}^^{datatype}"
        return body

    def term(self, allowed: tuple[str, ...], role: str) -> str:
        c = self.peek()
        if c == "<" and "iri" in allowed:
            return self.iri()
        if c == "_" and "blank" in allowed:
            return self.bnode()
        if c == '"' and "literal" in allowed:
            return self.literal()
        kinds = " or ".join({"iri": "an IRI", "blank": "a blank node", "literal": "a literal"}[a] for a in allowed)
        found = repr(c) if c else "end of line"
        raise self.fail(f"expected {kinds} as {role}, found {found}")


def parse_line(text: str, source: str = "<string>", line: int = 1, *, quads: bool = False) -> tuple[str, ...]:
    """Strictly parse one statement into canonical term strings: ``(s, p, o)``, or with
    ``quads`` ``(s, p, o, g)`` where ``g`` is None for a triple of the default graph."""
    cur = _Cursor(text.rstrip("\n"), source, line)
    cur.ws()
    s = cur.term(("iri", "blank"), "subject")
    cur.ws()
    p = cur.term(("iri",), "predicate")
    cur.ws()
    o = cur.term(("iri", "blank", "literal"), "object")
    cur.ws()
    g = None
    if quads and cur.peek() in ("<", "_"):
        g = cur.term(("iri", "blank"), "graph")
        cur.ws()
    if cur.peek() != ".":
        what = "after the graph" if g else ("or a graph name" if quads else "at the end of the triple")
        raise cur.fail(f"expected '.' {what}")
    cur.i += 1
    cur.ws()
    if cur.peek() not in ("", "#"):
        raise cur.fail("unexpected text after the end of the statement")
    return (s, p, o, g) if quads else (s, p, o)  # type: ignore[return-value]


__all__ = [
    "BNODE", "CANONICAL_LINE", "FAST_LINE", "FAST_QUAD", "IRI", "LITERAL", "SKIP_LINE", "STRING_SUFFIX",
    "parse_line",
]
