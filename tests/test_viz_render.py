"""Static pictures (Graphviz SVG/PNG), the overview, the report files and ``fincrime viz``."""

from __future__ import annotations

import csv
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from viz_support import make_jobs

from fincrime.cli import main
from fincrime.errors import InputError
from fincrime.viz import render_job, write_report
from fincrime.viz.loader import load_job
from fincrime.viz.model import format_amount
from fincrime.viz.overview import aggregate

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed (scripts/system-deps.sh)")
FIXTURES = Path(__file__).parent / "fixtures" / "viz"
SVG = "{http://www.w3.org/2000/svg}"




@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    job_dir, facts = make_jobs().small_job(tmp_path_factory.mktemp("render"))
    files = render_job(job_dir, formats=("html", "svg", "png"))
    report = write_report(job_dir)
    return job_dir, facts, files, report


def _svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def _groups(path: Path, cls: str) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def test_chain_svg_shows_parties_amounts_and_bottleneck(rendered):
    job_dir, facts, _, _ = rendered
    job = load_job(job_dir)
    long = job.chain_by_iri(facts["long"])
    svg = job_dir / "viz" / "chains" / f"{long.slug}.svg"
    texts = " ".join(_svg_texts(svg))
    for hop in facts["long_hops"]:
        assert format_amount(hop.amount) in texts
    for party in long.parties:
        assert facts["names"][party] in texts
    assert len(_groups(svg, "node")) == 31 and len(_groups(svg, "edge")) == 30
    neck = _groups(svg, "bottleneck")
    assert [g.get("id") for g in neck] == ["t17"]
    assert "1,234.56" in " ".join(t.text or "" for t in neck[0].iter(f"{SVG}text"))
    assert {g.get("id") for g in _groups(svg, "originator")} == {"p0"}
    assert {g.get("id") for g in _groups(svg, "beneficiary")} == {"p30"}
    assert len(_groups(svg, "suspicious")) == 2


def test_cycle_chain_draws_each_party_once(rendered):
    job_dir, facts, _, _ = rendered
    job = load_job(job_dir)
    cycle = job.chain_by_iri(facts["cycle"])
    svg = job_dir / "viz" / "chains" / f"{cycle.slug}.svg"
    assert len(_groups(svg, "node")) == 3 and len(_groups(svg, "edge")) == 3
    assert 'Sam "Cycle" Sutton' in _svg_texts(svg)
    roles = {g.get("id"): g.get("class") for g in _groups(svg, "node")}
    assert "originator" in roles["p0"] and "beneficiary" in roles["p0"]


def test_png_and_html_written_without_temp_files(rendered):
    job_dir, _, files, _ = rendered
    pngs = [f for f in files if f.suffix == ".png"]
    assert len(pngs) == 3 and all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in pngs)
    assert {f.name for f in files} >= {"overview.html", "overview.svg", "timeline.svg"}
    assert not list(job_dir.rglob("*.tmp"))


def test_pages_make_no_external_references(rendered):
    job_dir, *_ = rendered
    for page in [*job_dir.glob("viz/**/*.html"), job_dir / "report.html"]:
        text = page.read_text()
        assert "default-src 'none'" in text
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), page
        assert "@import" not in text and "@font-face" not in text


def test_report_files(rendered):
    job_dir, facts, _, report = rendered
    rows = list(csv.DictReader((job_dir / "chains.csv").open()))
    assert [float(r["bottleneck_amount"]) for r in rows] == [72_500.0, 8_000.0, 1_234.56]
    long = next(r for r in rows if r["chain"] == facts["long"])
    assert long["transactions"].split() == [t.iri for t in facts["long_hops"]]
    assert long["bottleneck_transaction"] == facts["long_hops"][17].iri
    assert long["picture"].startswith("viz/chains/") and (job_dir / long["picture"]).exists()
    data = json.loads((job_dir / "chains.json").read_text())
    assert len(data["chains"]) == 3 and data["chain_counts"]["SuspiciousChain"] == 3
    assert data["chains"][2]["transactions"][17]["amount"] == 1_234.56
    html = report.read_text()
    for needle in ("suspicious-chains.dlog", "suspicious-chains.rq", "FanInHub", "fan_in", "50%",
                   "structuring", "Dora Decoy", "reason", "viz/overview.html", "param:maxChainLength"):
        assert needle in html, needle
    manifest = json.loads((job_dir / "manifest.json").read_text())
    for item in manifest["inputs"]:
        assert item["sha256"] in html


