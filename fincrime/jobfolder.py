"""A job's output folder: which file holds what, how it is written and read, and its chains.

One module for every reader and writer (jobs, stores, pictures, the console), so the layout
is stated once:

==================  =========================================================================
``manifest.json``   id, dataset, spec, inputs (path, sha256, kind), counts, timings, status
``log.jsonl``       one JSON event a line
``results.nt``      the derived triples the job keeps: findings and what leads to them
                    (see :meth:`fincrime.engine.result.TripleResult.results`); stores load these
``context.nt``      the input triples about what the results mention (parties, transfers),
                    so results are readable without the input files
``derived.parquet`` every derived triple, compact (or ``derived.nt.gz`` / ``derived.nt``, as
                    the spec's ``keep.derived`` says); intermediate facts live only here
``queries/``        query results; ``viz/``, ``report.html``: pictures and the report
==================  =========================================================================

Job folders written before ``results.nt`` existed hold only ``derived.nt``; it then stands for
the results as well (every derived triple was kept).

Every file is written whole (:func:`write_atomic`): a reader, a bucket upload or the manifest's
list of outputs never sees half a file, and a crashed attempt leaves only temporaries that
:func:`clean_temporaries` removes.

The chains of the documented vocabulary (``rules/suspicious-chains.dlog``) are stated here too:
their classes (:data:`CHAIN_CLASSES`; every other derived class is a finding) and the walk
that finds a chain's transfers along ``prop:derivedFrom`` (:func:`chain_members`), read by the
pictures, the console's alerts and the property-graph stores alike.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from fincrime.errors import InputError
from fincrime.vocab import PROP, TYPE

MANIFEST = "manifest.json"
LOG = "log.jsonl"
RESULTS = "results.nt"
CONTEXT = "context.nt"
DERIVED_FORMATS = {"parquet": "derived.parquet", "nt.gz": "derived.nt.gz", "nt": "derived.nt"}
QUERIES = "queries"
VIZ = "viz"
CHAIN_PAGES = f"{VIZ}/chains"  # one page (and pictures) a chain, named by its slug
REPORT = "report.html"
#: The worker process's own output (the watcher's), kept for operators, never offered to users.
WORKER_LOG = "worker.log"
#: Most files a folder offers (a listing stays a page, not a flood).
MAX_OFFERED = 5000

#: Temporaries of writers in a job folder start so: never listed, removed before an attempt.
TMP_PREFIX = ".tmp-"

PARTIAL_CHAIN = TYPE + "PartialChain"
SUSPICIOUS_CHAIN = TYPE + "SuspiciousChain"
HIGH_VALUE_CHAIN = TYPE + "HighValueChain"
#: Chain classes of the documented chain vocabulary; every other derived class is a finding.
CHAIN_CLASSES = (PARTIAL_CHAIN, SUSPICIOUS_CHAIN, HIGH_VALUE_CHAIN)
DERIVED_FROM = PROP + "derivedFrom"
FIRST_TRANSACTION = PROP + "hasFirstTransaction"
LAST_TRANSACTION = PROP + "hasLastTransaction"
#: Longest derivedFrom walk followed; guards against a cyclic derivedFrom in a broken file.
MAX_WALK = 10_000


# ---- reading ---------------------------------------------------------------------------------
def read_manifest(job_dir: str | Path) -> dict[str, Any]:
    """The manifest of a job folder, or a one-line error saying what is wrong with it."""
    path = Path(job_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no manifest.json; is {Path(job_dir)} a job output folder?") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: expected a JSON object")
    return manifest


def input_files(manifest: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """The manifest's inputs of one kind (``data``, ``rules`` or ``queries``).

    >>> input_files({"inputs": [{"path": "/d/a.nt", "kind": "data"}, {"path": "/d/r.dlog", "kind": "rules"}]}, "data")
    [{'path': '/d/a.nt', 'kind': 'data'}]
    """
    inputs = manifest.get("inputs") or []
    return [i for i in inputs if isinstance(i, dict) and i.get("kind") == kind and i.get("path")]


def derived_path(job_dir: str | Path) -> Path | None:
    """Where the job's full derived set is, in whichever form it was written (None: nowhere)."""
    for name in DERIVED_FORMATS.values():
        if (Path(job_dir) / name).exists():
            return Path(job_dir) / name
    return None


def results_path(job_dir: str | Path) -> Path | None:
    """The kept results (``results.nt``; ``derived.nt`` in older folders), or None."""
    for name in (RESULTS, DERIVED_FORMATS["nt"]):
        if (Path(job_dir) / name).is_file():
            return Path(job_dir) / name
    return None


def context_path(job_dir: str | Path) -> Path | None:
    path = Path(job_dir) / CONTEXT
    return path if path.is_file() else None


def offered_files(job_dir: str | Path | None) -> list[dict[str, Any]]:
    """The result files a job folder offers to people and buckets: ``{"path", "bytes"}``, sorted;
    hidden files (temporaries, markers), links and the worker's log are not among them."""
    if not job_dir or not Path(job_dir).is_dir():
        return []
    root = Path(job_dir)
    out: list[dict[str, Any]] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.is_symlink() or any(p.startswith(".") for p in rel.split("/")):
            continue
        if rel == WORKER_LOG:
            continue
        out.append({"path": rel, "bytes": path.stat().st_size})
        if len(out) >= MAX_OFFERED:
            break
    return out


