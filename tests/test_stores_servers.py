"""SPARQL 1.1 server targets, against real servers started here on 127.0.0.1.

Each server starts once per session: the Oxigraph server (``oxigraph serve``, from PyPI) and
OpenLink Virtuoso (Debian's ``virtuoso-opensource``, from a generated ``virtuoso.ini``;
graph store with digest auth at ``/sparql-graph-crud-auth``, dba/dba on a fresh database).
"""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_stores_helpers import derived_triples, input_triples, write_job

from fincrime.cli import main
from fincrime.errors import FincrimeError, InputError
from fincrime.stores import load_job
from fincrime.stores.httpclient import HttpClient, HttpStatusError, Retry, TargetUnavailable
from fincrime.stores.localservers import free_port, oxigraph_cli, virtuoso_cli
from fincrime.stores.localservers import oxigraph_server as local_oxigraph
from fincrime.stores.localservers import virtuoso_server as local_virtuoso
from fincrime.stores.query import run_remote
from fincrime.stores.results import write_result
from fincrime.stores.sparql_remote import SparqlServer
from fincrime.workspace import Workspace

JOB = "demo_20250101_001"


@pytest.fixture(autouse=True)
def _allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers of these tests listen on 127.0.0.1, which the egress policy refuses by default."""
    monkeypatch.setenv("FINCRIME_EGRESS_ALLOW", "127.0.0.1")


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if oxigraph_cli() is None:
        pytest.skip("the oxigraph server CLI is not installed (pip install oxigraph)")
    with local_oxigraph(tmp_path_factory.mktemp("oxigraph-server")) as server:
        yield server.base


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if virtuoso_cli() is None:
        pytest.skip("virtuoso-t is not installed (Debian package virtuoso-opensource; "
                    "run scripts/system-deps.sh as root)")
    with local_virtuoso(tmp_path_factory.mktemp("virtuoso")) as server:
        yield server.base


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("FINCRIME_HOME", str(tmp_path / ".fincrime"))
    monkeypatch.setenv("FINCRIME_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("VIRT_USER", "dba")
    monkeypatch.setenv("VIRT_PASSWORD", "dba")
    return Workspace.from_env()


def oxigraph_target(base: str, **extra: object) -> dict[str, object]:
    return {"type": "sparql", "endpoint": base + "/query", "update": base + "/update",
            "graph_store": base + "/store", **extra}


def virtuoso_target(base: str, **extra: object) -> dict[str, object]:
    return {"type": "sparql", "endpoint": base + "/sparql", "update": base + "/sparql-auth",
            "graph_store": base + "/sparql-graph-crud-auth",
            "auth": {"type": "digest", "user_env": "VIRT_USER", "password_env": "VIRT_PASSWORD"}, **extra}


def graph_count(target: dict[str, object], graph: str) -> int:
    return SparqlServer(dict(target)).count(graph)


def test_oxigraph_server_graph_store_load_is_idempotent(oxigraph_server: str, ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, JOB)
    target = oxigraph_target(oxigraph_server, batch_triples=10)
    report = load_job(job_dir, target, ws)
    derived = report["graphs"][-1]
    assert derived == {**derived, "graph": f"urn:fincrime:job:{JOB}", "triples": len(derived_triples()),
                       "protocol": "graph-store", "batches": 4}
    assert report["graphs"][0]["triples"] == len(input_triples())
    load_job(job_dir, target, ws)  # again: replaced, not added
    assert graph_count(target, f"urn:fincrime:job:{JOB}") == len(derived_triples())


def test_update_fallback_when_no_graph_store(oxigraph_server: str, ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, "upd_20250101_001", dataset="upd")
    target = oxigraph_target(oxigraph_server, graph_store=oxigraph_server + "/no-such-service", batch_triples=7)
    report = load_job(job_dir, target, ws)
    assert {g["protocol"] for g in report["graphs"]} == {"update"}
    load_job(job_dir, target, ws)
    assert graph_count(target, "urn:fincrime:job:upd_20250101_001") == len(derived_triples())
    del target["graph_store"]
    assert load_job(job_dir, target, ws)["derived_triples"] == len(derived_triples())


def test_virtuoso_digest_graph_store_load(virtuoso_server: str, ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, JOB)
    target = virtuoso_target(virtuoso_server, batch_triples=16)
    for _ in range(2):
        report = load_job(job_dir, target, ws)
        assert report["derived_triples"] == len(derived_triples())
        assert {g["protocol"] for g in report["graphs"]} == {"graph-store"}
    assert graph_count(target, f"urn:fincrime:job:{JOB}") == len(derived_triples())


def test_virtuoso_update_fallback_with_digest(virtuoso_server: str, ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, "v_20250101_002", dataset="v")
    target = virtuoso_target(virtuoso_server)
    del target["graph_store"]
    report = load_job(job_dir, target, ws)
    assert {g["protocol"] for g in report["graphs"]} == {"update"}
    assert graph_count(target, "urn:fincrime:job:v_20250101_002") == len(derived_triples())


def test_virtuoso_wrong_password_is_not_retried(virtuoso_server: str, ws: Workspace,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRT_PASSWORD", "wrong")
    job_dir = write_job(ws.output_root, JOB)
    with pytest.raises(HttpStatusError, match="HTTP 401") as info:
        load_job(job_dir, virtuoso_target(virtuoso_server), ws)
    assert "\n" not in info.value.one_line()


def test_missing_credentials_name_the_variable(virtuoso_server: str, ws: Workspace,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRT_PASSWORD")
    with pytest.raises(InputError, match="VIRT_PASSWORD"):
        load_job(write_job(ws.output_root, JOB), virtuoso_target(virtuoso_server), ws)


@pytest.mark.parametrize("server", ["oxigraph_server", "virtuoso_server"])
def test_query_endpoint_select_and_construct(server: str, request: pytest.FixtureRequest,
                                             ws: Workspace, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    base = request.getfixturevalue(server)
    target = oxigraph_target(base) if server == "oxigraph_server" else virtuoso_target(base)
    load_job(write_job(ws.output_root, JOB), target, ws)
    graph = f"urn:fincrime:job:{JOB}"
    select = ("PREFIX prop: <http://oxfordsemantic.tech/transactions/properties#>\n"
              f"SELECT ?c ?n WHERE {{ GRAPH <{graph}> {{ ?c prop:hasLength ?n }} }} ORDER BY ?n")
    out = io.StringIO()
    write_result(run_remote(str(target["endpoint"]), select, source="q"), "json", out)
    rows = json.loads(out.getvalue())["results"]["bindings"]
    assert [r["n"]["value"] for r in rows] == ["1", "2", "3"]
    q = tmp_path / "c.rq"
    q.write_text(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    assert main(["query", str(q), "--endpoint", str(target["endpoint"]), "--format", "nt"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(derived_triples())
    q.write_text("SELECT * WHERE {\n  ?s ?p\n}")
    assert main(["query", str(q), "--endpoint", str(target["endpoint"])]) == 2
    assert f"{q}:3:" in capsys.readouterr().err


def test_down_target_retries_then_one_line_and_load_later(ws: Workspace, oxigraph_server: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    down = {"type": "sparql", "name": "later", "endpoint": f"http://127.0.0.1:{port}/query",
            "graph_store": f"http://127.0.0.1:{port}/store",
            "retry": {"attempts": 3, "backoff": 0.01, "timeout": 2}}
    job_dir = write_job(ws.output_root, JOB, targets=[down])
    with pytest.raises(TargetUnavailable, match="failed after 3 attempts"):
        load_job(job_dir, down, ws)
    assert main(["load", "--job", JOB, "--target", "later"]) == 1
    err = "".join(capsys.readouterr().err.split())  # the terminal may wrap long paths
    assert "later:DELETEhttp://127.0.0.1" in err and "failedafter3attempts" in err
    assert "".join(str(job_dir).split()) in err
    assert (job_dir / "derived.nt").exists()
    up = json.dumps(oxigraph_target(oxigraph_server))
    assert main(["load", "--job", JOB, "--target", up]) == 0


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 twice, then 204: the client must back off and retry."""

    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(503 if type(self).calls <= 2 else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_http_client_backs_off_on_server_errors() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slept: list[float] = []
    try:
        client = HttpClient(retry=Retry(attempts=4, backoff=0.1, timeout=5), sleep=slept.append)
        status, _, _ = client.request("POST", f"http://127.0.0.1:{server.server_port}/x", body=b"a")
        assert status == 204 and _Flaky.calls == 3
        assert len(slept) == 2 and 0.1 <= slept[0] < slept[1]  # exponential
    finally:
        server.shutdown()
        server.server_close()


def test_count_mismatch_is_reported(oxigraph_server: str, ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, "cm_20250101_001", dataset="cm")
    target = oxigraph_target(oxigraph_server)

    class Short(SparqlServer):
        def count(self, graph: str) -> int:
            return super().count(graph) - 1

    with pytest.raises(FincrimeError, match="expected"):
        Short(target).load_graph(job_dir / "derived.nt", "urn:fincrime:job:cm_20250101_001")


def test_progress_reports_every_triple_sent(oxigraph_server: str, ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, "pg_20250101_001", dataset="pg")
    sent: list[int] = []
    load_job(job_dir, oxigraph_target(oxigraph_server, batch_triples=5), ws, progress=sent.append)
    assert sum(sent) == len(input_triples()) + len(derived_triples()) and max(sent) == 5