def test_overview_cap_truncates_with_note(rendered, tmp_path):
    job_dir, *_ = rendered
    job = load_job(job_dir)
    ov = aggregate(job.chains, cap=10)
    assert len(ov.parties) == 10 and ov.total_parties == 37 and ov.truncated
    assert all(a in ov.parties and b in ov.parties for a, b in ov.links)
    strongest = max((t for c in job.chains for t in c.transfers), key=lambda t: t.amount)
    assert (strongest.originator, strongest.beneficiary) in ov.links
    assert len(ov.links) >= 5  # kept parties are connected, not just the busiest ones
    from fincrime.viz.overview import render_overview

    render_overview(job, tmp_path, set(), cap=10)
    page = (tmp_path / "overview.html").read_text()
    assert f"showing 10 of 37 parties and {len(ov.links)} of 35 links" in page


def test_render_job_single_chain_and_errors(rendered, tmp_path):
    job_dir, facts, _, _ = rendered
    copy = tmp_path / "demo" / job_dir.name
    shutil.copytree(job_dir, copy, ignore=shutil.ignore_patterns("viz", "report.html"))
    files = render_job(copy, formats=("svg",), chains=[facts["cycle"]], overview=False)
    assert [f.suffix for f in files] == [".svg"]
    with pytest.raises(InputError, match="no reported chain"):
        render_job(copy, chains=["http://nope"])
    with pytest.raises(InputError, match="unknown picture format gif"):
        render_job(copy, formats=("gif",))
    assert render_job(copy, top=0, overview=False) == []


def test_cli_viz(rendered, tmp_path, monkeypatch, capsys):
    job_dir, _facts, _, _ = rendered
    root = tmp_path / "out"
    shutil.copytree(job_dir, root / "demo" / job_dir.name, ignore=shutil.ignore_patterns("viz", "report.html"))
    monkeypatch.setenv("FINCRIME_OUTPUT", str(root))
    assert main(["viz", "--job", job_dir.name, "--top", "1", "--format", "png", "--overview-cap", "5"]) == 0
    out = root / "demo" / job_dir.name
    assert len(list((out / "viz" / "chains").glob("*.png"))) == 1
    assert (out / "report.html").exists() and (out / "chains.csv").exists()
    assert "report.html" in capsys.readouterr().out
    assert "showing 5 of 37 parties" in (out / "viz" / "overview.html").read_text()
    assert main(["viz", "--job", "missing_20250101_001"]) == 2
    assert main(["viz", "--job-dir", str(out), "--format", "gif"]) == 2
    assert main(["viz"]) == 2
    assert "exactly one of --job" in capsys.readouterr().err


def test_seed_shape_chain_pictures(tmp_path):
    job_dir, facts = make_jobs().small_job(tmp_path, seed_shape=True)
    render_job(job_dir, formats=("svg",), overview=False)
    job = load_job(job_dir)
    cycle = job.chain_by_iri(facts["cycle"])
    svg = job_dir / "viz" / "chains" / f"{cycle.slug}.svg"
    assert len(_groups(svg, "node")) == 3 and len(_groups(svg, "edge")) == 3
    texts = " ".join(_svg_texts(svg))
    assert all(format_amount(t.amount) in texts for t in facts["cycle_hops"])
    assert [g.get("id") for g in _groups(svg, "bottleneck")] == ["t2"]


