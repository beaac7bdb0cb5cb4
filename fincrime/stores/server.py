"""A read-only SPARQL 1.1 Protocol endpoint over the embedded store (``fincrime serve-sparql``).

``GET /sparql?query=...`` and ``POST /sparql`` (form-encoded, or ``application/sparql-query``)
answer SELECT/ASK in SPARQL JSON (or CSV when asked with ``Accept: text/csv``) and
CONSTRUCT/DESCRIBE in N-Triples. ``default-graph-uri`` / ``named-graph-uri`` are honoured;
without them a query sees the union of all jobs (or of one job, ``--job``). Updates are
refused: the store is opened read-only and jobs keep writing through their own loads.

Every request is untrusted:

- it is parsed strictly, and anything malformed gets a 4xx answer, never a dropped connection:
  a ``Content-Length`` that is missing (411), not a plain number (400) or too large (413,
  without reading the body), a body or parameter that is not UTF-8, a bad
  ``default-graph-uri``, an unknown parameter form;
- the query is screened before any parser sees it (size, nesting, ``SERVICE`` refused unless
  the operator allow-listed the endpoint: :mod:`fincrime.security.sparql`);
- it is evaluated in a separate process (:mod:`fincrime.stores.sparql_worker`) that is killed
  when the query runs past its timeout (default 30 s) or its client disconnects, so evaluation
  really stops, and a crash of the engine costs one process, not the server;
- no ``Access-Control-Allow-Origin`` unless the operator lists origins, and with a token
  configured every request needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import select
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from fincrime.errors import InputError
from fincrime.security.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    SecurityConfig,
    load_config,
)
from fincrime.security.egress import EgressPolicy
from fincrime.security.sparql import QueryLimits, QueryRefused, screen_query
from fincrime.stores.embedded import EmbeddedStore
from fincrime.stores.sparql_worker import Answer, EvaluatorPool

MAX_BODY = DEFAULT_MAX_BODY_BYTES
MAX_FIELDS = 100
MAX_CONNECTIONS = 64
IDLE_SECONDS = 60.0  # a client that sends nothing for this long is dropped (slow-loris)
BODY_SECONDS = 5.0  # silence in the middle of a declared body: answered 408, then closed
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_PARAMETERS = frozenset({"query", "default-graph-uri", "named-graph-uri"})


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ServeOptions:
    """How the endpoint behaves; :meth:`from_config` takes the operator's ``serve`` settings."""

    timeout: float = DEFAULT_TIMEOUT_SECONDS
    workers: int = 2
    max_body: int = MAX_BODY
    cors_origins: tuple[str, ...] = ()
    token: str | None = None
    limits: QueryLimits = field(default_factory=QueryLimits)
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    verbose: bool = False

    @classmethod
    def from_config(cls, config: SecurityConfig, env: dict[str, str] | None = None) -> ServeOptions:
        env = dict(os.environ) if env is None else env
        serve = config.serve
        token = None
        if serve.token_env:
            token = env.get(serve.token_env)
            if not token:
                raise InputError(f"serve.token_env names {serve.token_env}, which is not set")
        return cls(timeout=serve.timeout_seconds, workers=serve.workers, max_body=serve.max_body_bytes,
                   cors_origins=serve.cors_origins, token=token, limits=QueryLimits.from_config(config),
                   egress=EgressPolicy.from_entries(config.egress_allow))


