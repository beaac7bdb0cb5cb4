"""Compatibility with the reference solution: its rule files, data and queries, unmodified."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from fincrime.engine import materialize
from fincrime.rules import load_program

ROOT = Path(__file__).resolve().parent.parent
TYPE = "http://oxfordsemantic.tech/transactions/classes#"


def _classes(result) -> dict[str, int]:
    return {k.removeprefix(TYPE): v for k, v in result.counts_by_class().items()}


def _lengths(result) -> dict[int, int]:
    out: dict[int, int] = {}
    for _, p, o in result.triples():
        if p.endswith("#hasLength>"):
            n = int(o.split('"')[1])
            out[n] = out.get(n, 0) + 1
    return out


def test_seed_rules_give_the_literal_counts(seed_dir, seed_data):
    result = materialize(load_program([seed_dir / "rules" / "detect-chains-exceed-100-dollars.dlog"]), seed_data)
    assert _classes(result) == {"PartialChain": 487, "SuspiciousChain": 5, "HighValueChain": 5}
    assert _lengths(result) == {1: 87, 2: 400}
    pair = materialize(load_program([seed_dir / "rules" / "detect-suspicious-parties-pair.dlog"]), seed_data)
    assert _classes(pair) == {"PartialChain": 487, "SuspiciousChain": 5}


def test_seed_queries_return_the_chains(seed_dir, seed_data, tmp_path):
    result = materialize(load_program([seed_dir / "rules" / "detect-chains-exceed-100-dollars.dlog"]), seed_data)
    derived = tmp_path / "derived.nt"
    result.write_ntriples(derived)
    store = ox.Store()
    store.bulk_load(path=str(derived), format=ox.RdfFormat.N_TRIPLES)
    for name, cls in (("query-suspicious-chains.rq", "SuspiciousChain"), ("query-suspicious-chains-amount.rq", "HighValueChain")):
        rows = list(store.query((seed_dir / "queries" / name).read_text()))
        subjects = {str(r["S"].value) for r in rows}
        assert len(subjects) == 5, name
        assert any(str(r["O"].value) == TYPE + cls for r in rows)


def test_project_rules_give_the_intended_counts(seed_data):
    program = load_program([ROOT / "rules" / "suspicious-chains.dlog", ROOT / "rules" / "high-value-chains.dlog"])
    result = materialize(program, seed_data)
    classes = _classes(result)
    assert classes["PartialChain"] == 157_565
    assert classes["SuspiciousChain"] == 1_464
    lengths = _lengths(result)
    assert max(lengths) <= 30 and lengths[1] == 87
    suspicious_lengths = set()
    chains = {s for s, p, o in result.triples() if o == f"<{TYPE}SuspiciousChain>"}
    for s, p, o in result.triples():
        if s in chains and p.endswith("#hasLength>"):
            suspicious_lengths.add(int(o.split('"')[1]))
    assert min(suspicious_lengths) == 2 and max(suspicious_lengths) == 19


@pytest.mark.parametrize(("threshold", "expected"), [(100, 1464), (10**12, 0)])
def test_high_value_threshold_is_a_parameter(seed_data, threshold, expected):
    program = load_program(
        [ROOT / "rules" / "suspicious-chains.dlog", ROOT / "rules" / "high-value-chains.dlog"],
        params={"highValueThreshold": threshold, "maxChainLength": 3},
    )
    result = materialize(program, seed_data)
    classes = _classes(result)
    assert max(_lengths(result)) == 3
    assert classes.get("HighValueChain", 0) == (classes["SuspiciousChain"] if expected else 0)
