"""Tokens of the RDFox Datalog dialect.

``<`` is ambiguous (IRI start or less-than); like a hand-written SPARQL lexer, we read an IRI only
where an operand may start, i.e. not right after an operand.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from fincrime.errors import SourceError


class Token(NamedTuple):  # a tuple: rule files with many facts make hundreds of thousands
    kind: str  # IRI, PNAME, VAR, STRING, NUMBER, LANG, NAME, PUNCT, EOF
    text: str
    line: int
    column: int
    value: str = ""  # IRI body, unescaped string, variable name, ...


_WS = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)+")
_IRI = re.compile(r'<([^<>"{}|^`\\\x00-\x20]*)>')
_VAR = re.compile(r"[?$]([A-Za-z_0-9\u00b7\u00c0-\ufffd][A-Za-z_0-9\-\u00b7\u00c0-\ufffd]*)")
_PN_PREFIX = r"(?:[A-Za-z\u00c0-\ufffd](?:[A-Za-z_0-9\-.\u00c0-\ufffd]*[A-Za-z_0-9\-\u00c0-\ufffd])?)?"
_PN_LOCAL = r"(?:(?:[A-Za-z_0-9:\u00c0-\ufffd]|%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])(?:(?:[A-Za-z_0-9\-.:\u00b7\u00c0-\ufffd]|%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])*(?:[A-Za-z_0-9\-:\u00b7\u00c0-\ufffd]|%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]))?)?"
_PNAME = re.compile(rf"({_PN_PREFIX}):({_PN_LOCAL})")
_NUMBER = re.compile(r"(?:[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+(?:[eE][+-]?[0-9]+)?)")
_NAME = re.compile(r"@?[A-Za-z_][A-Za-z_0-9]*")
_LANG = re.compile(r"@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*)")
_PUNCT = re.compile(r":-|\^\^|<=|>=|!=|&&|\|\||[\[\](),.=<>+\-*/!]")
_OPERAND_END = {"IRI", "PNAME", "VAR", "STRING", "NUMBER", "LANG"}
_DIGITS = frozenset("0123456789")  # str.isdigit() also holds for '²', which no number starts with
_STRING_ESC = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


_TOKEN = re.compile(
    rf"(?P<ws>{_WS.pattern})|(?P<iri>{_IRI.pattern})|(?P<var>{_VAR.pattern})|(?P<str>[\"'])"
    rf"|(?P<lang>{_LANG.pattern})|(?P<imp>:-)|(?P<pname>{_PNAME.pattern})|(?P<num>{_NUMBER.pattern})"
    rf"|(?P<name>{_NAME.pattern})|(?P<punct>{_PUNCT.pattern})"
)
_GROUP_KIND = {"iri": "IRI", "var": "VAR", "lang": "LANG", "pname": "PNAME", "num": "NUMBER", "name": "NAME"}


def tokenize(text: str, source: str) -> list[Token]:
    """The tokens of a rule file: one regular-expression match per token (rule files may hold
    hundreds of thousands of facts), with the few context rules of the dialect applied after."""
    tokens: list[Token] = []
    append = tokens.append
    i, n = 0, len(text)
    line, line_start = 1, 0
    match = _TOKEN.match

    def fail(message: str, at: int) -> SourceError:
        ln = text.count("\n", 0, at) + 1
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        return SourceError(
            message, source=source, line=ln, column=at - start + 1,
            text=text[start : end if end >= 0 else n],
        )

    while i < n:
        m = match(text, i)
        if m is None:
            raise fail(f"unexpected character {text[i]!r}", i)
        group = m.lastgroup
        if group == "ws":
            chunk = m.group(0)
            nl = chunk.count("\n")
            if nl:
                line += nl
                line_start = i + chunk.rfind("\n") + 1
            i = m.end()
            continue
        col = i - line_start + 1
        if group == "str":
            value, end = _read_string(text, i, fail)
            append(Token("STRING", text[i:end], line, col, value))
            nl = text.count("\n", i, end)  # a long string may span lines
            if nl:
                line += nl
                line_start = text.rfind("\n", i, end) + 1
            i = end
            continue
        prev = tokens[-1] if tokens else None
        if group == "iri" and prev is not None and _after_operand(tokens):
            m = _PUNCT.match(text, i)  # '<' right after an operand is less-than
            assert m is not None
            group = "punct"
        elif group == "lang" and (prev is None or prev.kind != "STRING"):
            m = _NAME.match(text, i)  # '@prefix', '@base'
            if m is None:
                raise fail("unexpected character '@'", i)
            group = "name"
        elif group == "num" and m.group(0).endswith("."):
            # "30." is the integer 30 followed by the end of a rule
            num = m.group(0)[:-1]
            append(Token("NUMBER", num, line, col, num))
            i += len(num)
            continue
        token = m.group(0)
        if group in ("punct", "imp"):
            append(Token("PUNCT", token, line, col))
        elif group == "iri":
            append(Token("IRI", token, line, col, token[1:-1]))
        elif group in ("var", "lang"):
            append(Token(_GROUP_KIND[group], token, line, col, token[1:]))
        elif group == "name":
            append(Token("NAME", token, line, col, token.upper()))
        else:
            append(Token(_GROUP_KIND[group], token, line, col, token if group == "num" else ""))
        i = m.end()
    tokens.append(Token("EOF", "", line, i - line_start + 1))
    return tokens


def _after_operand(tokens: list[Token]) -> bool:
    """Does the last token end an operand (so a following '<' compares)? The prefixed name of
    a ``PREFIX`` directive does not, and ']' ends an atom (a graph IRI may follow it)."""
    prev = tokens[-1]
    if prev.kind == "PNAME" and len(tokens) > 1 and tokens[-2].kind == "NAME" and tokens[-2].value in ("PREFIX", "@PREFIX"):
        return False
    return prev.kind in _OPERAND_END or (prev.kind == "PUNCT" and prev.text == ")")


def _read_string(text: str, i: int, fail) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    quote = text[i]
    long = text.startswith(quote * 3, i)
    delim = quote * 3 if long else quote
    j = i + len(delim)
    out: list[str] = []
    while True:
        if j >= len(text):
            raise fail("unterminated string", i)
        if text.startswith(delim, j):
            return "".join(out), j + len(delim)
        c = text[j]
        if c == "\n" and not long:
            raise fail("unterminated string", i)
        if c == "\\":
            e = text[j + 1 : j + 2]
            if e in _STRING_ESC:
                out.append(_STRING_ESC[e])
                j += 2
                continue
            if e in ("u", "U"):
                width = 4 if e == "u" else 8
                digits = text[j + 2 : j + 2 + width]
                if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                    code = int(digits, 16)
                    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                        raise fail(f"\\{e}{digits} is not a Unicode character", j)
                    out.append(chr(code))
                    j += 2 + width
                    continue
            raise fail("bad escape sequence in string", j)
        out.append(c)
        j += 1
