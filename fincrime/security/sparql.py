"""Screening untrusted SPARQL before any native parser sees it.

:func:`screen_query` refuses, with ``source:line:column``:

- a query larger than ``max_bytes`` or with a NUL byte;
- brackets (``{``, ``(``, ``[``) nested deeper than ``max_depth`` (pyoxigraph's recursive parser
  overflows its stack on a few thousand levels and takes the whole process with it);
- a ``SERVICE`` clause whose endpoint is not on the operator's allow-list (none by default), or
  whose endpoint is not a literal absolute IRI (a variable or a prefixed name cannot be checked
  before the query runs), or whose host the egress policy refuses.

``SERVICE`` is found by its shape, ``SERVICE [SILENT] <token> {``, wherever it appears (even in
what looks like a string or a comment), on the text as written and with ``\\u`` escapes
decoded. That over-approximates: a literal that spells such a clause is refused too, but a
clause the SPARQL parser would run is never missed, whatever tricks surround it.

:func:`without_service` turns every such clause into ``GRAPH`` (same length, so positions are
kept): what validation parses, so that checking a query never calls anyone even when
``SERVICE`` is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fincrime.errors import SourceError
from fincrime.security.config import (
    CONFIG_NAME,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_QUERY_BYTES,
    ENV_SERVICE_ALLOW,
    SecurityConfig,
)
from fincrime.security.egress import EgressPolicy, EgressRefused

_WS = r"(?:\s|\#[^\n\r]*)*"
_SERVICE = re.compile(rf"SERVICE(?P<gap>{_WS})(?P<silent>SILENT{_WS})?(?P<token>[^\s{{]+){_WS}\{{", re.I)
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_IRIREF = re.compile(r"<[^<>\"{}|^`\\\x00-\x20]*>")
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_OPEN, _CLOSE = "{([", "})]"


class QueryRefused(SourceError):
    """A query that breaks a limit or the egress policy; never handed to a parser."""


@dataclass(frozen=True)
class QueryLimits:
    """What an untrusted query may be: size, nesting, and the endpoints SERVICE may call."""

    max_bytes: int = DEFAULT_MAX_QUERY_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    service_allow: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: SecurityConfig) -> QueryLimits:
        return cls(config.max_query_bytes, config.max_depth, config.service_allow)

    def allows_service(self, endpoint: str) -> bool:
        """Exact match, or prefix match for an entry ending in ``*`` (``"*"`` allows any IRI).

        >>> QueryLimits(service_allow=("https://q.example.org/*",)).allows_service("https://q.example.org/sparql")
        True
        """
        for entry in self.service_allow:
            if entry.endswith("*") and endpoint.startswith(entry[:-1]):
                return True
            if endpoint == entry:
                return True
        return False


@dataclass(frozen=True)
class ServiceClause:
    """A ``SERVICE`` clause: where it starts (0-based offset) and its endpoint as written."""

    offset: int
    end_keyword: int
    silent: tuple[int, int] | None
    token: str

    @property
    def endpoint(self) -> str | None:
        """The endpoint IRI when written as a literal absolute IRI ``<scheme:...>``, else None."""
        token = self.token
        if token[:6].upper() == "SILENT":
            token = token[6:]
        m = _IRIREF.match(token)
        if not m:
            return None
        iri = m.group(0)[1:-1]
        return iri if _ABSOLUTE_IRI.match(iri) else None


@dataclass(frozen=True)
class ScreenedQuery:
    """A query that passed :func:`screen_query`; ``services`` lists its (allowed) clauses."""

    text: str
    services: list[ServiceClause] = field(default_factory=list)


def decode_codepoints(text: str) -> str:
    r"""``\uXXXX`` / ``\UXXXXXXXX`` escapes decoded (invalid code points are left as written).

    >>> decode_codepoints(r"\u0053ERVICE")
    'SERVICE'
    """

    def one(m: re.Match[str]) -> str:
        value = int(m.group(1) or m.group(2), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            return m.group(0)
        return chr(value)

    return _CODEPOINT.sub(one, text)


def service_clauses(text: str) -> list[ServiceClause]:
    """Every ``SERVICE`` clause shape in ``text`` (see the module docstring for why so eager).

    >>> [c.endpoint for c in service_clauses("SELECT * { SERVICE SILENT <http://x/sparql> { ?s ?p ?o } }")]
    ['http://x/sparql']
    """
    out = []
    for m in _SERVICE.finditer(text):
        silent = (m.start("silent"), m.start("silent") + 6) if m.group("silent") else None
        out.append(ServiceClause(m.start(), m.start() + 7, silent, m.group("token")))
    return out


def without_service(text: str) -> str:
    """Each ``SERVICE [SILENT]`` replaced by ``GRAPH`` padded to the same length.

    >>> without_service("SELECT * { SERVICE SILENT <http://x> { ?s ?p ?o } }")
    'SELECT * { GRAPH          <http://x> { ?s ?p ?o } }'
    """
    chars = list(text)
    for clause in service_clauses(text):
        chars[clause.offset:clause.end_keyword] = list("GRAPH  ")
        if clause.silent:
            start, end = clause.silent
            chars[start:end] = [" "] * (end - start)
    return "".join(chars)


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset.

    >>> position("a\\nbc", 3)
    (2, 2)
    """
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def nesting(text: str, limit: int | None = None) -> tuple[int, int]:
    """The deepest bracket nesting outside strings, comments and IRIs, and where it is reached
    (with ``limit``: where it first goes beyond the limit).

    >>> nesting('SELECT * { FILTER("{{{" && (?x)) }')
    (3, 27)
    """
    depth = deepest = 0
    where = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in "\"'":
            i = _skip_string(text, i)
            continue
        if ch == "<":
            m = _IRIREF.match(text, i)
            if m:
                i = m.end()
                continue
        if ch in _OPEN:
            depth += 1
            if depth > deepest:
                if limit is None or deepest <= limit:
                    where = i
                deepest = depth
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        i += 1
    return deepest, where


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    long = text.startswith(quote * 3, i)
    delim = quote * 3 if long else quote
    j = i + len(delim)
    n = len(text)
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if text.startswith(delim, j):
            return j + len(delim)
        if not long and ch in "\n\r":
            return j  # an unterminated short string: the parser will say so
        j += 1
    return n


