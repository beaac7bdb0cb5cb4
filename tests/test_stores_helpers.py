"""Hand-made job folders for the store tests (the job runner's contract, in miniature).

Four parties, a chain of three transfers p0 -> p1 -> p2 -> p3 and the chains the project's
rules derive from it, in the vocabulary of docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

ENT = "http://oxfordsemantic.tech/transactions/entities#"
PROP = "http://oxfordsemantic.tech/transactions/properties#"
TYPE = "http://oxfordsemantic.tech/transactions/classes#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed"


def _t(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} .\n"


def iri(ns: str, local: str) -> str:
    return f"<{ns}{local}>"


def dec(v: str) -> str:
    return f'"{v}"^^<{XSD}decimal>'


def dt(v: str) -> str:
    return f'"{v}"^^<{XSD}dateTime>'


def input_triples() -> list[str]:
    out = []
    for i in range(4):
        p = iri(ENT, f"party_{i}")
        out += [
            _t(p, f"<{RDF_TYPE}>", iri(TYPE, "Party")),
            _t(p, iri(PROP, "hasFullName"), f'"Party {i} \\"Ltd\\""'),
            _t(p, iri(PROP, "isSuspicious"), f'"{"true" if i == 3 else "false"}"^^<{XSD}boolean>'),
        ]
    amounts = ["5000.50", "4900", "4800.25"]
    for i, amount in enumerate(amounts):
        t = iri(ENT, f"transaction_{i}")
        out += [
            _t(t, f"<{RDF_TYPE}>", iri(TYPE, "Transaction")),
            _t(t, iri(PROP, "hasOriginator"), iri(ENT, f"party_{i}")),
            _t(t, iri(PROP, "hasBeneficiary"), iri(ENT, f"party_{i + 1}")),
            _t(t, iri(PROP, "hasAmount"), dec(amount)),
            _t(t, iri(PROP, "hasDate"), dt(f"2024-01-0{i + 1}T10:00:00")),
        ]
    return out


def derived_triples() -> list[str]:
    out = []
    amounts = ["5000.50", "4900", "4800.25"]
    for n in range(1, 4):
        c = iri(ENT, f"chain_{n}")
        out += [
            _t(c, f"<{RDF_TYPE}>", iri(TYPE, "PartialChain")),
            _t(c, iri(PROP, "hasOriginator"), iri(ENT, "party_0")),
            _t(c, iri(PROP, "hasBeneficiary"), iri(ENT, f"party_{n}")),
            _t(c, iri(PROP, "hasLength"), f'"{n}"^^<{XSD}integer>'),
            _t(c, iri(PROP, "hasStartDate"), dt("2024-01-01T10:00:00")),
            _t(c, iri(PROP, "hasEndDate"), dt(f"2024-01-0{n}T10:00:00")),
            _t(c, iri(PROP, "hasStartingAmount"), dec(amounts[0])),
            _t(c, iri(PROP, "hasFinalAmount"), dec(amounts[n - 1])),
            _t(c, iri(PROP, "hasMinimumAmount"), dec(min(amounts[:n], key=float))),
            _t(c, iri(PROP, "hasFirstTransaction"), iri(ENT, "transaction_0")),
            _t(c, iri(PROP, "hasLastTransaction"), iri(ENT, f"transaction_{n - 1}")),
        ]
        if n > 1:
            out.append(_t(c, iri(PROP, "derivedFrom"), iri(ENT, f"chain_{n - 1}")))
    c3 = iri(ENT, "chain_3")
    out += [_t(c3, f"<{RDF_TYPE}>", iri(TYPE, "SuspiciousChain")),
            _t(c3, f"<{RDF_TYPE}>", iri(TYPE, "HighValueChain"))]
    return out


def _entry(path: Path, kind: str) -> dict[str, object]:
    data = path.read_bytes()
    return {"path": str(path.resolve()), "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data), "kind": kind}


def write_data(folder: Path, *, gz: bool = True) -> Path:
    """The input data file (gzipped like the generator's by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(input_triples()).encode()
    if gz:
        path = folder / "transactions-0.nt.gz"
        path.write_bytes(gzip.compress(text, mtime=0))
    else:
        path = folder / "transactions-0.nt"
        path.write_bytes(text)
    return path


def write_job(output_root: Path, job_id: str = "demo_20250101_001", *, dataset: str = "demo",
              data: list[Path] | None = None, derived: list[str] | None = None,
              targets: list[dict] | None = None) -> Path:
    """A finished job's folder: manifest.json (with inputs) and derived.nt."""
    job_dir = output_root / dataset / job_id
    job_dir.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = [write_data(output_root.parent / "input" / dataset)]
    (job_dir / "derived.nt").write_text("".join(derived if derived is not None else derived_triples()))
    rules = output_root.parent / "rules.dlog"
    rules.write_text("% rules\n")
    manifest = {
        "id": job_id,
        "dataset": dataset,
        "name": "test",
        "status": "succeeded",
        "spec": {"targets": targets or []},
        "inputs": [_entry(p, "data") for p in data] + [_entry(rules, "rules")],
    }
    (job_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return job_dir
