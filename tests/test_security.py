"""The egress policy, the SPARQL screen and the parsing sandbox, on real sockets and servers."""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincrime.errors import InputError
from fincrime.jobs.notify import deliver
from fincrime.security.config import load_config
from fincrime.security.egress import EgressPolicy, EgressRefused, literal_address, why_not_public
from fincrime.security.sandbox import check_queries
from fincrime.security.sparql import (
    QueryLimits,
    QueryRefused,
    nesting,
    screen_query,
    service_clauses,
    without_service,
)
from fincrime.stores.httpclient import HttpClient, Retry

LOOPBACK_ONLY = EgressPolicy.from_entries(["127.0.0.1"])


# ---- addresses --------------------------------------------------------------------------------
@pytest.mark.parametrize("host,address", [
    ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"), ("[::ffff:127.0.0.1]", "::ffff:7f00:1"), ("fe80::1%eth0", "fe80::1"),
    ("169.254.169.254.", "169.254.169.254"),
])
def test_every_spelling_of_an_address_is_recognized(host: str, address: str) -> None:
    assert str(literal_address(host)) == address


@pytest.mark.parametrize("address", ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:a9fe:a9fe::1", "64:ff9b::a00:1",
                                     "::127.0.0.1", "2001:0:4136:e378:8000:63bf:f5ff:fffe"])
def test_ipv4_inside_ipv6_is_judged_by_the_ipv4_address(address: str) -> None:
    assert why_not_public(ipaddress.ip_address(address)) is not None


def test_public_addresses_pass_and_allow_entries_work() -> None:
    policy = EgressPolicy.from_entries(["10.1.0.0/16", "db.internal", "*.corp.example", "::1"])
    policy.check_url("https://93.184.215.14/x", "t")
    policy.check_url("http://10.1.200.3/", "t")
    policy.check_url("http://[::1]:8890/sparql", "t")
    policy.check_url("http://db.internal/", "t")
    with pytest.raises(EgressRefused, match="private address"):
        policy.check_url("http://10.2.0.1/", "t")
    assert policy.allows_name("a.b.corp.example") and not policy.allows_name("corp.example.evil.org")
    assert EgressPolicy.from_entries(["*"]).allows_address(ipaddress.ip_address("127.0.0.1"))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "http://a\\@127.0.0.1/", "http://x:99999999/",
                                 "http://exa mple.org/"])
def test_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused):
        EgressPolicy().check_url(url, "t")


