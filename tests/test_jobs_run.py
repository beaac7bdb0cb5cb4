"""Running jobs end to end: outputs, manifest, log, registry history, reference specs, failures."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from test_jobs_support import make_dataset

from fincrime.jobs import registry as R
from fincrime.jobs.runner import run_job
from fincrime.jobs.service import errors_path, submit
from fincrime.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def run_spec(tmp_path: Path, spec: Path, env: dict[str, str] | None = None) -> R.JobRecord:
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, env=env or {})
        if sub.status == R.REJECTED:
            return registry.get(sub.job_id)
        lease = R.Lease.mine()
        assert registry.claim(sub.job_id, lease)
        return run_job(registry, sub.job_id, lease, workspace=workspace, sleep=lambda s: None)


def test_run_writes_documented_outputs(tmp_path: Path) -> None:
    job = run_spec(tmp_path, make_dataset(tmp_path / "in", n=10))
    assert job.status == R.DONE, job.error
    out = Path(job.output_dir)
    assert out == tmp_path / "out" / "ds" / job.id
    assert (out / "results.nt").read_text() == "" and (out / "context.nt").read_text() == ""
    assert len((out / "queries" / "transactions.rq.nt").read_text().splitlines()) == 40
    assert (out / "queries" / "amounts.rq.csv").read_text().splitlines()[0] == "t,a"
    assert len(json.loads((out / "queries" / "amounts.rq.json").read_text())["results"]["bindings"]) == 10
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["id"] == job.id
    assert {i["kind"] for i in manifest["inputs"]} == {"data", "queries"}
    assert all(Path(i["path"]).is_absolute() and len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert manifest["counts"]["queries"] == {"amounts.rq": 10, "transactions.rq": 40}
    assert "python" in manifest["software"] and "query" in manifest["timings"]
    events = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "finished" and events[-1]["status"] == "done"
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        history = [e.status for e in registry.events(job.id)]
    assert history == ["queued", "running", "loading", "querying", "done"]  # the embedded store first, by default


def test_job_ids_are_sequential_per_dataset_and_day(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in")
    ids = [run_spec(tmp_path, spec).id for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [i.rsplit("_", 1)[1] for i in ids] == ["001", "002", "003"]


def test_rejected_spec_writes_errors_file_and_registry_entry(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", spec={"name": "x", "data": "nothing-*.nt", "bogus": 1})
    job = run_spec(tmp_path, spec)
    assert job.status == R.REJECTED
    report = json.loads(errors_path(spec).read_text())
    assert report["job"] == job.id and len(report["problems"]) == 2 == len(job.problems)
    assert not (tmp_path / "out").exists(), "nothing may half-run for a rejected spec"


def test_reference_style_spec_runs(tmp_path: Path) -> None:
    ref = json.loads((REPO / "jobs" / "reference-style.rdfoxjob.json").read_text())
    spec = make_dataset(tmp_path / "in", name="demo", spec=ref, spec_name="demo_2cores_4Gi_AUTOSHUTDOWN.rdfoxjob.json")
    job = run_spec(tmp_path, spec)
    assert job.status == R.DONE, job.error
    manifest = json.loads((Path(job.output_dir) / "manifest.json").read_text())
    assert "output_bucket" in manifest["reference"]["ignored"]
    assert manifest["spec"]["engine"]["cores"] == 2
    assert any(Path(job.output_dir, "neptune").iterdir()), "neptune target writes bulk-load files"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_store_down_is_retried_then_failed_with_results_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINCRIME_EGRESS_ALLOW", "127.0.0.1")  # for the loads; the spec check gets it below
    port = _closed_port()
    target = {"type": "sparql", "endpoint": f"http://127.0.0.1:{port}/sparql",
              "retry": {"attempts": 1, "backoff": 0, "timeout": 2}}
    spec = make_dataset(tmp_path / "in", spec={"name": "x", "data": "*.nt", "queries": "*.rq", "targets": [target],
                                               "retry": {"attempts": 3, "backoff_seconds": 0}})
    job = run_spec(tmp_path, spec, env={"FINCRIME_EGRESS_ALLOW": "127.0.0.1"})
    assert job.status == R.FAILED
    assert "attempt 3/3" in job.error and "jobs retry" in job.error
    out = Path(job.output_dir)
    assert (out / "results.nt").is_file() and (out / "queries" / "transactions.rq.nt").is_file()
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        retries = [e.message for e in registry.events(job.id) if e.message and "retrying" in e.message]
        assert len(retries) == 2
        # retrying later redoes only the failed phase
        registry.retry(job.id)
        lease = R.Lease.mine()
        assert registry.claim(job.id, lease)
        again = run_job(registry, job.id, lease, sleep=lambda s: None)
    assert again.status == R.FAILED
    log = (out / "log.jsonl").read_text()
    assert '"event": "skip", "phase": "query"' in log.replace('"skip", "phase"', '"skip", "phase"')


def test_cancel_of_queued_job(tmp_path: Path) -> None:
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, make_dataset(tmp_path / "in"), workspace.output_root, env={})
        assert registry.request_cancel(sub.job_id) == R.CANCELLED
        assert not registry.claim(sub.job_id, R.Lease.mine())
        registry.retry(sub.job_id)
        assert registry.get(sub.job_id).status == R.QUEUED


def test_lease_guards_against_double_finish(tmp_path: Path) -> None:
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, make_dataset(tmp_path / "in"), workspace.output_root, env={})
        first = R.Lease("a" * 32, "elsewhere", 1)
        assert registry.claim(sub.job_id, first)
        assert not registry.claim(sub.job_id, R.Lease.mine()), "claimed twice"
        # the owner goes silent: the job is requeued and claimed by someone else
        assert registry.requeue_stale(timeout=-1, max_attempts=5) == [sub.job_id]
        second = R.Lease.mine()
        assert registry.claim(sub.job_id, second)
        with pytest.raises(R.LeaseLost):
            registry.finish(sub.job_id, first.token, R.DONE)
        registry.finish(sub.job_id, second.token, R.DONE)
        assert [e.status for e in registry.events(sub.job_id)].count(R.DONE) == 1


def test_rules_and_params_reach_the_engine(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", n=6, spec={
        "name": "x", "data": "*.nt", "rules": "big.dlog", "params": {"limit": 1003}},
        queries={})
    (spec.parent / "big.dlog").write_text(
        "@prefix prop: <http://oxfordsemantic.tech/transactions/properties#> .\n"
        "@prefix type: <http://oxfordsemantic.tech/transactions/classes#> .\n"
        "@prefix param: <https://w3id.org/fincrime/param#> .\n"
        "[param:job, param:limit, 0] .\n"
        "[?t, a, type:Big] :- [?t, prop:hasAmount, ?a], [param:job, param:limit, ?l], FILTER(?a > ?l) .\n")
    job = run_spec(tmp_path, spec)
    assert job.status == R.DONE, job.error
    derived = (Path(job.output_dir) / "results.nt").read_text()
    assert derived.count("classes#Big>") == 2, derived  # amounts 1004 and 1005 exceed the job's limit
    assert job.counts["derived_triples"] == len(derived.splitlines())  # nothing is intermediate here


def test_a_job_plans_its_rules_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fincrime.rules.plan as plan_module

    spec = make_dataset(tmp_path / "in", n=4, spec={"name": "x", "data": "*.nt", "rules": "*.dlog", "targets": []},
                        queries={})
    (spec.parent / "r.dlog").write_text((REPO / "rules" / "suspicious-chains.dlog").read_text())
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, env={})
        lease = R.Lease.mine()
        assert registry.claim(sub.job_id, lease)
        calls = []
        real = plan_module._plan
        monkeypatch.setattr(plan_module, "_plan", lambda p: calls.append(p) or real(p))
        job = run_job(registry, sub.job_id, lease, workspace=workspace, sleep=lambda s: None)
    assert job.status == R.DONE, job.error
    assert len(calls) == 1, "load_program checks the plan, the engine runs that same plan"


@pytest.mark.parametrize("debug", [False, True])
def test_debug_reaches_the_engine_as_an_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug: bool) -> None:
    """``fincrime --debug run`` asks the engine for its own logs through its options; the engine
    never looks at the CLI's state."""
    import fincrime.jobs.runner as runner

    seen = []
    real = runner.materialize
    monkeypatch.setattr(runner, "materialize", lambda *a, **k: seen.append(k["engine_options"]) or real(*a, **k))
    spec = make_dataset(tmp_path / "in", n=2, spec={"name": "x", "data": "*.nt", "rules": "*.dlog", "targets": []},
                        queries={})
    (spec.parent / "r.dlog").write_text("[?x, <http://e/q>, ?y] :- [?x, <http://e/p>, ?y] .\n")
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, env={})
        lease = R.Lease.mine()
        assert registry.claim(sub.job_id, lease)
        job = run_job(registry, sub.job_id, lease, workspace=workspace, sleep=lambda s: None, debug=debug)
    assert job.status == R.DONE, job.error
    assert seen == [{"debug": True} if debug else None]


