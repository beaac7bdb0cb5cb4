"""Load speed of the result stores against pyoxigraph's raw ``bulk_load`` of the same file.

Measured in one run, on one synthetic ``derived.nt`` in the chain vocabulary:

- ``raw bulk_load``: ``Store(dir).bulk_load(path=..., to_graph=...)`` into a fresh store (the limit);
- ``embedded load``: ``fincrime.stores`` loading a job folder into a fresh embedded store
  (graph replace, bulk load, triple count, catalog);
- ``oxigraph server`` / ``virtuoso``: the SPARQL target (parse + skolemize + batches over the
  Graph Store HTTP Protocol + final count) against servers started on 127.0.0.1.

Usage: .venv/bin/python bench/load.py [--triples 500000] [--repeat 2] [--no-servers]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pyoxigraph as ox
from rich.console import Console
from rich.table import Table

from fincrime.security.egress import EgressPolicy
from fincrime.stores.embedded import EmbeddedStore
from fincrime.stores.jobfiles import read_job
from fincrime.stores.localservers import (
    oxigraph_cli,
    oxigraph_server,
    virtuoso_cli,
    virtuoso_server,
)
from fincrime.stores.sparql_remote import SparqlServer

ENT = "http://oxfordsemantic.tech/transactions/entities#"
PROP = "http://oxfordsemantic.tech/transactions/properties#"
TYPE = "http://oxfordsemantic.tech/transactions/classes#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
console = Console()


def make_derived(path: Path, triples: int, seed: int = 7) -> int:
    """Chains as the project's rules derive them: 12 triples per chain, ids like MD5 IRIs."""
    rng = random.Random(seed)
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        chain = 0
        while n < triples:
            c = f"<{ENT}chain_{rng.getrandbits(128):032x}>"
            amount = f'"{rng.randint(1000, 90000)}.{rng.randint(0, 99):02d}"^^<{XSD}decimal>'
            day = f'"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00"^^<{XSD}dateTime>'
            rows = [
                (RDF_TYPE, f"<{TYPE}PartialChain>"),
                (f"<{PROP}hasOriginator>", f"<{ENT}party_{rng.randrange(10_000)}>"),
                (f"<{PROP}hasBeneficiary>", f"<{ENT}party_{rng.randrange(10_000)}>"),
                (f"<{PROP}hasLength>", f'"{rng.randint(1, 19)}"^^<{XSD}integer>'),
                (f"<{PROP}hasStartDate>", day), (f"<{PROP}hasEndDate>", day),
                (f"<{PROP}hasStartingAmount>", amount), (f"<{PROP}hasFinalAmount>", amount),
                (f"<{PROP}hasMinimumAmount>", amount),
                (f"<{PROP}hasFirstTransaction>", f"<{ENT}transaction_{rng.getrandbits(64):016x}>"),
                (f"<{PROP}hasLastTransaction>", f"<{ENT}transaction_{rng.getrandbits(64):016x}>"),
                (f"<{PROP}derivedFrom>", f"<{ENT}chain_{chain}>"),
            ]
            for p, o in rows:
                out.write(f"{c} {p} {o} .\n")
            n += len(rows)
            chain += 1
    return n


def make_job(root: Path, derived: Path) -> Path:
    job_dir = root / "output" / "bench" / "bench_20250101_001"
    job_dir.mkdir(parents=True)
    shutil.copyfile(derived, job_dir / "derived.nt")
    (job_dir / "manifest.json").write_text(json.dumps({"id": "bench_20250101_001", "dataset": "bench", "inputs": []}))
    return job_dir


def time_raw(path: Path, work: Path) -> float:
    folder = Path(tempfile.mkdtemp(dir=work))
    store = ox.Store(str(folder))
    start = time.perf_counter()
    store.bulk_load(path=str(path), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode("urn:bench"))
    seconds = time.perf_counter() - start
    del store
    shutil.rmtree(folder)
    return seconds


def time_embedded(job_dir: Path, work: Path) -> tuple[float, int]:
    folder = Path(tempfile.mkdtemp(dir=work)) / "store"
    start = time.perf_counter()
    with EmbeddedStore(folder) as store:
        report = store.load_job(read_job(job_dir))
    seconds = time.perf_counter() - start
    shutil.rmtree(folder.parent)
    return seconds, report["derived_triples"]


def time_server(target: dict, path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    # the benchmark's own server on loopback, which the default egress policy refuses
    egress = EgressPolicy.from_entries([str(urllib.parse.urlsplit(target["endpoint"]).hostname)])
    report = SparqlServer(target, egress=egress).load_graph(path, "urn:fincrime:job:bench_20250101_001")
    return time.perf_counter() - start, report["triples"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=2, help="in-process runs; the best is kept")
    parser.add_argument("--no-servers", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    data = Path(__file__).parent / "data" / "load"
    data.mkdir(parents=True, exist_ok=True)
    derived = data / f"derived-{args.triples}.nt"
    if not derived.exists():
        with console.status(f"writing {args.triples:,} triples…"):
            make_derived(derived, args.triples)
    work = Path(tempfile.mkdtemp(prefix="fincrime-bench-load-"))
    results: list[dict] = []
    try:
        job_dir = make_job(work, derived)
        raw = min(time_raw(derived, work) for _ in range(args.repeat))
        with open(derived, "rb") as fh:
            n = sum(1 for _ in fh)
        results.append({"loader": "raw bulk_load (pyoxigraph)", "triples": n, "seconds": raw})
        emb, count = min(time_embedded(job_dir, work) for _ in range(args.repeat))
        results.append({"loader": "embedded load (fincrime)", "triples": count, "seconds": emb})
        if not args.no_servers:
            os.environ.setdefault("VIRTUOSO_USER", "dba")
            os.environ.setdefault("VIRTUOSO_PASSWORD", "dba")
            launchers = []
            if oxigraph_cli():
                launchers.append(oxigraph_server)
            if virtuoso_cli():
                launchers.append(virtuoso_server)
            for launch in launchers:
                with launch(work / launch.__name__) as server:
                    with console.status(f"loading into {server.name}…"):
                        seconds, count = time_server({**server.target, "batch_triples": 50_000}, derived)
                    results.append({"loader": f"{server.name} (SPARQL target)", "triples": count,
                                    "seconds": seconds})
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = Table("loader", "triples", "seconds", "triples/s", "time vs raw", header_style="bold",
                  title=f"load speed, {n:,} triples ({derived.name})")
    for r in results:
        r["triples_per_s"] = r["triples"] / r["seconds"]
        r["ratio"] = r["seconds"] / raw
        table.add_row(r["loader"], f"{r['triples']:,}", f"{r['seconds']:.2f}",
                      f"{r['triples_per_s']:,.0f}", f"{r['ratio']:.2f}x")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    goal = results[1]["ratio"] <= 1.5
    console.print(f"embedded load within 1.5x of raw bulk_load: {'yes' if goal else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