def _form(text: str) -> dict[str, list[str]]:
    try:
        form = urllib.parse.parse_qs(text, keep_blank_values=True, strict_parsing=False, errors="strict",
                                     max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise BadRequest(400, "parameters are not UTF-8 (after percent-decoding)") from None
    except ValueError as exc:
        raise BadRequest(400, f"bad parameters: {exc}") from None
    return form


def _graphs(params: dict[str, list[str]], key: str) -> list[str]:
    out = []
    for value in params.get(key, []):
        try:
            out.append(ox.NamedNode(value).value)
        except ValueError:
            raise BadRequest(400, f"{key} {value[:200]!r} is not an absolute IRI") from None
    return out


class SparqlHandler(BaseHTTPRequestHandler):
    server: SparqlHTTPServer
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even a garbled request line gets a status line back (no HTTP/0.9)
    timeout = IDLE_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.options.verbose:
            super().log_message(format, *args)

    # ---- answers --------------------------------------------------------------------------
    def _cors(self) -> None:
        origin = self.headers.get("Origin")
        allowed = self.server.options.cors_origins
        if origin and ("*" in allowed or origin in allowed):
            self.send_header("Access-Control-Allow-Origin", "*" if "*" in allowed else origin)
            self.send_header("Vary", "Origin")

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self._cors()
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        if status >= 400 and self.command == "POST":
            self.close_connection = True  # an unread or half-read body must not be taken for a request
        self._send(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8", extra)

    def _guarded(self, handler: Any) -> None:
        try:
            if not self._authorized():
                return
            handler()
        except BadRequest as exc:
            self._error(exc.status, str(exc))
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # nothing a request does may stop the server
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._error(500, f"internal error: {type(exc).__name__}")

    def _authorized(self) -> bool:
        token = self.server.options.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return True
        self._error(401, "a bearer token is required", {"WWW-Authenticate": 'Bearer realm="fincrime"'})
        return False

    # ---- methods --------------------------------------------------------------------------
    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin")
        allowed = self.server.options.cors_origins
        extra = {"Allow": "GET, HEAD, POST, OPTIONS"}
        if origin and ("*" in allowed or origin in allowed):
            extra.update({"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                          "Access-Control-Allow-Headers": "Content-Type, Accept, Authorization",
                          "Access-Control-Max-Age": "600"})
        self._send(204, b"", "text/plain", extra)

    def do_GET(self) -> None:
        self._guarded(self._get)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _refuse_method(self) -> None:
        self._error(405, f"{self.command} is not supported (read-only endpoint)", {"Allow": "GET, HEAD, POST, OPTIONS"})

    do_PUT = do_DELETE = do_PATCH = _refuse_method

    def _path(self) -> str:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/sparql":
            raise BadRequest(404, "SPARQL endpoint: /sparql?query=...")
        return url.query

    def _get(self) -> None:
        params = _form(self._path())
        self._answer(self._one(params, "query"), params)

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise BadRequest(411, "send the body with a Content-Length (chunked bodies are not accepted)")
        raw = self.headers.get_all("Content-Length") or []
        if not raw:
            raise BadRequest(411, "Content-Length is required")
        if len(set(raw)) != 1 or not _DIGITS.match(raw[0].strip()):
            raise BadRequest(400, f"bad Content-Length {', '.join(raw)[:40]!r}")
        length = int(raw[0])
        if length > self.server.options.max_body:
            raise BadRequest(413, f"request body larger than {self.server.options.max_body:,} bytes")
        # a client that declares more than it sends and waits would otherwise get no answer
        # until the idle limit; each read may be silent this long, so a slow upload still works
        self.connection.settimeout(BODY_SECONDS)
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise BadRequest(408, f"request body not received: {length:,} bytes declared, "
                                  f"nothing more sent for {BODY_SECONDS:g} s") from None
        finally:
            self.connection.settimeout(self.timeout)
        if len(body) != length:
            raise BadRequest(400, "request body shorter than its Content-Length")
        return body

    def _post(self) -> None:
        query_string = self._path()
        body = self._body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(400, f"request body is not UTF-8 (byte {exc.start})") from None
        params = _form(query_string)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/sparql-query":
            if "query" in params:
                raise BadRequest(400, "give the query once: in the body or in the URL, not both")
            query = text
        elif ctype == "application/x-www-form-urlencoded":
            form = _form(text)
            if "update" in form:
                raise BadRequest(403, "this endpoint is read-only")
            for key, values in form.items():
                params.setdefault(key, []).extend(values)
            query = self._one(params, "query")
        elif ctype == "application/sparql-update":
            raise BadRequest(403, "this endpoint is read-only")
        else:
            raise BadRequest(415, f"unsupported content type {ctype!r}")
        self._answer(query, params)

    @staticmethod
    def _one(params: dict[str, list[str]], key: str) -> str:
        values = params.get(key, [])
        if not values:
            raise BadRequest(400, f"missing '{key}' parameter")
        if len(values) > 1:
            raise BadRequest(400, f"'{key}' given {len(values)} times")
        return values[0]

    # ---- the query ------------------------------------------------------------------------
    def _disconnected(self) -> bool:
        """True when the client closed its side (what is readable is an end of stream)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _answer(self, query: str, params: dict[str, list[str]]) -> None:
        unknown = sorted(set(params) - _PARAMETERS)
        if unknown:
            raise BadRequest(400, f"unknown parameter(s): {', '.join(unknown)[:200]}")
        options = self.server.options
        try:
            screen_query(query, "query", limits=options.limits, egress=options.egress)
        except QueryRefused as exc:
            raise BadRequest(400, exc.render()) from None
        accept = self.headers.get("Accept", "")
        request = {
            "query": query,
            "default": _graphs(params, "default-graph-uri"),
            "named": _graphs(params, "named-graph-uri") or None,
            "format": "csv" if "text/csv" in accept and "json" not in accept else "json",
        }
        answer: Answer = self.server.pool.run(request, timeout=options.timeout, cancelled=self._disconnected)
        if answer.status == 499:  # nobody is listening any more
            self.close_connection = True
            return
        if answer.status != HTTPStatus.OK:
            self._error(answer.status, answer.body.decode("utf-8", "replace").rstrip("\n"))
            return
        self._send(HTTPStatus.OK, answer.body, answer.ctype)


class SparqlHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], store_dir: Path, *, job_id: str | None = None,
                 options: ServeOptions | None = None) -> None:
        self.options = options or ServeOptions()
        self.job_id = job_id
        self.store_dir = store_dir
        self.pool = EvaluatorPool(store_dir, self.options.workers, job_id=job_id)
        self._active = threading.BoundedSemaphore(MAX_CONNECTIONS)
        try:
            super().__init__(address, SparqlHandler)
        except BaseException:
            self.pool.close()
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._active.acquire(blocking=False):  # too many at once: a short answer, no thread
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            finally:
                self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._active.release()

    def server_close(self) -> None:
        super().server_close()
        self.pool.close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/sparql"


def make_server(store_dir: Path, host: str = "127.0.0.1", port: int = 7878, *,
                job_id: str | None = None, verbose: bool = False,
                options: ServeOptions | None = None, config: SecurityConfig | None = None) -> SparqlHTTPServer:
    """A server ready to ``serve_forever()``; ``port=0`` picks a free port (see ``.url``).

    ``options`` default to the operator's settings (``config``, default: ``FINCRIME_HOME``'s).
    """
    store = EmbeddedStore(store_dir, read_only=True)  # fails early when there is no store
    if job_id is not None:
        store.job_graphs(job_id)  # fails early, with the list of loaded jobs
    del store
    options = options or ServeOptions.from_config(config or load_config())
    if verbose:
        options.verbose = True
    return SparqlHTTPServer((host, port), store_dir, job_id=job_id, options=options)


def serve_in_thread(server: SparqlHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="fincrime-sparql", daemon=True)
    thread.start()
    return thread