PARAMS = {"minimum": 1e-05, "start": "2024-01-01T00:00:00", "limit": 1003, "flag": True, "label": "fan_in"}
PARAM_TYPES = {"minimum": "double", "start": "dateTime", "limit": "integer", "flag": "boolean", "label": "string"}
PARAM_RULES = """@prefix param: <https://w3id.org/fincrime/param#> .
@prefix : <http://e/> .
[param:job, param:minimum, 0.5] .
[?p, :seenByRules, ?v] :- [param:job, ?p, ?v] .
"""
PARAM_QUERY = """PREFIX param: <https://w3id.org/fincrime/param#>
PREFIX : <http://e/>
SELECT ?name (COUNT(DISTINCT ?v) AS ?values) (SAMPLE(DATATYPE(?v)) AS ?type) (SAMPLE(?same) AS ?rules)
WHERE { param:job ?p ?v . BIND(STRAFTER(STR(?p), "#") AS ?name)
        OPTIONAL { ?p :seenByRules ?w } BIND(sameTerm(?v, ?w) AS ?same) }
GROUP BY ?name ORDER BY ?name"""


@pytest.mark.parametrize("targets", [[], [{"type": "oxigraph"}]], ids=["in-memory", "embedded"])
def test_params_are_typed_alike_for_rules_and_queries(tmp_path: Path, targets: list[dict[str, str]]) -> None:
    """Regression: 1e-05 was an xsd:double for rules but an invalid "1e-05"^^xsd:decimal for
    queries, and an ISO date-time an xsd:dateTime for rules but a plain string for queries."""
    spec = make_dataset(tmp_path / "in", n=2, spec={
        "name": "p", "data": "*.nt", "rules": "seen.dlog", "queries": "params.rq", "params": PARAMS,
        "targets": targets}, queries={"params.rq": PARAM_QUERY})
    (spec.parent / "seen.dlog").write_text(PARAM_RULES)
    job = run_spec(tmp_path, spec)
    assert job.status == R.DONE, job.error
    doc = json.loads((Path(job.output_dir) / "queries" / "params.rq.json").read_text())
    rows = {b["name"]["value"]: b for b in doc["results"]["bindings"]}
    assert sorted(rows) == sorted(PARAMS)
    for name, row in rows.items():
        assert row["values"]["value"] == "1", f"{name}: one value, not one per typing"
        assert row["type"]["value"].rsplit("#", 1)[1] == PARAM_TYPES[name]
        assert row.get("rules", {}).get("value") == "true", f"{name}: the rules saw the same term: {row}"
    assert '"1e-05"^^<http://www.w3.org/2001/XMLSchema#double>' in (Path(job.output_dir) / "results.nt").read_text()


SEED = REPO.parent / "shared" / "seed"


@pytest.mark.skipif(not SEED.is_dir(), reason="needs ../shared/seed")
def test_reference_rules_and_queries_run_as_a_job(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "in" / "seed"
    folder.mkdir(parents=True)
    for pattern in ("data/original-generator-10k/*.nt.gz", "rules/*.dlog", "queries/*.rq"):
        for f in SEED.glob(pattern):
            shutil.copy(f, folder / f.name)
    spec = make_dataset(tmp_path / "in", name="seed", n=0, queries={}, spec={
        "name": "seed", "data": "*.nt.gz", "rules": "*.dlog", "queries": "*.rq",
        "prefixes": {"": "http://oxfordsemantic.tech/transactions/entities#"}, "targets": [{"type": "oxigraph"}]})
    job = run_spec(tmp_path, spec)
    assert job.status == R.DONE, job.error
    # known result of the reference rules as written (../shared/README.md)
    assert job.counts["chains"] == {"PartialChain": 487, "SuspiciousChain": 5, "HighValueChain": 5}
    assert job.counts["loads"][0]["type"] == "oxigraph"
