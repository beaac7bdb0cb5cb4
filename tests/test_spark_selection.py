"""The Spark executor chosen the two ways a user chooses it: `fincrime reason --engine spark` and
a job spec's ``engine`` settings; both give the in-memory engine's derived triples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_spark_support import ROOT, dataset, spark_session

from fincrime.cli import main
from fincrime.engine import materialize
from fincrime.jobs import registry as R
from fincrime.jobs.runner import run_job
from fincrime.jobs.service import submit
from fincrime.rules import load_program
from fincrime.workspace import Workspace

pytestmark = pytest.mark.spark

RULES = ROOT / "rules" / "suspicious-chains.dlog"


def _expected(params: dict[str, object]) -> list[str]:
    memory = materialize(load_program([str(RULES)], params=params), dataset("orig"), engine="memory")
    lines = sorted(f"{s} {p} {o} ." for s, p, o in memory.triples())
    assert lines
    return lines


def test_cli_engine_spark_with_master_and_partitions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spark_session()
    out = tmp_path / "derived.nt"
    args = ["reason", "-r", str(RULES), "--param", "maxChainLength=2", "--engine", "spark",
            "--spark-master", "local[2]", "--partitions", "2", "--out", str(out)]
    for path in dataset("orig"):
        args += ["-d", path]
    assert main(args) == 0
    assert sorted(out.read_text().splitlines()) == _expected({"maxChainLength": 2})
    assert "PartialChain" in capsys.readouterr().out


def test_job_spec_engine_settings_select_spark(tmp_path: Path) -> None:
    spark_session()
    folder = tmp_path / "in" / "chains"
    folder.mkdir(parents=True)
    for path in dataset("orig"):
        shutil.copy(path, folder)
    shutil.copy(RULES, folder)
    spec = folder / "chains.job.json"
    spec.write_text(json.dumps({
        "name": "chains", "data": "*.nt", "rules": "*.dlog", "params": {"maxChainLength": 2},
        "engine": {"type": "spark", "master": "local[2]", "partitions": 2}, "keep": {"derived": "nt"},
    }))
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, env={})
        assert sub.status != R.REJECTED
        lease = R.Lease.mine()
        assert registry.claim(sub.job_id, lease)
        job = run_job(registry, sub.job_id, lease, workspace=workspace, sleep=lambda s: None)
    assert job.status == R.DONE, job.error
    derived = Path(job.output_dir) / "derived.nt"
    assert sorted(derived.read_text().splitlines()) == _expected({"maxChainLength": 2})
    events = [json.loads(line) for line in (Path(job.output_dir) / "log.jsonl").read_text().splitlines()]
    assert any("Spark" in str(e.get("message", "")) for e in events if e.get("event") == "engine")
