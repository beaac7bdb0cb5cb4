"""A job as the API and the console show it: status, phase progress, counts, log, files.

Progress comes from the registry (finished phases, current status) and the tail of the job's
``log.jsonl`` (queries done of total, the load target being written), so it moves while a phase
runs, not only between phases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fincrime.jobfolder import LOG, offered_files
from fincrime.jobs import registry as R

STATUS_PHASE = {R.RUNNING: "reason", R.QUERYING: "query", R.LOADING: "load", R.VISUALIZING: "visualize"}
LOG_TAIL_BYTES = 64 * 1024


def planned_phases(job: R.JobRecord) -> list[str]:
    spec = (job.resolved or {}).get("spec") or {}
    phases = ["reason"]
    if spec.get("queries"):
        phases.append("query")
    if spec.get("targets"):
        phases.append("load")
    outputs = spec.get("outputs") or {}
    if outputs.get("visualizations") or outputs.get("report"):
        phases.append("visualize")
    return phases


def read_log(job_dir: Path | None, *, tail: int | None = LOG_TAIL_BYTES) -> list[dict[str, Any]]:
    """Events of ``log.jsonl`` (the last ``tail`` bytes' worth; all with ``tail=None``)."""
    if not job_dir:
        return []
    path = Path(job_dir) / LOG
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if tail is not None and size > tail:
                fh.seek(size - tail)
                fh.readline()  # a partial first line
            raw = fh.read()
    except OSError:
        return []
    events = []
    for line in raw.splitlines():
        try:
            doc = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict):
            events.append(doc)
    return events


def progress(job: R.JobRecord, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``{"phases": [{"name", "state"}], "fraction": 0..1, "detail": str}``."""
    planned = planned_phases(job)
    done = set(job.phases)
    current = STATUS_PHASE.get(job.status)
    targets = len(((job.resolved or {}).get("spec") or {}).get("targets") or [])
    out = []
    fraction = 0.0
    detail = ""
    events = events if events is not None else (read_log(Path(job.output_dir)) if job.output_dir and current else [])
    for name in planned:
        finished = name in done or (name == "load" and targets and all(f"load[{i}]" in done for i in range(targets)))
        if job.status == R.DONE or finished:
            state = "done"
            fraction += 1
        elif name == current:
            state = "active"
            part = _partial(name, events, targets)
            fraction += part[0]
            detail = part[1]
        elif job.status in R.FINAL:
            state = "stopped"
        else:
            state = "pending"
        out.append({"name": name, "state": state})
    return {"phases": out, "fraction": round(fraction / len(planned), 3) if planned else 0.0, "detail": detail}


def _partial(phase: str, events: list[dict[str, Any]], targets: int) -> tuple[float, str]:
    if phase == "query":
        last = next((e for e in reversed(events) if e.get("event") == "query"), None)
        if last and last.get("total"):
            return 0.95 * last["done"] / last["total"], f"query {last['done']} of {last['total']}: {last.get('name', '')}"
        return 0.0, "starting queries"
    if phase == "load":
        loaded = sum(1 for e in events if e.get("event") == "phase_done" and str(e.get("phase", "")).startswith("load["))
        last = next((e for e in reversed(events) if e.get("event") == "phase" and str(e.get("phase", "")).startswith("load[")), None)
        return (0.95 * loaded / targets if targets else 0.0), f"loading {last.get('target')}" if last else "loading"
    if phase == "reason":
        last = next((e for e in reversed(events) if e.get("event") == "engine"), None)
        return 0.0, str(last.get("message", ""))[:200] if last else "reasoning"
    return 0.0, "drawing pictures and the report"


def summary(job: R.JobRecord, *, alerts: dict[str, int] | None = None) -> dict[str, Any]:
    counts = job.counts or {}
    return {
        "id": job.id,
        "dataset": job.dataset,
        "name": job.name,
        "status": job.status,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": job.updated_at,
        "error": job.error,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "derived_triples": counts.get("derived_triples"),
        "chains": counts.get("chains") or {},
        "progress": progress(job),
        **({"alerts": alerts} if alerts is not None else {}),
    }


def detail(job: R.JobRecord, events: list[R.Event], *, alerts: dict[str, int] | None = None) -> dict[str, Any]:
    out = summary(job, alerts=alerts)
    out.update(
        spec_path=Path(job.spec_path).name,
        problems=job.problems,
        counts=job.counts,
        phases=job.phases,
        timings={k: v.get("seconds") for k, v in job.phases.items() if isinstance(v, dict) and "seconds" in v},
        history=[{"at": e.at, "status": e.status, "message": e.message} for e in events],
        files=offered_files(job.output_dir),
    )
    return out