def offered_file(job_dir: str | Path | None, rel: str) -> Path | None:
    """The file ``rel`` inside the job folder, or None when it is not there or not offered
    (a path that leaves the folder, through ``..`` or a link, is never offered)."""
    if not job_dir or not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts) or rel == WORKER_LOG:
        return None
    root = Path(job_dir).resolve()
    try:
        real = (root / rel).resolve(strict=True)
        real.relative_to(root)
    except (OSError, ValueError, RuntimeError):
        return None
    return real if real.is_file() else None


# ---- writing ---------------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes | str, *, durable: bool = True) -> Path:
    """Writes ``path`` through a temporary file and a rename: readers never see half a file.

    ``durable`` also flushes it to disk before the rename (job records; pictures that can be
    drawn again skip it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, doc: Any) -> Path:
    return write_atomic(path, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def write_manifest(job_dir: Path, manifest: Mapping[str, Any]) -> Path:
    return write_json_atomic(Path(job_dir) / MANIFEST, dict(manifest))


def clean_temporaries(job_dir: Path) -> int:
    """Removes leftovers of an interrupted attempt; returns how many."""
    removed = 0
    for leftover in job_dir.rglob(f"{TMP_PREFIX}*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def listed_outputs(job_dir: Path) -> list[str]:
    """Every result file in the job folder, relative, sorted (temporaries and the manifest excluded)."""
    return sorted(
        p.relative_to(job_dir).as_posix()
        for p in job_dir.rglob("*")
        if p.is_file() and not p.name.startswith(TMP_PREFIX) and p.name != MANIFEST
    )


# ---- chains ----------------------------------------------------------------------------------
def chain_counts(by_class: Mapping[str, int]) -> dict[str, int]:
    """Counts of the chain classes by local name, whatever form (IRI or prefixed name) the
    engine's counts use.

    >>> chain_counts({"http://x/classes#SuspiciousChain": 3, "type:PartialChain": 9})
    {'PartialChain': 9, 'SuspiciousChain': 3, 'HighValueChain': 0}
    """
    names = [c.rsplit("#", 1)[-1] for c in CHAIN_CLASSES]
    out = dict.fromkeys(names, 0)
    for key, n in by_class.items():
        for name in names:
            if key.endswith(("#" + name, ":" + name, "/" + name)) or key == name:
                out[name] += int(n)
    return out


def chain_members(nodes: pl.DataFrame, chains: pl.DataFrame) -> pl.DataFrame:
    """The transfers of compact chains, found by walking ``prop:derivedFrom`` back to the first hop.

    ``nodes``: one row per chain node, columns ``node``, ``parent`` (the chain it is derived
    from), ``last`` and ``first`` (its ``hasLastTransaction`` / ``hasFirstTransaction``), null
    where absent; ``chains``: column ``chain``, the chains whose members are wanted. Each node
    on the walk contributes its last transaction (the first one on a node that extends nothing,
    when it has no last). The walk is repeated joins, so 10,000 chains of 30 hops stay fast,
    and stops where a broken file's ``derivedFrom`` comes back to a node already on it.

    Returns ``chain, tx, position`` (1 = the first hop), ordered by chain and position.

    >>> nodes = pl.DataFrame({"node": ["c1", "c2", "c3"], "parent": [None, "c1", "c2"],
    ...                       "last": ["t1", "t2", "t3"], "first": ["t1", "t1", "t1"]})
    >>> chain_members(nodes, pl.DataFrame({"chain": ["c3", "c1"]})).rows()
    [('c1', 't1', 1), ('c3', 't1', 1), ('c3', 't2', 2), ('c3', 't3', 3)]
    """
    schema = {"chain": pl.String, "tx": pl.String, "position": pl.Int64}
    nodes = nodes.select("node", "parent", "last", "first").unique("node", keep="first", maintain_order=True)
    parent = nodes.select("node", "parent").drop_nulls("parent")
    hop = nodes.select(
        "node", pl.coalesce("last", pl.when(pl.col("parent").is_null()).then("first")).alias("tx")
    ).drop_nulls("tx")
    frontier = chains.select("chain", pl.col("chain").alias("node")).unique()
    seen = frontier
    steps = []
    for depth in range(MAX_WALK):
        if frontier.is_empty():
            break
        steps.append(frontier.with_columns(pl.lit(depth, dtype=pl.Int64).alias("depth")))
        frontier = (
            frontier.join(parent, on="node")
            .select("chain", pl.col("parent").alias("node"))
            .join(seen, on=["chain", "node"], how="anti")
        )
        seen = pl.concat([seen, frontier])
    if not steps:
        return pl.DataFrame(schema=schema)
    members = pl.concat(steps).join(hop, on="node")
    return (
        members.with_columns(
            pl.col("depth").rank("ordinal", descending=True).over("chain").cast(pl.Int64).alias("position")
        )
        .select("chain", "tx", "position")
        .sort("chain", "position")
    )


__all__ = [
    "CHAIN_CLASSES", "CHAIN_PAGES", "CONTEXT", "DERIVED_FORMATS", "DERIVED_FROM", "FIRST_TRANSACTION",
    "HIGH_VALUE_CHAIN", "LAST_TRANSACTION", "LOG", "MANIFEST", "PARTIAL_CHAIN", "QUERIES", "REPORT",
    "RESULTS", "SUSPICIOUS_CHAIN", "TMP_PREFIX", "VIZ", "WORKER_LOG", "chain_counts", "chain_members", "clean_temporaries",
    "context_path", "derived_path", "input_files", "listed_outputs", "offered_file", "offered_files", "read_manifest", "results_path",
    "write_atomic", "write_json_atomic", "write_manifest",
]
