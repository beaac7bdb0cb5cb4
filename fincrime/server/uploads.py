"""Uploads land in the input folder exactly as dropped files would.

``INPUT/<dataset>/<path>``: data (``*.nt``, ``*.nt.gz``), rules (``*.dlog``), queries
(``*.rq``) and specs (``*.job.json``, ``*.rdfoxjob.json``, top level only, where the watcher
looks). Uploads are untrusted: a name is a relative path of plain parts (letters, digits, ``.``,
``_``, ``-``; no hidden parts, no ``..``, at most 4 deep) with a known ending, and its folder must
resolve inside the dataset folder. Each file streams to a hidden temporary beside its target,
hashed as it arrives and cut off at the size limit, then is renamed into place, so the watcher
never sees half a file. A spec is checked by the watcher's own validation (in a child process)
before it is renamed into place; a rejected spec never reaches the watcher, and the answer lists
every problem.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

from fincrime.jobfolder import sha256_file
from fincrime.jobs.paths import inside, pattern_problem
from fincrime.jobs.problems import Problem
from fincrime.jobs.spec import DATASET_NAME, SPEC_SUFFIXES
from fincrime.server.config import ServerConfig
from fincrime.server.validate import validate_in_child

KIND_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("spec", SPEC_SUFFIXES),
    ("data", (".nt", ".nt.gz")),
    ("rules", (".dlog",)),
    ("queries", (".rq",)),
)

PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_DEPTH = 4
MAX_SPEC_BYTES = 1 << 20
TMP = ".upload-"


def kind_of(name: str) -> str | None:
    for kind, suffixes in KIND_SUFFIXES:
        if name.endswith(suffixes):
            return kind
    return None


def name_problem(path: str) -> str | None:
    """Why an upload name is refused, or None.

    >>> name_problem("rules/chains.dlog") is None, name_problem("../x.nt"), name_problem("x.exe")
    (True, "'..' is not allowed (paths must stay inside the dataset folder)", 'unknown file type (expected *.nt, *.nt.gz, *.dlog, *.rq, *.job.json or *.rdfoxjob.json)')
    """
    if why := pattern_problem(path):
        return why
    parts = PurePosixPath(path).parts
    if len(parts) > MAX_DEPTH:
        return f"at most {MAX_DEPTH} levels of folders"
    for part in parts:
        if not PART.match(part):
            return f"{part!r}: names use letters, digits, '.', '_' and '-', and do not start with '.'"
    kind = kind_of(parts[-1])
    if kind is None:
        return "unknown file type (expected *.nt, *.nt.gz, *.dlog, *.rq, *.job.json or *.rdfoxjob.json)"
    if kind == "spec" and len(parts) > 1:
        return "job specs go at the top of the dataset folder (where the watcher looks)"
    return None


def dataset_dir(config: ServerConfig, dataset: str, *, create: bool) -> Path:
    if not DATASET_NAME.match(dataset):
        raise HTTPException(400, f"dataset {dataset!r}: 1-64 letters, digits, '.', '_' or '-', not starting with '.'")
    folder = config.input_dir / dataset
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    if folder.exists() and not inside(folder, config.input_dir):
        raise HTTPException(400, f"dataset {dataset!r} resolves outside the input folder")
    return folder


class TooLarge(HTTPException):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(413, f"{what} is larger than the limit of {limit:,} bytes")


@dataclass
class Sink:
    """One file being received: a hidden temporary in the target's folder, hashed as it grows."""

    final: Path
    rel: str
    kind: str
    limit: int
    tmp: Path = field(init=False)
    size: int = 0

    def __post_init__(self) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        suffix = self.final.name if self.kind == "spec" else "part"
        self.tmp = self.final.with_name(f"{TMP}{secrets.token_hex(6)}-{suffix}")
        self._digest = hashlib.sha256()
        self._fh = open(self.tmp, "xb")  # noqa: SIM115 - closed by finish() or discard()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.rel, self.limit)
        self._digest.update(data)
        self._fh.write(data)

    def finish(self) -> str:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        return self._digest.hexdigest()

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)


@dataclass
class Upload:
    """What one request delivered, file by file, and every problem found."""

    dataset: str
    files: list[dict[str, Any]] = field(default_factory=list)
    specs: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "files": self.files, "specs": self.specs,
                "problems": [p.to_dict() for p in self.problems]}


