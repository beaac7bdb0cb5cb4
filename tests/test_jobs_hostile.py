"""Hostile specs against the job side: none may stop a service or make it call anyone.

Each test reproduces one finding of the hostile-input review (issue 11) through the public
entry points (``fincrime jobs validate``, ``submit``, the watcher) and fails on the code
before the fix.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_jobs_support import make_dataset, write_json

from fincrime.jobs import registry as R
from fincrime.jobs.problems import SpecRejected
from fincrime.jobs.service import submit
from fincrime.jobs.spec import validate_spec
from fincrime.jobs.watcher import Watcher, WatchOptions
from fincrime.workspace import Workspace

DEEP = "SELECT * WHERE " + "{" * 3000 + " ?s ?p ?o " + "}" * 3000
GOOD = {"name": "ok", "data": "*.nt", "queries": "*.rq"}


def _watch_once(tmp_path: Path) -> list[str]:
    said: list[str] = []
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    options = WatchOptions(interval=0.1, settle=0.1, reject_after=0.5, once=True, workers=2)
    Watcher(tmp_path / "in", workspace, options, say=said.append).run()
    return said


def _jobs(tmp_path: Path) -> dict[str, R.JobRecord]:
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        return {Path(j.spec_path).parent.name: j for j in registry.list()}


def _problems(spec: Path) -> list[str]:
    with pytest.raises(SpecRejected) as info:
        validate_spec(spec, env={})
    return [p.render() for p in info.value.problems]


# ---- 1. a query nested 3,000 levels deep -----------------------------------------------------
def test_validate_rejects_a_3000_deep_query_with_a_clean_exit(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", queries={"deep.rq": DEEP})
    env = {**os.environ, "FINCRIME_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "fincrime", "jobs", "validate", str(spec)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])  # not -11 (SIGSEGV)
    assert "deep.rq:1:" in done.stderr and "nested 3000 levels deep" in done.stderr


def test_watcher_survives_a_deep_query_and_runs_the_spec_beside_it(tmp_path: Path) -> None:
    make_dataset(tmp_path / "in", name="deep", queries={"deep.rq": DEEP})
    make_dataset(tmp_path / "in", name="fine", n=3)
    _watch_once(tmp_path)
    jobs = _jobs(tmp_path)
    assert jobs["deep"].status == R.REJECTED and "nested 3000 levels" in jobs["deep"].problems[0]["message"]
    assert (tmp_path / "in" / "deep" / "deep.job.json.errors.json").is_file()
    assert jobs["fine"].status == R.DONE, jobs["fine"].error


def test_a_query_that_crashes_the_parser_below_the_depth_limit_is_rejected(tmp_path: Path) -> None:
    """The screen is not the only line: a parser crash in the sandbox is that query's rejection."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "security.json").write_text(json.dumps({"sparql": {"max_depth": 100000}}))  # an unwise operator
    spec = make_dataset(tmp_path / "in", queries={"bnodes.rq": DEEP})
    with pytest.raises(SpecRejected) as info:
        validate_spec(spec, env={"FINCRIME_HOME": str(home)})
    (problem,) = info.value.problems
    assert problem.where.endswith("bnodes.rq:1") and "crashed" in problem.message


# ---- 3. CR/LF in an e-mail header field ----------------------------------------------------------
@pytest.mark.parametrize("field,value", [("subject", "hi\nBcc: x@y.z"), ("subject", "trailing\r\n"),
                                         ("from", "a@b.c\nBcc: x@y.z"), ("to", ["c@d.e\r\nBcc: x@y.z"])])
def test_header_injection_in_email_fields_is_rejected(tmp_path: Path, field: str, value: Any) -> None:
    target = {"type": "email", "host": "smtp.example.org", "from": "a@b.c", "to": ["c@d.e"], field: value}
    spec = make_dataset(tmp_path / "in", spec={**GOOD, "notify": [target]})
    problems = _problems(spec)
    assert any(f"notify[0].{field}" in p for p in problems), problems


def test_watcher_survives_a_header_injection_that_slipped_into_the_registry(tmp_path: Path) -> None:
    """A job whose notification cannot be sent (as one queued before this fix) stops nothing."""
    spec = make_dataset(tmp_path / "in", n=2)
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, env={})
        job = registry.get(sub.job_id)
        resolved = dict(job.resolved or {})
        resolved["spec"]["notify"] = [{"type": "email", "host": "smtp.example.org", "from": "a@b.c",
                                       "to": ["c@d.e"], "subject": "hi\nBcc: x@y.z"}]
        registry._db.execute("UPDATE jobs SET resolved_json = ? WHERE id = ?", (json.dumps(resolved), job.id))
    make_dataset(tmp_path / "in", name="second", n=2)
    _watch_once(tmp_path)
    _watch_once(tmp_path)  # a restart must not die on it either
    jobs = _jobs(tmp_path)
    assert jobs["ds"].status == R.DONE and jobs["second"].status == R.DONE
    with R.Registry(workspace.registry_path) as registry:
        notes = [e.message or "" for e in registry.events(jobs["ds"].id)]
        assert registry.get(jobs["ds"].id).notified
    assert any("email FAILED" in n and "control characters" in n for n in notes), notes


