"""A read-only SPARQL 1.1 Protocol endpoint over the embedded store (``fincrime serve-sparql``).

``GET /sparql?query=...`` and ``POST /sparql`` (form-encoded, or ``application/sparql-query``)
answer SELECT/ASK in SPARQL JSON (or CSV when asked with ``Accept: text/csv``) and
CONSTRUCT/DESCRIBE in N-Triples. ``default-graph-uri`` / ``named-graph-uri`` are honoured;
without them a query sees the union of all jobs (or of one job, ``--job``). Updates are
refused: the store is opened read-only and jobs keep writing through their own loads.
"""

from __future__ import annotations

import io
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from fincrime.stores.embedded import EmbeddedStore
from fincrime.stores.query import declared_prefixes, from_oxigraph
from fincrime.stores.results import write_csv, write_json, write_nt

MAX_BODY = 10 * 1024 * 1024


class SparqlHandler(BaseHTTPRequestHandler):
    server: SparqlHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, (message + "\n").encode(), "text/plain; charset=utf-8")

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(url.query)
        if url.path != "/sparql":
            self._error(404, "SPARQL endpoint: /sparql?query=...")
            return
        if "query" not in params:
            self._error(400, "missing 'query' parameter")
            return
        self._answer(params["query"][0], params)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/sparql":
            self._error(404, "SPARQL endpoint: POST /sparql")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._error(413, "request too large")
            return
        body = self.rfile.read(length).decode("utf-8")
        params = urllib.parse.parse_qs(url.query)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/sparql-query":
            query = body
        elif ctype == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(body)
            if "update" in form:
                self._error(403, "this endpoint is read-only")
                return
            params.update(form)
            query = form.get("query", [""])[0]
        elif ctype == "application/sparql-update":
            self._error(403, "this endpoint is read-only")
            return
        else:
            self._error(415, f"unsupported content type {ctype!r}")
            return
        self._answer(query, params)

    def _answer(self, query: str, params: dict[str, list[str]]) -> None:
        default = [ox.NamedNode(g) for g in params.get("default-graph-uri", [])]
        named = [ox.NamedNode(g) for g in params.get("named-graph-uri", [])] or None
        store = self.server.store
        try:
            graphs = default or store.job_graphs(self.server.job_id) or [ox.NamedNode("urn:fincrime:empty")]
            result = from_oxigraph(
                store.store.query(query, default_graph=graphs, named_graphs=named),
                declared_prefixes(query),
            )
            out = io.StringIO()
            accept = self.headers.get("Accept", "")
            if result.form == "graph":
                write_nt(result, out)
                ctype = "application/n-triples"
            elif "text/csv" in accept and "json" not in accept:
                write_csv(result, out)
                ctype = "text/csv"
            else:
                write_json(result, out)
                ctype = "application/sparql-results+json"
        except SyntaxError as exc:
            self._error(400, f"query syntax error: {exc}")
            return
        except (OSError, ValueError) as exc:
            self._error(500, f"query failed: {exc}")
            return
        self._send(HTTPStatus.OK, out.getvalue().encode("utf-8"), ctype + "; charset=utf-8")


class SparqlHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: EmbeddedStore, *,
                 job_id: str | None = None, verbose: bool = False) -> None:
        super().__init__(address, SparqlHandler)
        self._store = store
        self._seen = self._stamp()
        self._lock = threading.Lock()
        self.job_id = job_id
        self.verbose = verbose

    def _stamp(self) -> int:
        return self._store.path.stat().st_mtime_ns

    @property
    def store(self) -> EmbeddedStore:
        """The store as of now: a read-only handle is a snapshot, so a load that finished
        since (new files in the store folder) opens a fresh one."""
        with self._lock:
            stamp = self._stamp()
            if stamp != self._seen:
                self._store = EmbeddedStore(self._store.path, read_only=True)
                self._seen = stamp
            return self._store

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/sparql"


def make_server(store_dir: Path, host: str = "127.0.0.1", port: int = 7878, *,
                job_id: str | None = None, verbose: bool = False) -> SparqlHTTPServer:
    """A server ready to ``serve_forever()``; ``port=0`` picks a free port (see ``.url``)."""
    store = EmbeddedStore(store_dir, read_only=True)
    if job_id is not None:
        store.job_graphs(job_id)  # fails early, with the list of loaded jobs
    return SparqlHTTPServer((host, port), store, job_id=job_id, verbose=verbose)


def serve_in_thread(server: SparqlHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="fincrime-sparql", daemon=True)
    thread.start()
    return thread
