"""Generated data stays tractable for chain rules, and the rules find every layering chain."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from test_generator_support import parse_dataset, run

ROOT = Path(__file__).resolve().parents[1]
E = "<http://oxfordsemantic.tech/transactions/entities#"


def chains_from_suspicious(out: Path, max_length: int = 10) -> float:
    """Time-ordered transfer chains (up to ``max_length`` hops) that start at a suspicious party.

    Counted by dynamic programming over transactions in date order, independently of any
    rule engine: chains(t) = 1 + sum of chains(t') over later t' paid by t's beneficiary.
    """
    parties, txs = parse_dataset(out)
    items = sorted(txs.values(), key=lambda t: t.date)
    paid_by: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(items):
        paid_by[t.originator].append(i)
    counts = np.zeros((len(items), max_length + 1))
    for i in range(len(items) - 1, -1, -1):
        counts[i, 1] = 1
        for j in paid_by[items[i].beneficiary]:
            if items[j].date > items[i].date:
                counts[i, 2:] += counts[j, 1:max_length]
    starts = [i for i, t in enumerate(items) if parties[t.originator].suspicious]
    return float(counts[starts].sum() / max(len(starts), 1))


def test_realistic_hubs_do_not_explode_chain_counts(tmp_path: Path) -> None:
    # With one shared heavy-tailed weight per party this ratio was about 1e8 (4e13 chains).
    settings = {"transactions": 3_000, "suspicious_ratio": 0.02, "typologies": "none"}
    run(tmp_path / "original", profile="original", **settings)
    run(tmp_path / "realistic", **settings)
    per_start_original = chains_from_suspicious(tmp_path / "original")
    per_start_realistic = chains_from_suspicious(tmp_path / "realistic")
    assert per_start_original > 10
    assert per_start_realistic < 5 * per_start_original


def test_chain_rules_find_every_layering_attempt(tmp_path: Path) -> None:
    engine = pytest.importorskip("fincrime.engine")
    rules = pytest.importorskip("fincrime.rules")
    dlog = ROOT / "rules/suspicious-chains.dlog"
    if not dlog.exists():
        pytest.skip("rules/suspicious-chains.dlog not present")
    run(tmp_path, transactions=1_200, suspicious_ratio=0.0, typologies="layering=4:3-6")
    program = rules.load_program([str(dlog)], prefixes=None, params={"maxChainLength": 8})
    result = engine.materialize(
        program,
        [str(tmp_path / "parties-0.nt"), str(tmp_path / "transactions-0.nt")],
        engine="memory",
    )
    props: dict[str, dict[str, str]] = defaultdict(dict)
    suspicious = set()
    for s, p, o in result.triples(derived_only=True):
        if o.endswith("#SuspiciousChain>"):
            suspicious.add(s)
        props[s][p.rsplit("#", 1)[-1].rstrip(">")] = o
    found = {
        (props[c]["hasFirstTransaction"], props[c]["hasLastTransaction"], props[c]["hasLength"])
        for c in suspicious
    }
    with (tmp_path / "ground-truth.csv").open(newline="") as fh:
        attempts: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in csv.DictReader(fh):
            attempts[row["attempt"]].append(row)
    assert len(attempts) == 4
    for hops in attempts.values():
        hops.sort(key=lambda r: int(r["step"]))
        first, last = f"{E}{hops[0]['transaction']}>", f"{E}{hops[-1]['transaction']}>"
        lengths = {length for f, la, length in found if (f, la) == (first, last)}
        assert any(length.startswith(f'"{len(hops)}"') for length in lengths), hops[0]["attempt"]
