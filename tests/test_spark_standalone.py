"""A reasoning job through a real Spark standalone cluster: one master and two workers on
127.0.0.1 (one core and 1 GB each), started from the pyspark distribution's own launch classes,
stopped afterwards; the job runs on both workers' executors and its output equals the in-memory
executor's."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_spark_support import ROOT, dataset

from fincrime.engine import materialize
from fincrime.rules import load_program

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # ~2.5 min: three JVMs start

DRIVER = """
import sys
from fincrime.engine import materialize
from fincrime.rules import load_program
master, out, *data = sys.argv[1:]
program = load_program(["{rules}"], params={{"maxChainLength": 2}})
result = materialize(program, data, engine="spark",
                     engine_options={{"master": master, "cores": 1, "memory": "768m"}})
print("derived", result.write_ntriples(out))
hosts = result.executor.spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
print("block managers", hosts)
"""
WORKERS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as resp:
            state = json.load(resp)
    except OSError:
        return -1
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    home = Path(pyspark.__file__).parent
    spark_class = str(home / "bin" / "spark-class")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    port, ui = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    names = ["master.log", *(f"worker-{i}.log" for i in range(WORKERS))]
    logs = [open(tmp_path / name, "wb") for name in names]  # noqa: SIM115
    procs = [subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(ui)], env=env, stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        for i in range(WORKERS):
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
                 "--memory", "1g", "--webui-port", str(_free_port()), "--work-dir", str(tmp_path / f"work-{i}")],
                env=env, stdout=logs[i + 1], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while _alive_workers(ui) < WORKERS:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("the standalone master/workers did not come up:\n"
                            + "".join((tmp_path / n).read_text()[-1500:] for n in names))
            time.sleep(1)
        yield url
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for fh in logs:
            fh.close()


def test_reasoning_through_a_standalone_master(cluster: str, tmp_path: Path) -> None:
    rules = ROOT / "rules" / "suspicious-chains.dlog"
    data = dataset("orig")
    out = tmp_path / "derived.nt"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    run = subprocess.run([sys.executable, "-c", DRIVER.format(rules=rules), cluster, str(out), *data],
                         env=env, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "block managers 3" in run.stdout  # the driver and one executor on each worker
    memory = materialize(load_program([str(rules)], params={"maxChainLength": 2}), data, engine="memory")
    expected = sorted(f"{s} {p} {o} ." for s, p, o in memory.triples())
    assert expected and sorted(out.read_text().splitlines()) == expected
