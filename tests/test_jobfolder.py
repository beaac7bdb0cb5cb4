"""The job-folder module: one layout, one manifest reader, one chain walk for pictures and stores."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from viz_support import make_jobs

from fincrime.errors import InputError
from fincrime.jobfolder import (
    MANIFEST,
    clean_temporaries,
    listed_outputs,
    read_manifest,
    write_atomic,
    write_manifest,
)
from fincrime.jobfolder.chains import chain_counts, chain_members
from fincrime.stores.jobfiles import read_job
from fincrime.stores.propgraph import build, element_id
from fincrime.viz.loader import load_job


def _nodes(rows: list[tuple[str, str | None, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(["node", "parent", "last", "first"], pl.String), orient="row")


def test_walk_orders_hops_from_the_first_and_uses_first_transaction_of_a_root() -> None:
    nodes = _nodes([("c1", None, None, "t1"), ("c2", "c1", "t2", "t1"), ("c3", "c2", "t3", "t1"),
                    ("d1", None, "u1", "u1")])
    walked = chain_members(nodes, pl.DataFrame({"chain": ["c3", "d1", "c2"]}))
    assert walked.rows() == [("c2", "t1", 1), ("c2", "t2", 2), ("c3", "t1", 1), ("c3", "t2", 2),
                             ("c3", "t3", 3), ("d1", "u1", 1)]
    # a middle node without a last transaction contributes nothing; its first is not a hop
    gap = _nodes([("c1", None, "t1", "t1"), ("c2", "c1", None, "t1"), ("c3", "c2", "t3", "t1")])
    assert chain_members(gap, pl.DataFrame({"chain": ["c3"]})).rows() == [("c3", "t1", 1), ("c3", "t3", 2)]


def test_walk_stops_on_a_cyclic_derived_from() -> None:
    nodes = _nodes([("a", "b", "ta", None), ("b", "c", "tb", None), ("c", "a", "tc", None)])
    walked = chain_members(nodes, pl.DataFrame({"chain": ["a"]}))
    assert walked.rows() == [("a", "tc", 1), ("a", "tb", 2), ("a", "ta", 3)]


def test_walk_of_nothing() -> None:
    walked = chain_members(_nodes([]), pl.DataFrame({"chain": []}, schema={"chain": pl.String}))
    assert walked.is_empty() and walked.columns == ["chain", "tx", "position"]


def test_pictures_and_property_graph_see_the_same_chain_members(tmp_path: Path) -> None:
    job_dir, facts = make_jobs().small_job(tmp_path)
    manifest = read_manifest(job_dir)
    manifest.setdefault("id", "viz_20250101_001")
    write_manifest(job_dir, manifest)
    pictures = load_job(job_dir)
    graph = build(read_job(job_dir))
    members: dict[str, list[tuple[int, str]]] = {}
    for e in graph.edges:
        if e.label == "member":
            members.setdefault(e.out_v, []).append((e.props["position"], e.props["transaction"]))
    assert pictures.chains
    for chain in pictures.chains:
        hops = [element_id(t.iri) for t in chain.transfers]
        assert [tx for _, tx in sorted(members[element_id(chain.iri)])] == hops
    long = pictures.chain_by_iri(facts["long"])
    assert len(members[element_id(long.iri)]) == 30


def test_chain_counts_by_local_name() -> None:
    assert chain_counts({}) == {"PartialChain": 0, "SuspiciousChain": 0, "HighValueChain": 0}
    assert chain_counts({"<http://x/c#HighValueChain>": 2, "HighValueChain": 1, "type:Other": 5}) == {
        "PartialChain": 0, "SuspiciousChain": 0, "HighValueChain": 1}


def test_writes_are_whole_and_temporaries_never_listed(tmp_path: Path) -> None:
    write_atomic(tmp_path / "viz" / "a.svg", "<svg/>", durable=False)
    write_manifest(tmp_path, {"id": "x"})
    (tmp_path / "viz" / ".tmp-leftover").write_text("half")
    assert listed_outputs(tmp_path) == ["viz/a.svg"]
    assert clean_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.svg", MANIFEST]
    assert json.loads((tmp_path / MANIFEST).read_text()) == {"id": "x"}


@pytest.mark.parametrize("text, message", [
    (None, "no manifest.json"), ("{", ":1:2: Expecting property name"), ("[1]", "expected a JSON object")])
def test_manifest_errors_are_one_line(tmp_path: Path, text: str | None, message: str) -> None:
    if text is not None:
        (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(InputError, match=message):
        read_manifest(tmp_path)
