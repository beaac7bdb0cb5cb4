"""Running one job: reasoning -> queries -> loading -> visualizations, with an audit trail.

The job must already be claimed in the registry under a :class:`~fincrime.jobs.registry.Lease`.
Each phase that finishes is recorded, so a job interrupted by a crash, a ``kill -9`` or a
shutdown resumes after its last finished phase (its inputs are re-hashed; if they changed, it
starts over). Transient failures while loading stores are retried with exponential backoff;
when they persist the job fails with every result kept on disk (``fincrime jobs retry`` loads
them later). Events go to ``log.jsonl`` and to an optional observer (the CLI's progress bars).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fincrime import viz
from fincrime.engine import materialize
from fincrime.errors import FincrimeError
from fincrime.jobfolder import (
    CONTEXT,
    DERIVED_FORMATS,
    LOG,
    RESULTS,
    clean_temporaries,
    listed_outputs,
    sha256_file,
    write_manifest,
)
from fincrime.jobfolder.chains import chain_counts
from fincrime.jobs import registry as R
from fincrime.jobs.outputs import JobLog, software_versions
from fincrime.jobs.queries import job_store, run_queries
from fincrime.rdf import write_ntriples
from fincrime.rules import load_program
from fincrime.security.config import load_config
from fincrime.stores import load_job
from fincrime.stores.httpclient import TargetUnavailable
from fincrime.workspace import Workspace

HEARTBEAT_SECONDS = 1.0
TRANSIENT = (ConnectionError, TimeoutError, socket.timeout, urllib.error.URLError)


class JobCancelled(FincrimeError):
    """A user asked for the job to stop (``fincrime jobs cancel``)."""


class JobInterrupted(Exception):
    """The process is shutting down (SIGTERM); the job goes back to the queue and resumes later."""


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying: a store that is down, anywhere in the exception's cause chain."""
    kinds = (*TRANSIENT, TargetUnavailable)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds) or getattr(seen, "transient", False):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _Watchdog(threading.Thread):
    """Refreshes the lease and turns a cancel request or a lost lease into an exception in the job."""

    def __init__(self, registry_path: Path, job_id: str, token: str, in_main: bool) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.registry_path, self.job_id, self.token, self.in_main = registry_path, job_id, token, in_main
        self.stop_event = threading.Event()
        self.reason: str | None = None

    def run(self) -> None:
        reg = R.Registry(self.registry_path)
        try:
            while not self.stop_event.wait(HEARTBEAT_SECONDS):
                try:
                    cancel = reg.heartbeat(self.job_id, self.token)
                except R.LeaseLost:
                    self._raise("lease")
                    return
                except Exception:  # a busy database this second is not a reason to stop the job
                    continue
                if cancel:
                    self._raise("cancel")
                    return
        finally:
            reg.close()

    def _raise(self, reason: str) -> None:
        self.reason = reason
        if self.in_main and not self.stop_event.is_set():
            os.kill(os.getpid(), signal.SIGUSR1)


@dataclass
class _Job:
    registry: R.Registry
    record: R.JobRecord
    lease: R.Lease
    workspace: Workspace
    log: JobLog
    job_dir: Path
    spec: dict[str, Any]
    files: dict[str, list[Path]]
    progress: bool
    sleep: Callable[[float], None]
    phases: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    debug: bool = False  # the engine's own logs too (Spark's), as ``fincrime --debug run`` asks

    def done(self, phase: str) -> bool:
        return phase in self.phases

    def record_phase(self, phase: str, info: dict[str, Any]) -> None:
        self.phases[phase] = info
        self.registry.phase_done(self.record.id, self.lease.token, phase, info)

    def status(self, status: str, message: str | None = None) -> None:
        self.registry.set_status(self.record.id, self.lease.token, status, message)
        self.log("status", status=status, message=message)


def _files_of(record: R.JobRecord) -> tuple[dict[str, Any], dict[str, list[Path]]]:
    resolved = record.resolved or {}
    spec = resolved["spec"]
    root = Path(resolved["dataset_dir"])
    files = {kind: [root / rel for rel in spec.get(kind, [])] for kind in ("data", "rules", "queries", "ground_truth")}
    return spec, files


