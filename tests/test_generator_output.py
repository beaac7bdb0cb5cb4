"""The generated files: vocabulary, datatypes, counts, determinism, formats, profiles."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from test_generator_support import (
    ENT,
    PROP,
    RDF_TYPE,
    TYPE,
    XSD,
    data_files,
    ground_truth_rows,
    parse_dataset,
    run,
    text_of,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared/seed/data/original-generator-10k"
END = datetime(2024, 6, 30, 12, 0, 0)


def test_rdflib_reads_the_reference_vocabulary_and_datatypes(tmp_path: Path) -> None:
    rdflib = pytest.importorskip("rdflib")
    report = run(tmp_path, transactions=1_500, parties=150, typologies="layering=2,cycle=1")
    g = rdflib.Graph()
    for kind in ("parties", "transactions"):
        g.parse(data=text_of(tmp_path, kind).decode(), format="nt")
    assert len(g) == 6 * 150 + 5 * 1_500 == report.triples
    rdf_type = rdflib.URIRef(RDF_TYPE)
    parties = set(g.subjects(rdf_type, rdflib.URIRef(TYPE + "Party")))
    txs = set(g.subjects(rdf_type, rdflib.URIRef(TYPE + "Transaction")))
    assert len(parties) == 150 and len(txs) == 1_500
    expected_types = {
        "isInternal": (XSD + "boolean", bool),
        "isExited": (XSD + "boolean", bool),
        "isSuspicious": (XSD + "boolean", bool),
        "hasAmount": (XSD + "decimal", Decimal),
        "hasDate": (XSD + "dateTime", datetime),
    }
    for name, (datatype, pytype) in expected_types.items():
        objects = list(g.objects(None, rdflib.URIRef(PROP + name)))
        assert objects and all(str(o.datatype) == datatype for o in objects), name
        assert all(isinstance(o.toPython(), pytype) for o in objects), name
    dates = [o.toPython() for o in g.objects(None, rdflib.URIRef(PROP + "hasDate"))]
    assert all(d.tzinfo is None for d in dates)
    for name in ("hasFullName",):
        names = list(g.objects(None, rdflib.URIRef(PROP + name)))
        assert all(
            isinstance(n, rdflib.Literal) and n.datatype is None and n.language is None
            for n in names
        )
    for s in txs:
        for pred in ("hasOriginator", "hasBeneficiary", "hasAmount", "hasDate"):
            assert len(list(g.objects(s, rdflib.URIRef(PROP + pred)))) == 1
        assert g.value(s, rdflib.URIRef(PROP + "hasOriginator")) in parties
        assert g.value(s, rdflib.URIRef(PROP + "hasBeneficiary")) in parties


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared reference sample not present")
def test_same_predicates_datatypes_and_term_shapes_as_the_reference(tmp_path: Path) -> None:
    def signature(text: bytes) -> set[tuple[str, str, str]]:
        shapes = set()
        for line in text.decode().splitlines():
            if not line.strip():
                continue
            s, p, o = line.split(" ", 2)
            subject = re.sub(r"_[0-9a-f]{32}>", "_<hex>>", s)
            obj = re.sub(r"_[0-9a-f]{32}>", "_<hex>>", o)
            obj = re.sub(r'^"[^"]*"', '"…"', obj)
            shapes.add((subject, p, obj))
        return shapes

    run(tmp_path, profile="original", transactions=3_000)
    reference = signature(gzip.decompress((REFERENCE / "parties-0.nt.gz").read_bytes()))
    reference |= signature(gzip.decompress((REFERENCE / "transactions-0.nt.gz").read_bytes()))
    ours = signature(text_of(tmp_path, "parties") + text_of(tmp_path, "transactions"))
    assert ours == reference


def test_exact_counts_split_and_report(tmp_path: Path) -> None:
    report = run(
        tmp_path, transactions=5_003, parties=401, files=3, suspicious_ratio=0.01, typologies="none"
    )
    parties, txs = parse_dataset(tmp_path)
    assert len(parties) == 401 and len(txs) == 5_003
    assert (
        sum(p.suspicious for p in parties.values())
        == round(0.01 * 401)
        == report.suspicious_parties
    )
    assert [p.name for p in data_files(tmp_path, "transactions")] == [
        "transactions-0.nt",
        "transactions-1.nt",
        "transactions-2.nt",
    ]
    per_file = [len(p.read_bytes().splitlines()) // 5 for p in data_files(tmp_path, "transactions")]
    assert per_file == [1667, 1668, 1668]
    meta = json.loads((tmp_path / "generation.json").read_text())
    assert meta["counts"]["transactions"] == 5_003 and meta["seed"] == 7
    assert meta["config"]["end_date"] == "2024-06-30T12:00:00"
    assert {p.originator for p in txs.values()} <= set(parties)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial files


def _digest(out: Path, kind: str) -> str:
    return hashlib.sha256(text_of(out, kind)).hexdigest()


@pytest.mark.parametrize(
    ("files", "chunk", "fmt"),
    [(1, 4096, "nt"), (2, 1000, "nt"), (5, 777, "nt.gz"), (3, 1 << 15, "nt.gz")],
)
def test_same_bytes_whatever_files_and_chunk_size(
    tmp_path: Path, files: int, chunk: int, fmt: str
) -> None:
    settings = {"transactions": 9_000, "typologies": "layering=3,cycle=2,fan_in=2"}
    baseline = run(tmp_path / "base", **settings)
    other = run(tmp_path / "other", files=files, chunk_size=chunk, format=fmt, **settings)
    for kind in ("parties", "transactions"):
        assert _digest(tmp_path / "base", kind) == _digest(tmp_path / "other", kind)
    for name in ("ground-truth.nt", "ground-truth.csv"):
        assert (tmp_path / "base" / name).read_bytes() == (tmp_path / "other" / name).read_bytes()
    assert baseline.attempts == other.attempts


def test_gzip_files_are_byte_identical_across_chunk_sizes(tmp_path: Path) -> None:
    run(tmp_path / "a", transactions=6_000, files=2, format="nt.gz", chunk_size=512)
    run(tmp_path / "b", transactions=6_000, files=2, format="nt.gz", chunk_size=8192)
    for name in (
        "parties-0.nt.gz",
        "parties-1.nt.gz",
        "transactions-0.nt.gz",
        "transactions-1.nt.gz",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_seed_and_end_date_change_the_data(tmp_path: Path) -> None:
    run(tmp_path / "a", transactions=1_000)
    run(tmp_path / "b", transactions=1_000, seed=8)
    run(tmp_path / "c", transactions=1_000, end_date="2024-07-30T12:00:00")
    digests = {_digest(tmp_path / d, "transactions") for d in ("a", "b", "c")}
    assert len(digests) == 3


def test_parquet_describes_the_same_graph(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    settings = {"transactions": 4_000, "files": 2, "typologies": "layering=3,structuring=2"}
    run(tmp_path / "nt", **settings)
    run(tmp_path / "pq", format="parquet", **settings)
    parties, txs = parse_dataset(tmp_path / "nt")
    ptab = pq.read_table([str(p) for p in data_files(tmp_path / "pq", "parties")])
    ttab = pq.read_table([str(p) for p in data_files(tmp_path / "pq", "transactions")])
    assert ttab.schema.metadata[b"fincrime.entities"] == ENT.encode()
    assert str(ttab.schema.field("amount").type) == "decimal128(18, 2)"
    from_parquet_parties = {
        row["id"].removeprefix("party_"): (
            row["is_internal"],
            row["is_exited"],
            row["is_suspicious"],
            row["full_name"],
        )
        for row in ptab.to_pylist()
    }
    assert from_parquet_parties == {
        pid: (p.internal, p.exited, p.suspicious, p.name) for pid, p in parties.items()
    }
    from_parquet_txs = {
        row["id"].removeprefix("transaction_"): (
            row["originator"].removeprefix("party_"),
            row["beneficiary"].removeprefix("party_"),
            row["amount"],
            row["date"].isoformat(),
        )
        for row in ttab.to_pylist()
    }
    assert from_parquet_txs == {
        tid: (t.originator, t.beneficiary, t.amount, t.date) for tid, t in txs.items()
    }
    ids = ttab.column("id").to_pylist()
    assert ids == [f"transaction_{t}" for t in txs]  # same row order as the N-Triples


def test_original_profile_reproduces_the_reference_distributions(tmp_path: Path) -> None:
    report = run(tmp_path, profile="original", transactions=20_000, parties=2_000, days=3)
    assert report.attempts == {} and ground_truth_rows(tmp_path) == []
    parties, txs = parse_dataset(tmp_path)
    start = END - timedelta(days=3)
    for t in txs.values():
        assert t.originator != t.beneficiary
        assert start <= datetime.fromisoformat(t.date) < END
        assert "." not in t.amount_text
        units = int(t.amount)
        assert units % 1000 == 0
        assert any(
            units % (1000 * m) == 0 and 1 <= units // (1000 * m) <= 10_000 for m in (1, 10, 100)
        )
    internal = sum(p.internal for p in parties.values()) / len(parties)
    assert 0.45 < internal < 0.55
    assert not any(p.exited and p.internal for p in parties.values())
    exited = sum(p.exited for p in parties.values())
    assert 0 < exited < 20  # 1/200 of ~1000 external parties
    degree = Counter(t.originator for t in txs.values())
    assert max(degree.values()) < 30  # uniform: about 10 each, nothing heavy-tailed
    assert min(int(t.amount) for t in txs.values()) >= 1000


def test_realistic_profile_is_heavy_tailed_with_cents_and_business_hours(tmp_path: Path) -> None:
    run(tmp_path, transactions=20_000, parties=2_000, days=14, typologies="none")
    _, txs = parse_dataset(tmp_path)
    amounts = [t.amount for t in txs.values()]
    assert any(a != a.to_integral_value() for a in amounts)
    assert all(re.fullmatch(r"\d+\.\d\d", t.amount_text) for t in txs.values())
    assert max(amounts) > 50 * sorted(amounts)[len(amounts) // 2]  # long right tail
    activity = Counter(t.originator for t in txs.values()) + Counter(
        t.beneficiary for t in txs.values()
    )
    top = sum(sorted(activity.values(), reverse=True)[:20])  # the top 1% of parties
    assert top > 0.05 * 2 * len(txs)  # uniform activity would give about 1%
    stamps = [datetime.fromisoformat(t.date) for t in txs.values()]
    office = sum(8 <= s.hour < 18 for s in stamps) / len(stamps)
    assert office > 0.65  # uniform: 10/24 = 0.42
    weekend = sum(s.weekday() >= 5 for s in stamps) / len(stamps)
    assert weekend < 0.2  # uniform: about 2/7 = 0.29
    start = END - timedelta(days=14)
    assert all(start <= s < END for s in stamps)
    assert all(t.originator != t.beneficiary for t in txs.values())
