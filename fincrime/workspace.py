"""Where fincrime keeps its state: one workspace folder, shared by jobs, stores and the CLI.

``FINCRIME_HOME`` (default ``./.fincrime``) holds ``registry.sqlite`` (job registry) and
``store/`` (embedded Oxigraph store). Job outputs live in ``output/<dataset>/<job-id>/``
under the output root chosen by the caller (default ``./output``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fincrime.errors import InputError
from fincrime.jobfolder import MANIFEST


@dataclass(frozen=True)
class Workspace:
    home: Path
    output_root: Path

    @classmethod
    def from_env(cls, output_root: str | os.PathLike[str] | None = None) -> Workspace:
        home = Path(os.environ.get("FINCRIME_HOME", ".fincrime")).resolve()
        out = Path(output_root or os.environ.get("FINCRIME_OUTPUT", "output")).resolve()
        return cls(home=home, output_root=out)

    @property
    def registry_path(self) -> Path:
        return self.home / "registry.sqlite"

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    def job_dir(self, dataset: str, job_id: str) -> Path:
        return self.output_root / dataset / job_id

    def find_job_dir(self, job_id: str) -> Path:
        """The output folder of a job, found by its id (``<dataset>/<job-id>/manifest.json``)."""
        hits = sorted(self.output_root.glob(f"*/{job_id}/{MANIFEST}"))
        if not hits:
            raise InputError(f"no job {job_id!r} under {self.output_root}")
        return hits[0].parent