def _hash_inputs(job: _Job) -> None:
    job.inputs = []
    for kind in ("data", "rules", "queries", "ground_truth"):
        for path in job.files[kind]:
            if not path.is_file():
                raise FincrimeError(f"{path}: input file disappeared since the spec was accepted")
            job.inputs.append({"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size, "kind": kind})
    digest = "|".join(f"{i['path']}={i['sha256']}" for i in job.inputs)
    previous = job.phases.get("inputs", {}).get("digest")
    if previous is not None and previous != digest:
        job.log("restart", message="inputs changed since the interrupted attempt; starting over")
        job.phases = {}
        job.registry._owned_update(job.record.id, job.lease.token, "phases_json = ?", ("{}",), None, None)
    if "inputs" not in job.phases:
        job.record_phase("inputs", {"digest": digest})


def counts_of(phases: dict[str, Any]) -> dict[str, Any]:
    """The summary counts of a job, from its finished phases."""
    reason = phases.get("reason", {})
    counts: dict[str, Any] = {
        "derived_triples": reason.get("derived_triples", 0),
        "chains": reason.get("chains", chain_counts({})),
        "by_class": reason.get("by_class", {}),
        "by_predicate": reason.get("by_predicate", {}),
    }
    if "query" in phases:
        counts["queries"] = {name: q["rows"] for name, q in phases["query"]["results"].items()}
    loads = [v["report"] for k, v in sorted(phases.items()) if k.startswith("load[")]
    if loads:
        counts["loads"] = loads
    return counts


def _timings(phases: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in phases.items():
        if isinstance(info, dict) and "seconds" in info:
            out[name] = info["seconds"]
        if isinstance(info, dict) and info.get("engine_timings"):
            out["engine"] = info["engine_timings"]
    return out


def record_manifest(job: _Job, status: str, error: str | None = None) -> None:
    record = job.registry.get(job.record.id)
    resolved = record.resolved or {}
    extra = ("pyspark",) if job.spec.get("engine", {}).get("type") == "spark" else ()
    manifest = {
        "id": record.id,
        "dataset": record.dataset,
        "name": record.name,
        "status": status,
        "spec_file": {"path": record.spec_path, "sha256": record.spec_sha256},
        "dataset_dir": resolved.get("dataset_dir"),
        "spec": job.spec,
        **({"reference": resolved["notes"]["reference"]} if resolved.get("notes", {}).get("reference") else {}),
        "inputs": job.inputs,
        "counts": counts_of(job.phases),
        "timings": _timings(job.phases),
        "software": software_versions(extra),
        "outputs": listed_outputs(job.job_dir),
        "attempts": record.attempts,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": R.now_iso() if status in R.FINAL else None,
        "error": error,
    }
    write_manifest(job.job_dir, manifest)


# ---- phases --------------------------------------------------------------------------------
def _reason(job: _Job) -> None:
    results = job.job_dir / RESULTS
    if job.done("reason") and results.is_file():
        job.log("skip", phase="reason", message="already done before the interruption")
        return
    start = time.perf_counter()
    rules = job.files["rules"]
    keep = job.spec.get("keep") or {}
    info: dict[str, Any] = {"by_class": {}, "by_predicate": {}, "engine_timings": {}, "derived_triples": 0}
    job.log("phase", phase="reason", rules=len(rules), data=len(job.files["data"]))
    if not rules:
        write_ntriples(results, [])
        write_ntriples(job.job_dir / CONTEXT, [])
    else:
        engine = job.spec.get("engine", {})
        options = {k: engine[k] for k in ("master", "cores", "memory", "partitions", "max_facts") if k in engine}
        if "timeout_minutes" in engine:
            options["timeout"] = float(engine["timeout_minutes"]) * 60
        if job.debug:
            options["debug"] = True
        program = load_program([str(p) for p in rules], prefixes=job.spec.get("prefixes") or None, params=job.spec.get("params") or None)
        result = materialize(program, [str(p) for p in job.files["data"]], engine=engine.get("type", "memory"),
                             engine_options=options or None, progress=lambda event: _engine_event(job, event))
        form = keep.get("derived", "parquet")
        if form != "none":
            job.log("engine", message=f"writing every derived triple ({form})")
            result.write(job.job_dir / DERIVED_FORMATS[form])
        intermediate = [class_term(name, program.prefixes) for name in keep.get("intermediate", [])]
        kept = result.results(intermediate)
        info["results_triples"] = write_ntriples(results, kept.sort("s", "p", "o"))
        context = result.context(kept, [class_term("type:LaunderingAttempt", program.prefixes)])
        info["context_triples"] = write_ntriples(job.job_dir / CONTEXT, context.sort("s", "p", "o"))
        info.update(by_class=dict(result.counts_by_class()), by_predicate=dict(result.counts_by_predicate()),
                    engine_timings=dict(result.timings or {}), derived_triples=result.count())
        del result, kept, context  # the engine's tables go before the next phase starts
    info["chains"] = chain_counts(info["by_class"])
    info["seconds"] = round(time.perf_counter() - start, 3)
    job.log("phase_done", phase="reason", derived_triples=info["derived_triples"],
            results_triples=info.get("results_triples", 0), chains=info["chains"], seconds=info["seconds"])
    job.record_phase("reason", info)


def _engine_event(job: _Job, event: Any) -> None:
    """An engine's progress into the job's log: its line, and its numbers when it has them."""
    fields = event.fields() if hasattr(event, "fields") else {}
    job.log("engine", message=str(event), **fields)


def class_term(name: str, prefixes: dict[str, str]) -> str:
    """A class of ``keep.intermediate`` (prefixed name or IRI) as an N-Triples IRI term.

    >>> class_term("type:PartialChain", {"type": "http://x/classes#"})
    '<http://x/classes#PartialChain>'
    >>> class_term("http://x/C", {})
    '<http://x/C>'
    """
    name = name.strip().removeprefix("<").removesuffix(">")
    prefix, sep, local = name.partition(":")
    if sep and prefix in prefixes and not local.startswith("//"):
        return f"<{prefixes[prefix]}{local}>"
    return f"<{name}>"


def _query(job: _Job) -> None:
    queries = job.files["queries"]
    if not queries:
        return
    job.status(R.QUERYING)
    if job.done("query"):
        job.log("skip", phase="query", message="already done before the interruption")
        return
    start = time.perf_counter()
    job.log("phase", phase="query", total=len(queries))
    store, graphs_of = job_store(job.job_dir, job.record.id, job.workspace, _embedded_loaded(job), job.spec.get("params") or {})
    done = 0

    def on_done(name: str, info: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        job.log("query", name=name, kind=info["kind"], rows=info["rows"], files=info["files"], done=done, total=len(queries))

    root = Path((job.record.resolved or {})["dataset_dir"])
    results = run_queries(store, queries, root, job.job_dir / "queries", job.spec["outputs"].get("formats", ["csv", "json"]),
                          on_done, config=load_config(job.workspace.home), job_id=graphs_of)
    seconds = round(time.perf_counter() - start, 3)
    job.log("phase_done", phase="query", seconds=seconds)
    job.record_phase("query", {"results": results, "seconds": seconds})


def _embedded_loaded(job: _Job) -> bool:
    """Did this job load into the workspace's own embedded store (where its queries then run)?"""
    return any(t.get("type") == "oxigraph" and not t.get("location") and job.done(f"load[{i}]")
               for i, t in enumerate(job.spec.get("targets") or []))


def _load_embedded(job: _Job) -> None:
    """The workspace's embedded store first: the job's queries run on it."""
    _load(job, lambda t: t.get("type") == "oxigraph" and not t.get("location"))


def _load_others(job: _Job) -> None:
    _load(job, lambda t: not (t.get("type") == "oxigraph" and not t.get("location")))


def _load(job: _Job, which: Callable[[dict[str, Any]], bool]) -> None:
    targets = job.spec.get("targets") or []
    if not any(which(t) for t in targets):
        return
    job.status(R.LOADING)
    retry = job.spec.get("retry", {})
    attempts, backoff = int(retry.get("attempts", 3)), float(retry.get("backoff_seconds", 2.0))
    record_manifest(job, R.LOADING)  # stores read the inputs and the job id from the manifest
    for i, target in enumerate(targets):
        if not which(target):
            continue
        key = f"load[{i}]"
        if job.done(key):
            job.log("skip", phase=key, message="already loaded before the interruption")
            continue
        start = time.perf_counter()
        job.log("phase", phase=key, target=target.get("type"), done=i, total=len(targets))
        for attempt in range(1, attempts + 1):
            try:
                report = load_job(job.job_dir, dict(target), job.workspace)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                detail = f"{target.get('type')} target unavailable (attempt {attempt}/{attempts}): {exc}"
                if attempt == attempts:
                    raise FincrimeError(f"{detail}; results are kept in {job.job_dir} — "
                                        f"`fincrime jobs retry {job.record.id}` loads them later") from exc
                wait = backoff * 2 ** (attempt - 1)
                job.log("retry", phase=key, message=detail, wait_seconds=wait)
                job.registry.note(job.record.id, job.lease.token, f"{detail}; retrying in {wait:g} s")
                job.sleep(wait)
        seconds = round(time.perf_counter() - start, 3)
        job.log("phase_done", phase=key, target=target.get("type"), report=report, seconds=seconds)
        job.record_phase(key, {"report": report, "seconds": seconds})


def _visualize(job: _Job) -> None:
    outputs = job.spec.get("outputs", {})
    formats, report = list(outputs.get("visualizations") or []), bool(outputs.get("report"))
    if not formats and not report:
        return
    job.status(R.VISUALIZING)
    if job.done("visualize"):
        job.log("skip", phase="visualize", message="already done before the interruption")
        return
    start = time.perf_counter()
    job.log("phase", phase="visualize", formats=formats, report=report)
    record_manifest(job, R.VISUALIZING)
    made: list[str] = []
    if formats:
        made += [str(p) for p in viz.render_job(job.job_dir, formats=tuple(formats), top=outputs.get("top"))]
    if report:
        made.append(str(viz.write_report(job.job_dir)))
    seconds = round(time.perf_counter() - start, 3)
    job.log("phase_done", phase="visualize", files=made, seconds=seconds)
    job.record_phase("visualize", {"files": made, "seconds": seconds})


PHASES: tuple[Callable[[_Job], None], ...] = (_reason, _load_embedded, _query, _load_others, _visualize)


# ---- the job -------------------------------------------------------------------------------
def run_job(
    registry: R.Registry,
    job_id: str,
    lease: R.Lease,
    *,
    workspace: Workspace | None = None,
    observer: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    debug: bool = False,
) -> R.JobRecord:
    """Runs a claimed job to a final status (or back to the queue on shutdown); returns its record.

    Never raises for a job failure: the failure is the job's status. Raises only
    :class:`~fincrime.jobs.registry.LeaseLost` when the job was taken over meanwhile.
    """
    record = registry.get(job_id)
    if record.lease != lease.token:
        raise R.LeaseLost(f"job {job_id} is not held by this lease")
    job_dir = Path(record.output_dir or "")
    job_dir.mkdir(parents=True, exist_ok=True)
    clean_temporaries(job_dir)
    spec, files = _files_of(record)
    workspace = workspace or Workspace(home=registry.path.parent, output_root=job_dir.parent.parent)
    log = JobLog(job_dir / LOG, job_id, observer)
    job = _Job(registry, record, lease, workspace, log, job_dir, spec, files, progress, sleep, phases=dict(record.phases),
               debug=debug)
    in_main = threading.current_thread() is threading.main_thread()
    watchdog = _Watchdog(registry.path, job_id, lease.token, in_main)
    previous: dict[int, Any] = {}

    def on_usr1(signum: int, frame: Any) -> None:
        if watchdog.reason == "cancel":
            raise JobCancelled("cancelled on request")
        if watchdog.reason == "lease":
            raise R.LeaseLost(f"job {job_id} was taken over")

    def on_term(signum: int, frame: Any) -> None:
        raise JobInterrupted(f"stopped by signal {signum}")

    if in_main:
        previous = {s: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGTERM)}
        signal.signal(signal.SIGUSR1, on_usr1)
        signal.signal(signal.SIGTERM, on_term)
    log("attempt", attempt=record.attempts, pid=os.getpid(), resumed_phases=sorted(job.phases))
    watchdog.start()
    outcome, error = R.DONE, None
    try:
        try:
            _hash_inputs(job)
            for phase in PHASES:
                if watchdog.reason == "cancel":
                    raise JobCancelled("cancelled on request")
                phase(job)
        finally:
            watchdog.stop_event.set()
            if in_main:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
    except JobCancelled as exc:
        outcome, error = R.CANCELLED, exc.one_line()
    except JobInterrupted as exc:
        log("interrupted", message=str(exc))
        registry.release(job_id, lease.token, f"{exc}; will resume after restart")
        record_manifest(job, R.QUEUED)
        log.close()
        return registry.get(job_id)
    except R.LeaseLost:
        log("lease_lost", message="another attempt owns this job now; stopping")
        log.close()
        raise
    except FincrimeError as exc:
        outcome, error = R.FAILED, exc.one_line()
    except Exception as exc:
        outcome, error = R.FAILED, f"{type(exc).__name__}: {exc}"
    if watchdog.reason == "cancel" and outcome == R.DONE:
        outcome, error = R.CANCELLED, "cancelled on request"
    counts = counts_of(job.phases)
    record_manifest(job, outcome, error)
    registry.finish(job_id, lease.token, outcome, counts=counts, error=error,
                    message="finished" if outcome == R.DONE else error)
    log("finished", status=outcome, error=error, counts={"derived_triples": counts["derived_triples"], "chains": counts["chains"]})
    log.close()
    return registry.get(job_id)
