"""Scoring typology findings against ground truth: golden numbers, ground-truth formats, a job
folder, and ``fincrime score`` (table and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from viz_support import make_jobs

from fincrime.cli import main
from fincrime.errors import InputError
from fincrime.scoring import Attempt, read_attempts, score, score_job, typology_of
from fincrime.vocab import ENT, TYPE, TYPOLOGIES


def A(key: str, typology: str, tx: list[str], parties: list[str]) -> Attempt:
    return Attempt(f"{ENT}attempt_{key}", typology, frozenset(tx), frozenset(parties))


ATTEMPTS = [
    A("f1", "fan_in", ["t1", "t2"], ["hub1", "s1", "s2"]),
    A("f2", "fan_in", ["t3"], ["hub2", "s3"]),
    A("c1", "cycle", ["t4", "t5", "t6"], ["x", "y", "z"]),
    A("l1", "layering", ["t7"], ["a", "b"]),
]


def test_golden_scores_per_typology_and_the_no_attempt_row():
    findings = {
        TYPE + "FanInHub": ["hub1", "x", "nobody"],  # one right, one in a cycle, one in nothing
        TYPE + "FanInSource": ["s1"],  # a second class of the same typology: merged into its row
        TYPE + "CycleParty": ["x", "y", "z"],
        TYPE + "TypologyAlert": ["alert1"],  # names no typology: left out
    }
    card = score(findings, ATTEMPTS)
    fan = card.row("fan_in")
    assert fan.classes == [TYPE + "FanInHub", TYPE + "FanInSource"]
    assert (fan.attempts, fan.found, fan.flagged, fan.correct) == (2, 1, 4, 2)
    assert fan.recall == 0.5 and fan.precision == 0.5 and fan.f1 == 0.5
    assert [a.iri for a in fan.missed] == [f"{ENT}attempt_f2"]
    assert {f.iri: f.other_typologies for f in fan.false} == {"x": ["cycle"], "nobody": []}
    cyc = card.row("cycle")
    assert (cyc.recall, cyc.precision, cyc.f1) == (1.0, 1.0, 1.0)
    lay = card.row("layering")  # detected by nothing: a row with zero recall and no precision
    assert (lay.found, lay.flagged, lay.recall, lay.precision, lay.f1) == (0, 0, 0.0, None, None)
    assert card.no_attempt == 1 and card.no_attempt_by_class == {TYPE + "FanInHub": 1}
    assert [r.typology for r in card.rows] == ["fan_in", "cycle", "layering"]
    totals = card.totals
    assert (totals["attempts"], totals["found"], totals["flagged"], totals["correct"]) == (4, 2, 7, 5)


def test_json_shape():
    doc = score({TYPE + "CycleParty": ["x"]}, ATTEMPTS).to_json()
    assert set(doc) == {"ground_truth", "typologies", "no_attempt", "totals"}
    row = doc["typologies"][1]
    assert set(row) == {"typology", "classes", "attempts", "found", "recall", "flagged", "correct", "precision", "f1"}
    assert row["typology"] == "cycle" and row["precision"] == 1.0 and row["recall"] == 1.0
    assert doc["typologies"][0]["precision"] is None  # fan_in: nothing flagged
    assert json.loads(json.dumps(doc)) == doc


@pytest.mark.parametrize(
    ("cls", "typ"),
    [("FanInHub", "fan_in"), ("GatherScatterHub", "gather_scatter"), ("ScatterGatherParty", "scatter_gather"),
     ("LayeringParty", "layering"), ("StructuringAccount", "structuring"), ("BipartiteParty", "bipartite"),
     ("TypologyAlert", None), ("SuspiciousChain", None)],
)
def test_class_names_pick_their_typology(cls, typ):
    assert typology_of(TYPE + cls) == typ


def test_ground_truth_from_generator_ntriples_and_csv_agree(tmp_path):
    from fincrime.generator import GeneratorConfig, generate

    generate(GeneratorConfig(out=tmp_path, transactions=3000, seed=3, end_date="2024-01-10",
                             typologies="fan_in=2,cycle=1:3,bipartite=1:2"))
    nt = read_attempts(tmp_path / "ground-truth.nt")
    csv_ = read_attempts(tmp_path / "ground-truth.csv")
    assert sorted(a.typology for a in nt) == ["bipartite", "cycle", "fan_in", "fan_in"]
    by_nt = {a.iri: a for a in nt}
    for a in csv_:  # the CSV has every transaction and its two parties
        assert a.transactions == by_nt[a.iri].transactions
        assert a.parties <= by_nt[a.iri].parties
    assert set(TYPOLOGIES) >= {a.typology for a in nt}


def test_bad_ground_truth_csv_names_file_and_line(tmp_path):
    bad = tmp_path / "gt.csv"
    bad.write_text("attempt,typology,transaction\na1,fan_in,t1\na2,,t2\n")
    with pytest.raises(InputError, match=r"gt\.csv:3: attempt, typology and transaction"):
        read_attempts(bad)
    bad.write_text("who,what\n1,2\n")
    with pytest.raises(InputError, match=r"gt\.csv:1: a ground-truth CSV needs the columns"):
        read_attempts(bad)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    return make_jobs().small_job(tmp_path_factory.mktemp("scorejob"))


def test_score_a_job_folder(job):
    job_dir, _ = job
    card = score_job(job_dir)
    fan = card.row("fan_in")
    assert (fan.flagged, fan.correct, fan.found, fan.attempts) == (2, 1, 1, 1)
    assert card.no_attempt == 1  # the decoy takes part in no attempt
    assert card.row("structuring").found == 0
    # the finding class CycleChain flags transactions, which count as entities too
    assert card.row("cycle").correct == 3


def test_score_command_table_and_json(job, capsys):
    job_dir, _ = job
    assert main(["score", "--job-dir", str(job_dir), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    fan = next(r for r in doc["typologies"] if r["typology"] == "fan_in")
    assert (fan["precision"], fan["recall"], fan["f1"]) == (0.5, 1.0, 0.6667)
    assert doc["no_attempt"]["flagged"] == 1
    assert main(["score", "--job-dir", str(job_dir)]) == 0
    out = capsys.readouterr().out
    assert "fan_in" in out and "no attempt" in out and "50.0%" in out


def test_score_with_an_explicit_ground_truth_file(job, tmp_path, capsys):
    job_dir, facts = job
    other = tmp_path / "truth.nt"
    other.write_text(f'<{ENT}attempt_x> <http://oxfordsemantic.tech/transactions/properties#hasTypology> "fan_in" .\n'
                     f"<{ENT}attempt_x> <http://oxfordsemantic.tech/transactions/properties#involvesParty> <{facts['decoy']}> .\n")
    assert main(["score", "--job-dir", str(job_dir), "--ground-truth", str(other), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ground_truth"] == {"attempts": 1, "sources": [str(other)]}
    fan = next(r for r in doc["typologies"] if r["typology"] == "fan_in")
    assert (fan["correct"], fan["flagged"]) == (1, 2)


def test_score_errors_are_one_line(job, tmp_path, capsys):
    job_dir, _ = job
    assert main(["score", "--job-dir", str(job_dir), "--ground-truth", str(tmp_path / "none.nt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["score"]) == 2
    assert "exactly one of --job" in capsys.readouterr().err
    bare = make_jobs().JobBuilder()
    p = bare.party("p", "P")
    bare.finding(p, "FanInHub")
    folder = bare.write(tmp_path / "d" / "d_20250101_001", job_id="d_20250101_001", truth=False)
    assert main(["score", "--job-dir", str(folder)]) == 2
    assert "no ground truth" in capsys.readouterr().err


def test_generator_typology_names_are_the_vocabulary():
    from fincrime.generator import TYPOLOGY_NAMES

    assert tuple(TYPOLOGY_NAMES) == TYPOLOGIES


def test_scoring_doctests():
    import doctest

    import fincrime.scoring as mod

    assert doctest.testmod(mod).failed == 0


def test_all_ground_truth_paths_are_absolute_in_the_scorecard(job):
    job_dir, _ = job
    assert all(Path(s).is_absolute() for s in score_job(job_dir).sources)
