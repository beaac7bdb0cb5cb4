"""Shared helpers of the jobs tests (no tests here): small hand-made datasets and specs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fincrime.vocab import ENT, PROP, RDF_TYPE, TYPE, XSD

FIXTURES = Path(__file__).parent / "fixtures" / "jobs"


def triples(n: int) -> str:
    """``n`` transactions as N-Triples (4 triples each)."""
    lines = []
    for i in range(n):
        t = f"<{ENT}transaction_{i}>"
        lines += [
            f"{t} <{RDF_TYPE}> <{TYPE}Transaction> .",
            f'{t} <{PROP}hasAmount> "{1000 + i}"^^<{XSD}decimal> .',
            f"{t} <{PROP}hasOriginator> <{ENT}party_{i % 7}> .",
            f"{t} <{PROP}hasBeneficiary> <{ENT}party_{(i + 1) % 7}> .",
        ]
    return "\n".join(lines) + "\n"


def make_dataset(root: Path, name: str = "ds", *, n: int = 20, spec: dict[str, Any] | None = None,
                 queries: dict[str, str] | None = None, spec_name: str | None = None) -> Path:
    """A dataset folder ``root/name`` with data, queries and a spec; returns the spec path."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.nt").write_text(triples(n), encoding="utf-8")
    queries = {
        "transactions.rq": f"SELECT ?S ?P ?O WHERE {{ ?S a <{TYPE}Transaction> ; ?P ?O }}",
        "amounts.rq": f"SELECT ?t ?a WHERE {{ ?t <{PROP}hasAmount> ?a }} ORDER BY ?t",
    } if queries is None else queries
    for qname, text in queries.items():
        (folder / qname).write_text(text, encoding="utf-8")
    doc = {"name": name, "data": "*.nt", "queries": "*.rq"} if spec is None else spec
    path = folder / (spec_name or f"{name}.job.json")
    write_json(path, doc)
    return path


def write_json(path: Path, doc: Any) -> None:
    """Writes through a hidden temporary and a rename, as a careful user would drop a spec."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
