"""The watcher: many specs at once, half-written specs, restarts after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_jobs_support import make_dataset

from fincrime.jobs import registry as R
from fincrime.jobs.watcher import Watcher, WatchOptions
from fincrime.workspace import Workspace

SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def transitions(history: list[R.Event]) -> list[str]:
    """Statuses the job moved into (events that only annotate the current status are skipped)."""
    out: list[str] = []
    for event in history:
        if not out or out[-1] != event.status:
            out.append(event.status)
    return out


def _watcher(tmp_path: Path, **options: object) -> Watcher:
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    opts = WatchOptions(interval=0.1, settle=0.2, reject_after=1.0, once=True, **options)  # type: ignore[arg-type]
    return Watcher(tmp_path / "in", workspace, opts, say=lambda text: None)


def test_twenty_specs_dropped_at_once_all_finish_once(tmp_path: Path) -> None:
    for i in range(20):
        make_dataset(tmp_path / "in", name=f"ds{i:02d}", n=5)
    started = time.monotonic()
    _watcher(tmp_path, workers=4).run()
    assert time.monotonic() - started < 150
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        jobs = registry.list()
        assert len(jobs) == 20 and {j.status for j in jobs} == {R.DONE}
        assert len({j.spec_path for j in jobs}) == 20
        for job in jobs:
            assert transitions(registry.events(job.id)).count(R.DONE) == 1
            assert job.attempts == 1 and (Path(job.output_dir) / "queries" / "transactions.rq.nt").is_file()
    # a restart sees nothing new to do
    _watcher(tmp_path, workers=4).run()
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        assert len(registry.list()) == 20


def test_half_written_spec_is_not_read(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", n=3)
    full = spec.read_text()
    spec.write_text(full[: len(full) // 2])
    watcher = _watcher(tmp_path)
    watcher.options.reject_after = 60
    for _ in range(5):
        watcher.scan()
        time.sleep(0.1)
    assert watcher.registry.list() == [], "a half-written spec must not be read"
    spec.write_text(full)
    deadline = time.monotonic() + 10
    while not watcher.registry.list() and time.monotonic() < deadline:
        watcher.scan()
        time.sleep(0.1)
    (job,) = watcher.registry.list()
    assert job.status == R.QUEUED
    watcher.registry.close()


def test_unparseable_spec_is_rejected_once_it_stops_changing(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path / "in", n=3)
    spec.write_text("{ not json")
    _watcher(tmp_path).run()
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        (job,) = registry.list()
    assert job.status == R.REJECTED and "invalid JSON" in job.problems[0]["message"]
    assert (spec.parent / (spec.name + ".errors.json")).is_file()


def _watch_cmd(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fincrime", "watch", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
            "--workers", "1", "--interval", "0.1", "--settle", "0.1", *extra]


def test_sigkilled_job_resumes_after_restart_and_finishes_once(tmp_path: Path) -> None:
    make_dataset(tmp_path / "in", n=63, queries={"slow.rq": SLOW})
    env = {**os.environ, "FINCRIME_HOME": str(tmp_path / "home")}
    watcher = subprocess.Popen(_watch_cmd(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    registry_path = tmp_path / "home" / "registry.sqlite"
    deadline = time.monotonic() + 60
    job = None
    while time.monotonic() < deadline:
        if registry_path.exists():
            with R.Registry(registry_path) as registry:
                jobs = registry.list()
            if jobs and jobs[0].status == R.QUERYING:
                job = jobs[0]
                break
        time.sleep(0.05)
    assert job is not None, "the job never reached its query phase"
    os.kill(watcher.pid, signal.SIGKILL)
    os.kill(job.lease_pid, signal.SIGKILL)  # the worker runs in its own session
    watcher.wait()
    time.sleep(0.3)
    subprocess.run(_watch_cmd(tmp_path, "--once"), env=env, check=True, timeout=180, capture_output=True)
    with R.Registry(registry_path) as registry:
        done = registry.get(job.id)
        history = registry.events(job.id)
    assert done.status == R.DONE, done.error
    assert done.attempts == 2
    assert transitions(history).count(R.DONE) == 1
    assert any("will resume" in (e.message or "") for e in history)
    log = (Path(done.output_dir) / "log.jsonl").read_text()
    assert '"event": "skip", "phase": "reason"' in log  # finished phases are not redone
    assert (Path(done.output_dir) / "queries" / "slow.rq.csv").read_text().splitlines()[1] == str(252**3)
