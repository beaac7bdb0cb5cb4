"""Stores read a job's compact derived set (``derived.parquet``) without a text copy of it
(issue 14): the embedded store, a SPARQL server and the Neptune files hold exactly the triples
of the same result written as N-Triples."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from test_stores_helpers import input_triples, write_job
from test_stores_servers import _allow_loopback, graph_count, oxigraph_server, oxigraph_target  # noqa: F401

from fincrime.engine import materialize
from fincrime.rdf import iter_frames
from fincrime.rdf.tables import count_table_set
from fincrime.rules import load_program
from fincrime.stores import load_job
from fincrime.stores.embedded import EmbeddedStore, memory_store
from fincrime.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
JOB = "compact_20250101_001"


@pytest.fixture
def compact_job(ws: Workspace, tmp_path: Path) -> Path:
    """A job folder whose derived set is the engine's Parquet table set (chains as entity rows),
    with ``keep.load: all``; beside it the same result as N-Triples, for comparison."""
    job_dir = write_job(ws.output_root, JOB, dataset="compact")
    (job_dir / "derived.nt").unlink()
    data = tmp_path / "data.nt"  # party_0 suspicious too: chains run from party_0 to party_3
    data.write_text("".join(input_triples()).replace('party_0> <http://oxfordsemantic.tech/transactions/properties#isSuspicious> "false"',
                                                     'party_0> <http://oxfordsemantic.tech/transactions/properties#isSuspicious> "true"'))
    program = load_program([ROOT / "rules" / "suspicious-chains.dlog"], params={"maxChainLength": 5})
    result = materialize(program, [str(data)])
    result.write(job_dir / "derived.parquet")
    result.write(tmp_path / "expected.nt")
    manifest = json.loads((job_dir / "manifest.json").read_text())
    manifest["spec"]["keep"] = {"load": "all", "derived": "parquet"}
    (job_dir / "manifest.json").write_text(json.dumps(manifest))
    assert list((job_dir / "derived.parquet").glob("entity-*.parquet")), "the chains should be entity rows"
    return job_dir


def _triples(store: ox.Store, graph: ox.NamedNode | None = None) -> set[str]:
    where = f"GRAPH <{graph.value}> {{ ?s ?p ?o }}" if graph else "?s ?p ?o"
    return {f"{r['s']} {r['p']} {r['o']}" for r in store.query(f"SELECT ?s ?p ?o WHERE {{ {where} }}")}  # type: ignore[union-attr]


def test_the_reader_gives_a_table_sets_triples(compact_job: Path, tmp_path: Path) -> None:
    from_tables = {tuple(r) for f in iter_frames(compact_job / "derived.parquet") for r in f.iter_rows()}
    from_text = {tuple(r) for f in iter_frames(tmp_path / "expected.nt") for r in f.iter_rows()}
    assert from_tables == from_text and len(from_tables) == count_table_set(compact_job / "derived.parquet")


def test_embedded_store_loads_the_table_set(compact_job: Path, ws: Workspace, tmp_path: Path) -> None:
    report = load_job(compact_job, {"type": "oxigraph"}, ws)
    expected = _triples(memory_store([tmp_path / "expected.nt"]))
    assert report["derived_triples"] == len(expected) > 20
    store = EmbeddedStore(ws.store_dir, read_only=True).store
    assert _triples(store, ox.NamedNode(f"urn:fincrime:job:{JOB}")) == expected


def test_sparql_server_loads_the_table_set(compact_job: Path, ws: Workspace, tmp_path: Path,
                                           oxigraph_server: str) -> None:  # noqa: F811
    target = oxigraph_target(oxigraph_server, batch_triples=7)
    report = load_job(compact_job, target, ws)
    expected = len(_triples(memory_store([tmp_path / "expected.nt"])))
    assert report["derived_triples"] == expected == graph_count(target, f"urn:fincrime:job:{JOB}")


def test_neptune_files_hold_the_table_sets_triples(compact_job: Path, ws: Workspace, tmp_path: Path) -> None:
    load_job(compact_job, {"type": "neptune"}, ws)
    written = compact_job / "neptune" / "rdf" / "derived.nt"
    assert _triples(memory_store([written])) == _triples(memory_store([tmp_path / "expected.nt"]))
    request = json.loads((compact_job / "neptune" / "loader" / "rdf-derived.json").read_text())
    assert request["source"].endswith("/rdf/derived.nt")
