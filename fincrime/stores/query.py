"""Running SPARQL queries: against the embedded store or a remote SPARQL 1.1 endpoint.

Both give a :class:`QueryResult` of pyoxigraph terms, so the output formats
(:mod:`fincrime.stores.results`) do not care where the answer came from. A query is parsed
locally first, so a syntax error is reported with its line and column in the ``.rq`` file
whatever the server would have said.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from fincrime.errors import FincrimeError, SourceError

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
_ERROR_AT = re.compile(r"error at (\d+):(\d+)(?:-\d+:\d+)?:\s*(.*)", re.S)
_PREFIX = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.I)


@dataclass
class QueryResult:
    """``form`` is ``select``, ``ask`` or ``graph`` (CONSTRUCT/DESCRIBE)."""

    form: str
    variables: list[str] = field(default_factory=list)
    rows: Iterable[list[Term | None]] = ()
    boolean: bool | None = None
    triples: Iterable[tuple[Term, Term, Term]] = ()
    prefixes: dict[str, str] = field(default_factory=dict)


def declared_prefixes(text: str) -> dict[str, str]:
    """The ``PREFIX`` declarations of a query, for compact display.

    >>> declared_prefixes("PREFIX prop: <http://x/p#> SELECT * {}")
    {'prop': 'http://x/p#'}
    """
    return {(m.group(1) or ""): m.group(2) for m in _PREFIX.finditer(text)}


def check_syntax(text: str, source: str) -> None:
    """Parses the query (on an empty in-memory store); a syntax error names line and column."""
    try:
        result = ox.Store().query(text)
        if not isinstance(result, bool):
            iter(result)
    except SyntaxError as exc:
        raise syntax_error(exc, text, source) from None


def syntax_error(exc: SyntaxError, text: str, source: str) -> SourceError:
    """pyoxigraph's ``error at L:C: msg`` as a :class:`SourceError` with the offending line."""
    message = str(exc)
    m = _ERROR_AT.search(message)
    if not m:
        return SourceError(message, source=source, line=1)
    line, column = int(m.group(1)), int(m.group(2))
    lines = text.splitlines()
    shown = lines[line - 1] if 0 < line <= len(lines) else None
    return SourceError(f"SPARQL syntax error: {m.group(3).strip()}", source=source, line=line,
                       column=column, text=shown)


def from_oxigraph(result: Any, prefixes: dict[str, str]) -> QueryResult:
    """Wraps what ``Store.query`` returned."""
    if isinstance(result, bool):
        return QueryResult("ask", boolean=result, prefixes=prefixes)
    if isinstance(result, ox.QuerySolutions):
        variables = [v.value for v in result.variables]
        rows = ([sol[v] for v in variables] for sol in result)
        return QueryResult("select", variables=variables, rows=rows, prefixes=prefixes)
    triples = ((t.subject, t.predicate, t.object) for t in result)
    return QueryResult("graph", triples=triples, prefixes=prefixes)


def run_embedded(store_dir: Any, text: str, *, source: str, job_id: str | None = None) -> QueryResult:
    """Runs ``text`` on the workspace's embedded store (read-only), one job's graphs or all."""
    from fincrime.stores.embedded import EmbeddedStore

    store = EmbeddedStore(store_dir, read_only=True)
    try:
        result = store.query(text, job_id=job_id)
    except SyntaxError as exc:
        raise syntax_error(exc, text, source) from None
    except OSError as exc:  # evaluation errors (bad regex, service failure...)
        raise FincrimeError(f"{source}: query failed: {exc}") from None
    return from_oxigraph(result, declared_prefixes(text))


# ------------------------------------------------------------------------ remote
_ACCEPT = (
    "application/sparql-results+json, application/n-triples;q=0.9, text/plain;q=0.8, "
    "text/turtle;q=0.7, application/rdf+xml;q=0.5"
)


def term_from_json(value: dict[str, Any]) -> Term:
    """One SPARQL JSON results term (also Virtuoso's older ``typed-literal``).

    >>> term_from_json({"type": "uri", "value": "http://a"})
    <NamedNode value=http://a>
    """
    kind = value["type"]
    if kind == "uri":
        return ox.NamedNode(value["value"])
    if kind == "bnode":
        return ox.BlankNode(value["value"])
    if kind == "triple":
        inner = value["value"]
        return ox.Triple(term_from_json(inner["subject"]), term_from_json(inner["predicate"]),
                         term_from_json(inner["object"]))
    if "xml:lang" in value:
        return ox.Literal(value["value"], language=value["xml:lang"])
    if "datatype" in value:
        return ox.Literal(value["value"], datatype=ox.NamedNode(value["datatype"]))
    return ox.Literal(value["value"])


def _rdf_format(ctype: str) -> ox.RdfFormat:
    media = ctype.split(";")[0].strip().lower()
    if media == "text/plain":  # Virtuoso's N-Triples
        return ox.RdfFormat.N_TRIPLES
    fmt = ox.RdfFormat.from_media_type(media) if media else None
    if fmt is None:
        raise FincrimeError(f"the endpoint answered with an unsupported content type {ctype!r}")
    return fmt


def run_remote(endpoint: str, text: str, *, source: str, auth: dict[str, Any] | None = None,
               timeout: float = 60.0) -> QueryResult:
    """Runs ``text`` on a SPARQL 1.1 endpoint (POST, URL-encoded), asking for JSON results."""
    from fincrime.stores.http import HttpClient, HttpStatusError, Retry

    client = HttpClient(auth=auth, retry=Retry(attempts=3, backoff=0.5, timeout=timeout))
    body = urllib.parse.urlencode({"query": text}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": _ACCEPT}
    try:
        _, ctype, data = client.request("POST", endpoint, body=body, headers=headers)
    except HttpStatusError as exc:
        raise FincrimeError(f"{source}: {exc.one_line()}") from None
    prefixes = declared_prefixes(text)
    if "json" in ctype:
        doc = json.loads(data)
        if "boolean" in doc:
            return QueryResult("ask", boolean=bool(doc["boolean"]), prefixes=prefixes)
        variables = list(doc["head"].get("vars", []))
        bindings = doc["results"]["bindings"]
        rows: Iterator[list[Term | None]] = (
            [term_from_json(b[v]) if v in b else None for v in variables] for b in bindings
        )
        return QueryResult("select", variables=variables, rows=rows, prefixes=prefixes)
    quads = ox.parse(data, format=_rdf_format(ctype))
    return QueryResult("graph", triples=((q.subject, q.predicate, q.object) for q in quads),
                       prefixes=prefixes)