def _refuse(text: str, source: str, offset: int, message: str, hint: str | None = None) -> QueryRefused:
    line, column = position(text, offset)
    lines = text.splitlines()
    shown = lines[line - 1] if 0 < line <= len(lines) else None
    if shown is not None and len(shown) > 200:
        start = max(column - 80, 0)
        shown, column = shown[start:start + 160], column - start
    return QueryRefused(message, source=source, line=line, column=column, text=shown, hint=hint)


def screen_query(text: str, source: str, *, limits: QueryLimits | None = None,
                 egress: EgressPolicy | None = None) -> ScreenedQuery:
    """Checks an untrusted query against the limits; raises :class:`QueryRefused`.

    ``egress`` (default: no private address allowed) judges the hosts of allowed ``SERVICE``
    endpoints; nothing is resolved or sent.
    """
    limits = limits or QueryLimits()
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise QueryRefused(f"query is {size:,} bytes, more than the limit of {limits.max_bytes:,}",
                           source=source, line=1, hint=f"sparql.max_query_bytes in FINCRIME_HOME/{CONFIG_NAME}")
    if "\x00" in text:
        raise _refuse(text, source, text.index("\x00"), "NUL character in the query")
    depth, where = nesting(text, limits.max_depth)
    if depth > limits.max_depth:
        raise _refuse(text, source, where, f"brackets nested {depth} levels deep (limit {limits.max_depth})",
                      hint=f"sparql.max_depth in FINCRIME_HOME/{CONFIG_NAME}")
    egress = egress or EgressPolicy()
    clauses = []
    decoded = decode_codepoints(text)
    for variant in dict.fromkeys((text, decoded)):
        for clause in service_clauses(variant):
            offset = clause.offset if variant is text else 0
            endpoint = decode_codepoints(clause.endpoint) if clause.endpoint else None
            if not limits.service_allow:
                raise _refuse(text, source, offset, "SERVICE (a call to another SPARQL endpoint) is not allowed",
                              hint=f"an operator can allow endpoints in FINCRIME_HOME/{CONFIG_NAME} "
                                   f"(sparql.service) or {ENV_SERVICE_ALLOW}")
            if endpoint is None:
                raise _refuse(text, source, offset, f"SERVICE {clause.token!r}: the endpoint must be written "
                              "as a full IRI <https://...> so it can be checked before the query runs")
            if not limits.allows_service(endpoint):
                raise _refuse(text, source, offset, f"SERVICE <{endpoint}> is not an allowed endpoint",
                              hint=f"allowed: {', '.join(limits.service_allow)}")
            try:
                egress.check_url(endpoint, f"SERVICE <{endpoint}>")
            except EgressRefused as exc:
                raise _refuse(text, source, offset, exc.message, exc.hint) from None
            if variant is text:
                clauses.append(clause)
    return ScreenedQuery(text, clauses)


_ERROR_AT = re.compile(r"error at (\d+):(\d+)(?:-\d+:\d+)?:\s*(.*)", re.S)


def syntax_error(message: str, text: str, source: str) -> SourceError:
    """pyoxigraph's ``error at L:C: msg`` as a :class:`SourceError` with the offending line."""
    m = _ERROR_AT.search(message)
    if not m:
        return SourceError(message.strip() or "SPARQL syntax error", source=source, line=1)
    line, column = int(m.group(1)), int(m.group(2))
    lines = text.splitlines()
    shown = lines[line - 1] if 0 < line <= len(lines) else None
    reason = m.group(3).strip()
    if "Prefix not found" in reason:
        reason = "undeclared prefix (add a PREFIX line)"
    else:  # the parser lists every character class it would accept: keep the gist
        reason = reason.splitlines()[0] if reason else "syntax error"
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
    if shown is not None and len(shown) > 200:
        start = max(column - 80, 0)
        shown, column = shown[start:start + 160], column - start
    return SourceError(f"SPARQL syntax error: {reason}", source=source, line=line, column=column, text=shown)
