"""Result stores: where a job's derived triples (and its input data) go to be queried.

Target types (a plugin registry, see :mod:`fincrime.stores.registry`):

- ``{"type": "oxigraph"}``: the embedded, persistent pyoxigraph store of the workspace
  (default), one named graph per job;
- ``{"type": "sparql", "endpoint": ..., "graph_store": ..., "auth": ...}``: any SPARQL 1.1
  server (Graph Store HTTP Protocol, SPARQL Update fallback);
- ``{"type": "gremlin", "url": "ws://..."}``: a Gremlin server (Neptune, JanusGraph,
  TinkerPop), or the embedded Gremlin graph without ``url``;
- ``{"type": "neptune"}``: Neptune bulk-loader files in the job's ``neptune/`` folder.

The JSON Schema of a job spec's ``targets`` list is ``targets.schema.json`` (also
:func:`targets_schema`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fincrime.security.egress import EgressPolicy
from fincrime.stores.jobfiles import input_graph, job_graph, read_job
from fincrime.stores.registry import get, names, register, targets_schema, validate_target
from fincrime.workspace import Workspace

__all__ = [
    "input_graph",
    "job_graph",
    "load_job",
    "names",
    "read_job",
    "register",
    "targets_schema",
    "validate_target",
]


def load_job(job_dir: str | Path, target: dict[str, Any], workspace: Workspace, *,
             progress: Callable[[int], None] | None = None,
             egress: EgressPolicy | None = None) -> dict[str, Any]:
    """Loads the results in ``job_dir`` into one target; returns a report with counts.

    ``progress``, when given, is called with the number of triples / graph elements sent,
    batch by batch (by the target types that send in batches). ``egress`` is the policy for
    the target's connections (default: the workspace's, see :mod:`fincrime.security.egress`;
    the CLI widens it for a target the operator typed).

    Raises :class:`fincrime.errors.InputError` for a bad target and
    :class:`fincrime.errors.FincrimeError` when the target fails (after its retries); the
    job's files are never changed by a failed load, so it can be repeated later.

    >>> import tempfile, pathlib, json                                  # doctest: +SKIP
    >>> load_job("output/demo/demo_20250101_001", {"type": "oxigraph"}, Workspace.from_env())  # doctest: +SKIP
    {'type': 'oxigraph', 'graph': 'urn:fincrime:job:demo_20250101_001', 'derived_triples': ...}
    """
    validate_target(target)
    loader = get(target["type"])
    kwargs: dict[str, Any] = {}
    parameters = inspect.signature(loader).parameters
    if progress is not None and "progress" in parameters:
        kwargs["progress"] = progress
    if egress is not None and "egress" in parameters:
        kwargs["egress"] = egress
    report = loader(Path(job_dir), target, workspace, **kwargs)
    if target.get("name"):
        report["name"] = target["name"]
    return report
