"""What a job's output folder offers a store: its id, its derived triples and its input data.

The contract (docs/ARCHITECTURE.md): ``manifest.json`` names the job (``id``, ``dataset``) and
its inputs (absolute ``path``, ``sha256``, ``bytes``, ``kind``); ``derived.nt`` holds the
derived triples. Nothing else in the folder is needed to load a store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fincrime.errors import InputError

JOB_GRAPH_PREFIX = "urn:fincrime:job:"
INPUT_GRAPH_PREFIX = "urn:fincrime:input:"
RDF_SUFFIXES = (".nt", ".nt.gz")


def job_graph(job_id: str) -> str:
    """The named graph holding a job's derived triples.

    >>> job_graph("demo_20250101_001")
    'urn:fincrime:job:demo_20250101_001'
    """
    return JOB_GRAPH_PREFIX + job_id


def input_graph(sha256: str) -> str:
    """The named graph holding one input file, addressed by its content.

    Two jobs over the same file share one graph: querying all jobs together then never
    counts an input triple twice (a union default graph keeps duplicates across graphs).

    >>> input_graph("ab" * 32)[:24]
    'urn:fincrime:input:ababa'
    """
    return INPUT_GRAPH_PREFIX + sha256


@dataclass(frozen=True)
class InputFile:
    path: Path
    sha256: str
    bytes: int

    @property
    def graph(self) -> str:
        return input_graph(self.sha256)


@dataclass(frozen=True)
class JobFiles:
    """The parts of a job folder stores read; built with :func:`read_job`."""

    job_dir: Path
    job_id: str
    dataset: str
    derived: Path
    inputs: tuple[InputFile, ...]
    manifest: dict[str, Any]

    @property
    def graph(self) -> str:
        return job_graph(self.job_id)

    def spec_targets(self) -> list[dict[str, Any]]:
        """The load targets the job's resolved spec declares (``spec.targets``)."""
        spec = self.manifest.get("spec") or {}
        targets = spec.get("targets") or []
        return [t for t in targets if isinstance(t, dict)]


def read_job(job_dir: str | Path) -> JobFiles:
    """Reads ``manifest.json`` of a job folder and checks the files a store needs exist."""
    job_dir = Path(job_dir)
    manifest_path = job_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{manifest_path}: no manifest.json in the job folder") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{manifest_path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    job_id = manifest.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise InputError(f"{manifest_path}: manifest has no job 'id'")
    derived = job_dir / "derived.nt"
    if not derived.is_file():
        raise InputError(f"{derived}: job {job_id} has no derived.nt (did the job finish?)")
    inputs = []
    for entry in manifest.get("inputs") or []:
        if entry.get("kind") != "data":
            continue
        path = Path(entry["path"])
        if not path.name.endswith(RDF_SUFFIXES):
            continue
        if not path.is_file():
            raise InputError(f"{path}: input data of job {job_id} is missing")
        inputs.append(InputFile(path=path, sha256=str(entry["sha256"]), bytes=int(entry.get("bytes", 0))))
    return JobFiles(
        job_dir=job_dir,
        job_id=job_id,
        dataset=str(manifest.get("dataset", "")),
        derived=derived,
        inputs=tuple(inputs),
        manifest=manifest,
    )
