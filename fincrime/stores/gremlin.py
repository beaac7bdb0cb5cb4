"""Loading the property graph (:mod:`fincrime.stores.propgraph`) into a Gremlin graph.

The loader speaks gremlinpython through a ``RemoteConnection`` and writes batches of chained
``mergeV`` / ``mergeE`` upserts keyed by stable ids (``T.id``), the pattern Neptune,
JanusGraph and TinkerPop Gremlin Server all run: loading the same job twice changes nothing,
a batch that failed mid-way is simply sent again. Vertices go first, so every edge finds its
endpoints.

Targets: ``{"type": "gremlin", "url": "ws://host:8182/gremlin"}`` (a server, through
``DriverRemoteConnection``) or ``{"type": "gremlin"}`` / ``"url": "embedded"`` (the
workspace's embedded graph, a graphersal Store in ``FINCRIME_HOME/gremlin``, through
:class:`fincrime.stores.graphersal_remote.GraphersalConnection`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import graphersal
from gremlin_python.driver.remote_connection import RemoteConnection
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.traversal import Direction, Merge, T

from fincrime.errors import FincrimeError, InputError
from fincrime.security.egress import EgressPolicy, EgressRefused, egress_policy
from fincrime.stores.graphersal_remote import GraphersalConnection, error_message
from fincrime.stores.httpclient import Retry, TargetUnavailable, credentials
from fincrime.stores.jobfiles import JobFiles
from fincrime.stores.propgraph import Edge, PropertyGraph, Vertex, build
from fincrime.workspace import Workspace


def _upsert_vertex(t: Any, v: Vertex) -> Any:
    t = t.merge_v({T.id: v.id, T.label: v.label})
    if v.props:
        t = t.option(Merge.on_create, dict(v.props)).option(Merge.on_match, dict(v.props))
    return t


EDGE_KEY = "edgeId"


def _upsert_edge(t: Any, e: Edge, edge_ids: str = "native") -> Any:
    search: dict[Any, Any] = {T.label: e.label, Direction.OUT: e.out_v, Direction.IN: e.in_v}
    if edge_ids == "native":
        search[T.id] = e.id
    else:  # servers that assign edge ids themselves (JanusGraph): match on a property
        search[EDGE_KEY] = e.id
    t = t.merge_e(search)
    if e.props:
        t = t.option(Merge.on_create, dict(e.props)).option(Merge.on_match, dict(e.props))
    return t


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class GremlinLoader:
    """Writes a :class:`PropertyGraph` through any gremlinpython ``RemoteConnection``."""

    def __init__(self, connection: RemoteConnection, *, batch_size: int = 200,
                 edge_ids: str = "native", retry: Retry | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.g = traversal().with_(connection)
        self.batch_size = batch_size
        self.edge_ids = edge_ids
        self.retry = retry or Retry()
        self._sleep = sleep

    def _send(self, batch: Sequence[Vertex | Edge]) -> None:
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            t: Any = self.g
            for el in batch:
                t = _upsert_vertex(t, el) if isinstance(el, Vertex) else _upsert_edge(t, el, self.edge_ids)
            try:
                t.iterate()
                return
            except FincrimeError:
                raise
            except Exception as exc:  # driver/server errors: upserts are safe to send again
                last = exc
                if attempt + 1 < self.retry.attempts:
                    self._sleep(self.retry.delay(attempt))
        raise TargetUnavailable(f"Gremlin batch failed after {self.retry.attempts} attempts ({last})")

    def load(self, graph: PropertyGraph, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        for elements in (graph.vertices, graph.edges):
            for batch in _chunks(elements, self.batch_size):
                self._send(batch)
                if progress:
                    progress(len(batch))
        return {"vertices": len(graph.vertices), "edges": len(graph.edges)}


def embedded_location(target: dict[str, Any], workspace: Workspace) -> Path:
    return Path(target["location"]) if target.get("location") else workspace.home / "gremlin"


@contextmanager
def open_embedded(path: Path) -> Iterator[Any]:
    """The embedded Gremlin graph (a graphersal Store), created on first use."""
    try:
        store = graphersal.Store.open(str(path)) if path.exists() else graphersal.Store.create(str(path))
    except graphersal.GraphersalError as exc:
        raise FincrimeError(f"{path}: cannot open the embedded Gremlin graph: {error_message(exc)}") from None
    try:
        yield store.graph
    finally:
        store.close()


@contextmanager
def connect(target: dict[str, Any], workspace: Workspace,
            egress: EgressPolicy | None = None) -> Iterator[tuple[RemoteConnection, str]]:
    """A ``RemoteConnection`` for a target, and a name for reports.

    A server connection obeys the egress policy (default: the workspace's).
    """
    url = target.get("url") or "embedded"
    if url == "embedded":
        location = embedded_location(target, workspace)
        with open_embedded(location) as graph:
            yield GraphersalConnection(graph), str(location)
        return
    # the network client (aiohttp and friends) loads only for a Gremlin server, never for the embedded graph
    from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection

    from fincrime.security.gremlin_transport import CheckedTransport

    policy = egress or egress_policy(workspace.home)
    what = f"Gremlin server {url}"
    policy.check_url(url, what, schemes=("ws", "wss"))
    creds = credentials(target.get("auth"))
    kwargs: dict[str, Any] = {}
    if creds is not None:
        kwargs = {"username": creds[1], "password": creds[2]}
    try:
        conn = DriverRemoteConnection(url, target.get("traversal_source", "g"),
                                      transport_factory=lambda: CheckedTransport(policy, what), **kwargs)
    except EgressRefused:
        raise
    except Exception as exc:
        raise TargetUnavailable(f"Gremlin server {url}: cannot connect ({exc})") from None
    try:
        yield conn, url
    finally:
        conn.close()


def _batch_default(target: dict[str, Any]) -> int:
    # graphersal's cost per traversal grows faster than its length (measured: 20 upserts a
    # traversal load ~20k elements/s, 500 a traversal ~800/s); servers prefer larger batches.
    return 20 if (target.get("url") or "embedded") == "embedded" else 200


def load_gremlin_target(job: JobFiles, target: dict[str, Any], workspace: Workspace, *,
                        progress: Callable[[int], None] | None = None,
                        egress: EgressPolicy | None = None) -> dict[str, Any]:
    """``load_job`` for ``{"type": "gremlin", ...}``."""
    start = time.perf_counter()
    graph = build(job)
    with connect(target, workspace, egress) as (conn, where):
        loader = GremlinLoader(conn, batch_size=int(target.get("batch_size", _batch_default(target))),
                               edge_ids=target.get("edge_ids", "native"),
                               retry=Retry.from_target(target))
        counts = loader.load(graph, progress)
    return {"type": "gremlin", "url": where, **counts, "labels": graph.counts(),
            "seconds": round(time.perf_counter() - start, 3)}


def _plain(value: Any) -> Any:
    """graphersal results as JSON-friendly values (elements as id/label maps)."""
    if isinstance(value, graphersal.Vertex):
        return {"id": value.id, "label": value.label, **{k: _plain(v) for k, v in value.properties.items()}}
    if isinstance(value, graphersal.Edge):
        return {"id": value.id, "label": value.label, "out": value.out_v.id, "in": value.in_v.id,
                **{k: _plain(v) for k, v in value.properties.items()}}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def query_embedded(location: Path, script: str, *, source: str = "<gremlin>") -> list[Any]:
    """Runs a read-only Gremlin script (graphersal dialect: double-quoted strings) on the
    embedded graph and returns its results as plain values (a list)."""
    if not location.exists():
        raise InputError(f"{location}: no embedded Gremlin graph yet",
                         hint="load a job into it with `fincrime load --job ID --type gremlin`")
    with open_embedded(location) as graph:
        try:
            result = graph.execute(script, policy=graphersal.AccessPolicy.read_only())
        except graphersal.GraphersalError as exc:
            raise InputError(f"{source}: {error_message(exc)}") from None
    result = _plain(result)
    return result if isinstance(result, list) else [result]
