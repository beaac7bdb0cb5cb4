"""Embedded store: loads, job graphs, queries and output formats, CLI, read-only endpoint."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_stores_helpers import ENT, SEED, derived_triples, input_triples, write_data, write_job

from fincrime.cli import main
from fincrime.errors import FincrimeError, InputError, SourceError
from fincrime.stores import load_job, validate_target
from fincrime.stores.embedded import EmbeddedStore
from fincrime.stores.query import run_embedded, term_from_json
from fincrime.stores.results import json_term, write_result
from fincrime.workspace import Workspace

JOB = "demo_20250101_001"
PREFIXES = """PREFIX : <http://oxfordsemantic.tech/transactions/entities#>
PREFIX prop: <http://oxfordsemantic.tech/transactions/properties#>
PREFIX type: <http://oxfordsemantic.tech/transactions/classes#>
"""


@pytest.fixture
def loaded(ws: Workspace) -> Path:
    job_dir = write_job(ws.output_root, JOB)
    load_job(job_dir, {"type": "oxigraph"}, ws)
    return job_dir


def _rows(ws: Workspace, text: str, job: str | None = None) -> list[list[str]]:
    out = io.StringIO()
    write_result(run_embedded(ws.store_dir, text, source="q.rq", job_id=job), "csv", out)
    return list(csv.reader(io.StringIO(out.getvalue())))[1:]


def _count(ws: Workspace, job: str | None = None) -> int:
    return int(_rows(ws, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", job)[0][0])


def test_load_puts_derived_and_inputs_in_their_graphs(ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, JOB)
    report = load_job(job_dir, {"type": "oxigraph", "name": "local"}, ws)
    assert report["graph"] == f"urn:fincrime:job:{JOB}"
    assert report["derived_triples"] == len(derived_triples())
    assert report["inputs"][0]["triples"] == len(input_triples())
    assert report["name"] == "local"
    graphs = _rows(ws, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g")
    sha = report["inputs"][0]["graph"].rsplit(":", 1)[-1]
    assert [g[0] for g in graphs] == ["urn:fincrime:catalog", f"urn:fincrime:input:{sha}",
                                      f"urn:fincrime:job:{JOB}"]


def test_reload_never_duplicates_and_replaces_stale_triples(ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, JOB)
    load_job(job_dir, {"type": "oxigraph"}, ws)
    first = _count(ws, JOB)
    again = load_job(job_dir, {"type": "oxigraph"}, ws)
    assert again["inputs"][0]["loaded"] is False  # same content: not loaded twice
    assert _count(ws, JOB) == first
    # the job re-ran and derived less: the old triples must go
    (job_dir / "derived.nt").write_text("".join(derived_triples()[:5]))
    load_job(job_dir, {"type": "oxigraph"}, ws)
    assert _count(ws, JOB) == len(input_triples()) + 5


def test_jobs_sharing_data_do_not_clobber_or_double_count(ws: Workspace) -> None:
    data = write_data(ws.output_root.parent / "input" / "demo")
    write_job(ws.output_root, JOB, data=[data])
    other = write_job(ws.output_root, "demo_20250101_002", data=[data], derived=derived_triples()[:11])
    for job_id in (JOB, "demo_20250101_002"):
        load_job(ws.find_job_dir(job_id), {"type": "oxigraph"}, ws)
    assert _count(ws, JOB) == len(input_triples()) + len(derived_triples())
    assert _count(ws, "demo_20250101_002") == len(input_triples()) + 11
    # union of all jobs: the shared input counted once; chain_1 triples shared by both jobs
    # live in two graphs, so the union default graph may repeat them (DISTINCT removes them)
    distinct = _rows(ws, "SELECT (COUNT(DISTINCT *) AS ?n) WHERE { ?s ?p ?o }")
    assert int(distinct[0][0]) == len(input_triples()) + len(derived_triples())
    assert EmbeddedStore(ws.store_dir, read_only=True).jobs() == [JOB, "demo_20250101_002"]
    assert other.exists()


def test_plain_nt_input_and_unknown_job(ws: Workspace, loaded: Path) -> None:
    data = write_data(ws.output_root.parent / "plain", gz=False)
    job_dir = write_job(ws.output_root, "plain_20250101_001", dataset="plain", data=[data])
    assert load_job(job_dir, {"type": "oxigraph"}, ws)["inputs"][0]["triples"] == len(input_triples())
    with pytest.raises(InputError, match="not in the embedded store"):
        run_embedded(ws.store_dir, "ASK {}", source="q.rq", job_id="nope")


def test_query_forms(ws: Workspace, loaded: Path) -> None:
    ask = run_embedded(ws.store_dir, PREFIXES + "ASK { :chain_3 a type:SuspiciousChain }", source="q")
    assert ask.form == "ask" and ask.boolean is True
    construct = run_embedded(ws.store_dir, PREFIXES + "CONSTRUCT { ?c prop:len ?n } WHERE { ?c prop:hasLength ?n }", source="q")
    out = io.StringIO()
    assert write_result(construct, "nt", out) == 3
    parsed = list(ox.parse(out.getvalue(), format=ox.RdfFormat.N_TRIPLES))
    assert {q.object.value for q in parsed} == {"1", "2", "3"}
    describe = run_embedded(ws.store_dir, PREFIXES + "DESCRIBE :chain_1", source="q")
    assert describe.form == "graph" and len(list(describe.triples)) == 11


def test_select_formats(ws: Workspace, loaded: Path) -> None:
    text = PREFIXES + "SELECT ?c ?len WHERE { ?c prop:hasLength ?len } ORDER BY ?len"
    out = io.StringIO()
    write_result(run_embedded(ws.store_dir, text, source="q"), "json", out)
    doc = json.loads(out.getvalue())
    assert doc["head"]["vars"] == ["c", "len"]
    assert [b["len"]["value"] for b in doc["results"]["bindings"]] == ["1", "2", "3"]
    assert doc["results"]["bindings"][0]["len"]["datatype"].endswith("#integer")
    out = io.StringIO()
    write_result(run_embedded(ws.store_dir, text, source="q"), "table", out)
    table = out.getvalue()
    assert ":chain_1" in table and "3 rows" in table
    with pytest.raises(InputError, match="three variables"):
        write_result(run_embedded(ws.store_dir, text, source="q"), "nt", io.StringIO())


@pytest.mark.skipif(not SEED.is_dir(), reason="../shared/seed is not present")
@pytest.mark.parametrize("name", ["query-suspicious-chains.rq", "query-suspicious-chains-amount.rq"])
def test_seed_queries_run_unmodified(ws: Workspace, loaded: Path, name: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    query = SEED / "queries" / name
    assert main(["query", str(query), "--job", JOB, "--format", "nt"]) == 0
    triples = list(ox.parse(capsys.readouterr().out, format=ox.RdfFormat.N_TRIPLES))
    assert len(triples) == 14  # every triple of chain_3 (suspicious and high value)
    assert {q.subject.value.rsplit("#")[-1] for q in triples} == {"chain_3"}


def test_syntax_error_names_line_and_column(ws: Workspace, loaded: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.rq"
    bad.write_text(PREFIXES + "SELECT ?s WHERE {\n  ?s prop:hasLength ?n .\n  ?s foo:bar ?n .\n}\n")
    with pytest.raises(SourceError) as info:
        run_embedded(ws.store_dir, bad.read_text(), source=str(bad))
    assert (info.value.line, info.value.column) == (6, 13)
    assert "undeclared prefix" in info.value.message
    assert main(["query", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6:13" in err and "?s foo:bar ?n" in err and err.rstrip().endswith("^")


def test_one_check_for_every_query(ws: Workspace, tmp_path: Path) -> None:
    """Job specs, the CLI, the console and a job's query phase share one check of untrusted SPARQL."""
    from fincrime.jobs.spec import query_problems
    from fincrime.stores.query import check_queries

    texts = {
        "update.rq": PREFIXES + "INSERT DATA { :a :b :c }",
        "string.rq": 'SELECT ?x WHERE { BIND("""a note\nDELETE me""" AS ?x) }',
        "service.rq": "SELECT * WHERE { SERVICE <https://elsewhere.example/sparql> { ?s ?p ?o } }",
        "ask.rq": "ASK { ?s ?p ?o }",
    }
    checked = {c.source: c for c in check_queries(list(texts.items()))}
    assert checked["update.rq"].problem is not None and checked["update.rq"].problem.line == 4
    assert "SPARQL updates are not allowed" in checked["update.rq"].problem.message
    assert checked["string.rq"].form == "select", "an update keyword inside a string is no update"
    assert "SERVICE" in checked["service.rq"].problem.message
    assert checked["ask.rq"].form == "ask" and checked["ask.rq"].problem is None
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    problems = query_problems(sorted(tmp_path.glob("*.rq")))
    assert sorted(p.where.split(":")[0].rsplit("/", 1)[1] for p in problems) == ["service.rq", "update.rq"]
    with pytest.raises(SourceError, match="updates are not allowed"):
        run_embedded(ws.store_dir, texts["update.rq"], source="update.rq")


