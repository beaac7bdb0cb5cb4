"""Typology detection in a job: a spec's ground truth (scored, never loaded as data), alerts in
the results and the report, ``fincrime score`` on the finished job, ``fincrime explain`` of a flag and of every typology's
flag and alert."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from fincrime.cli import main
from fincrime.engine import materialize
from fincrime.engine.explain import Derivation, explain
from fincrime.generator import GeneratorConfig, generate
from fincrime.jobs import registry as R
from fincrime.jobs.runner import run_job
from fincrime.jobs.service import errors_path, submit
from fincrime.rules import load_program
from fincrime.vocab import ENT, PROP, RDF_TYPE, TYPE
from fincrime.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
TYPOLOGIES = "fan_in=2,fan_out=2,cycle=2,scatter_gather=2,gather_scatter=2,layering=2,structuring=2,bipartite=2"


def run_spec(tmp: Path, spec: Path) -> R.JobRecord:
    workspace = Workspace(home=tmp / "home", output_root=tmp / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, env={})
        if sub.status == R.REJECTED:
            return registry.get(sub.job_id)
        lease = R.Lease.mine()
        assert registry.claim(sub.job_id, lease)
        return run_job(registry, sub.job_id, lease, workspace=workspace, sleep=lambda s: None)


def dataset(root: Path, spec: dict) -> Path:  # type: ignore[type-arg]
    folder = root / "aml"
    generate(GeneratorConfig(out=folder, transactions=20_000, seed=5, end_date="2024-05-01", format="nt.gz",
                             typologies=TYPOLOGIES))
    (folder / "rules").mkdir()
    shutil.copy(REPO / "rules" / "typologies.dlog", folder / "rules")
    path = folder / "aml.job.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("detect")
    spec = dataset(tmp / "in", {
        "name": "aml", "data": ["parties-*.nt.gz", "transactions-*.nt.gz"], "rules": "rules/*.dlog",
        "ground_truth": "ground-truth.nt", "targets": [], "outputs": {"report": True},
    })
    job = run_spec(tmp, spec)
    assert job.status == R.DONE, job.error
    return job, Path(job.output_dir)


def test_ground_truth_is_recorded_not_loaded(finished):
    _, out = finished
    manifest = json.loads((out / "manifest.json").read_text())
    kinds = {Path(i["path"]).name: i["kind"] for i in manifest["inputs"]}
    assert kinds["ground-truth.nt"] == "ground_truth" and len(manifest["inputs"][0]["sha256"]) == 64
    results = (out / "results.nt").read_text()
    assert "LaunderingAttempt" not in results  # the rules never saw the ground truth
    assert "TypologyAlert" in results and "FanInHub" in results


def test_report_shows_alerts_and_scores(finished):
    _, out = finished
    html = (out / "report.html").read_text()
    assert 'id="alerts"' in html and "distinct ordinary payers, new to it, paid it similar amounts" in html
    assert 'id="scores"' in html and "<th class=\"num\">F1</th>" in html
    assert "gather_scatter" in html and "no attempt" in html


def test_score_command_on_the_finished_job(finished, capsys):
    _, out = finished
    assert main(["score", "--job-dir", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["typology"]: r for r in doc["typologies"]}
    assert set(rows) == {"fan_in", "fan_out", "cycle", "scatter_gather", "gather_scatter", "layering",
                         "structuring", "bipartite"}
    assert all(r["attempts"] == 2 for r in rows.values())
    assert doc["totals"]["recall"] >= 0.8 and doc["totals"]["precision"] >= 0.8, doc["totals"]
    assert doc["ground_truth"]["sources"][0].endswith("ground-truth.nt")


def test_ground_truth_path_must_stay_inside_the_dataset(tmp_path):
    folder = tmp_path / "in" / "ds"
    folder.mkdir(parents=True)
    (folder / "data.nt").write_text("")
    (tmp_path / "in" / "gt.nt").write_text("")
    spec = folder / "ds.job.json"
    spec.write_text(json.dumps({"name": "ds", "data": "data.nt", "ground_truth": "../gt.nt"}))
    job = run_spec(tmp_path, spec)
    assert job.status == R.REJECTED
    problems = json.loads(errors_path(spec).read_text())["problems"]
    assert any("ground_truth" in p["where"] and "'..'" in p["message"] for p in problems), problems


def _explain_cli(finished, capsys, fact: str, *options: str) -> str:  # type: ignore[no-untyped-def]
    _, out = finished
    data = out.parent.parent.parent / "in" / "aml"
    assert main(["explain", "-r", str(data / "rules" / "typologies.dlog"), "-d", str(data / "transactions-0.nt.gz"),
                 "-d", str(data / "parties-0.nt.gz"), *options, fact]) == 0
    return capsys.readouterr().out


def _flagged(finished, cls: str) -> str:  # type: ignore[no-untyped-def]
    _, out = finished
    results = (out / "results.nt").read_text().splitlines()
    return next(x for x in results if x.endswith(f"<http://oxfordsemantic.tech/transactions/classes#{cls}> .")).split(" ")[0]


def test_explain_a_flag_down_to_input_facts(finished, capsys):
    party = _flagged(finished, "StructuringAccount")
    text = _explain_cli(finished, capsys, f"{party} a type:StructuringAccount", "--depth", "6")
    assert "typologies.dlog" in text and "structuring" in text and "(input)" in text


def test_explain_a_fan_in_flag_is_a_summary_an_investigator_reads(finished, capsys):
    """The default output is the flag, its rule, the alert's evidence (reason, counts against the
    baseline, window) and the transfers largest first with "... and N more", then a short tree;
    --limit and --depth expand it."""
    party = _flagged(finished, "FanInHub")
    text = _explain_cli(finished, capsys, f"{party} a type:FanInHub", "--limit", "3")
    lines = text.splitlines()
    assert lines[0].split()[0] == "fact" and "type:FanInHub" in lines[0]
    assert any(x.split()[:2] == ["derived", "by"] and "typologies.dlog:" in x for x in lines[:3])
    assert "evidence: fan_in alert" in text
    flat = re.sub(r"[│\s]+", " ", text)  # the reason wraps inside its table cell
    assert "distinct ordinary payers, new to it, paid it similar amounts" in flat and "predicts" in flat
    assert "CounterpartyCount" in text and "ExpectedCount" in text and "window" in text
    title = next(x for x in lines if x.startswith("transactions involved, largest first"))
    shown, total = (int(n.replace(",", "")) for n in title.split("(")[1].rstrip(") ").split(" of "))
    assert shown == 3 and total > 3
    more = [x for x in lines if f"… and {total - 3:,} more" in x]
    assert more, text
    table = lines[lines.index(title):]
    amounts = [float(x.split("│")[-2].strip().replace(",", "")) for x in table if x.startswith("│ :transaction_")]
    assert len(amounts) == 3 and amounts == sorted(amounts, reverse=True)
    tree = lines[next(i for i, x in enumerate(lines) if x.startswith("derivation (depth 2, 3 children")):]
    assert len(tree) < 40 and "fanInCell" in text and "(deeper derivation not shown)" in text
    deeper = _explain_cli(finished, capsys, f"{party} a type:FanInHub", "--limit", "3", "--depth", "4")
    assert len(deeper.splitlines()) > len(lines) and "tt:tx(" in deeper
    assert "… and" in deeper and "more (--limit)" in deeper


CLASSES = {"fan_in": "FanInHub", "fan_out": "FanOutHub", "cycle": "CycleParty", "scatter_gather": "ScatterGatherParty",
           "gather_scatter": "GatherScatterHub", "layering": "LayeringParty", "structuring": "StructuringAccount",
           "bipartite": "BipartiteParty"}


@pytest.fixture(scope="module")
def explained(finished):  # type: ignore[no-untyped-def]
    """One materialization of the job's rules over its data, for explaining every typology."""
    _, out = finished
    data = out.parent.parent.parent / "in" / "aml"
    program = load_program([data / "rules" / "typologies.dlog"])
    result = materialize(program, [str(data / "parties-0.nt.gz"), str(data / "transactions-0.nt.gz")])
    triples = [tuple(line[:-2].split(" ", 2)) for line in (out / "results.nt").read_text().splitlines() if line]
    return program, result, triples


