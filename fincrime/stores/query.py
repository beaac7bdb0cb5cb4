"""Running SPARQL queries: against the embedded store or a remote SPARQL 1.1 endpoint.

Both give a :class:`QueryResult` of pyoxigraph terms, so the output formats
(:mod:`fincrime.stores.results`) do not care where the answer came from. A query is checked
locally first (:func:`check_queries`, the one check of untrusted SPARQL: job specs, the CLI,
the console and a job's query phase use it), so a syntax error is reported with its line and
column in the ``.rq`` file whatever the server would have said.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyoxigraph as ox

from fincrime.errors import FincrimeError, SourceError
from fincrime.security.config import SecurityConfig, load_config
from fincrime.security.egress import EgressPolicy
from fincrime.security.sandbox import check_queries as sandboxed_parse
from fincrime.security.sparql import (
    QueryLimits,
    QueryRefused,
    ServiceClause,
    screen_query,
    without_service,
)
from fincrime.security.sparql import syntax_error as sparql_syntax_error
from fincrime.stores.embedded import EmbeddedStore
from fincrime.stores.httpclient import HttpClient, HttpStatusError, Retry

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
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


#: A SPARQL update; named in the refusal when the query parser refuses such a text.
_UPDATE = re.compile(r"^\s*(INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)\b", re.I | re.M)


@dataclass(frozen=True)
class CheckedQuery:
    """One untrusted query after :func:`check_queries`: its form when it may run, else the problem."""

    source: str
    text: str
    form: str | None = None  # select, ask or graph
    problem: SourceError | None = None
    services: tuple[ServiceClause, ...] = ()  # the allowed SERVICE clauses it calls


def check_queries(queries: Sequence[tuple[str, str]], *, config: SecurityConfig | None = None) -> list[CheckedQuery]:
    """Screens and parses untrusted ``(source, text)`` queries without running them or calling anyone.

    The one check of a query, wherever it comes from (a job spec, ``fincrime query``, the
    console, a job's query phase). Each query is screened first (size, nesting, ``SERVICE``
    against the operator's allow-list and the egress policy:
    :func:`fincrime.security.sparql.screen_query`), then what passes is parsed in one sandboxed
    child process (:mod:`fincrime.security.sandbox`) with every ``SERVICE`` turned into
    ``GRAPH``: a syntax error names line and column, a parser crash or a hang is that query's
    refusal, and checking never calls anybody. A SPARQL update is refused as such.
    """
    config = config or load_config()
    limits = QueryLimits.from_config(config)
    policy = EgressPolicy.from_entries(config.egress_allow)
    out: list[CheckedQuery] = []
    to_parse: list[int] = []
    for source, text in queries:
        try:
            screened = screen_query(text, source, limits=limits, egress=policy)
        except QueryRefused as exc:
            out.append(CheckedQuery(source, text, problem=exc))
            continue
        to_parse.append(len(out))
        out.append(CheckedQuery(source, text, services=tuple(screened.services)))
    parsed = sandboxed_parse([(out[i].source, without_service(out[i].text)) for i in to_parse]) if to_parse else []
    for i, check in zip(to_parse, parsed, strict=True):
        q = out[i]
        problem = check.problem
        update = _UPDATE.search(q.text) if problem is not None else None
        if update is not None:
            line = q.text.count("\n", 0, update.start(1)) + 1
            problem = SourceError("SPARQL updates are not allowed in queries", source=q.source, line=line)
        out[i] = replace(q, form=None if problem else check.form, problem=problem)
    return out


def check_syntax(text: str, source: str, *, config: SecurityConfig | None = None) -> str:
    """Screens and parses one untrusted query (:func:`check_queries`); returns its form
    (``select``, ``ask`` or ``graph``) or raises :class:`~fincrime.errors.SourceError`."""
    (checked,) = check_queries([(source, text)], config=config)
    if checked.problem is not None:
        raise checked.problem
    return str(checked.form)


def _form(result: Any) -> str:
    if isinstance(result, bool | ox.QueryBoolean):
        return "ask"
    return "select" if isinstance(result, ox.QuerySolutions) else "graph"


_PROLOGUE = re.compile(r"(?:\s+|#[^\n]*|PREFIX\s+[\w.-]*:\s*<[^>]*>|BASE\s*<[^>]*>)*", re.I)


def guess_form(text: str) -> str:
    r"""The form of a query the local parser refuses (a server dialect), from its first keyword.

    >>> guess_form("PREFIX a: <http://a#> # hi\nconstruct { ?s ?p ?o } where { ?s ?p ?o }")
    'graph'
    """
    word = text[_PROLOGUE.match(text).end():].split(None, 1)  # type: ignore[union-attr]
    keyword = word[0].upper() if word else ""
    return {"ASK": "ask", "CONSTRUCT": "graph", "DESCRIBE": "graph"}.get(keyword, "select")


def syntax_error(exc: SyntaxError, text: str, source: str) -> SourceError:
    """pyoxigraph's ``error at L:C: msg`` as a :class:`SourceError` with the offending line."""
    return sparql_syntax_error(str(exc), text, source)


