"""The watcher and memory: a job over its declared memory is stopped, a worker the kernel killed
for memory is failed with that cause (not retried into the same end), a job whose input likely
needs more than the machine has is warned about before it starts."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from test_jobs_support import make_dataset
from test_jobs_watch import _watcher

from fincrime.jobs import memory
from fincrime.jobs import registry as R
from fincrime.jobs import watcher as W

SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def _history(tmp_path: Path, job_id: str) -> list[str]:
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        return [e.message or "" for e in registry.events(job_id)]


def test_a_job_over_its_declared_memory_is_stopped(tmp_path: Path) -> None:
    # a worker (Python + polars) holds well over 64 MiB as soon as it runs
    make_dataset(tmp_path / "in", n=5, spec={"name": "ds", "data": "*.nt", "queries": "*.rq",
                                             "engine": {"type": "memory", "memory": "64m"}},
                 queries={"slow.rq": SLOW})
    _watcher(tmp_path).run()
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        (job,) = registry.list()
    assert job.status == R.FAILED
    assert "more than the 64 MiB its spec declares" in job.error


def test_a_worker_killed_for_memory_fails_with_the_cause_and_keeps_its_outputs(tmp_path: Path, monkeypatch) -> None:
    make_dataset(tmp_path / "in", n=40, queries={"slow.rq": SLOW})
    watcher = _watcher(tmp_path)
    watcher.options.once = False
    # the machine as the kernel's out-of-memory killer sees it when it strikes: nearly full
    monkeypatch.setattr(W, "machine_mb", lambda: (1000, 10))
    deadline = time.monotonic() + 60
    killed = False
    while time.monotonic() < deadline:
        watcher.scan()
        watcher.reap()
        watcher.schedule()
        jobs = watcher.registry.list()
        if not killed and watcher.workers and jobs and jobs[0].status == R.QUERYING:
            (worker,) = watcher.workers.values()
            os.kill(worker.process.pid, signal.SIGKILL)  # what the kernel does
            killed = True
        if killed and not watcher.workers:
            break
        time.sleep(0.05)
    (job,) = watcher.registry.list()
    watcher.registry.close()
    assert killed and job.status == R.FAILED, job
    assert "killed by the kernel while querying, most likely out of memory" in job.error
    assert (Path(job.output_dir) / "results.nt").is_file()  # the finished phases' outputs stay
    assert job.attempts == 1  # not run again into the same end


def test_an_input_too_large_for_the_machine_is_warned_about(tmp_path: Path, monkeypatch) -> None:
    make_dataset(tmp_path / "in", n=5)
    monkeypatch.setattr(W, "machine_mb", lambda: (1000, 900))
    _watcher(tmp_path).run()
    with R.Registry(tmp_path / "home" / "registry.sqlite") as registry:
        (job,) = registry.list()
    assert job.status == R.DONE
    assert any("likely needs about" in m and "more than this machine's 1,000 MiB" in m for m in _history(tmp_path, job.id))


def test_size_of_gzip_inputs_comes_from_their_trailer(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "d.nt.gz"
    path.write_bytes(gzip.compress(b"x" * 3_000_000))
    assert round(memory.text_mb([path]), 2) == round(3_000_000 / (1 << 20), 2)
    assert memory.estimate_need_mb(1000) > memory.estimate_need_mb(10)