def test_cli_query_and_load(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_job(ws.output_root, JOB, targets=[{"type": "oxigraph", "name": "local"}])
    assert main(["load", "--job", JOB, "--target", "local"]) == 0
    assert "urn:fincrime:job:" in capsys.readouterr().out
    q = tmp_path / "q.rq"
    q.write_text(PREFIXES + "SELECT ?c WHERE { ?c a type:SuspiciousChain }")
    assert main(["query", str(q), "--job", JOB, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["c", "http://oxfordsemantic.tech/transactions/entities#chain_3"]
    assert main(["query", str(q), "--format", "xml"]) == 2
    assert main(["load", "--job", JOB, "--target", "nope"]) == 2
    assert "no such target" in capsys.readouterr().err
    assert main(["query", str(tmp_path / "missing.rq")]) == 2


def test_target_validation_is_one_clear_line() -> None:
    validate_target({"type": "sparql", "endpoint": "http://127.0.0.1:1/sparql"})
    with pytest.raises(InputError, match=r"target: 'endpoint' is a required property"):
        validate_target({"type": "sparql"})
    with pytest.raises(InputError, match=r"target\.batch_triples"):
        validate_target({"type": "sparql", "endpoint": "http://x/sparql", "batch_triples": 0})
    with pytest.raises(InputError, match="unknown load target type 'mongo'"):
        validate_target({"type": "mongo"})


def test_serve_sparql_answers_over_http(ws: Workspace, loaded: Path) -> None:
    from fincrime.stores.server import make_server, serve_in_thread

    server = make_server(ws.store_dir, "127.0.0.1", 0)
    serve_in_thread(server)
    try:
        query = PREFIXES + "SELECT ?c WHERE { ?c a type:HighValueChain }"
        url = server.url + "?" + urllib.parse.urlencode({"query": query})
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("application/sparql-results+json")
            doc = json.load(resp)
        assert [b["c"]["value"] for b in doc["results"]["bindings"]] == [ENT + "chain_3"]
        post = urllib.request.Request(server.url, data=PREFIXES.encode() + b"CONSTRUCT WHERE { :chain_1 ?p ?o }",
                                      headers={"Content-Type": "application/sparql-query"})
        with urllib.request.urlopen(post, timeout=10) as resp:
            assert len(list(ox.parse(resp.read(), format=ox.RdfFormat.N_TRIPLES))) == 11
        update = urllib.request.Request(server.url, data=b"update=CLEAR+ALL",
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(update, timeout=10)
        assert info.value.code == 403
        bad = server.url + "?" + urllib.parse.urlencode({"query": "SELECT * {"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=10)
        assert info.value.code == 400
        # a job loaded while the endpoint runs becomes visible without a restart
        load_job(write_job(ws.output_root, "late_20250101_001", dataset="late"), {"type": "oxigraph"}, ws)
        ask = "ASK { GRAPH <urn:fincrime:job:late_20250101_001> { ?s ?p ?o } }"
        with urllib.request.urlopen(server.url + "?" + urllib.parse.urlencode({"query": ask}), timeout=10) as resp:
            assert json.load(resp)["boolean"] is True
    finally:
        server.shutdown()
        server.server_close()


def test_a_second_writer_waits_then_fails_clearly(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import fincrime.stores.embedded as embedded

    monkeypatch.setattr(embedded, "_LOCK_WAIT_SECONDS", 0.3)
    holder = EmbeddedStore(ws.store_dir)
    with pytest.raises(FincrimeError, match="cannot open the embedded store"):
        EmbeddedStore(ws.store_dir)
    assert holder.jobs() == []


def test_serve_sparql_command(ws: Workspace, loaded: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from fincrime.stores.localservers import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fincrime", "serve-sparql", "--port", str(port)],
                            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": "SELECT (COUNT(*) AS ?n) {?s ?p ?o}"})
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    doc = json.load(resp)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("serve-sparql did not answer")
        assert int(doc["results"]["bindings"][0]["n"]["value"]) == len(input_triples()) + len(derived_triples())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


_literals = st.one_of(
    st.builds(ox.Literal, st.text()),
    st.builds(lambda v, lang: ox.Literal(v, language=lang), st.text(), st.sampled_from(["en", "de-ch"])),
    st.builds(lambda v: ox.Literal(str(v), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")), st.integers()),
)
_terms = st.one_of(_literals, st.builds(lambda s: ox.NamedNode("http://x.org/" + s), st.text(alphabet="abcXYZ09_-", min_size=1)))


@given(_terms)
def test_json_terms_round_trip(term: ox.Literal | ox.NamedNode) -> None:
    assert term_from_json(json.loads(json.dumps(json_term(term)))) == term


def test_one_failing_target_does_not_stop_the_others(ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    bad = {"type": "sparql", "name": "remote", "endpoint": "http://127.0.0.1:9/sparql",
           "auth": {"type": "basic", "user": "u", "password_env": "NO_SUCH_PASSWORD"}}
    write_job(ws.output_root, JOB, targets=[bad, {"type": "oxigraph", "name": "local"}])
    assert main(["load", "--job", JOB]) == 2
    captured = capsys.readouterr()
    assert "remote: target auth: environment variable NO_SUCH_PASSWORD" in captured.err
    assert "local" in captured.out
    assert EmbeddedStore(ws.store_dir, read_only=True).jobs() == [JOB]


def test_a_load_waits_for_a_long_writer_instead_of_failing(ws: Workspace) -> None:
    """Issue 11, item 7: a job's load failed on the store's LOCK after 10 s; it now waits its turn."""
    import subprocess
    import sys
    import time

    job_dir = write_job(ws.output_root, JOB)
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from pathlib import Path\n"
                               "from fincrime.stores.embedded import EmbeddedStore\n"
                               "s = EmbeddedStore(Path(sys.argv[1])); print('holding', flush=True); time.sleep(12)",
                               str(ws.store_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    report = load_job(job_dir, {"type": "oxigraph"}, ws)
    waited = time.monotonic() - started
    assert holder.wait(30) == 0
    assert report["derived_triples"] == len(derived_triples()) and waited > 5


def test_concurrent_loads_all_succeed(ws: Workspace) -> None:
    import subprocess
    import sys

    jobs = [f"demo_20250101_{i:03d}" for i in range(1, 7)]
    dirs = [write_job(ws.output_root, job) for job in jobs]
    code = ("import sys; from pathlib import Path; from fincrime.stores import load_job\n"
            "from fincrime.workspace import Workspace\n"
            "load_job(Path(sys.argv[1]), {'type': 'oxigraph'}, Workspace.from_env())")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(d)], stderr=subprocess.PIPE, text=True) for d in dirs]
    failures = [p.communicate(timeout=300)[1] for p in procs if p.wait(timeout=300) != 0]
    assert failures == []
    assert EmbeddedStore(ws.store_dir, read_only=True).jobs() == jobs


def test_load_target_by_type_when_the_spec_names_none(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11, item 22: ``fincrime load --target oxigraph`` works without the spec naming it."""
    write_job(ws.output_root, JOB, targets=[{"type": "neptune"}])
    assert main(["load", "--job", JOB, "--target", "oxigraph"]) == 0
    assert EmbeddedStore(ws.store_dir, read_only=True).jobs() == [JOB]
    assert main(["load", "--job", JOB, "--target", "nosuch"]) == 2
    assert "types: gremlin, neptune, oxigraph, sparql" in capsys.readouterr().err


def test_fincrime_query_screens_what_it_runs(ws: Workspace, loaded: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A query file is untrusted too: no crash on a deep one, no SERVICE call, one clean line."""
    deep = tmp_path / "deep.rq"
    deep.write_text("SELECT * WHERE " + "{" * 3000 + " ?s ?p ?o " + "}" * 3000)
    assert main(["query", str(deep)]) == 2
    assert f"{deep}:1:80: brackets nested 3000 levels deep" in capsys.readouterr().err
    remote = tmp_path / "remote.rq"
    remote.write_text("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")
    assert main(["query", str(remote)]) == 2
    assert "SERVICE (a call to another SPARQL endpoint) is not allowed" in capsys.readouterr().err
