"""What a job records besides its results: the ``log.jsonl`` events and the software versions.

The folder's layout and its atomic writes are :mod:`fincrime.jobfolder`'s.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from fincrime import __version__
from fincrime.jobs.registry import now_iso


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