def _walk(node: Derivation):  # type: ignore[no-untyped-def]
    yield node
    for child in node.children:
        yield from _walk(child)


@pytest.mark.parametrize("typology", sorted(CLASSES))
def test_every_typology_flag_and_its_alert_are_explained(explained, typology):
    """Each typology's flag is explained by its rule in typologies.dlog and the facts it compared,
    and the alert that flags the party leads through that evidence to input transactions."""
    program, result, triples = explained
    flagged = {s for s, p, o in triples if p == f"<{RDF_TYPE}>" and o == f"<{TYPE}{CLASSES[typology]}>"}
    alerts = {s for s, p, o in triples if p == f"<{PROP}hasTypology>" and o == f'"{typology}"'}
    pairs = sorted((s, o) for s, p, o in triples if p == f"<{PROP}flagsParty>" and s in alerts and o in flagged)
    assert pairs, f"no {typology} alert flags a {CLASSES[typology]} party"
    alert, party = pairs[0]
    flag = explain(result, program, (party, f"<{RDF_TYPE}>", f"<{TYPE}{CLASSES[typology]}>"), max_depth=2)
    assert flag.rule is not None and Path(flag.rule.rule.pos.source).name == "typologies.dlog"
    assert flag.children  # the body facts: the evidence the rule compared
    why = explain(result, program, (alert, f"<{PROP}flagsParty>", party), max_depth=4)
    nodes = list(_walk(why))
    assert any(n.input and n.fact[0].startswith(f"<{ENT}transaction_") for n in nodes), typology
