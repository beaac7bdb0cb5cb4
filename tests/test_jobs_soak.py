"""Soak: many specs, several workers, the watcher and its workers SIGKILLed at random.

Whatever is killed and when, every spec must give exactly one job, each job must finish
``done`` exactly once, and the embedded store must hold each job's graph with exactly as many
triples as the job derived (a load interrupted half-way is redone, never doubled).

The full run (100 specs, 4 workers) is slow and kept for ``make test-slow``; a small one runs
in the default suite. ``SOAK_REPORT=path`` writes the figures as JSON (docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from test_jobs_support import make_dataset

from fincrime.jobs import registry as R

RULES = """PREFIX prop: <http://oxfordsemantic.tech/transactions/properties#>
PREFIX : <http://e/>
[?t, a, :Large] :- [?t, prop:hasAmount, ?a], FILTER(?a > 1005) .
[?x, :pays, ?y] :- [?t, prop:hasOriginator, ?x], [?t, prop:hasBeneficiary, ?y] .
[?x, :reaches, ?y] :- [?x, :pays, ?y] .
[?x, :reaches, ?z] :- [?x, :reaches, ?y], [?y, :pays, ?z] .
"""
QUERY = "SELECT ?x (COUNT(?y) AS ?n) WHERE { ?x <http://e/reaches> ?y } GROUP BY ?x ORDER BY ?x"


def _expected_derived(n: int) -> int:
    """What the rules derive from ``triples(n)``, counted independently of the engine."""
    large = sum(1 for i in range(n) if 1000 + i > 1005)
    pays = {(i % 7, (i + 1) % 7) for i in range(n)}
    reaches = set(pays)
    while True:
        more = {(x, z) for x, y in reaches for y2, z in pays if y == y2} - reaches
        if not more:
            break
        reaches |= more
    return large + len(pays) + len(reaches)


def _watch(tmp_path: Path, env: dict[str, str], workers: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fincrime", "watch", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
            "--workers", str(workers), "--cores", str(workers), "--interval", "0.1", "--settle", "0.1",
            "--max-attempts", "100", *extra]


def _active_workers(registry_path: Path) -> list[int]:
    """Live workers (a killed one stays in the registry, and as a zombie, until it is noticed)."""
    if not registry_path.exists():
        return []
    with R.Registry(registry_path) as registry:
        return [j.lease_pid for j in registry.active() if j.lease_pid and R.pid_alive(j.lease_pid)]


def soak(tmp_path: Path, *, specs: int, workers: int, kill_every: tuple[float, float], seed: int,
         budget: float) -> dict[str, object]:
    rng = random.Random(seed)
    sizes = {}
    for i in range(specs):
        n = 3 + i % 10
        spec = make_dataset(tmp_path / "in", name=f"ds{i:03d}", n=n, queries={"reach.rq": QUERY},
                            spec={"name": f"ds{i:03d}", "data": "*.nt", "rules": "*.dlog", "queries": "*.rq"})
        (spec.parent / "rules.dlog").write_text(RULES)
        sizes[f"ds{i:03d}"] = n
    env = {**os.environ, "FINCRIME_HOME": str(tmp_path / "home")}
    registry_path = tmp_path / "home" / "registry.sqlite"
    kills = {"watcher": 0, "worker": 0}
    log = open(tmp_path / "watch.log", "ab")  # noqa: SIM115 - closed below
    watcher = subprocess.Popen(_watch(tmp_path, env, workers), env=env, stdout=log, stderr=log)
    started = born = time.monotonic()
    try:
        while time.monotonic() - started < budget:
            time.sleep(rng.uniform(*kill_every))
            with R.Registry(registry_path) as registry:
                finished = sum(1 for j in registry.list() if j.status in R.FINAL)
            if finished >= specs:
                break
            pids = _active_workers(registry_path)
            dice = rng.random()
            if pids and dice < 0.6:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    kills["worker"] += 1
                except ProcessLookupError:
                    pass
            elif dice > 0.8 and time.monotonic() - born > 4:  # a watcher gets to do some work first
                watcher.kill()
                watcher.wait()
                kills["watcher"] += 1
                watcher = subprocess.Popen(_watch(tmp_path, env, workers), env=env, stdout=log, stderr=log)
                born = time.monotonic()
    finally:
        watcher.terminate()
        watcher.wait(60)
    killing = time.monotonic() - started
    done = subprocess.run(_watch(tmp_path, env, workers, "--once"), env=env, stdout=log, stderr=log, timeout=900)
    log.close()
    assert done.returncode == 0, (tmp_path / "watch.log").read_text()[-3000:]

    with R.Registry(registry_path) as registry:
        jobs = registry.list()
        by_spec: dict[str, list[R.JobRecord]] = {}
        for job in jobs:
            by_spec.setdefault(Path(job.spec_path).parent.name, []).append(job)
        assert sorted(by_spec) == sorted(sizes), "every spec gives a job"
        duplicates = {k: [j.id for j in v] for k, v in by_spec.items() if len(v) != 1}
        assert not duplicates, f"specs that ran more than once: {duplicates}"
        attempts = []
        for name, (job,) in by_spec.items():
            assert job.status == R.DONE, (name, job.status, job.error)
            statuses = [e.status for e in registry.events(job.id)]
            assert statuses.count(R.DONE) == 1, (name, statuses)
            assert job.counts["derived_triples"] == _expected_derived(sizes[name]), name
            attempts.append(job.attempts)
    store = ox.Store.read_only(str(tmp_path / "home" / "store"))
    for name, (job,) in by_spec.items():
        graph = f"urn:fincrime:job:{job.id}"
        (row,) = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        assert int(row["n"].value) == job.counts["derived_triples"], (name, graph)
        # these rules derive no intermediate class, so the job keeps (and loads) every derived triple
        lines = (Path(job.output_dir) / "results.nt").read_text().count("\n")
        assert lines == job.counts["derived_triples"] == job.counts["loads"][0]["derived_triples"]
    figures = {"specs": specs, "workers": workers, "kills": kills, "seconds_under_kills": round(killing, 1),
               "seconds_total": round(time.monotonic() - started, 1), "attempts_max": max(attempts),
               "jobs_resumed": sum(1 for a in attempts if a > 1), "seed": seed}
    if os.environ.get("SOAK_REPORT"):
        Path(os.environ["SOAK_REPORT"]).write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def test_soak_small(tmp_path: Path) -> None:
    figures = soak(tmp_path, specs=8, workers=2, kill_every=(0.5, 1.5), seed=11, budget=35)
    assert figures["kills"]["worker"] > 0 and figures["kills"]["watcher"] > 0  # type: ignore[index]


@pytest.mark.slow
def test_soak_100_specs_4_workers(tmp_path: Path) -> None:
    figures = soak(tmp_path, specs=100, workers=4, kill_every=(0.5, 2.0), seed=2024, budget=240)
    assert figures["kills"]["worker"] >= 10 and figures["kills"]["watcher"] >= 3  # type: ignore[index]
