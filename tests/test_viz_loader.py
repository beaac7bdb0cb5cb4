"""Reading job folders for pictures: N-Triples through the one RDF reader, both chain shapes,
findings, truth."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from viz_support import make_jobs

from fincrime.errors import InputError, SourceError
from fincrime.rdf import parse_line
from fincrime.rdf.columns import lexical
from fincrime.rdf.terms import unescape_string as unescape
from fincrime.scoring import chain_coverage, score, typology_of
from fincrime.viz.loader import load_job, read_ntriples

FIXTURES = Path(__file__).parent / "fixtures" / "viz"




@pytest.fixture(scope="module")
def compact(tmp_path_factory):
    return make_jobs().small_job(tmp_path_factory.mktemp("compact"))


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    return make_jobs().small_job(tmp_path_factory.mktemp("seed"), seed_shape=True)


# --- N-Triples --------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1f"), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), names), min_size=1, max_size=20))
def test_fast_path_agrees_with_strict_parser(tmp_path_factory, rows):
    lines = [f'<http://e/s{i}> <http://e/name> "{_escape(n)}" .' for i, n in rows]
    lines.append('<http://e/s0> <http://e/amount> "12.50"^^<http://www.w3.org/2001/XMLSchema#decimal> .')
    data = ("\n".join(lines) + "\n").encode()
    path = tmp_path_factory.mktemp("nt") / "x.nt"
    path.write_bytes(data)
    fast = read_ntriples(path)
    strict = [parse_line(line) for line in lines]
    assert fast.height == len(strict) == len(lines)
    assert fast["o"].to_list() == [o for _, _, o in strict]
    decoded = fast.select(lexical("o").alias("v"))["v"].to_list()
    assert [unescape(v) for v in decoded[:-1]] == [n for _, n in rows]
    assert decoded[-1] == "12.50"
    assert fast["s"].to_list() == [s[1:-1] for s, _, _ in strict]


@given(names)
def test_unescape_inverts_escape(text):
    assert unescape(_escape(text)) == text


def test_gzip_and_irregular_spacing(tmp_path):
    import gzip

    p = tmp_path / "d.nt.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("<http://e/a>\t<http://e/p>   <http://e/b> .\n# comment\n\n<http://e/a> <http://e/q> \"x\"@en.\n")
    df = read_ntriples(p)
    assert df.sort("p").rows() == [("http://e/a", "http://e/p", "<http://e/b>"), ("http://e/a", "http://e/q", '"x"@en')]


def test_malformed_line_reports_file_and_line(tmp_path):
    p = tmp_path / "bad.nt"
    p.write_text("<http://e/a> <http://e/p> <http://e/b> .\n<http://e/a> <http://e/p> oops .\n")
    with pytest.raises(SourceError) as err:
        read_ntriples(p)
    assert err.value.line == 2 and str(p) in err.value.one_line()


# --- chains -----------------------------------------------------------------------------------


def test_compact_chains_in_time_order(compact):
    job_dir, facts = compact
    job = load_job(job_dir)
    assert [c.length for c in job.chains] == [2, 3, 30]  # largest bottleneck first
    assert [c.bottleneck for c in job.chains] == [72_500.0, 8_000.0, 1_234.56]
    long = job.chain_by_iri(facts["long"])
    assert [t.iri for t in long.transfers] == [t.iri for t in facts["long_hops"]]
    assert long.bottleneck_index == 17 and long.shape == "compact"
    assert len(long.parties) == 31
    assert job.party(long.originator).suspicious and job.party(long.beneficiary).suspicious
    cycle = job.chain_by_iri(facts["cycle"])
    assert cycle.originator == cycle.beneficiary and len(cycle.parties) == 3
    high = job.chain_by_iri(facts["high"])
    assert set(high.class_names) == {"PartialChain", "SuspiciousChain", "HighValueChain"}
    assert job.chain_counts == {"PartialChain": 35, "SuspiciousChain": 3, "HighValueChain": 1}
    assert len({c.slug for c in job.chains}) == 3


def test_seed_shape_orders_contained_transactions_by_date(seed):
    job_dir, facts = seed
    job = load_job(job_dir)
    cycle = job.chain_by_iri(facts["cycle"])
    assert cycle.shape == "seed"
    assert [t.iri for t in cycle.transfers] == [t.iri for t in facts["cycle_hops"]]
    assert cycle.bottleneck == 8_000.0 and cycle.bottleneck_index == 2  # no hasMinimumAmount: computed
    assert cycle.end_date == facts["cycle_hops"][-1].date  # seed chains lack hasEndDate


def test_findings_and_party_names(compact):
    job_dir, facts = compact
    job = load_job(job_dir)
    local = {k.rsplit("#", 1)[1]: v for k, v in job.findings.items()}
    assert sorted(local) == ["CycleChain", "FanInHub"]
    assert sorted(local["FanInHub"]) == sorted([facts["hub"], facts["decoy"]])
    assert job.party(facts["cycle_hops"][0].orig).name == 'Sam "Cycle" Sutton'  # escapes undone


def test_ground_truth_scores(compact):
    job_dir, facts = compact
    job = load_job(job_dir)
    scores = {s.typology: s for s in score(job.findings, job.attempts).rows}
    fan = scores["fan_in"]
    assert (fan.flagged, fan.correct, fan.precision, fan.recall) == (2, 1, 0.5, 1.0)
    assert [f.iri for f in fan.false] == [facts["decoy"]]
    assert scores["cycle"].precision == 1.0 and scores["cycle"].recall == 1.0
    assert scores["structuring"].classes == [] and scores["structuring"].recall == 0.0
    assert len(scores["structuring"].missed) == 1
    rows, touching = chain_coverage([[t.iri for t in c.transfers] for c in job.chains], job.attempts)
    assert {r.typology: r.found for r in rows} == {"cycle": 1, "fan_in": 0, "structuring": 0}
    assert touching == 1


@pytest.mark.parametrize(
    ("cls", "typ"),
    [("FanOutHub", "fan_out"), ("ScatterGatherNode", "scatter_gather"), ("StructuringSuspect", "structuring"),
     ("BipartiteCore", "bipartite"), ("SuspiciousChain", None)],
)
def test_typology_of(cls, typ):
    assert typology_of(f"http://oxfordsemantic.tech/transactions/classes#{cls}") == typ


def test_no_suspicious_chain_reports_maximal_partial_chains(tmp_path):
    mj = make_jobs()
    b = mj.JobBuilder()
    a, m, z = (b.party(k, k.upper()) for k in ("a", "m", "z"))
    hops = [b.tx("1", a, m, 500.0, mj.day(1)), b.tx("2", m, z, 400.0, mj.day(2))]
    full = b.compact_chain(hops)
    job = load_job(b.write(tmp_path / "d" / "d_20250101_001", job_id="d_20250101_001"))
    assert [c.iri for c in job.chains] == [full]
    assert "maximal partial chains" in job.notes[0]


def test_missing_inputs_are_reported_by_name(compact, tmp_path):
    job_dir, _ = compact
    with pytest.raises(InputError, match=r"no manifest\.json"):
        load_job(tmp_path)
    broken = tmp_path / "job"
    broken.mkdir()
    manifest = json.loads((job_dir / "manifest.json").read_text())
    manifest["inputs"][0]["path"] = str(tmp_path / "gone.nt")
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"gone\.nt"):
        load_job(broken)


def test_missing_chain_transactions_are_noted(tmp_path):
    mj = make_jobs()
    b = mj.JobBuilder()
    a, z = b.party("a", "A", suspicious=True), b.party("z", "Z", suspicious=True)
    t = b.tx("1", a, z, 10.0, mj.day(1))
    b.compact_chain([t])
    b.data = [line for line in b.data if "transaction_1>" not in line.split(" ")[0]]
    job = load_job(b.write(tmp_path / "d" / "d_20250101_002", job_id="d_20250101_002"))
    assert "not in the job's input data" in job.notes[-1]
    assert isinstance(job.transactions, pl.DataFrame) and job.transactions.is_empty()


@pytest.mark.parametrize(
    "module",
    ["model", "graphviz", "chain_graph", "overview", "pages"],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"fincrime.viz.{module}")
    result = doctest.testmod(mod)
    assert result.failed == 0 and (result.attempted > 0 or module == "graphviz")
