"""The project's rule files (rules/*.dlog) on small hand-made graphs."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fincrime.engine import materialize_frame
from fincrime.rdf import parse_document
from fincrime.rules import load_program

ROOT = Path(__file__).resolve().parent.parent
ENT = "http://oxfordsemantic.tech/transactions/entities#"
PROP = "http://oxfordsemantic.tech/transactions/properties#"
TYPE = "http://oxfordsemantic.tech/transactions/classes#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


def party(name: str, suspicious: bool = False) -> str:
    flag = "true" if suspicious else "false"
    return (
        f"<{ENT}{name}> {RDF_TYPE} <{TYPE}Party> .\n"
        f'<{ENT}{name}> <{PROP}isSuspicious> "{flag}"^^<{XSD}boolean> .\n'
    )


def tx(name: str, payer: str, payee: str, amount: str, when: str) -> str:
    return (
        f"<{ENT}{name}> {RDF_TYPE} <{TYPE}Transaction> .\n"
        f"<{ENT}{name}> <{PROP}hasOriginator> <{ENT}{payer}> .\n"
        f"<{ENT}{name}> <{PROP}hasBeneficiary> <{ENT}{payee}> .\n"
        f'<{ENT}{name}> <{PROP}hasAmount> "{amount}"^^<{XSD}decimal> .\n'
        f'<{ENT}{name}> <{PROP}hasDate> "{when}"^^<{XSD}dateTime> .\n'
    )


def run(files: list[str], data: str, params: dict | None = None):
    program = load_program([ROOT / "rules" / f for f in files], params=params)
    return materialize_frame(program, parse_document(data))


def members(result, cls: str) -> set[str]:
    """Members of a class: entity local names (``hub``), other terms as they are (chains)."""
    def short(term: str) -> str:
        return term[len(ENT) + 1 : -1] if term.startswith(f"<{ENT}") else term

    return {short(s) for s, p, o in result.triples() if p == RDF_TYPE and o == f"<{TYPE}{cls}>"}


def chain_values(result, prop: str) -> dict[str, str]:
    return {s: o for s, p, o in result.triples() if p == f"<{PROP}{prop}>"}


CHAIN_DATA = (
    party("a", True) + party("b") + party("c") + party("d", True) + party("e")
    + tx("t1", "a", "b", "5000", "2024-01-01T10:00:00")
    + tx("t2", "b", "c", "3000", "2024-01-01T11:00:00")
    + tx("t3", "c", "d", "4000", "2024-01-01T12:00:00")
    + tx("t0", "b", "c", "9999", "2024-01-01T09:00:00")  # earlier than t1: cannot extend it
    + tx("t4", "d", "e", "100", "2024-01-01T13:00:00")
)


def test_chains_follow_time_order_and_carry_the_bottleneck():
    r = run(["suspicious-chains.dlog", "high-value-chains.dlog"], CHAIN_DATA, {"highValueThreshold": 2500})
    lengths = chain_values(r, "hasLength")
    assert sorted(int(v.split('"')[1]) for v in lengths.values()) == [1, 1, 2, 3, 4]  # t1.., t4
    suspicious = members(r, "SuspiciousChain")
    assert len(suspicious) == 1  # a -> b -> c -> d
    (key,) = suspicious
    assert lengths[key] == f'"3"^^<{XSD}integer>'
    assert chain_values(r, "hasMinimumAmount")[key] == f'"3000"^^<{XSD}decimal>'
    assert chain_values(r, "hasStartingAmount")[key] == f'"5000"^^<{XSD}decimal>'
    assert chain_values(r, "hasFinalAmount")[key] == f'"4000"^^<{XSD}decimal>'
    assert members(r, "HighValueChain") == suspicious  # bottleneck 3000 > 2500
    r2 = run(["suspicious-chains.dlog", "high-value-chains.dlog"], CHAIN_DATA, {"highValueThreshold": 3000})
    assert members(r2, "HighValueChain") == set()  # not strictly above


def test_max_chain_length_caps_the_chains():
    r = run(["suspicious-chains.dlog"], CHAIN_DATA, {"maxChainLength": 2})
    assert max(int(v.split('"')[1]) for v in chain_values(r, "hasLength").values()) == 2
    assert members(r, "SuspiciousChain") == set()


def test_fan_in_and_fan_out_count_distinct_counterparties_in_a_window():
    data = party("hub") + party("src")
    for i in range(5):
        data += party(f"p{i}") + tx(f"in{i}", f"p{i}", "hub", "100", f"2024-01-0{1 + i % 2}T10:00:0{i}")
        data += tx(f"out{i}", "src", f"p{i}", "100", "2024-01-01T12:00:00")
    data += tx("late", "p0", "hub", "100", "2024-01-09T10:00:00")
    r = run(["typologies.dlog"], data)
    assert members(r, "FanInHub") == {"hub"}
    assert members(r, "FanOutHub") == {"src"}
    assert members(run(["typologies.dlog"], data, {"fanInMinimum": 6}), "FanInHub") == set()


def test_cycle_needs_time_order_and_flow_through_amounts():
    data = party("x") + party("y") + party("z")
    data += tx("c1", "x", "y", "1000", "2024-01-01T10:00:00")
    data += tx("c2", "y", "z", "970", "2024-01-01T11:00:00")
    data += tx("c3", "z", "x", "950", "2024-01-01T12:00:00")
    r = run(["typologies.dlog"], data)
    assert members(r, "CycleParty") == {"x", "y", "z"}
    broken = data.replace("2024-01-01T12:00:00", "2024-01-01T09:00:00")  # back in time
    assert members(run(["typologies.dlog"], broken), "CycleParty") == set()
    leaky = data.replace('"950"', '"400"')  # most of the money stops at z
    assert members(run(["typologies.dlog"], leaky), "CycleParty") == set()


def test_structuring_counts_deposits_just_under_the_threshold():
    data = party("acct")
    for i in range(6):
        data += party(f"s{i}") + tx(f"d{i}", f"s{i}", "acct", "9500", f"2024-01-01T1{i}:00:00")
    r = run(["typologies.dlog"], data)
    assert members(r, "StructuringAccount") == {"acct"}
    assert members(run(["typologies.dlog"], data, {"structuringMinimum": 7}), "StructuringAccount") == set()
    above = data.replace('"9500"', '"10500"')
    assert members(run(["typologies.dlog"], above), "StructuringAccount") == set()


def test_project_rules_run_together_without_conflicts():
    program = load_program(sorted((ROOT / "rules").glob("*.dlog")))
    result = materialize_frame(program, parse_document(CHAIN_DATA))
    assert isinstance(result.count(), int)
    assert pl.DataFrame(list(result.triples()), orient="row").height == result.count()
