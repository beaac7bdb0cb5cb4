"""What a job's output folder offers a store: its id, its derived triples and its input data.

The contract (docs/ARCHITECTURE.md, :mod:`fincrime.jobfolder`): ``manifest.json`` names the job
(``id``, ``dataset``), its inputs (absolute ``path``, ``sha256``, ``bytes``, ``kind``) and its
spec, whose ``keep`` says what a store gets: as the job's graph the kept results
(``results.nt``, default) or every derived triple (``keep.load: all``); as input the results'
context (``context.nt``, ``keep.inputs: context``) or every input file (default). Either input is
addressed by its content, so jobs over the same data share one graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fincrime.errors import InputError
from fincrime.jobfolder import (
    MANIFEST,
    RESULTS,
    context_path,
    derived_path,
    input_files,
    read_manifest,
    results_path,
    sha256_file,
)

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
    manifest_path = job_dir / MANIFEST
    manifest = read_manifest(job_dir)
    job_id = manifest.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise InputError(f"{manifest_path}: manifest has no job 'id'")
    keep = (manifest.get("spec") or {}).get("keep") or {}
    if keep.get("load") == "all":
        derived = derived_path(job_dir)
        if derived is None:
            raise InputError(f"{job_dir}: job {job_id} keeps no copy of every derived triple",
                             hint="keep.load 'all' needs keep.derived 'parquet', 'nt' or 'nt.gz'")
    else:
        derived = results_path(job_dir)  # type: ignore[assignment]
        if derived is None:
            raise InputError(f"{job_dir / RESULTS}: job {job_id} has no results (did the job finish?)")
    context = context_path(job_dir)
    inputs: list[InputFile] = []
    if context is not None and keep.get("inputs") == "context":
        inputs.append(InputFile(path=context, sha256=sha256_file(context), bytes=context.stat().st_size))
    else:
        for entry in input_files(manifest, "data"):
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
