"""``fincrime serve-sparql`` under hostile requests (issue 11, items 2 and 9 to 11).

No request may stop the server, keep a query running after its time or its client, or get a
dropped connection instead of an answer.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stores_helpers import write_job

from fincrime.security.sparql import QueryLimits
from fincrime.stores import load_job
from fincrime.stores import server as server_module
from fincrime.stores.server import ServeOptions, SparqlHTTPServer, make_server, serve_in_thread
from fincrime.workspace import Workspace

DEEP = "SELECT * WHERE " + "{" * 3000 + " ?s ?p ?o " + "}" * 3000
# four billion rows to count over the test graph: minutes of work unless stopped
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?q ?r ?s2 }"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    workspace = Workspace(home=root / "home", output_root=root / "output")
    load_job(write_job(workspace.output_root, "demo_20250101_001"), {"type": "oxigraph"}, workspace)
    return workspace.store_dir


@pytest.fixture(scope="module")
def server(store_dir: Path) -> Iterator[SparqlHTTPServer]:
    """The endpoint as ``fincrime serve-sparql`` starts it with no settings at all."""
    srv = make_server(store_dir, "127.0.0.1", 0)
    serve_in_thread(srv)
    yield srv
    srv.shutdown()
    srv.server_close()


def _start(store_dir: Path, **options: object) -> SparqlHTTPServer:
    srv = make_server(store_dir, "127.0.0.1", 0, options=ServeOptions(**options))  # type: ignore[arg-type]
    serve_in_thread(srv)
    return srv


def raw(srv: SparqlHTTPServer, data: bytes, timeout: float = 20) -> tuple[int, dict[str, str], bytes]:
    """Sends bytes as they are; returns status, headers and body of the answer."""
    host, port = srv.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)  # no half-close: the server takes an end of stream for a client that left
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    assert response.startswith(b"HTTP/1."), f"no answer to {data[:80]!r}: {response[:80]!r}"
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def get(srv: SparqlHTTPServer, query: str, headers: str = "", **params: str) -> tuple[int, dict[str, str], bytes]:
    qs = urllib.parse.urlencode({"query": query, **{k.replace("_", "-"): v for k, v in params.items()}})
    return raw(srv, f"GET /sparql?{qs} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())


def post(srv: SparqlHTTPServer, body: bytes, ctype: str = "application/sparql-query",
         length: str | None = None, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    length = str(len(body)) if length is None else length
    head = f"POST /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {ctype}\r\n"
    head += (f"Content-Length: {length}\r\n" if length != "" else "") + extra + "\r\n"
    return raw(srv, head.encode() + body)


def alive(srv: SparqlHTTPServer) -> int:
    status, _, body = get(srv, COUNT)
    assert status == 200, body
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


def _pids(srv: SparqlHTTPServer) -> set[int]:
    return {e.process.pid for e in srv.pool._all}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:  # a zombie does no work either
        return fh.read().rsplit(")", 1)[-1].split()[0] == "Z"


# ---- 2. a query that kills the parser ---------------------------------------------------------------
def test_a_3000_deep_query_is_refused_and_the_server_lives(server: SparqlHTTPServer) -> None:
    before = alive(server)
    status, _, body = post(server, DEEP.encode())
    assert status == 400 and b"nested 3000 levels deep" in body
    assert alive(server) == before


def test_a_crash_of_the_engine_costs_one_evaluator(store_dir: Path) -> None:
    srv = _start(store_dir, workers=1, limits=QueryLimits(max_depth=100000))  # screening off: the engine crashes
    try:
        before = alive(srv)
        status, _, body = post(srv, DEEP.encode())
        assert status == 500 and b"crashed" in body
        assert alive(srv) == before
    finally:
        srv.shutdown()
        srv.server_close()


# ---- 9. timeout and disconnect ------------------------------------------------------------------------
def test_a_query_past_its_timeout_is_stopped(store_dir: Path) -> None:
    srv = _start(store_dir, workers=1, timeout=1.5)
    try:
        alive(srv)
        (pid,) = _pids(srv)
        started = time.monotonic()
        status, _, body = get(srv, SLOW)
        assert status == 503 and b"ran longer than 1.5 s" in body
        assert time.monotonic() - started < 10
        assert _gone(pid), "the evaluation must really stop"
        alive(srv)
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_query_whose_client_leaves_is_stopped(store_dir: Path) -> None:
    srv = _start(store_dir, workers=1, timeout=300)
    try:
        alive(srv)
        (pid,) = _pids(srv)
        host, port = srv.server_address[:2]
        with socket.create_connection((host, port)) as sock:
            qs = urllib.parse.urlencode({"query": SLOW})
            sock.sendall(f"GET /sparql?{qs} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            time.sleep(1.0)
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(pid), "the query kept running after its client disconnected"
        alive(srv)
    finally:
        srv.shutdown()
        srv.server_close()


# ---- 10. strict request parsing ------------------------------------------------------------------------
@pytest.mark.parametrize("length,expected", [("-1", 400), ("abc", 400), ("1e3", 400), ("+6", 400), ("0x6", 400),
                                              ("300000000", 413), ("", 411), ("99999999999999999999999", 400)])
def test_content_length_is_checked(server: SparqlHTTPServer, length: str, expected: int) -> None:
    status, _, _ = post(server, b"ASK {}", length=length)
    assert status == expected


def test_two_different_lengths_are_refused(server: SparqlHTTPServer) -> None:
    status, _, _ = post(server, b"ASK {}", extra="Content-Length: 7\r\n")
    assert status == 400


def test_a_body_shorter_than_declared_gets_408_while_the_client_waits(
        server: SparqlHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the fuzz test: POST with Content-Length 5, no body, connection kept open. The
    server waited for the idle limit (60 s) and closed without an answer."""
    monkeypatch.setattr(server_module, "BODY_SECONDS", 0.5)
    status, _, body = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nAS", timeout=10)
    assert status == 408 and b"5 bytes declared" in body
    assert alive(server) > 0