class Receiver:
    """Receives the files of one request into one dataset folder."""

    def __init__(self, config: ServerConfig, dataset: str, *, overwrite: bool) -> None:
        self.config = config
        self.folder = dataset_dir(config, dataset, create=True)
        self.overwrite = overwrite
        self.result = Upload(dataset)
        self.pending_specs: list[tuple[Sink, str]] = []
        self.total = 0

    def open(self, rel: str) -> Sink | None:
        """A sink for ``rel``, or None (with the problem recorded) when the name is refused."""
        if len(self.result.files) + len(self.pending_specs) >= self.config.max_files:
            raise HTTPException(413, f"at most {self.config.max_files} files per request")
        why = name_problem(rel)
        if why:
            self.result.problems.append(Problem(rel, why))
            return None
        final = self.folder / rel
        parent = final.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not inside(parent, self.folder.resolve()):
            self.result.problems.append(Problem(rel, "its folder resolves outside the dataset folder (symlink?)"))
            return None
        if final.is_symlink() or (final.exists() and not final.is_file()):
            self.result.problems.append(Problem(rel, "exists and is not a regular file"))
            return None
        kind = kind_of(final.name) or "data"
        return Sink(final, rel, kind, MAX_SPEC_BYTES if kind == "spec" else self.config.max_file_bytes)

    def count(self, n: int) -> None:
        self.total += n
        if self.total > self.config.max_request_bytes:
            raise TooLarge("the request", self.config.max_request_bytes)

    def close(self, sink: Sink) -> None:
        """A file is complete: data, rules and queries go into place now, specs after the rest."""
        sha = sink.finish()
        if sink.kind == "spec":
            self.pending_specs.append((sink, sha))
            return
        self.result.files.append(self._place(sink, sha))

    def _place(self, sink: Sink, sha: str) -> dict[str, Any]:
        entry = {"path": sink.rel, "kind": sink.kind, "bytes": sink.size, "sha256": sha}
        if sink.final.exists():
            if sha256_file(sink.final) == sha:
                sink.discard()
                return {**entry, "status": "unchanged"}
            if not self.overwrite:
                sink.discard()
                raise HTTPException(409, f"{sink.rel} exists with other content; upload with overwrite=true to replace it")
            os.replace(sink.tmp, sink.final)
            return {**entry, "status": "replaced"}
        os.replace(sink.tmp, sink.final)
        return {**entry, "status": "created"}

    def finish_specs(self, registry: Any, wait: float) -> None:
        """Validates each spec like the watcher; accepted ones go into place and get their job id."""
        placed: list[tuple[dict[str, Any], Path, str]] = []
        for sink, sha in self.pending_specs:
            ok, problems, details = validate_in_child(sink.tmp)
            entry: dict[str, Any] = {"path": sink.rel, "kind": "spec", "bytes": sink.size, "sha256": sha}
            if not ok:
                sink.discard()
                self.result.problems += [Problem(p.where.replace(sink.tmp.name, sink.final.name),
                                                 p.message.replace(sink.tmp.name, sink.final.name)) for p in problems]
                self.result.specs.append({**entry, "status": "rejected", "problems": [
                    {"where": p.where.replace(sink.tmp.name, sink.final.name), "message": p.message} for p in problems]})
                continue
            if sink.final.exists() and not self.overwrite and sha256_file(sink.final) != sha:
                sink.discard()
                raise HTTPException(409, f"{sink.rel} exists with other content; upload with overwrite=true to replace it")
            entry.update(status="accepted", files=details.get("files", {}), notes=details.get("notes", {}))
            os.replace(sink.tmp, sink.final)
            self.result.specs.append(entry)
            placed.append((entry, sink.final, sha))
        deadline = time.monotonic() + wait
        for entry, path, sha in placed:
            entry["job"] = wait_for_job(registry, path, sha, deadline)

    def abort(self, sinks: list[Sink]) -> None:
        for sink in sinks:
            sink.discard()
        for sink, _ in self.pending_specs:
            sink.discard()


def wait_for_job(registry: Any, path: Path, sha: str, deadline: float) -> str | None:
    """The job the watcher made from this spec content, waiting until ``deadline`` for it."""
    key = str(path.absolute())
    while True:
        job = registry.spec_seen(key, sha)
        if job or time.monotonic() >= deadline:
            return job
        time.sleep(0.25)


async def receive_body(request: Request, receiver: Receiver, rel: str) -> None:
    """A PUT: the request body is the file."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > receiver.config.max_file_bytes):
        raise TooLarge(rel, receiver.config.max_file_bytes) if length.isdigit() else HTTPException(400, "bad Content-Length")
    sink = receiver.open(rel)
    if sink is None:
        problem = receiver.result.problems[-1]
        raise HTTPException(400, f"{problem.where}: {problem.message}")
    try:
        async for chunk in request.stream():
            receiver.count(len(chunk))
            sink.write(chunk)
    except BaseException:
        sink.discard()
        raise
    receiver.close(sink)


def _disposition(value: bytes) -> dict[str, str]:
    _, options = parse_options_header(value)
    return {k.decode("latin-1").lower(): v.decode("utf-8", "replace") for k, v in options.items()}


async def receive_multipart(request: Request, receiver: Receiver) -> None:
    """A multipart/form-data body: every part with a file name is a file (the name may hold
    folders, ``rules/chains.dlog``); other fields are ignored."""
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise HTTPException(415, "expected multipart/form-data with a boundary")
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "sink": None, "skip": False}
    open_sinks: list[Sink] = []

    def on_part_begin() -> None:
        state.update(headers={}, sink=None, skip=False)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        disp = _disposition(state["headers"].get("content-disposition", b""))
        filename = disp.get("filename")
        if not filename:
            state["skip"] = True  # a plain form field
            return
        sink = receiver.open(filename.replace("\\", "/") if "\\" in filename and "/" not in filename else filename)
        state["sink"] = sink
        state["skip"] = sink is None
        if sink:
            open_sinks.append(sink)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["sink"] is not None:
            state["sink"].write(data[start:end])

    def on_part_end() -> None:
        sink = state["sink"]
        if sink is not None:
            open_sinks.remove(sink)
            receiver.close(sink)
            state["sink"] = None

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }, max_header_count=16, max_header_size=8192)
    try:
        async for chunk in request.stream():
            receiver.count(len(chunk))
            parser.write(chunk)
        parser.finalize()
    except HTTPException:
        receiver.abort(open_sinks)
        raise
    except Exception as exc:
        receiver.abort(open_sinks)
        raise HTTPException(400, f"malformed multipart body: {exc}") from None
    if open_sinks:
        receiver.abort(open_sinks)
        raise HTTPException(400, "malformed multipart body: it ended inside a file")
