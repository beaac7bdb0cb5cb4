"""Files a job writes into its output folder: atomic writes, ``log.jsonl``, ``manifest.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from fincrime import __version__
from fincrime.jobs.registry import now_iso

TMP_PREFIX = ".tmp-"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Writes ``path`` through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, doc: Any) -> None:
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def temp_path_for(path: Path) -> Path:
    """A sibling temporary name for writers that stream (rename it onto ``path`` when complete)."""
    return path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")


def clean_temporaries(job_dir: Path) -> int:
    """Removes leftovers of an interrupted attempt; returns how many."""
    removed = 0
    for leftover in job_dir.rglob(f"{TMP_PREFIX}*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


class JobLog:
    """Appends one JSON event per line to ``log.jsonl`` and forwards it to an observer.

    Each line is one ``write`` on an ``O_APPEND`` descriptor, so concurrent or interrupted
    writers never interleave half lines; a torn last line from a killed attempt is closed off.
    """

    def __init__(self, path: Path, job_id: str, observer: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = path
        self.job_id = job_id
        self.observer = observer
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if path.stat().st_size:
            with open(path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def __call__(self, event: str, **fields: Any) -> None:
        record = {"at": now_iso(), "job": self.job_id, "event": event, **fields}
        os.write(self._fd, (json.dumps(record, default=str) + "\n").encode("utf-8"))
        if self.observer is not None:
            self.observer(record)

    def close(self) -> None:
        os.close(self._fd)


def software_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of fincrime, Python and the libraries that shaped the results."""
    out = {"fincrime": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("polars", "pyoxigraph", "jsonschema", *extra):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def listed_outputs(job_dir: Path) -> list[str]:
    """Every result file in the job folder, relative, sorted (temporaries excluded)."""
    return sorted(
        p.relative_to(job_dir).as_posix()
        for p in job_dir.rglob("*")
        if p.is_file() and not p.name.startswith(TMP_PREFIX) and p.name != "manifest.json"
    )