@pytest.mark.parametrize("graph", ["not an iri", "<http://x>", "", "http://x/\u0000"])
def test_bad_graph_parameters_are_400(server: SparqlHTTPServer, graph: str) -> None:
    status, _, body = get(server, COUNT, default_graph_uri=graph)
    assert status == 400 and b"default-graph-uri" in body
    status, _, body = get(server, COUNT, named_graph_uri=graph)
    assert status == 400 and b"named-graph-uri" in body


def test_text_that_is_not_utf8_is_400(server: SparqlHTTPServer) -> None:
    assert post(server, b"ASK { \xff\xfe }")[0] == 400
    assert post(server, b"query=ASK%7B%7D%ff", ctype="application/x-www-form-urlencoded")[0] == 400
    status, _, _ = raw(server, b"GET /sparql?query=ASK%7B%7D%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 400


@pytest.mark.parametrize("request_bytes,expected", [
    (b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404),
    (b"GET /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400),
    (b"PUT /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405),
    (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", 415),
    (b"POST /sparql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", 411),
    (b"GET /sparql?query=ASK{}&query=ASK{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400),
    (b"GET /sparql?query=ASK{}&format=xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400),
    (b"NONSENSE\r\n\r\n", 400),
])
def test_malformed_requests_get_an_answer(server: SparqlHTTPServer, request_bytes: bytes, expected: int) -> None:
    assert raw(server, request_bytes)[0] == expected


# ---- 11. CORS and authentication ----------------------------------------------------------------------
def test_no_cors_header_by_default(server: SparqlHTTPServer) -> None:
    status, headers, _ = get(server, COUNT, headers="Origin: https://evil.example\r\n")
    assert status == 200 and "access-control-allow-origin" not in headers


def test_cors_only_for_configured_origins_and_bearer_token(store_dir: Path) -> None:
    srv = _start(store_dir, cors_origins=("https://console.example.org",), token="s3cret-token")
    try:
        assert get(srv, COUNT)[0] == 401
        assert get(srv, COUNT, headers="Authorization: Bearer wrong\r\n")[0] == 401
        ok = "Authorization: Bearer s3cret-token\r\n"
        status, headers, _ = get(srv, COUNT, headers=ok + "Origin: https://console.example.org\r\n")
        assert status == 200 and headers["access-control-allow-origin"] == "https://console.example.org"
        status, headers, _ = get(srv, COUNT, headers=ok + "Origin: https://evil.example\r\n")
        assert status == 200 and "access-control-allow-origin" not in headers
    finally:
        srv.shutdown()
        srv.server_close()


# ---- 5. SERVICE from any client -------------------------------------------------------------------------
def test_service_from_a_client_is_refused(server: SparqlHTTPServer) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.3)
        query = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{listener.getsockname()[1]}/sparql> {{ ?s ?p ?o }} }}"
        status, _, body = get(server, query)
        assert status == 400 and b"SERVICE" in body
        with pytest.raises(TimeoutError):
            listener.accept()


# ---- fuzz ---------------------------------------------------------------------------------------------
_METHOD = st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "DELETE", "G\x00T", ""])
_PATH = st.sampled_from(["/sparql", "/sparql?query=ASK%7B%7D", "/sparql?query=%ff", "/", "*", "/sparql?" + "a=1&" * 200])
_HEADER = st.tuples(st.sampled_from(["Content-Length", "Content-Type", "Accept", "Origin", "Authorization",
                                     "Transfer-Encoding", "X-Junk"]),
                    st.one_of(st.sampled_from(["-1", "0", "5", "application/sparql-query",
                                               "application/x-www-form-urlencoded", "chunked", "text/csv"]),
                              st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)))
_BODY = st.one_of(st.binary(max_size=200), st.sampled_from([b"ASK {}", b"query=ASK%7B%7D", DEEP.encode()[:5000]]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=_METHOD, path=_PATH, headers=st.lists(_HEADER, max_size=5), body=_BODY)
def test_fuzzed_requests_always_get_an_answer(server: SparqlHTTPServer, method: str, path: str,
                                              headers: list[tuple[str, str]], body: bytes) -> None:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    status, _, _ = raw(server, head.encode("latin-1", "replace") + body)
    assert 200 <= status < 600 and status != 500


def test_the_server_still_answers_after_the_fuzzing(server: SparqlHTTPServer) -> None:
    assert alive(server) > 0
