"""Derived output: N-Triples, gzip and Parquet table sets hold the same triples; a job's
results keep what leads to a finding and drop the intermediate chains."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import E, facts, run

from fincrime.rdf import read_ntriples
from fincrime.rdf.tables import count_table_set, read_table_set

ROOT = Path(__file__).resolve().parents[1]
PARTIAL = "<http://oxfordsemantic.tech/transactions/classes#PartialChain>"
DT = "^^<http://www.w3.org/2001/XMLSchema#dateTime>"
DEC = "^^<http://www.w3.org/2001/XMLSchema#decimal>"
T = "http://oxfordsemantic.tech/transactions/"
TRUE = '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'


def transfer(n: int, a: str, b: str, day: int, amount: int) -> str:
    t = f"<{T}entities#t{n}>"
    return (
        f"{t} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{T}classes#Transaction> .\n"
        f"{t} <{T}properties#hasOriginator> <{T}entities#{a}> .\n"
        f"{t} <{T}properties#hasBeneficiary> <{T}entities#{b}> .\n"
        f'{t} <{T}properties#hasAmount> "{amount}"{DEC} .\n'
        f'{t} <{T}properties#hasDate> "2024-01-{day:02d}T00:00:00"{DT} .\n'
    )


# s1 -> x -> s2 is suspicious; s1 -> y -> z ends nowhere suspicious
DATA = (
    f"<{T}entities#s1> <{T}properties#isSuspicious> {TRUE} .\n"
    f"<{T}entities#s2> <{T}properties#isSuspicious> {TRUE} .\n"
    + transfer(1, "s1", "x", 1, 500) + transfer(2, "x", "s2", 2, 400)
    + transfer(3, "s1", "y", 3, 300) + transfer(4, "y", "z", 4, 200)
)


def chains(**options):
    rules = (ROOT / "rules" / "suspicious-chains.dlog").read_text()
    return run(rules, DATA, **options)


@pytest.mark.parametrize("entity_tables", [True, False])
def test_every_format_holds_the_same_triples(tmp_path, entity_tables):
    result = chains(entity_tables=entity_tables)
    expected = set(result.triples())
    for name in ("derived.nt", "derived.nt.gz"):
        assert result.write(tmp_path / name) == len(expected)
        assert set(read_ntriples([tmp_path / name]).iter_rows()) == expected
    assert result.write(tmp_path / "derived.parquet") == len(expected)
    assert count_table_set(tmp_path / "derived.parquet") == len(expected)
    assert {t for f in read_table_set(tmp_path / "derived.parquet") for t in f.iter_rows()} == expected


def test_gzip_output_is_reproducible(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    chains().write(tmp_path / "a" / "derived.nt.gz")
    chains().write(tmp_path / "b" / "derived.nt.gz")
    assert (tmp_path / "a" / "derived.nt.gz").read_bytes() == (tmp_path / "b" / "derived.nt.gz").read_bytes()


@pytest.mark.parametrize("entity_tables", [True, False])
def test_results_keep_findings_and_the_chains_they_extend(entity_tables):
    result = chains(entity_tables=entity_tables)
    kept = set(result.results([PARTIAL]).iter_rows())
    everything = set(result.triples())
    subjects = {s for s, _, _ in kept} - {"<https://w3id.org/fincrime/param#job>"}  # parameters stay
    suspicious = {s for s, p, o in everything if o.endswith("#SuspiciousChain>")}
    assert len(suspicious) == 1
    parents = {o for s, p, o in everything if s in suspicious and p.endswith("#derivedFrom>")}
    assert subjects == suspicious | parents  # the length-2 chain and the chain it extends
    assert {t for t in kept if t[0] in subjects} == {t for t in everything if t[0] in subjects}
    assert len({s for s, p, o in everything if o == PARTIAL}) == 4  # two of them dropped


def test_results_without_intermediate_classes_keep_everything():
    result = run("[?x, :r, ?y] :- [?x, :p, ?y] .", f"<{E}a> <{E}p> <{E}b> .\n")
    assert {tuple(r) for r in result.results().iter_rows()} == set(result.triples())
    assert facts(result) == {(":a", ":r", ":b")}


@pytest.mark.parametrize("entity_tables", [True, False])
def test_context_is_the_input_about_what_the_results_mention(entity_tables):
    result = chains(entity_tables=entity_tables)
    context = set(result.context(result.results([PARTIAL])).iter_rows())
    subjects = {s.rsplit("#", 1)[-1][:-1] for s, _, _ in context}
    assert subjects == {"t1", "t2", "s1", "s2"}  # the kept chain's transfers and parties
    assert all(t in set(read_input()) for t in context)
    classes = f"<{T}classes#Transaction>"
    with_class = {s for s, _, _ in result.context(result.results([PARTIAL]), [classes]).iter_rows()}
    assert {s.rsplit("#", 1)[-1][:-1] for s in with_class} == {"t1", "t2", "t3", "t4", "s1", "s2"}


def read_input():
    from engine_support import parse_document

    return parse_document(DATA).iter_rows()
