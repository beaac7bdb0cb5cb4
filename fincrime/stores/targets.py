"""The built-in target types: each turns a target dict into a load of one job folder.

Each imports its store's module when it runs, so loading one kind of store never imports the
client libraries of the others (the registry names these functions: :mod:`fincrime.stores.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fincrime.security.egress import EgressPolicy, egress_policy
from fincrime.stores.jobfiles import read_job
from fincrime.workspace import Workspace


def load_oxigraph(job_dir: Path, target: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
    from fincrime.stores.embedded import load_embedded

    return load_embedded(job_dir, target, workspace.store_dir)


def load_sparql(job_dir: Path, target: dict[str, Any], workspace: Workspace, *,
                progress: Callable[[int], None] | None = None,
                egress: EgressPolicy | None = None) -> dict[str, Any]:
    from fincrime.stores.sparql_remote import SparqlServer

    egress = egress or egress_policy(workspace.home)
    return SparqlServer(target, egress=egress).load_job(read_job(job_dir), with_inputs=target.get("inputs", True),
                                         progress=progress)


def load_gremlin(job_dir: Path, target: dict[str, Any], workspace: Workspace, *,
                 progress: Callable[[int], None] | None = None,
                 egress: EgressPolicy | None = None) -> dict[str, Any]:
    from fincrime.stores.gremlin import load_gremlin_target

    return load_gremlin_target(read_job(job_dir), target, workspace, progress=progress,
                               egress=egress or egress_policy(workspace.home))


def load_neptune(job_dir: Path, target: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
    from fincrime.stores.neptune import write_neptune_files

    return write_neptune_files(read_job(job_dir), target)