# ---- 4. a 5,000-digit number ---------------------------------------------------------------
def test_a_huge_number_is_rejected_and_the_watcher_goes_on(tmp_path: Path) -> None:
    bad = make_dataset(tmp_path / "in", name="huge")
    bad.write_text('{"name": "huge", "data": "*.nt", "params": {"x": ' + "9" * 5000 + "}}")
    make_dataset(tmp_path / "in", name="fine", n=3)
    _watch_once(tmp_path)
    jobs = _jobs(tmp_path)
    assert jobs["huge"].status == R.REJECTED and "5,000 characters" in jobs["huge"].problems[0]["message"]
    report = json.loads((bad.parent / "huge.job.json.errors.json").read_text())
    assert "limit 64" in report["problems"][0]["message"]
    assert jobs["fine"].status == R.DONE


def test_any_failure_while_checking_a_spec_becomes_its_rejection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fincrime.jobs.spec as spec_module

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("simulated")

    monkeypatch.setattr(spec_module, "resolve_patterns", explode)
    spec = make_dataset(tmp_path / "in", n=2)
    problems = _problems(spec)
    assert problems == [f"{spec.name}: could not be checked: MemoryError: simulated"]


# ---- 5. SERVICE in a job query ------------------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def _answer(self) -> None:
        type(self).hits.append(self.path)
        body = b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "value": "remote"}}]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    server.shutdown()
    server.server_close()


SERVICE_FORMS = [
    "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?a ?b ?c .SERVICE#comment\n<{url}>{{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ FILTER(?a<'x>' ) SERVICE <{url}> {{ ?s ?p ?o }} }} #'",
]


@pytest.mark.parametrize("form", SERVICE_FORMS)
def test_service_is_refused_and_validation_calls_nobody(tmp_path: Path, recorder: str, form: str) -> None:
    spec = make_dataset(tmp_path / "in", queries={"remote.rq": form.format(url=recorder)})
    problems = _problems(spec)
    assert any("remote.rq:1:" in p and "SERVICE" in p and "not allowed" in p for p in problems), problems
    assert _Recorder.hits == []


def test_allowed_service_is_not_called_by_validation_but_runs_in_the_job(tmp_path: Path, recorder: str) -> None:
    env = {"FINCRIME_SERVICE_ALLOW": recorder, "FINCRIME_EGRESS_ALLOW": "127.0.0.1"}
    query = f"SELECT ?x WHERE {{ SERVICE <{recorder}> {{ ?x ?p ?o }} }}"
    spec = make_dataset(tmp_path / "in", spec={**GOOD, "targets": []}, queries={"remote.rq": query})
    validate_spec(spec, env=env)
    assert _Recorder.hits == [], "validating a query must not send it anywhere"
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "security.json").write_text(json.dumps(
        {"egress": {"allow": ["127.0.0.1"]}, "sparql": {"service": [recorder]}}))
    _watch_once(tmp_path)
    job = _jobs(tmp_path)["ds"]
    assert job.status == R.DONE, job.error
    assert len(_Recorder.hits) == 1
    assert "remote" in (Path(job.output_dir) / "queries" / "remote.rq.csv").read_text()


def test_service_by_variable_or_prefixed_name_cannot_be_allowed(tmp_path: Path, recorder: str) -> None:
    env = {"FINCRIME_SERVICE_ALLOW": "*", "FINCRIME_EGRESS_ALLOW": "127.0.0.1"}
    spec = make_dataset(tmp_path / "in", queries={
        "var.rq": f"SELECT * WHERE {{ BIND(<{recorder}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
        "pname.rq": f"PREFIX r: <{recorder}> SELECT * WHERE {{ SERVICE r: {{ ?s ?p ?o }} }}"})
    with pytest.raises(SpecRejected) as info:
        validate_spec(spec, env=env)
    assert sorted(p.where.split(":")[0].rsplit("/", 1)[-1] for p in info.value.problems) == ["pname.rq", "var.rq"]
    assert _Recorder.hits == []


# ---- 6. outbound URLs to loopback, private and link-local ranges ----------------------------------
@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/", "http://localhost/hook",
    "http://app.localhost/", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://10.0.0.5/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://[fe80::1]/",
    "http://224.0.0.1/", "http://[2002:7f00:1::]/", "http://LOCALHOST./",
])
def test_webhooks_to_internal_addresses_are_refused(tmp_path: Path, url: str) -> None:
    spec = make_dataset(tmp_path / "in", spec={**GOOD, "notify": [{"type": "webhook", "url": url}]})
    problems = _problems(spec)
    assert any("notify[0].url" in p and "egress policy" in p for p in problems), problems