def test_a_name_resolving_to_a_private_address_is_refused_when_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS answers are judged where the connection is made, and connected to as judged."""
    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    EgressPolicy().check_url("http://rebind.example/", "t")  # the static check cannot know
    with pytest.raises(EgressRefused, match=r"rebind.example \(127.0.0.1\) is a loopback address"):
        EgressPolicy().create_connection(("rebind.example", 80), 2)


def test_config_file_and_environment_are_merged(tmp_path: Path) -> None:
    (tmp_path / "security.json").write_text(json.dumps({"egress": {"allow": ["10.0.0.0/8"]},
                                                        "sparql": {"service": ["https://q.example.org/sparql"]}}))
    cfg = load_config(tmp_path, env={"FINCRIME_EGRESS_ALLOW": "127.0.0.1"})
    assert cfg.egress_allow == ("10.0.0.0/8", "127.0.0.1") and cfg.service_allow == ("https://q.example.org/sparql",)
    (tmp_path / "security.json").write_text(json.dumps({"egress": {"allow": "10.0.0.0/8"}}))
    with pytest.raises(InputError, match=r"security.json: egress.allow: '10.0.0.0/8' is not of type 'array'"):
        load_config(tmp_path, env={})


# ---- connections: redirects, webhooks, SMTP, Gremlin -----------------------------------------------
class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.target:
            self.send_response(302)
            self.send_header("Location", self.target)
            self.send_header("Content-Length", "0")
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
        self.end_headers()
        if not self.target:
            self.wfile.write(b"ok")

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def _serve(host: str, target: str = "") -> tuple[http.server.HTTPServer, str]:
    handler = type("H", (_Redirect,), {"target": target, "hits": []})
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/"


@pytest.fixture
def redirect_to_another_loopback_address() -> Iterator[tuple[str, Any, Any]]:
    inner, inner_url = _serve("127.0.0.2")
    outer, outer_url = _serve("127.0.0.1", inner_url)
    yield outer_url, outer.RequestHandlerClass, inner.RequestHandlerClass
    for server in (outer, inner):
        server.shutdown()
        server.server_close()


def test_redirects_cannot_reach_what_the_policy_refuses(redirect_to_another_loopback_address: Any) -> None:
    url, outer, inner = redirect_to_another_loopback_address
    client = HttpClient(retry=Retry(attempts=1, timeout=5), egress=LOOPBACK_ONLY)
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.2 is a loopback address"):
        client.request("GET", url)
    assert outer.hits == ["/"] and inner.hits == []
    # the same redirect is followed once its target is allowed
    wider = HttpClient(retry=Retry(attempts=1, timeout=5), egress=EgressPolicy.from_entries(["127.0.0.0/8"]))
    assert wider.request("GET", url)[2] == b"ok" and inner.hits == ["/"]


def test_a_plain_urllib_opener_would_have_followed(redirect_to_another_loopback_address: Any) -> None:
    """The fixture really redirects (the refusal above is the policy's doing)."""
    url, _, inner = redirect_to_another_loopback_address
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"ok"
    assert inner.hits == ["/"]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.settimeout(0.3)
        yield sock


def _no_connection(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except TimeoutError:
        return True
    return False


def test_webhook_and_smtp_to_loopback_are_refused_without_connecting(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    targets = [{"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"},
               {"type": "webhook", "url": f"http://2130706433:{port}/hook"},
               {"type": "email", "host": "127.0.0.1", "port": port, "tls": "none", "from": "a@b.c", "to": ["d@e.f"]}]
    reports = deliver(targets, {"id": "j", "status": "done"}, {}, attempts=3, backoff=0, policy=EgressPolicy())
    assert [r["ok"] for r in reports] == [False, False, False]
    assert all("egress policy" in r["detail"] and r["attempts"] == 1 for r in reports), reports
    assert _no_connection(listener)


def test_gremlin_server_on_loopback_is_refused_without_connecting(listener: socket.socket, tmp_path: Path) -> None:
    from fincrime.stores.gremlin import connect
    from fincrime.workspace import Workspace

    workspace = Workspace(home=tmp_path, output_root=tmp_path)
    for url in (f"ws://127.0.0.1:{listener.getsockname()[1]}/gremlin", f"ws://0x7f.0.0.1:{listener.getsockname()[1]}/g"):
        with pytest.raises(EgressRefused), connect({"type": "gremlin", "url": url}, workspace, EgressPolicy()):
            pass
    assert _no_connection(listener)


def test_gremlin_transport_checks_resolved_names(listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    from fincrime.security.gremlin_transport import CheckedTransport

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, *a, **k: real("127.0.0.1" if host == "graph.example" else host, *a, **k))
    transport = CheckedTransport(EgressPolicy(), "Gremlin server")
    with pytest.raises(EgressRefused, match=r"graph\.example"):
        transport.connect(f"ws://graph.example:{listener.getsockname()[1]}/gremlin")
    transport.close()
    assert _no_connection(listener)


# ---- the SPARQL screen -----------------------------------------------------------------------------
def test_nesting_limit_names_where() -> None:
    text = "SELECT * WHERE {\n" + "{" * 70 + "?s ?p ?o" + "}" * 71
    with pytest.raises(QueryRefused) as info:
        screen_query(text, "q.rq")
    assert (info.value.line, info.value.column) == (2, 64) and "nested 71 levels" in info.value.reason


def test_brackets_in_strings_comments_and_iris_do_not_count() -> None:
    assert nesting('SELECT * { FILTER(REGEX(?x, "((((((((")) } # {{{{{{{{\n')[0] == 3
    assert nesting("SELECT * { ?s <http://x/(((((> ?o }")[0] == 1


def test_size_limit() -> None:
    with pytest.raises(QueryRefused, match="more than the limit of 100"):
        screen_query("SELECT * {" + " " * 200 + "}", "q.rq", limits=QueryLimits(max_bytes=100))


_WS = st.lists(st.sampled_from([" ", "\n", "\t", "#c\n", "# { }\n"]), max_size=3).map("".join)
_CASE = st.sampled_from(["SERVICE", "service", "Service", "sErViCe"])
_ENDPOINT = st.sampled_from(["<http://127.0.0.1:9/sparql>", "?e", "ex:", "<relative>"])


@settings(max_examples=200, deadline=None)
@given(keyword=_CASE, gap=_WS, silent=st.sampled_from(["", "SILENT", "silent "]), endpoint=_ENDPOINT, tail=_WS,
       before=st.sampled_from(["", " . ", "}", "1", ".", ")"]))
def test_every_service_clause_shape_is_found(keyword: str, gap: str, silent: str, endpoint: str, tail: str,
                                             before: str) -> None:
    text = f"SELECT * WHERE {{ ?a ?b ?c {before}{keyword}{gap}{silent}{gap}{endpoint}{tail}{{ ?s ?p ?o }} }}"
    assert service_clauses(text), text
    with pytest.raises(QueryRefused, match="SERVICE"):
        screen_query(text, "q.rq")


def test_allowed_service_endpoints() -> None:
    limits = QueryLimits(service_allow=("https://query.example.org/sparql",))
    ok = "SELECT * { SERVICE <https://query.example.org/sparql> { ?s ?p ?o } }"
    assert [c.endpoint for c in screen_query(ok, "q", limits=limits).services] == ["https://query.example.org/sparql"]
    for bad, why in [("SELECT * { SERVICE <https://other.example.org/sparql> { ?s ?p ?o } }", "not an allowed endpoint"),
                     ("SELECT * { SERVICE ?x { ?s ?p ?o } }", "full IRI")]:
        with pytest.raises(QueryRefused, match=why):
            screen_query(bad, "q", limits=limits)
    private = QueryLimits(service_allow=("*",))
    with pytest.raises(QueryRefused, match="egress policy"):
        screen_query("SELECT * { SERVICE <http://10.0.0.1/sparql> { ?s ?p ?o } }", "q", limits=private)


def test_without_service_keeps_positions() -> None:
    text = "SELECT * {\n  SERVICE SILENT <http://x/> { ?s ?p ?o } }"
    out = without_service(text)
    assert len(out) == len(text) and "GRAPH" in out and "SERVICE" not in out and "SILENT" not in out


# ---- the sandbox ---------------------------------------------------------------------------------
def test_the_sandbox_reports_crashes_syntax_errors_and_forms() -> None:
    deep = "SELECT * WHERE " + "{" * 3000 + "?s ?p ?o" + "}" * 3000
    checks = check_queries([("a.rq", "ASK {}"), ("b.rq", deep), ("c.rq", "SELECT * {\n ?s ?p }"),
                            ("d.rq", "CONSTRUCT WHERE { ?s ?p ?o }")])
    assert [c.form for c in checks] == ["ask", None, None, "graph"]
    assert "crashed" in checks[1].problem.reason  # type: ignore[union-attr]
    assert (checks[2].problem.line, checks[2].problem.column) == (2, 9)  # type: ignore[union-attr]


def test_the_sandbox_cannot_reach_the_network(listener: socket.socket) -> None:
    """Even a SERVICE clause handed to it unscreened calls nobody (no socket can be opened)."""
    port = listener.getsockname()[1]
    (check,) = check_queries([("s.rq", f"SELECT * {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}")])
    assert check.ok
    assert _no_connection(listener)
