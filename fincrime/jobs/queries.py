"""The query phase: every ``.rq`` of a job over its results, through the stores' SPARQL code.

The queries run on the workspace's embedded store when the job loaded into it, otherwise on an
in-memory store of the job's results, their context and its parameters. Each query file is
read and checked again right before it runs (the file may have changed since the spec was
accepted: :func:`fincrime.stores.query.check_queries`), so a ``SERVICE`` the operator did not
allow never runs; the result files are :func:`fincrime.stores.results.write_files`'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from fincrime.errors import FincrimeError
from fincrime.jobfolder import context_path, results_path
from fincrime.params import ParamValue, param_triples
from fincrime.security.config import SecurityConfig
from fincrime.stores.embedded import EmbeddedStore, memory_store
from fincrime.stores.query import check_queries, run_checked
from fincrime.stores.results import write_files


def param_quads(params: Mapping[str, ParamValue]) -> list[ox.Quad]:
    """The job's parameters as ``[param:job, param:<name>, value]``, typed as the rules see them
    (:func:`fincrime.params.param_literal`).

    >>> [str(q.object) for q in param_quads({"highValueThreshold": 10000, "minimum": 1e-05})]
    ['"10000"^^<http://www.w3.org/2001/XMLSchema#integer>', '"1e-05"^^<http://www.w3.org/2001/XMLSchema#double>']
    """
    text = "".join(f"{s} {p} {o} .\n" for s, p, o in param_triples(params))
    return list(ox.parse(text.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES))


def job_store(job_dir: Path, job_id: str, workspace: Any, embedded: bool,
              params: Mapping[str, ParamValue]) -> tuple[Any, str | None]:
    """Where a job's queries run, and the job id that narrows the store to the job's graphs.

    The workspace's embedded store, when the job loaded into it (the same view as ``fincrime
    query --job``); otherwise an in-memory store of the job's results and their context (a job
    that loads nowhere, or only into other stores)."""
    if embedded:
        return EmbeddedStore(workspace.store_dir, read_only=True), job_id
    store = memory_store(p for p in (results_path(job_dir), context_path(job_dir)) if p is not None)
    store.extend(param_quads(params))
    return store, None


def output_names(queries: list[Path], root: Path) -> dict[Path, str]:
    """Result base names (``x.rq``); files of the same name in different folders get their path.

    >>> output_names([Path("/d/a/x.rq"), Path("/d/b/x.rq"), Path("/d/y.rq")], Path("/d"))
    {PosixPath('/d/a/x.rq'): 'a__x.rq', PosixPath('/d/b/x.rq'): 'b__x.rq', PosixPath('/d/y.rq'): 'y.rq'}
    """
    names = [q.name for q in queries]
    return {q: (q.relative_to(root).as_posix().replace("/", "__") if names.count(q.name) > 1 else q.name) for q in queries}


def _read(query: Path) -> str:
    try:
        return query.read_text(encoding="utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError) as exc:
        raise FincrimeError(f"{query}: cannot read the query: {exc}") from None


def run_queries(
    store: Any,
    queries: list[Path],
    root: Path,
    out_dir: Path,
    formats: list[str],
    on_done: Callable[[str, dict[str, Any]], None] | None = None,
    config: SecurityConfig | None = None,
    job_id: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Runs every query into ``out_dir``; ``on_done(name, info)`` after each (``info``:
    :func:`~fincrime.stores.results.write_files`'). ``job_id``: the job's graphs of an
    :class:`~fincrime.stores.embedded.EmbeddedStore`."""
    config = config or SecurityConfig()
    names = output_names(queries, root)
    checked = check_queries([(str(q), _read(q)) for q in names], config=config)
    results = {}
    for name, check in zip(names.values(), checked, strict=True):
        result = run_checked(store, check, config=config, job_id=job_id)
        results[name] = write_files(result, out_dir, name, formats)
        if on_done:
            on_done(name, results[name])
    return results
