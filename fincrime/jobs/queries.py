"""The query phase: every ``.rq`` over the input data plus the derived triples, in memory.

Results go to ``queries/``: ``<query>.rq.nt`` for CONSTRUCT/DESCRIBE and for ``SELECT ?S ?P ?O``
(the reference's way of extracting triples), ``<query>.rq.csv`` / ``<query>.rq.json`` (SPARQL
1.1 results formats) for other SELECTs and ``<query>.rq.json`` for ASK.

Each query is screened again right before it runs (the file may have changed since the spec
was accepted): a ``SERVICE`` the operator did not allow never runs.
"""

from __future__ import annotations

import gzip
import json
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from fincrime.errors import FincrimeError
from fincrime.jobfolder import write_atomic
from fincrime.params import ParamValue, param_triples
from fincrime.security.config import SecurityConfig
from fincrime.security.egress import EgressPolicy
from fincrime.security.sparql import QueryLimits, screen_query


def param_quads(params: Mapping[str, ParamValue]) -> list[ox.Quad]:
    """The job's parameters as ``[param:job, param:<name>, value]``, typed as the rules see them
    (:func:`fincrime.params.param_literal`).

    >>> [str(q.object) for q in param_quads({"highValueThreshold": 10000, "minimum": 1e-05})]
    ['"10000"^^<http://www.w3.org/2001/XMLSchema#integer>', '"1e-05"^^<http://www.w3.org/2001/XMLSchema#double>']
    """
    text = "".join(f"{s} {p} {o} .\n" for s, p, o in param_triples(params))
    return list(ox.parse(text.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES))


def load_store(data_files: list[Path], derived: Path | None, params: Mapping[str, Any]) -> ox.Store:
    """An in-memory store with the data, the derived triples and the parameters."""
    store = ox.Store()
    for path in [*data_files, *([derived] if derived else [])]:
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rb") as fh:
                store.bulk_load(input=fh, format=ox.RdfFormat.N_TRIPLES)
        except SyntaxError as exc:
            raise FincrimeError(f"{path}: not valid N-Triples: {exc}") from None
    if params:
        store.extend(param_quads(params))
    return store


class _JobView:
    """The embedded store as one job sees it: its graph and its inputs' graphs (read-only)."""

    def __init__(self, store_dir: Path, job_id: str) -> None:
        from fincrime.stores.embedded import EmbeddedStore

        self._store = EmbeddedStore(store_dir, read_only=True)
        self._job_id = job_id

    def query(self, text: str) -> Any:
        return self._store.query(text, job_id=self._job_id)


def job_store(job_dir: Path, job_id: str, workspace: Any, embedded: bool, params: Mapping[str, Any]) -> Any:
    """Where a job's queries run: the workspace's embedded store, when the job loaded into it
    (the same view as ``fincrime query --job``); otherwise an in-memory store of the job's
    results and their context (a job that loads nowhere, or only into other stores)."""
    if embedded:
        return _JobView(workspace.store_dir, job_id)
    from fincrime.jobfolder import context_path, results_path

    files = [p for p in (results_path(job_dir), context_path(job_dir)) if p is not None]
    return load_store(files, None, params)


def output_names(queries: list[Path], root: Path) -> dict[Path, str]:
    """Result base names (``x.rq``); files of the same name in different folders get their path.

    >>> output_names([Path("/d/a/x.rq"), Path("/d/b/x.rq"), Path("/d/y.rq")], Path("/d"))
    {PosixPath('/d/a/x.rq'): 'a__x.rq', PosixPath('/d/b/x.rq'): 'b__x.rq', PosixPath('/d/y.rq'): 'y.rq'}
    """
    names = [q.name for q in queries]
    return {q: (q.relative_to(root).as_posix().replace("/", "__") if names.count(q.name) > 1 else q.name) for q in queries}


def _is_spo(variables: list[ox.Variable]) -> bool:
    return [v.value.lower() for v in variables] == ["s", "p", "o"]


def _triples_from(solutions: ox.QuerySolutions) -> list[ox.Triple] | None:
    triples = []
    for row in solutions:
        s, p, o = row[0], row[1], row[2]
        if not isinstance(s, ox.NamedNode | ox.BlankNode) or not isinstance(p, ox.NamedNode) or o is None:
            return None
        triples.append(ox.Triple(s, p, o))
    return triples


def run_query(store: ox.Store, query: Path, out_dir: Path, name: str, formats: list[str],
              config: SecurityConfig | None = None) -> dict[str, Any]:
    """Runs one query; returns ``{"kind", "rows", "files"}`` (files relative to ``out_dir``'s parent)."""
    config = config or SecurityConfig()
    try:
        text = query.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FincrimeError(f"{query}: cannot read the query: {exc}") from None
    policy = EgressPolicy.from_entries(config.egress_allow)
    screened = screen_query(text, str(query), limits=QueryLimits.from_config(config), egress=policy)
    for clause in screened.services:  # allowed endpoints: their names must not resolve somewhere private
        parts = urllib.parse.urlsplit(clause.endpoint or "")
        policy.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), f"SERVICE <{clause.endpoint}>")
    try:
        result = store.query(text)
    except (SyntaxError, OSError, ValueError) as exc:
        raise FincrimeError(f"{query}: query failed: {exc}") from None
    files: list[Path] = []
    if isinstance(result, ox.QueryBoolean):
        path = out_dir / f"{name}.json"
        write_atomic(path, result.serialize(format=ox.QueryResultsFormat.JSON))
        info = {"kind": "ask", "rows": 1, "value": bool(result)}
        files.append(path)
    elif isinstance(result, ox.QueryTriples):
        data = result.serialize(format=ox.RdfFormat.N_TRIPLES) or b""
        path = out_dir / f"{name}.nt"
        write_atomic(path, data)
        info = {"kind": "construct", "rows": data.count(b"\n")}
        files.append(path)
    else:
        spo = _is_spo(result.variables)
        raw = result.serialize(format=ox.QueryResultsFormat.JSON) or b""
        triples = _triples_from(ox.parse_query_results(raw, format=ox.QueryResultsFormat.JSON)) if spo else None
        if triples is not None:
            path = out_dir / f"{name}.nt"
            write_atomic(path, ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"")
            info = {"kind": "select-triples", "rows": len(triples)}
            files.append(path)
        else:
            info = {"kind": "select", "rows": len(json.loads(raw)["results"]["bindings"])}
            if "json" in formats:
                files.append(out_dir / f"{name}.json")
                write_atomic(files[-1], raw)
            if "csv" in formats:
                parsed = ox.parse_query_results(raw, format=ox.QueryResultsFormat.JSON)
                files.append(out_dir / f"{name}.csv")
                write_atomic(files[-1], parsed.serialize(format=ox.QueryResultsFormat.CSV) or b"")
    info["files"] = [f.relative_to(out_dir.parent).as_posix() for f in files]
    return info


def run_queries(
    store: ox.Store,
    queries: list[Path],
    root: Path,
    out_dir: Path,
    formats: list[str],
    on_done: Callable[[str, dict[str, Any]], None] | None = None,
    config: SecurityConfig | None = None,
) -> dict[str, dict[str, Any]]:
    """Runs every query into ``out_dir``; ``on_done(name, info)`` after each."""
    results = {}
    for query, name in output_names(queries, root).items():
        results[name] = run_query(store, query, out_dir, name, formats, config)
        if on_done:
            on_done(name, results[name])
    return results
