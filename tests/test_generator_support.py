"""Helpers shared by the generator tests: run the generator, read its files back.

The readers here are deliberately independent of the generator's code: a strict line regex
for N-Triples (every line must have exactly the reference shapes) and pyarrow for Parquet.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fincrime.generator import GenerationReport, GeneratorConfig, generate

ENT = "http://oxfordsemantic.tech/transactions/entities#"
PROP = "http://oxfordsemantic.tech/transactions/properties#"
TYPE = "http://oxfordsemantic.tech/transactions/classes#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

HEX32 = r"[0-9a-f]{32}"
LINE = re.compile(
    rf"^<{re.escape(ENT)}(?P<skind>party|transaction)_(?P<sid>{HEX32})> "
    r"<(?P<pred>[^>]+)> "
    rf"(?:<(?P<iri>[^>]+)>|\"(?P<lit>[^\"\\]*)\"(?:\^\^<(?P<dt>[^>]+)>)?) \.$"
)


def run(tmp: Path, **settings: object) -> GenerationReport:
    """Generate into ``tmp`` with fixed seed and end date unless told otherwise."""
    base: dict[str, object] = {"seed": 7, "end_date": "2024-06-30T12:00:00", "transactions": 2_000}
    base.update(settings)
    return generate(GeneratorConfig(out=tmp, **base))  # type: ignore[arg-type]


def data_files(out: Path, kind: str) -> list[Path]:
    files = [
        p for p in out.iterdir() if p.name.startswith(f"{kind}-") and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: int(p.name.split("-")[1].split(".")[0]))


def text_of(out: Path, kind: str) -> bytes:
    """The N-Triples of all ``kind`` files concatenated in file order (gz decompressed)."""
    chunks = []
    for path in data_files(out, kind):
        raw = path.read_bytes()
        chunks.append(gzip.decompress(raw) if path.name.endswith(".gz") else raw)
    return b"".join(chunks)


@dataclass
class Party:
    internal: bool
    exited: bool
    suspicious: bool
    name: str


@dataclass
class Tx:
    originator: str
    beneficiary: str
    amount: Decimal
    amount_text: str
    date: str


def parse_dataset(out: Path) -> tuple[dict[str, Party], dict[str, Tx]]:
    """Parties and transactions by hex id, checking every line's exact shape on the way."""
    parties: dict[str, dict[str, object]] = {}
    for line in text_of(out, "parties").decode("ascii").splitlines():
        m = LINE.match(line)
        assert m and m["skind"] == "party", line
        p = parties.setdefault(m["sid"], {})
        pred = m["pred"]
        if pred == RDF_TYPE:
            assert m["iri"] == TYPE + "Party", line
            p["typed"] = True
        elif pred in (PROP + "isInternal", PROP + "isExited", PROP + "isSuspicious"):
            assert m["dt"] == XSD + "boolean" and m["lit"] in ("true", "false"), line
            p[pred.rsplit("#", 1)[1]] = m["lit"] == "true"
        elif pred in (PROP + "hasFullName", RDFS_LABEL):
            assert m["dt"] is None and m["lit"], line
            p[pred] = m["lit"]
        else:
            raise AssertionError(f"unexpected party predicate: {line}")
    txs: dict[str, dict[str, object]] = {}
    for line in text_of(out, "transactions").decode("ascii").splitlines():
        m = LINE.match(line)
        assert m and m["skind"] == "transaction", line
        t = txs.setdefault(m["sid"], {})
        pred = m["pred"]
        if pred == RDF_TYPE:
            assert m["iri"] == TYPE + "Transaction", line
            t["typed"] = True
        elif pred in (PROP + "hasOriginator", PROP + "hasBeneficiary"):
            iri = m["iri"]
            assert iri and re.fullmatch(rf"{re.escape(ENT)}party_{HEX32}", iri), line
            t[pred.rsplit("#", 1)[1]] = iri.rsplit("_", 1)[1]
        elif pred == PROP + "hasAmount":
            assert m["dt"] == XSD + "decimal" and re.fullmatch(r"\d+(\.\d\d)?", m["lit"]), line
            t["amount"] = m["lit"]
        elif pred == PROP + "hasDate":
            assert m["dt"] == XSD + "dateTime", line
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", m["lit"]), line  # no zone
            t["date"] = m["lit"]
        else:
            raise AssertionError(f"unexpected transaction predicate: {line}")
    out_parties = {}
    for pid, p in parties.items():
        assert len(p) == 6 and p[PROP + "hasFullName"] == p[RDFS_LABEL], (pid, p)
        out_parties[pid] = Party(
            bool(p["isInternal"]), bool(p["isExited"]), bool(p["isSuspicious"]), str(p[RDFS_LABEL])
        )
    out_txs = {}
    for tid, t in txs.items():
        assert len(t) == 5, (tid, t)
        out_txs[tid] = Tx(
            str(t["hasOriginator"]),
            str(t["hasBeneficiary"]),
            Decimal(str(t["amount"])),
            str(t["amount"]),
            str(t["date"]),
        )
    return out_parties, out_txs


def ground_truth_rows(out: Path) -> list[dict[str, str]]:
    with (out / "ground-truth.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))