def from_oxigraph(result: Any, prefixes: dict[str, str]) -> QueryResult:
    """Wraps what ``Store.query`` returned."""
    form = _form(result)
    if form == "ask":
        return QueryResult("ask", boolean=bool(result), prefixes=prefixes)
    if form == "select":
        variables = [v.value for v in result.variables]
        rows = ([sol[v] for v in variables] for sol in result)
        return QueryResult("select", variables=variables, rows=rows, prefixes=prefixes)
    triples = ((t.subject, t.predicate, t.object) for t in result)
    return QueryResult("graph", triples=triples, prefixes=prefixes)


def run_checked(store: Any, query: CheckedQuery, *, config: SecurityConfig | None = None,
                job_id: str | None = None) -> QueryResult:
    """Runs a query that :func:`check_queries` let through on a store (an ``ox.Store`` or an
    :class:`~fincrime.stores.embedded.EmbeddedStore`, which ``job_id`` narrows to one job's graphs).

    Right before it runs, the host of every allowed ``SERVICE`` endpoint is resolved and judged
    by the egress policy, so a name that has come to point somewhere private is never called.
    """
    if query.problem is not None:
        raise query.problem
    config = config or load_config()
    policy = EgressPolicy.from_entries(config.egress_allow)
    for clause in query.services:
        parts = urllib.parse.urlsplit(clause.endpoint or "")
        policy.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80),
                       f"SERVICE <{clause.endpoint}>")
    try:
        result = store.query(query.text) if job_id is None else store.query(query.text, job_id=job_id)
    except SyntaxError as exc:
        raise syntax_error(exc, query.text, query.source) from None
    except (OSError, ValueError) as exc:  # evaluation errors (bad regex, service failure...)
        raise FincrimeError(f"{query.source}: query failed: {exc}") from None
    return from_oxigraph(result, declared_prefixes(query.text))


def run_embedded(store_dir: Any, text: str, *, source: str, job_id: str | None = None,
                 config: SecurityConfig | None = None) -> QueryResult:
    """Runs ``text`` on the workspace's embedded store (read-only), one job's graphs or all.

    The query is checked first (:func:`check_queries`), so nothing it contains can crash this
    process or make it call an endpoint the operator did not allow.
    """
    config = config or load_config()
    (checked,) = check_queries([(source, text)], config=config)
    if checked.problem is not None:
        raise checked.problem
    return run_checked(EmbeddedStore(store_dir, read_only=True), checked, config=config, job_id=job_id)


# ------------------------------------------------------------------------ remote
# Ask for exactly one family: Virtuoso answers a CONSTRUCT with JSON "results" when allowed.
_ACCEPT = {
    "select": "application/sparql-results+json",
    "ask": "application/sparql-results+json",
    "graph": "application/n-triples, text/plain;q=0.9, text/turtle;q=0.8, application/rdf+xml;q=0.5",
}


def term_from_json(value: dict[str, Any]) -> Term:
    """One SPARQL JSON results term (also Virtuoso's older ``typed-literal``).

    >>> term_from_json({"type": "uri", "value": "http://a"})
    <NamedNode value=http://a>
    """
    kind = value["type"]
    if kind == "uri":
        return ox.NamedNode(str(value["value"]))
    if kind == "bnode":
        return ox.BlankNode(str(value["value"]))
    if kind == "triple":
        inner = value["value"]
        return ox.Triple(term_from_json(inner["subject"]), term_from_json(inner["predicate"]),
                         term_from_json(inner["object"]))
    text = value["value"]
    # Virtuoso writes some numbers as JSON numbers; the lexical form is their text.
    text = text if isinstance(text, str) else json.dumps(text)
    if "xml:lang" in value:
        return ox.Literal(text, language=value["xml:lang"])
    if "datatype" in value:
        return ox.Literal(text, datatype=ox.NamedNode(value["datatype"]))
    return ox.Literal(text)


def _rdf_format(ctype: str) -> ox.RdfFormat:
    media = ctype.split(";")[0].strip().lower()
    if media == "text/plain":  # Virtuoso's N-Triples
        return ox.RdfFormat.N_TRIPLES
    fmt = ox.RdfFormat.from_media_type(media) if media else None
    if fmt is None:
        raise FincrimeError(f"the endpoint answered with an unsupported content type {ctype!r}")
    return fmt


def run_remote(endpoint: str, text: str, *, source: str, auth: dict[str, Any] | None = None,
               timeout: float = 60.0, form: str | None = None, egress: Any = None) -> QueryResult:
    """Runs ``text`` on a SPARQL 1.1 endpoint (POST, URL-encoded).

    SELECT/ASK ask for SPARQL JSON results, CONSTRUCT/DESCRIBE for N-Triples (or Turtle).
    ``egress`` is the policy for the connection (default: the workspace's).
    """
    client = HttpClient(auth=auth, retry=Retry(attempts=3, backoff=0.5, timeout=timeout), egress=egress,
                        what="SPARQL endpoint")
    body = urllib.parse.urlencode({"query": text}).encode()
    form = form or guess_form(text)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": _ACCEPT[form]}
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
