"""Property-graph mapping, the Gremlin loader on the embedded engine, Neptune bulk files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import graphersal
import pytest
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import P
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stores_helpers import write_job

from fincrime.cli import main
from fincrime.errors import FincrimeError
from fincrime.stores import load_job
from fincrime.stores.graphersal_remote import GraphersalConnection
from fincrime.stores.gremlin import GremlinLoader
from fincrime.stores.jobfiles import read_job
from fincrime.stores.propgraph import Edge, PropertyGraph, Vertex, build
from fincrime.workspace import Workspace

JOB = "demo_20250101_001"


def test_mapping_of_parties_transfers_and_chains(ws: Workspace) -> None:
    pg = build(read_job(write_job(ws.output_root, JOB)))
    assert pg.counts() == {"chain": 3, "party": 4, "transfer": 3, "originator": 3,
                           "beneficiary": 3, "extends": 2, "member": 6}
    by_id = {v.id: v for v in pg.vertices}
    assert by_id["chain_3"].props["suspicious"] is True and by_id["chain_2"].props["suspicious"] is False
    assert by_id["chain_3"].props["minimumAmount"] == 4800.25
    assert by_id["party_0"].props["fullName"] == 'Party 0 "Ltd"'
    transfer = next(e for e in pg.edges if e.id == "transaction_1")
    assert (transfer.out_v, transfer.in_v, transfer.props["amount"]) == ("party_1", "party_2", 4900.0)
    assert transfer.props["date"] == dt.datetime(2024, 1, 2, 10)
    members = sorted((e.props["position"], e.in_v, e.props["transaction"])
                     for e in pg.edges if e.label == "member" and e.out_v == "chain_3")
    assert members == [(1, "party_1", "transaction_0"), (2, "party_2", "transaction_1"),
                       (3, "party_3", "transaction_2")]
    # stable: the same data maps to the same ids on every run
    again = build(read_job(ws.find_job_dir(JOB)))
    assert [(e.id, e.label) for e in again.edges] == [(e.id, e.label) for e in pg.edges]


def test_embedded_gremlin_load_is_idempotent_and_queryable(ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, JOB)
    first = load_job(job_dir, {"type": "gremlin"}, ws)
    assert (first["vertices"], first["edges"]) == (7, 17)
    load_job(job_dir, {"type": "gremlin", "batch_size": 3}, ws)
    store = graphersal.Store.open(str(ws.home / "gremlin"))
    try:
        g = traversal().with_(GraphersalConnection(store.graph))
        assert g.V().count().next() == 7 and g.E().count().next() == 17
        suspicious = g.V().has_label("chain").has("suspicious", True).id_().to_list()
        assert suspicious == ["chain_3"]
        path = (g.V("chain_3").out_e("member").order().by("position")
                .in_v().id_().to_list())
        assert path == ["party_1", "party_2", "party_3"]
        big = g.E().has_label("transfer").has("amount", P.gt(4850)).id_().to_list()
        assert sorted(big) == ["transaction_0", "transaction_1"]
        assert g.V().has_label("party").where(__.in_e("member")).count().next() == 3
    finally:
        store.close()


def test_gremlin_cli_load_and_bad_traversal(ws: Workspace) -> None:
    write_job(ws.output_root, JOB)
    assert main(["load", "--job", JOB, "--type", "gremlin"]) == 0
    graph = graphersal.Graph()
    g = traversal().with_(GraphersalConnection(graph))
    with pytest.raises(FincrimeError, match="embedded Gremlin"):
        g.V().values("x").sum_().math("_ +").to_list()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
                       st.one_of(st.text(), st.integers(-(2**63), 2**63 - 1), st.booleans(),
                                 st.floats(allow_nan=False, allow_infinity=False),
                                 st.datetimes(min_value=dt.datetime(1900, 1, 1))),
                       max_size=5),
       st.text(min_size=1))
def test_values_reach_the_graph_unchanged(props: dict, vid: str) -> None:
    graph = graphersal.Graph()
    loader = GremlinLoader(GraphersalConnection(graph))
    pg = PropertyGraph([Vertex(vid, "party", props), Vertex("other", "party", {})],
                       [Edge("e", "transfer", vid, "other", props)])
    loader.load(pg)
    loader.load(pg)
    g = traversal().with_(GraphersalConnection(graph))
    assert g.V().count().next() == 2 and g.E().count().next() == 1
    def single(values: dict) -> dict:  # vertex properties come as lists (cardinality)
        return {k: v[0] if isinstance(v, list) else v for k, v in values.items()}

    assert single(g.V(vid).value_map().next()) == props
    assert single(g.E("e").value_map().next()) == props
    assert g.V(vid).out("transfer").id_().to_list() == ["other"]


# ------------------------------------------------------------------ Neptune
# Neptune's Gremlin load data format: system columns and typed property columns
# https://docs.aws.amazon.com/neptune/latest/userguide/bulk-load-tutorial-format-gremlin.html
NEPTUNE_TYPES = {"Bool", "Boolean", "Byte", "Short", "Int", "Long", "Float", "Double", "String", "Date"}
_COLUMN = re.compile(r"^(?P<name>[^:~][^:]*):(?P<type>[A-Za-z]+)(?P<array>\[\])?(?:\((?P<card>single|set)\))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _check_value(kind: str, text: str, where: str) -> None:
    if text == "":
        return  # an empty field: no value
    if kind in ("Bool", "Boolean"):
        assert text in ("true", "false"), where
    elif kind in ("Byte", "Short", "Int", "Long"):
        int(text)
    elif kind in ("Float", "Double"):
        float(text)
    elif kind == "Date":
        assert _DATE.match(text), where


def validate_neptune_csv(path: Path, *, edges: bool) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    system = ["~id", "~from", "~to", "~label"] if edges else ["~id", "~label"]
    assert [c for c in header if c.startswith("~")] == system, f"{path.name}: system columns"
    types = {}
    for col in header:
        if col.startswith("~"):
            continue
        m = _COLUMN.match(col)
        assert m, f"{path.name}: column {col!r} is not name:Type"
        assert m["type"] in NEPTUNE_TYPES, f"{path.name}: unknown type in {col!r}"
        assert not (edges and m["card"]), f"{path.name}: edges take no cardinality ({col})"
        types[col] = m["type"]
    ids = set()
    for n, row in enumerate(body, start=2):
        assert len(row) == len(header), f"{path.name}:{n}: {len(row)} fields"
        record = dict(zip(header, row, strict=True))
        assert record["~id"] and record["~id"] not in ids, f"{path.name}:{n}: ~id"
        ids.add(record["~id"])
        assert record["~label"], f"{path.name}:{n}: ~label"
        for col, kind in types.items():
            _check_value(kind, record[col], f"{path.name}:{n}:{col}")
    return [dict(zip(header, r, strict=True)) for r in body]


def test_neptune_files_follow_the_bulk_load_format(ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, JOB)
    target = {"type": "neptune", "source": "s3://bucket/fincrime", "region": "eu-west-1",
              "iam_role_arn": "arn:aws:iam::123456789012:role/NeptuneLoad"}
    report = load_job(job_dir, target, ws)
    folder = job_dir / "neptune"
    vertices = validate_neptune_csv(folder / "gremlin" / "vertices.csv", edges=False)
    edges = validate_neptune_csv(folder / "gremlin" / "edges.csv", edges=True)
    assert (len(vertices), len(edges)) == (report["vertices"], report["edges"]) == (7, 17)
    vertex_ids = {v["~id"] for v in vertices}
    assert all(e["~from"] in vertex_ids and e["~to"] in vertex_ids for e in edges)
    transfer = next(e for e in edges if e["~id"] == "transaction_0")
    assert (transfer["~label"], transfer["amount:Double"], transfer["date:Date"]) == (
        "transfer", "5000.5", "2024-01-01T10:00:00")
    party = next(v for v in vertices if v["~id"] == "party_0")
    assert party["fullName:String(single)"] == 'Party 0 "Ltd"'
    requests = {p.name: json.loads(p.read_text()) for p in (folder / "loader").glob("*.json")}
    assert requests["gremlin.json"]["format"] == "csv"
    assert requests["gremlin.json"]["source"] == f"s3://bucket/fincrime/{JOB}/neptune/gremlin/"
    rdf = requests["rdf-derived.json"]
    assert rdf["format"] == "ntriples" and rdf["region"] == "eu-west-1"
    assert rdf["parserConfiguration"]["namedGraphUri"] == f"urn:fincrime:job:{JOB}"
    assert (folder / "rdf" / "derived.nt").read_bytes() == (job_dir / "derived.nt").read_bytes()
    assert len(requests) == 3 and len(list((folder / "rdf").iterdir())) == 2
    # writing again replaces the folder, leaving nothing behind
    load_job(job_dir, target, ws)
    assert sorted(p.name for p in job_dir.iterdir()) == ["derived.nt", "manifest.json", "neptune"]


def test_edge_ids_as_property_for_servers_that_assign_them(ws: Workspace) -> None:
    job_dir = write_job(ws.output_root, JOB)
    target = {"type": "gremlin", "edge_ids": "property", "location": str(ws.home / "jg")}
    for _ in range(2):
        load_job(job_dir, target, ws)
    store = graphersal.Store.open(str(ws.home / "jg"))
    try:
        g = traversal().with_(GraphersalConnection(store.graph))
        assert g.E().count().next() == 17
        assert g.E().has("edgeId", "transaction_1").values("amount").to_list() == [4900.0]
    finally:
        store.close()


def test_gremlin_query_cli(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "suspicious.gremlin"
    script.write_text('g.V().has_label("chain").has("suspicious", true).value_map("length").to_list()')
    assert main(["query", str(script)]) == 2  # nothing loaded yet
    assert "no embedded Gremlin graph" in capsys.readouterr().err
    write_job(ws.output_root, JOB)
    assert main(["load", "--job", JOB, "--type", "gremlin"]) == 0
    capsys.readouterr()
    assert main(["query", str(script), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"length": [3]}]
    script.write_text('g.addV("x").next()')
    assert main(["query", str(script)]) == 2  # read-only
    assert "ermission" in capsys.readouterr().err