SEED_DATA = Path(__file__).resolve().parents[2] / "shared" / "seed" / "data" / "original-generator-10k"


@pytest.mark.skipif(not SEED_DATA.is_dir(), reason="../shared/seed is not beside the repo")
def test_reference_generator_data(tmp_path):
    """A seed-shape chain over the original generator's gzipped files draws their names and amounts."""
    import gzip

    import pyoxigraph as ox

    data = sorted(SEED_DATA.glob("*.nt.gz"))
    triples = [t for f in data for t in ox.parse(gzip.decompress(f.read_bytes()), ox.RdfFormat.N_TRIPLES)]
    P = "http://oxfordsemantic.tech/transactions/properties#"
    suspicious = {t.subject.value for t in triples if t.predicate.value == P + "isSuspicious" and t.object.value == "true"}
    tx = next(t.subject.value for t in triples if t.predicate.value == P + "hasOriginator" and t.object.value in suspicious)
    facts = {t.predicate.value.rsplit("#", 1)[1]: t.object.value for t in triples if t.subject.value == tx}
    names = {t.subject.value: t.object.value for t in triples if t.predicate.value == P + "hasFullName"}
    chain = "http://oxfordsemantic.tech/transactions/0123456789abcdef0123456789abcdef"
    job_dir = tmp_path / "seed" / "seed_20250101_001"
    job_dir.mkdir(parents=True)
    T = "http://oxfordsemantic.tech/transactions/classes#"
    (job_dir / "derived.nt").write_text(
        f"<{chain}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{T}PartialChain> .\n"
        f"<{chain}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{T}SuspiciousChain> .\n"
        f"<{chain}> <{P}containsTransaction> <{tx}> .\n"
    )
    inputs = [{"path": str(f), "sha256": "", "bytes": f.stat().st_size, "kind": "data"} for f in data]
    (job_dir / "manifest.json").write_text(json.dumps({"id": job_dir.name, "inputs": inputs}))
    job = load_job(job_dir)
    assert job.transactions.height == 10_000 and len(job.parties) == 1_000
    (c,) = job.chains
    assert c.shape == "seed" and c.originator == facts["hasOriginator"] and c.length == 1
    render_job(job_dir, formats=("svg",), overview=False)
    texts = " ".join(_svg_texts(job_dir / "viz" / "chains" / f"{c.slug}.svg"))
    assert names[facts["hasOriginator"]] in texts and names[facts["hasBeneficiary"]] in texts
    assert format_amount(float(facts["hasAmount"])) in texts


def test_job_without_chains(tmp_path):
    mj = make_jobs()
    b = mj.JobBuilder()
    a = b.party("a", "Alone")
    b.finding(a, "FanOutHub")
    job_dir = b.write(tmp_path / "d" / "d_20250101_003", job_id="d_20250101_003")
    files = render_job(job_dir)
    assert [f.name for f in files] == ["overview.html", "timeline.svg"]
    html = write_report(job_dir).read_text()
    assert "FanOutHub" in html and "fan_out" in html
    assert (job_dir / "chains.csv").read_text().count("\n") == 1  # header only
    assert json.loads((job_dir / "chains.json").read_text())["chains"] == []


def test_party_activity_caps_but_keeps_chain_transfers(rendered):
    from fincrime.viz.chain_page import party_activity

    job_dir, facts, _, _ = rendered
    job = load_job(job_dir)
    party = facts["long_party"]
    hops = {t.iri for t in facts["long_hops"] if party in (t.orig, t.ben)}
    rows, total = party_activity(job, [party], keep=hops, cap=1)[party]
    assert total == 4
    assert {r[0] for r in rows} == hops  # the earliest one, plus the other chain hop past the cap
    rows, total = party_activity(job, [party], cap=10)[party]
    assert [r[4] for r in rows] == sorted(r[4] for r in rows) and len(rows) == 4
