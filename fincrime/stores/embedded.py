"""The embedded store: one persistent pyoxigraph store in the workspace, a named graph per job.

Layout of the dataset:

- ``urn:fincrime:job:<id>``: the job's kept results (``results.nt``, see :mod:`fincrime.jobfolder`);
- ``urn:fincrime:input:<sha256>``: one input data file, addressed by content, so jobs over the
  same data share it and a query over all jobs never sees an input triple twice;
- ``urn:fincrime:catalog``: which job uses which input graphs and how many triples each holds.

Loads go through ``Store.bulk_load`` (the fastest path pyoxigraph has) into a graph that was
cleared first, so reloading a job replaces its graph and never duplicates anything. An input
graph is recorded in the catalog only after its load finished: an interrupted load is redone.

Writers take turns: a writable store is opened only while holding an exclusive ``flock`` on
``store.lock`` beside it, and a second writer (another job's load, ``fincrime load``) waits
for it, up to ``FINCRIME_STORE_LOCK_TIMEOUT`` seconds (default 600), instead of failing on
RocksDB's own lock. Readers (queries, ``serve-sparql``) open read-only and never wait.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from fincrime.errors import FincrimeError, InputError
from fincrime.rdf.tables import is_table_set, read_table_set
from fincrime.rdf.writer import StatementStream
from fincrime.stores.jobfiles import JOB_GRAPH_PREFIX, InputFile, JobFiles, read_job

CATALOG = ox.NamedNode("urn:fincrime:catalog")
NS = "https://w3id.org/fincrime/store#"
_USES_INPUT = ox.NamedNode(NS + "usesInput")
_TRIPLES = ox.NamedNode(NS + "triples")
_LOADED_AT = ox.NamedNode(NS + "loadedAt")
_SOURCE = ox.NamedNode(NS + "source")
_XSD_INT = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
_XSD_DT = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")

# How long a writer waits for the one before it (a big load takes minutes).
_LOCK_WAIT_SECONDS = float(os.environ.get("FINCRIME_STORE_LOCK_TIMEOUT", "600"))


class StoreBusy(FincrimeError):
    """Another writer kept the embedded store for longer than we wait; worth retrying later."""

    transient = True


def _wait(deadline: float, turn: int) -> None:
    time.sleep(min(0.05 * 1.5 ** min(turn, 10), 1.0) * (0.5 + random.random()))


def writer_lock(path: Path, deadline: float) -> int:
    """Waits for (and takes) the exclusive lock of the store at ``path``; returns its descriptor."""
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    turn = 0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise StoreBusy(f"{path}: cannot open the embedded store for writing: another process has "
                                f"been writing to it for longer than {_LOCK_WAIT_SECONDS:g} s",
                                hint="retry when it ends (FINCRIME_STORE_LOCK_TIMEOUT sets the wait)") from None
            _wait(deadline, turn)
            turn += 1


def open_store(path: Path, *, read_only: bool = False, deadline: float | None = None) -> ox.Store:
    """Opens the store at ``path``; a writer waits for RocksDB's lock until ``deadline``, then fails clearly."""
    if read_only:
        if not path.is_dir():
            raise InputError(
                f"{path}: no embedded store yet",
                hint="run a job or `fincrime load --job ID` first",
            )
        try:
            return ox.Store.read_only(str(path))
        except OSError as exc:
            raise FincrimeError(f"{path}: cannot open the embedded store read-only: {exc}") from None
    path.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS if deadline is None else deadline
    turn = 0
    while True:
        try:
            return ox.Store(str(path))
        except OSError as exc:
            if "lock" not in str(exc).lower():
                raise FincrimeError(f"{path}: cannot open the embedded store: {exc}") from None
            if time.monotonic() > deadline:
                raise StoreBusy(
                    f"{path}: cannot open the embedded store: {exc}",
                    hint="another fincrime process may be writing to it; retry when it ends",
                ) from None
            _wait(deadline, turn)
            turn += 1


def _count(store: ox.Store, graph: ox.NamedNode) -> int:
    result = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} }}")
    return int(next(iter(result))["n"].value)


def _now() -> ox.Literal:
    return ox.Literal(datetime.now(UTC).isoformat(timespec="seconds"), datatype=_XSD_DT)


@contextmanager
def _rdf_input(path: Path) -> Iterator[dict[str, Any]]:
    """Keyword arguments for ``bulk_load``: a path, a decompressing stream for ``.gz``, or for a
    Parquet table set (``derived.parquet``) its triples streamed batch by batch as N-Triples."""
    if is_table_set(path):
        yield {"input": StatementStream(read_table_set(path))}
    elif path.name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            yield {"input": fh}
    else:
        yield {"path": str(path)}


def memory_store(paths: Iterable[Path]) -> ox.Store:
    """An in-memory store of N-Triples files (plain or gzip) or table sets, in its default graph."""
    store = ox.Store()
    for path in paths:
        try:
            with _rdf_input(path) as source:
                store.bulk_load(format=ox.RdfFormat.N_TRIPLES, **source)
        except SyntaxError as exc:
            raise InputError(f"{path}: {exc}") from None
    return store


def bulk_load_graph(store: ox.Store, path: Path, graph: ox.NamedNode) -> int:
    """Replaces ``graph`` with the N-Triples of ``path``; returns the graph's triple count."""
    store.remove_graph(graph) if store.contains_named_graph(graph) else None
    try:
        with _rdf_input(path) as source:
            store.bulk_load(format=ox.RdfFormat.N_TRIPLES, to_graph=graph, **source)
    except SyntaxError as exc:
        raise InputError(f"{path}: {exc}") from None
    return _count(store, graph)


