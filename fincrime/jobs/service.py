"""Turning spec files into registered jobs, and telling people when jobs end.

Shared by ``fincrime run`` and ``fincrime watch``: a spec is validated completely; a rejected
one gets ``<spec>.errors.json`` beside it and a ``rejected`` entry in the registry, an accepted
one a ``queued`` entry with its resolved spec. Nothing is written to the output folder before
a spec is accepted.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from fincrime.errors import InputError
from fincrime.jobfolder import LOG, sha256_file, write_json_atomic
from fincrime.jobs import registry as R
from fincrime.jobs.notify import deliver, payload_for
from fincrime.jobs.outputs import JobLog
from fincrime.jobs.problems import Problem, SpecRejected
from fincrime.jobs.safejson import read_limited
from fincrime.jobs.schema import spec_schema
from fincrime.jobs.spec import (
    ValidSpec,
    dataset_id,
    memory_mb,
    notify_target_problems,
    spec_stem,
    validate_spec,
)
from fincrime.security.config import SecurityConfig, load_config
from fincrime.security.egress import EgressPolicy, egress_policy


@dataclass
class Submission:
    job_id: str
    status: str
    problems: list[Problem] = field(default_factory=list)
    spec: ValidSpec | None = None


def errors_path(spec_path: Path) -> Path:
    return spec_path.with_name(spec_path.name + ".errors.json")


def _salvage_notify(spec_path: Path, env: Mapping[str, str], config: SecurityConfig | None) -> list[dict[str, Any]]:
    """The notify targets of a rejected spec that are themselves valid and allowed, so its author hears of it."""
    try:
        doc = read_limited(spec_path)
        policy = EgressPolicy.from_entries((config or SecurityConfig()).egress_allow)
    except Exception:
        return []
    targets = doc.get("notify") if isinstance(doc, dict) else None
    if not isinstance(targets, list):
        return []
    item = spec_schema()["properties"]["notify"]["items"]
    good = []
    for i, target in enumerate(targets):
        if jsonschema.Draft202012Validator(item).is_valid(target) and not notify_target_problems(
                target, f"notify[{i}]", env, policy):
            good.append(target)
    return good


def reject(registry: R.Registry, spec_path: Path, problems: list[Problem], *,
           env: Mapping[str, str] | None = None, config: SecurityConfig | None = None) -> Submission:
    """Registers a spec as ``rejected`` and writes ``<spec>.errors.json`` beside it."""
    env = os.environ if env is None else env
    path = Path(spec_path).absolute()
    try:
        sha = sha256_file(path)
    except OSError:
        sha = None
    salvage = _salvage_notify(path, env, config) if path.is_file() else []
    job_id = registry.new_job(
        dataset=dataset_id(path.parent.name), name=spec_stem(path), spec_path=str(path), spec_sha256=sha,
        status=R.REJECTED, problems=[p.to_dict() for p in problems],
        resolved={"spec": {"notify": salvage}} if salvage else None,
        message=f"{len(problems)} problem(s): " + "; ".join(p.render() for p in problems[:3]),
    )
    report = {"spec": str(path), "job": job_id, "rejected_at": R.now_iso(), "problems": [p.to_dict() for p in problems]}
    try:
        if path.parent.is_dir():
            write_json_atomic(errors_path(path), report)
    except OSError as exc:  # a read-only input folder: the registry still has every problem
        registry.add_event(job_id, f"could not write {errors_path(path).name}: {exc.strerror or exc}")
    return Submission(job_id, R.REJECTED, problems)


def submit(
    registry: R.Registry,
    spec_path: str | os.PathLike[str],
    output_root: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    engine: str | None = None,
    config: SecurityConfig | None = None,
    once: bool = False,
) -> Submission:
    """Validates a spec and registers it as ``queued`` or ``rejected`` (never raises for bad specs).

    ``params`` and ``engine`` override the spec's (the CLI's ``--param`` and ``--engine``);
    ``config`` is the operator's security settings (default: those of the registry's home).
    With ``once`` (the watcher), a spec file content that already made a job makes no other.
    """
    env = os.environ if env is None else env
    path = Path(spec_path).absolute()
    try:
        config = config or load_config(registry.path.parent, env=env)
    except InputError as exc:  # the operator's settings are broken: no spec can be judged
        return reject(registry, path, [Problem(path.name, f"not checked: {exc.one_line()}")], env=env, config=SecurityConfig())
    try:
        valid = validate_spec(path, env=env, config=config)
    except SpecRejected as exc:
        return reject(registry, path, exc.problems, env=env, config=config)
    if params:
        valid.spec["params"] = {**valid.spec.get("params", {}), **params}
    if engine:
        valid.spec["engine"] = {**valid.spec.get("engine", {}), "type": engine}
    errors_path(path).unlink(missing_ok=True)
    engine_spec = valid.spec.get("engine", {})
    resolved = {"spec": valid.resolved(), "dataset_dir": str(valid.dataset_dir), "notes": valid.notes}
    job_id = registry.new_job(
        dataset=valid.dataset, name=valid.spec.get("name"), spec_path=str(path), spec_sha256=valid.sha256,
        status=R.QUEUED, output_root=str(Path(output_root).absolute()), resolved=resolved,
        cores=int(engine_spec.get("cores", 1)), memory_mb=memory_mb(engine_spec.get("memory")),
        message=f"accepted {path.name}" + (" (reference spec, mapped)" if valid.notes.get("reference") else ""),
        reuse_seen=once,
    )
    return Submission(job_id, registry.get(job_id).status if once else R.QUEUED, [], valid)


def notify_finished(registry: R.Registry, job_id: str, *, env: Mapping[str, str] | None = None,
                    policy: EgressPolicy | None = None) -> list[dict[str, Any]]:
    """Sends a finished job's notifications once (whoever claims them first); returns the reports.

    Never raises: a target that fails is retried with backoff and then reported as failed in
    the registry and the job's log; if the sender itself dies, the claim runs out and a later
    call (the watcher's next loop, a restart) tries again, a bounded number of times.
    """
    env = os.environ if env is None else env
    try:
        job = registry.get(job_id)
        if job.status not in R.FINAL or job.notified:
            return []
        spec = (job.resolved or {}).get("spec", {})
        targets = spec.get("notify") or []
        if not targets:
            registry.notifications_done(job_id, None)
            return []
        if not registry.claim_notifications(job_id):
            return []
        policy = policy or egress_policy(registry.path.parent, env=env)
        retry = spec.get("retry", {})
        reports = deliver(targets, payload_for(job), env, attempts=int(retry.get("attempts", 3)),
                          backoff=float(retry.get("backoff_seconds", 2.0)), policy=policy)
        if job.output_dir and Path(job.output_dir).is_dir():
            log = JobLog(Path(job.output_dir) / LOG, job_id)
            for report in reports:
                log("notify", **report)
            log.close()
        summary = "; ".join(f"{r['type']} {'sent' if r['ok'] else 'FAILED'}: {r.get('detail')}" for r in reports)
        registry.notifications_done(job_id, summary or "no target wants this status")
        return reports
    except Exception as exc:  # the claim runs out and the notification is tried again later
        detail = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            registry.add_event(job_id, f"notifying failed: {detail}; will be tried again")
        return [{"type": "notify", "ok": False, "attempts": 0, "detail": detail}]


def load_errors(spec_path: Path) -> dict[str, Any] | None:
    """The rejection report beside a spec, if any."""
    path = errors_path(spec_path)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
