"""Amazon Neptune bulk-loader files, written into the job's ``neptune/`` folder.

- ``gremlin/vertices.csv`` and ``gremlin/edges.csv``: Neptune's Gremlin load data format
  (``~id``, ``~label``, ``~from``, ``~to`` and typed property columns such as
  ``amount:Double``, ``date:Date``; vertex columns carry ``(single)`` so a reload replaces
  values instead of adding to a set), from the property-graph mapping of
  :mod:`fincrime.stores.propgraph`;
- ``rdf/``: the job's results (as ``derived.nt``) and its input (the results' context or the data files), in N-Triples (``ntriples``);
- ``loader/*.json``: one loader request per load (``POST https://<cluster>:8182/loader``), the
  RDF ones naming the same graphs as the other stores (``parserConfiguration.namedGraphUri``).

The folder is written next to itself and renamed into place, so it is never half-written.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fincrime.rdf.tables import is_table_set, read_table_set
from fincrime.rdf.writer import write_ntriples
from fincrime.stores.jobfiles import JobFiles
from fincrime.stores.propgraph import Edge, Vertex, build

# Python type -> Neptune CSV type (bool before int: bool is an int in Python).
_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "Bool"), (int, "Long"), (float, "Double"), (datetime, "Date"), (date, "Date"), (str, "String"),
)


def neptune_type(value: Any) -> str:
    """The Neptune CSV type of a property value.

    >>> neptune_type(1.5), neptune_type(True), neptune_type(3)
    ('Double', 'Bool', 'Long')
    """
    for py, name in _TYPES:
        if isinstance(value, py):
            return name
    raise TypeError(f"no Neptune CSV type for {type(value).__name__}")


def csv_cell(value: Any) -> str:
    """A property value as Neptune reads it (booleans lower case, dates ISO 8601)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _columns(elements: Sequence[Vertex | Edge]) -> dict[str, str]:
    """Property name -> Neptune type, over all elements; a name must keep one type."""
    types: dict[str, str] = {}
    for el in elements:
        for name, value in el.props.items():
            kind = neptune_type(value)
            if types.setdefault(name, kind) != kind:
                # Mixed types in one column: keep the data, as text.
                types[name] = "String"
    return dict(sorted(types.items()))


def _write_csv(path: Path, header: list[str], rows: Any) -> int:
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def write_gremlin_csv(vertices: Sequence[Vertex], edges: Sequence[Edge], folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    vcols = _columns(vertices)
    ecols = _columns(edges)
    vheader = ["~id", "~label", *(f"{k}:{t}(single)" for k, t in vcols.items())]
    eheader = ["~id", "~from", "~to", "~label", *(f"{k}:{t}" for k, t in ecols.items())]
    nv = _write_csv(folder / "vertices.csv", vheader,
                    ([v.id, v.label, *(csv_cell(v.props.get(k)) for k in vcols)] for v in vertices))
    ne = _write_csv(folder / "edges.csv", eheader,
                    ([e.id, e.out_v, e.in_v, e.label, *(csv_cell(e.props.get(k)) for k in ecols)] for e in edges))
    return {"vertices": nv, "edges": ne}


def _request(source: str, fmt: str, target: dict[str, Any], graph: str | None = None) -> dict[str, Any]:
    req: dict[str, Any] = {
        "source": source,
        "format": fmt,
        "iamRoleArn": target.get("iam_role_arn", "arn:aws:iam::ACCOUNT:role/NeptuneLoadFromS3"),
        "region": target.get("region", "us-east-1"),
        "failOnError": "TRUE",
        "parallelism": "MEDIUM",
        "queueRequest": "TRUE",
    }
    if fmt == "csv":
        req["updateSingleCardinalityProperties"] = "TRUE"
    if graph:
        req["parserConfiguration"] = {"namedGraphUri": graph}
    return req


def write_neptune_files(job: JobFiles, target: dict[str, Any]) -> dict[str, Any]:
    """``load_job`` for ``{"type": "neptune"}``: writes ``<job>/neptune/``; returns a report."""
    final = job.job_dir / "neptune"
    tmp = job.job_dir / f".neptune.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    base = str(target.get("source", "s3://BUCKET/PREFIX")).rstrip("/") + f"/{job.job_id}/neptune"
    try:
        pg = build(job)
        counts = write_gremlin_csv(pg.vertices, pg.edges, tmp / "gremlin")
        (tmp / "rdf").mkdir()
        (tmp / "loader").mkdir()
        requests = {"gremlin.json": _request(f"{base}/gremlin/", "csv", target)}
        # Neptune's bulk loader reads N-Triples files, plain or gzip: a table set is written out
        derived = "derived.nt.gz" if job.derived.name.endswith(".gz") else "derived.nt"
        if is_table_set(job.derived):
            write_ntriples(tmp / "rdf" / derived, read_table_set(job.derived))
        else:
            shutil.copyfile(job.derived, tmp / "rdf" / derived)
        requests["rdf-derived.json"] = _request(f"{base}/rdf/{derived}", "ntriples", target, job.graph)
        for inp in job.inputs:
            name = f"input-{inp.sha256[:12]}-{inp.path.name}"
            shutil.copyfile(inp.path, tmp / "rdf" / name)
            requests[f"rdf-input-{inp.sha256[:12]}.json"] = _request(
                f"{base}/rdf/{name}", "ntriples", target, inp.graph)
        for name, req in requests.items():
            (tmp / "loader" / name).write_text(json.dumps(req, indent=2) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    files = sorted(str(p.relative_to(job.job_dir)) for p in final.rglob("*") if p.is_file())
    return {"type": "neptune", "folder": str(final), "files": files, **counts,
            "labels": pg.counts()}
