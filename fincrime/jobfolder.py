"""A job's output folder: which file holds what, and reading its manifest.

One module for every reader (jobs, stores, pictures, the console), so the layout is stated once:

==================  =========================================================================
``manifest.json``   id, dataset, spec, inputs (path, sha256, kind), counts, timings, status
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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fincrime.errors import InputError

MANIFEST = "manifest.json"
RESULTS = "results.nt"
CONTEXT = "context.nt"
DERIVED_FORMATS = {"parquet": "derived.parquet", "nt.gz": "derived.nt.gz", "nt": "derived.nt"}


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


__all__ = ["CONTEXT", "DERIVED_FORMATS", "MANIFEST", "RESULTS", "context_path", "derived_path",
           "read_manifest", "results_path"]