class EmbeddedStore:
    """The workspace's pyoxigraph store.

    >>> import tempfile, pathlib
    >>> s = EmbeddedStore(pathlib.Path(tempfile.mkdtemp()) / "store")
    >>> s.jobs()
    []
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._lock: int | None = None
        if read_only:
            self.store = open_store(self.path, read_only=True)
            return
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        self._lock = writer_lock(self.path, deadline)
        try:
            self.store = open_store(self.path, deadline=deadline)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Closes the store and lets the next writer in (also done when the object goes away)."""
        if hasattr(self, "store"):
            del self.store  # the last reference: RocksDB closes and releases its own lock
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_lock", None) is not None:
            self.close()

    # ----------------------------------------------------------------- loading
    def _input_loaded(self, inp: InputFile) -> bool:
        node = ox.NamedNode(inp.graph)
        return any(self.store.quads_for_pattern(node, _TRIPLES, None, CATALOG))

    def _load_input(self, inp: InputFile) -> dict[str, Any]:
        node = ox.NamedNode(inp.graph)
        if self._input_loaded(inp) and self.store.contains_named_graph(node):
            return {"graph": inp.graph, "path": str(inp.path), "loaded": False}
        for quad in list(self.store.quads_for_pattern(node, None, None, CATALOG)):
            self.store.remove(quad)
        n = bulk_load_graph(self.store, inp.path, node)
        self.store.extend(
            [
                ox.Quad(node, _SOURCE, ox.Literal(str(inp.path)), CATALOG),
                ox.Quad(node, _LOADED_AT, _now(), CATALOG),
                ox.Quad(node, _TRIPLES, ox.Literal(str(n), datatype=_XSD_INT), CATALOG),
            ]
        )
        return {"graph": inp.graph, "path": str(inp.path), "loaded": True, "triples": n}

    def load_job(self, job: JobFiles, *, with_inputs: bool = True) -> dict[str, Any]:
        """Loads a job's derived triples (and its input data) into their named graphs."""
        start = time.perf_counter()
        inputs = [self._load_input(inp) for inp in job.inputs] if with_inputs else []
        node = ox.NamedNode(job.graph)
        for quad in list(self.store.quads_for_pattern(node, None, None, CATALOG)):
            self.store.remove(quad)
        n = bulk_load_graph(self.store, job.derived, node)
        catalog = [
            ox.Quad(node, _SOURCE, ox.Literal(str(job.derived)), CATALOG),
            ox.Quad(node, _LOADED_AT, _now(), CATALOG),
            ox.Quad(node, _TRIPLES, ox.Literal(str(n), datatype=_XSD_INT), CATALOG),
        ]
        catalog += [ox.Quad(node, _USES_INPUT, ox.NamedNode(i.graph), CATALOG) for i in job.inputs]
        self.store.extend(catalog)
        self.store.flush()
        return {
            "type": "oxigraph",
            "store": str(self.path),
            "graph": job.graph,
            "derived_triples": n,
            "inputs": inputs,
            "seconds": round(time.perf_counter() - start, 3),
        }

    # ---------------------------------------------------------------- querying
    def jobs(self) -> list[str]:
        """Ids of the jobs loaded, sorted."""
        ids = {
            q.subject.value[len(JOB_GRAPH_PREFIX) :]
            for q in self.store.quads_for_pattern(None, _TRIPLES, None, CATALOG)
            if q.subject.value.startswith(JOB_GRAPH_PREFIX)
        }
        return sorted(ids)

    def job_graphs(self, job_id: str | None) -> list[ox.NamedNode]:
        """The graphs forming a job's view (its derived graph and its inputs), or all data."""
        if job_id is None:
            return [g for g in self.store.named_graphs() if g != CATALOG]
        node = ox.NamedNode(JOB_GRAPH_PREFIX + job_id)
        if not any(self.store.quads_for_pattern(node, _TRIPLES, None, CATALOG)):
            known = ", ".join(self.jobs()) or "none"
            raise InputError(f"job {job_id!r} is not in the embedded store (loaded: {known})",
                             hint=f"load it with `fincrime load --job {job_id}`")
        inputs = [q.object for q in self.store.quads_for_pattern(node, _USES_INPUT, None, CATALOG)]
        return [node, *inputs]

    def query(self, text: str, *, job_id: str | None = None) -> Any:
        """Runs a SPARQL query over one job's graphs or all of them (union default graph).

        Raises ``SyntaxError`` (pyoxigraph's, ``error at L:C: ...``) for a bad query.
        """
        graphs = self.job_graphs(job_id)
        # An empty list would mean "the store's default graph"; an unused graph keeps it empty.
        default = graphs or [ox.NamedNode("urn:fincrime:empty")]
        return self.store.query(text, default_graph=default)


def load_embedded(job_dir: str | Path, target: dict[str, Any], store_dir: Path) -> dict[str, Any]:
    """``load_job`` for ``{"type": "oxigraph"}``; ``"location"`` overrides the workspace store."""
    location = Path(target["location"]) if target.get("location") else store_dir
    job = read_job(job_dir)
    with EmbeddedStore(location) as store:
        return store.load_job(job, with_inputs=target.get("inputs", True))
