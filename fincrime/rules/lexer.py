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


def tokenize(text: str, source: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    line, line_start = 1, 0

    def fail(message: str, at: int) -> SourceError:
        ln = text.count("\n", 0, at) + 1
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        return SourceError(
            message, source=source, line=ln, column=at - start + 1,
            text=text[start : end if end >= 0 else n],
        )

    while True:
        m = _WS.match(text, i)
        if m:
            chunk = m.group(0)
            nl = chunk.count("\n")
            if nl:
                line += nl
                line_start = i + chunk.rfind("\n") + 1
            i = m.end()
        if i >= n:
            tokens.append(Token("EOF", "", line, i - line_start + 1))
            return tokens
        col = i - line_start + 1
        c = text[i]
        prev = tokens[-1] if tokens else None
        declaring = (
            prev is not None and prev.kind == "PNAME" and len(tokens) > 1
            and tokens[-2].kind == "NAME" and tokens[-2].value in ("PREFIX", "@PREFIX")
        )
        # ']' ends an atom, never an operand: what follows it may be a graph IRI
        after_operand = prev is not None and not declaring and (
            prev.kind in _OPERAND_END or (prev.kind == "PUNCT" and prev.text == ")")
        )
        if c == "<" and not after_operand and (m := _IRI.match(text, i)):
            tokens.append(Token("IRI", m.group(0), line, col, m.group(1)))
            i = m.end()
            continue
        if c in "?$" and (m := _VAR.match(text, i)):
            tokens.append(Token("VAR", m.group(0), line, col, m.group(1)))
            i = m.end()
            continue
        if c in "\"'":
            value, end = _read_string(text, i, fail)
            tokens.append(Token("STRING", text[i:end], line, col, value))
            i = end
            continue
        if c == "@" and prev is not None and prev.kind == "STRING" and (m := _LANG.match(text, i)):
            tokens.append(Token("LANG", m.group(0), line, col, m.group(1)))
            i = m.end()
            continue
        if text.startswith(":-", i):
            tokens.append(Token("PUNCT", ":-", line, col))
            i += 2
            continue
        if (c == ":" or c.isalpha()) and (m := _PNAME.match(text, i)):
            tokens.append(Token("PNAME", m.group(0), line, col))
            i = m.end()
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER.match(text, i)
            if m is None:
                raise fail(f"unexpected character {c!r}", i)
            num = m.group(0)
            if num.endswith(".") :  # "30." is the integer 30 followed by the end of a rule
                num = num[:-1]
            tokens.append(Token("NUMBER", num, line, col, num))
            i += len(num)
            continue
        if (c.isalpha() or c in "_@") and (m := _NAME.match(text, i)):
            tokens.append(Token("NAME", m.group(0), line, col, m.group(0).upper()))
            i = m.end()
            continue
        if m := _PUNCT.match(text, i):
            tokens.append(Token("PUNCT", m.group(0), line, col))
            i = m.end()
            continue
        raise fail(f"unexpected character {c!r}", i)


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
