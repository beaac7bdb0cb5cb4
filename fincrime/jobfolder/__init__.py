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

The chains a job folder holds are :mod:`fincrime.jobfolder.chains`'s: their classes and the one
walk of their transfers along ``prop:derivedFrom``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fincrime.errors import InputError

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


def sha256_file(path: Path) -> str:
    """A file's content address, as the manifest records each input (and stores name its graph)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


__all__ = [
    "CHAIN_PAGES", "CONTEXT", "DERIVED_FORMATS", "LOG", "MANIFEST", "MAX_OFFERED", "QUERIES", "REPORT",
    "RESULTS", "TMP_PREFIX", "VIZ", "WORKER_LOG", "clean_temporaries", "context_path", "derived_path",
    "input_files", "listed_outputs", "offered_file", "offered_files", "read_manifest", "results_path",
    "sha256_file", "write_atomic", "write_json_atomic", "write_manifest",
]