def test_store_and_mail_destinations_are_judged_too(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", spec={**GOOD, "targets": [
        {"type": "sparql", "endpoint": "https://sparql.example.org/q", "graph_store": "http://169.254.169.254/store"},
        {"type": "gremlin", "url": "ws://127.0.0.1:8182/gremlin"}],
        "notify": [{"type": "email", "host": "10.1.2.3", "from": "a@b.c", "to": ["c@d.e"]}]})
    problems = _problems(spec)
    assert len(problems) == 3, problems
    assert any("targets[0].graph_store" in p for p in problems)
    assert any("targets[1].url" in p for p in problems)
    assert any("notify[0].host" in p for p in problems)


def test_operator_allow_list_admits_internal_destinations(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", spec={**GOOD, "notify": [{"type": "webhook", "url": "http://10.1.2.3/hook"}]})
    validate_spec(spec, env={"FINCRIME_EGRESS_ALLOW": "10.0.0.0/8"})


def test_a_rejected_spec_does_not_notify_an_internal_address(tmp_path: Path) -> None:
    """A rejected spec still tells its author, but only through targets that are allowed."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        spec = make_dataset(tmp_path / "in", spec={"name": "x", "data": "missing-*.nt",
                                                   "notify": [{"type": "webhook", "url": url}]})
        _watch_once(tmp_path)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert _jobs(tmp_path)["ds"].status == R.REJECTED
    assert spec.with_name(spec.name + ".errors.json").is_file()


# ---- 8. two watchers on one home --------------------------------------------------------------
def test_a_second_watcher_on_the_same_home_refuses_clearly(tmp_path: Path) -> None:
    for i in range(3):
        make_dataset(tmp_path / "in", name=f"ds{i}", n=2)
    env = {**os.environ, "FINCRIME_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "fincrime", "watch", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
           "--interval", "0.1", "--settle", "0.1"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert first.stdout is not None
        assert "watching" in first.stdout.readline()
        second = subprocess.run([*cmd, "--once"], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "another watcher already uses" in second.stderr and f"pid {first.pid}" in second.stderr
    finally:
        first.terminate()
        first.wait(30)
    subprocess.run([*cmd, "--once"], env=env, check=True, capture_output=True, timeout=180)
    jobs = _jobs(tmp_path)
    assert len(jobs) == 3 and {j.status for j in jobs.values()} == {R.DONE}
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        assert len(registry.list()) == 3


def test_a_spec_makes_one_job_even_when_submitted_twice_at_once(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", n=2)
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as one, R.Registry(workspace.registry_path) as two:
        a = submit(one, spec, workspace.output_root, env={}, once=True)
        b = submit(two, spec, workspace.output_root, env={}, once=True)
        assert a.job_id == b.job_id and len(one.list()) == 1


# ---- 21. no targets: the embedded store ---------------------------------------------------------
def test_a_job_without_targets_is_loaded_into_the_embedded_store(tmp_path: Path) -> None:
    make_dataset(tmp_path / "in", n=4)
    _watch_once(tmp_path)
    job = _jobs(tmp_path)["ds"]
    assert job.status == R.DONE
    env = {**os.environ, "FINCRIME_HOME": str(tmp_path / "home"), "FINCRIME_OUTPUT": str(tmp_path / "out")}
    query = tmp_path / "count.rq"
    query.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    done = subprocess.run([sys.executable, "-m", "fincrime", "query", str(query), "--job", job.id, "--format", "csv"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["n", "16"]  # the 4 transactions' 16 input triples


def test_an_empty_target_list_loads_nothing(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", spec={**GOOD, "targets": []}, n=2)
    write_json(spec, {**GOOD, "targets": []})
    _watch_once(tmp_path)
    assert _jobs(tmp_path)["ds"].status == R.DONE
    assert not (tmp_path / "home" / "store").exists()


# ---- 20. a glob through a symlinked folder ------------------------------------------------------
@pytest.mark.parametrize("pattern", ["outside/*", "outside/*.nt", "*/*", "**/*.nt", "out*/**"])
def test_a_glob_through_a_linked_folder_names_the_link_only(tmp_path: Path, pattern: str) -> None:
    secret = tmp_path / "secret"
    (secret / "deeper").mkdir(parents=True)
    for name in ("passwd.nt", "shadow", "deeper/key.nt"):
        (secret / name).write_text("")
    spec = make_dataset(tmp_path / "in", spec={"name": "x", "data": ["data.nt", pattern]})
    os.symlink(secret, spec.parent / "outside")
    problems = " ".join(_problems(spec))
    assert "outside: a link to a folder outside the dataset folder" in problems
    for name in ("passwd", "shadow", "key.nt", "deeper"):
        assert name not in problems, problems
