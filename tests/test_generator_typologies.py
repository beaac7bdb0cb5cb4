"""Every typology's ground truth agrees with the transactions actually emitted."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from test_generator_support import ENT, PROP, ground_truth_rows, parse_dataset, run

from fincrime.generator import TYPOLOGY_NAMES

SPEC = (
    "fan_in=3,fan_out=3:4-6,cycle=3,scatter_gather=2,gather_scatter=2,"
    "layering=4:5-7,structuring=2:10,bipartite=2:3"
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("typologies")
    report = run(
        out, transactions=12_000, parties=1_500, suspicious_ratio=0.0, typologies=SPEC, days=5
    )
    parties, txs = parse_dataset(out)
    rows = ground_truth_rows(out)
    attempts: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        attempts[row["attempt"]].append(row)
    for hops in attempts.values():
        hops.sort(key=lambda r: int(r["step"]))
    return out, report, parties, txs, attempts


def _by_typology(
    attempts: dict[str, list[dict[str, str]]], name: str
) -> list[list[dict[str, str]]]:
    return [hops for hops in attempts.values() if hops[0]["typology"] == name]


def _ts(row: dict[str, str]) -> datetime:
    return datetime.fromisoformat(row["date"])


def _pid(local: str) -> str:
    return local.removeprefix("party_")


def test_counts_per_typology_match_the_request(dataset) -> None:  # type: ignore[no-untyped-def]
    _, report, _, _, attempts = dataset
    wanted = {
        "fan_in": 3, "fan_out": 3, "cycle": 3, "scatter_gather": 2, "gather_scatter": 2,
        "layering": 4, "structuring": 2, "bipartite": 2,
    }  # fmt: skip
    assert report.attempts == wanted
    assert {name: len(_by_typology(attempts, name)) for name in TYPOLOGY_NAMES} == wanted
    assert report.injected_transactions == sum(len(h) for h in attempts.values())


def test_ground_truth_transactions_are_in_the_data_unchanged(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, parties, txs, attempts = dataset
    seen = set()
    for hops in attempts.values():
        for row in hops:
            tid = row["transaction"].removeprefix("transaction_")
            assert tid not in seen  # one attempt per injected transaction
            seen.add(tid)
            tx = txs[tid]
            assert (tx.originator, tx.beneficiary) == (
                _pid(row["originator"]),
                _pid(row["beneficiary"]),
            )
            assert tx.amount == Decimal(row["amount"]) and tx.date == row["date"]
            assert tx.originator in parties and tx.beneficiary in parties


def test_injected_transactions_are_spread_through_the_stream(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, _, txs, attempts = dataset
    order = {tid: i for i, tid in enumerate(txs)}
    where = sorted(
        order[r["transaction"].removeprefix("transaction_")] for h in attempts.values() for r in h
    )
    assert where[0] < len(txs) * 0.1 and where[-1] > len(txs) * 0.9


def test_ground_truth_ntriples_matches_the_csv(dataset) -> None:  # type: ignore[no-untyped-def]
    rdflib = pytest.importorskip("rdflib")
    out, _, _, _, attempts = dataset
    g = rdflib.Graph().parse(out / "ground-truth.nt", format="nt")
    kind = rdflib.URIRef("http://oxfordsemantic.tech/transactions/classes#LaunderingAttempt")
    nodes = set(g.subjects(rdflib.RDF.type, kind))
    assert {str(n).removeprefix(ENT) for n in nodes} == set(attempts)
    for node in nodes:
        hops = attempts[str(node).removeprefix(ENT)]
        assert str(g.value(node, rdflib.URIRef(PROP + "hasTypology"))) == hops[0]["typology"]
        txs = {
            str(t).removeprefix(ENT)
            for t in g.objects(node, rdflib.URIRef(PROP + "involvesTransaction"))
        }
        assert txs == {r["transaction"] for r in hops}
        members = {
            str(p).removeprefix(ENT) for p in g.objects(node, rdflib.URIRef(PROP + "involvesParty"))
        }
        assert members == {r["originator"] for r in hops} | {r["beneficiary"] for r in hops}


def _assert_chain(hops: list[dict[str, str]]) -> None:
    for a, b in itertools.pairwise(hops):
        assert a["beneficiary"] == b["originator"]
        assert _ts(a) < _ts(b)  # strictly time-ordered


def test_cycles_return_to_their_start(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, attempts = dataset
    for hops in _by_typology(attempts, "cycle"):
        _assert_chain(hops)
        assert hops[-1]["beneficiary"] == hops[0]["originator"]
        assert len({r["originator"] for r in hops}) == len(hops) >= 3


def test_layering_chains_are_what_chain_rules_look_for(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, parties, _, attempts = dataset
    for hops in _by_typology(attempts, "layering"):
        assert 5 <= len(hops) <= 7
        _assert_chain(hops)
        amounts = [Decimal(r["amount"]) for r in hops]
        assert all(a > b for a, b in itertools.pairwise(amounts))  # decaying
        assert all(b >= a * Decimal("0.9") for a, b in itertools.pairwise(amounts))  # by a margin
        chain = [r["originator"] for r in hops] + [hops[-1]["beneficiary"]]
        assert len(set(chain)) == len(chain)  # a simple path
        assert parties[_pid(chain[0])].suspicious and parties[_pid(chain[-1])].suspicious
        assert not any(parties[_pid(p)].suspicious for p in chain[1:-1])  # ratio is 0 here


def test_layering_endpoints_stay_unflagged_with_probability_zero(tmp_path: Path) -> None:
    report = run(
        tmp_path,
        transactions=3_000,
        suspicious_ratio=0.0,
        typologies="layering=5",
        chain_suspicious_prob=0.0,
    )
    parties, _ = parse_dataset(tmp_path)
    assert report.suspicious_parties == 0 and not any(p.suspicious for p in parties.values())


def test_structuring_stays_just_under_the_threshold(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, attempts = dataset
    for hops in _by_typology(attempts, "structuring"):
        assert len(hops) == 10 and len({r["beneficiary"] for r in hops}) == 1
        assert all(Decimal("9000") <= Decimal(r["amount"]) < Decimal("10000") for r in hops)
    run(
        tmp_path,
        transactions=2_000,
        typologies="structuring=3:6",
        structuring_threshold=3000,
        profile="original",
    )
    for row in ground_truth_rows(tmp_path):
        assert 2700 <= int(row["amount"]) < 3000  # whole units in the original profile


def test_fans_have_one_hub_and_distinct_counterparties(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, attempts = dataset
    for hops in _by_typology(attempts, "fan_in"):
        assert len({r["beneficiary"] for r in hops}) == 1
        assert len({r["originator"] for r in hops}) == len(hops)
    for hops in _by_typology(attempts, "fan_out"):
        assert 4 <= len(hops) <= 6
        assert len({r["originator"] for r in hops}) == 1
        assert len({r["beneficiary"] for r in hops}) == len(hops)


def test_scatter_gather_mules_forward_after_receiving(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, attempts = dataset
    for hops in _by_typology(attempts, "scatter_gather"):
        source = {r["originator"] for r in hops[: len(hops) // 2]}
        target = {r["beneficiary"] for r in hops[len(hops) // 2 :]}
        assert len(source) == 1 and len(target) == 1
        received = {r["beneficiary"]: r for r in hops if r["originator"] in source}
        for r in hops:
            if r["beneficiary"] in target:
                got = received[r["originator"]]
                assert _ts(got) < _ts(r) and Decimal(r["amount"]) < Decimal(got["amount"])


def test_gather_scatter_hub_pays_out_after_collecting(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, attempts = dataset
    for hops in _by_typology(attempts, "gather_scatter"):
        k = len(hops) // 2
        hub = {r["beneficiary"] for r in hops[:k]}
        assert len(hub) == 1 and {r["originator"] for r in hops[k:]} == hub
        assert max(_ts(r) for r in hops[:k]) < min(_ts(r) for r in hops[k:])
        paid = sum(Decimal(r["amount"]) for r in hops[k:])
        assert paid < sum(Decimal(r["amount"]) for r in hops[:k])


def test_bipartite_pays_every_pair_once(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, attempts = dataset
    for hops in _by_typology(attempts, "bipartite"):
        pairs = [(r["originator"], r["beneficiary"]) for r in hops]
        payers = {p for p, _ in pairs}
        payees = {q for _, q in pairs}
        assert len(payers) == len(payees) == 3 and not payers & payees
        assert sorted(pairs) == sorted((p, q) for p in payers for q in payees)


# --- timing regimes: attempts spread over weeks, day-resolution dates --------------------------


@pytest.fixture(scope="module")
def long_days(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("longdays")
    run(out, transactions=8_000, parties=1_000, days=60, attempt_days=20, resolution="day",
        typologies="fan_in=3,cycle=3,layering=3:4-6,scatter_gather=2,structuring=2:8")
    _, txs = parse_dataset(out)
    attempts: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in ground_truth_rows(out):
        attempts[row["attempt"]].append(row)
    for hops in attempts.values():
        hops.sort(key=lambda r: int(r["step"]))
    return out, txs, attempts


def test_day_resolution_puts_every_transfer_at_midnight(long_days) -> None:  # type: ignore[no-untyped-def]
    _, txs, attempts = long_days
    assert all(t.date.endswith("T00:00:00") for t in txs.values())
    assert all(r["date"].endswith("T00:00:00") for hops in attempts.values() for r in hops)
    same_day = sum(len(hops) - len({r["date"] for r in hops}) for hops in attempts.values())
    assert same_day > 0 or all(len(h) <= 20 for h in attempts.values())


def test_attempt_days_spreads_attempts_over_weeks_in_time_order(long_days) -> None:  # type: ignore[no-untyped-def]
    _, _, attempts = long_days
    spans = []
    for hops in attempts.values():
        dates = [_ts(r) for r in hops]
        assert dates == sorted(dates)  # steps stay in time order (ties on one day allowed)
        spans.append((dates[-1] - dates[0]).days)
    assert max(spans) <= 20
    assert sum(s >= 5 for s in spans) >= len(spans) // 2  # weeks, not the default hours to days


def test_attempt_days_and_resolution_are_validated() -> None:
    from fincrime.errors import InputError
    from fincrime.generator import GeneratorConfig

    with pytest.raises(InputError, match="--attempt-days must be above 0 and at most --days"):
        GeneratorConfig(days=10, attempt_days=11).resolve()
    with pytest.raises(InputError, match="--resolution must be one of second, minute, hour, day"):
        GeneratorConfig(resolution="week").resolve()
    assert GeneratorConfig(days=10, attempt_days="none").resolve().attempt_days is None
