"""The JSON API under ``/api``: uploads, jobs, results, SPARQL, alerts, cases, users, audit.

Every route needs a user (bearer token or console session, see :mod:`fincrime.server.auth`).
Reading needs the ``investigator`` role; what needs more says so in its description.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from fincrime.cases.alerts import KINDS, OUTCOMES, STATUSES
from fincrime.cases.export import bundle_zip, goaml_xml
from fincrime.cases.users import ROLES
from fincrime.jobfolder import REPORT, offered_file, offered_files
from fincrime.jobs import registry as R
from fincrime.server import jobview
from fincrime.server.auth import Principal, ctx_of, require
from fincrime.server.context import Context
from fincrime.server.sparql import run_query
from fincrime.server.uploads import Receiver, dataset_dir, receive_body, receive_multipart

router = APIRouter(prefix="/api")
Investigator = Annotated[Principal, Depends(require("investigator"))]
Reviewer = Annotated[Principal, Depends(require("reviewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
JobId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$", max_length=121)]
Dataset = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", max_length=64)]
AlertId = Annotated[int, PathParam(ge=1, le=2**62)]
CaseId = Annotated[int, PathParam(ge=1, le=2**62)]
Text = Annotated[str, Field(max_length=10_000)]

MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
            "required": ["files"],
        }}},
    }
}
RAW_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}}


def ctx(request: Request) -> Context:
    return ctx_of(request)


def _job(c: Context, job_id: str) -> R.JobRecord:
    try:
        return c.registry.get(job_id)
    except Exception:
        raise HTTPException(404, f"no job {job_id!r}") from None


# ---- who am I, health ---------------------------------------------------------------------
@router.get("/me", summary="The authenticated user")
def me(p: Investigator) -> dict[str, Any]:
    return {**p.user.to_dict(), "via": p.via}


@router.get("/health", summary="Server, watcher and store status")
def health(request: Request, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    watcher = request.app.state.watcher
    return {"ok": True, "input": str(c.config.input_dir), "output": str(c.config.workspace.output_root),
            "store": c.config.workspace.store_dir.is_dir(),
            "watcher": watcher.status() if watcher else {"running": False, "managed": False}}


# ---- datasets and uploads ----------------------------------------------------------------
@router.get("/datasets", summary="Datasets in the input folder")
def list_datasets(request: Request, p: Investigator) -> list[dict[str, Any]]:
    root = ctx(request).config.input_dir
    if not root.is_dir():
        return []
    return [{"dataset": d.name, "files": sum(1 for f in d.rglob("*") if f.is_file() and not f.name.startswith("."))}
            for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")][:1000]


@router.get("/datasets/{dataset}", summary="Files of one dataset, with sizes")
def show_dataset(request: Request, dataset: Dataset, p: Investigator) -> dict[str, Any]:
    folder = dataset_dir(ctx(request).config, dataset, create=False)
    if not folder.is_dir():
        raise HTTPException(404, f"no dataset {dataset!r}")
    files = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).as_posix()
        if f.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            files.append({"path": rel, "bytes": f.stat().st_size})
    return {"dataset": dataset, "files": files[:10_000]}


async def _finish(request: Request, receiver: Receiver, p: Principal, wait: float) -> JSONResponse:
    c = ctx(request)
    await run_in_threadpool(receiver.finish_specs, c.registry, min(wait, c.config.spec_wait_seconds))
    result = receiver.result.to_dict()
    await run_in_threadpool(c.casework.record, p.user.username, "dataset.upload", f"dataset:{receiver.result.dataset}",
                            files=[{k: f[k] for k in ("path", "sha256", "bytes", "status")} for f in result["files"]],
                            specs=[{k: s.get(k) for k in ("path", "sha256", "status", "job")} for s in result["specs"]])
    status = 422 if receiver.result.problems else 201
    return JSONResponse(result, status_code=status)


@router.put("/datasets/{dataset}/files/{path:path}", summary="Upload one file (the body is the file)",
            description="Data (*.nt, *.nt.gz), rules (*.dlog), queries (*.rq) or a spec (*.job.json, *.rdfoxjob.json). "
            "A spec is validated like the watcher does; 422 lists every problem. 409 when the file exists with "
            "other content and overwrite is false.", openapi_extra=RAW_BODY, status_code=201,
            responses={413: {"description": "too large"}, 422: {"description": "rejected, with every problem"}})
async def put_file(request: Request, dataset: Dataset, path: Annotated[str, PathParam(max_length=600)],
                   p: Investigator, overwrite: bool = False,
                   wait: Annotated[float, Query(ge=0, le=60)] = 10.0) -> JSONResponse:
    receiver = await run_in_threadpool(Receiver, ctx(request).config, dataset, overwrite=overwrite)
    await receive_body(request, receiver, path)
    return await _finish(request, receiver, p, wait)


@router.post("/datasets/{dataset}/files", summary="Upload files (multipart/form-data)",
             description="Each part with a file name is a file; the name may include folders (rules/x.dlog). "
             "Data, rules and queries are placed first, specs last after validation.",
             openapi_extra=MULTIPART_BODY, status_code=201,
             responses={413: {"description": "too large"}, 422: {"description": "rejected, with every problem"}})
async def post_files(request: Request, dataset: Dataset, p: Investigator, overwrite: bool = False,
                     wait: Annotated[float, Query(ge=0, le=60)] = 10.0) -> JSONResponse:
    receiver = await run_in_threadpool(Receiver, ctx(request).config, dataset, overwrite=overwrite)
    await receive_multipart(request, receiver)
    if not receiver.result.files and not receiver.pending_specs and not receiver.result.problems:
        raise HTTPException(400, "no file in the request (parts need a filename)")
    return await _finish(request, receiver, p, wait)


# ---- jobs ---------------------------------------------------------------------------------
@router.get("/jobs", summary="Jobs, newest first, with live progress")
def list_jobs(request: Request, p: Investigator, status: Literal[R.STATUSES] | None = None,  # type: ignore[valid-type]
              dataset: Annotated[str | None, Query(max_length=64)] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    c = ctx(request)
    return [jobview.summary(j) for j in c.registry.list(status=status, dataset=dataset, limit=limit)]


@router.get("/jobs/{job_id}", summary="One job: status, progress, counts, timings, history, files")
def show_job(request: Request, job_id: JobId, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    job = _job(c, job_id)
    return jobview.detail(job, c.registry.events(job_id), alerts=c.alerts.counts(job_id=job_id))


@router.get("/jobs/{job_id}/log", summary="The job's log.jsonl events (the last ones)")
def job_log(request: Request, job_id: JobId, p: Investigator,
            limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    job = _job(ctx(request), job_id)
    return jobview.read_log(Path(job.output_dir) if job.output_dir else None, tail=1 << 20)[-limit:]


@router.post("/jobs/{job_id}/cancel", summary="Cancel a queued or running job")
def cancel_job(request: Request, job_id: JobId, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    job = _job(c, job_id)
    if job.status in R.FINAL:
        raise HTTPException(409, f"job {job_id} is already {job.status}")
    outcome = c.registry.request_cancel(job_id)
    c.casework.record(p.user.username, "job.cancel", f"job:{job_id}", outcome=outcome)
    return {"id": job_id, "outcome": outcome}


@router.post("/jobs/{job_id}/retry", summary="Queue a failed or cancelled job again")
def retry_job(request: Request, job_id: JobId, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    job = _job(c, job_id)
    if job.status not in (R.FAILED, R.CANCELLED):
        raise HTTPException(409, f"job {job_id} is {job.status}; only failed or cancelled jobs can be retried")
    c.registry.retry(job_id)
    c.casework.record(p.user.username, "job.retry", f"job:{job_id}", was=job.status)
    return {"id": job_id, "status": R.QUEUED}


@router.get("/jobs/{job_id}/files", summary="Result files of a job")
def job_files(request: Request, job_id: JobId, p: Investigator) -> list[dict[str, Any]]:
    return offered_files(_job(ctx(request), job_id).output_dir)


def serve_job_file(job: R.JobRecord, rel: str, *, download: bool) -> FileResponse:
    path = offered_file(job.output_dir, rel)
    if path is None:
        raise HTTPException(404, f"job {job.id} has no file {rel!r}")
    media = {".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
             ".json": "application/json", ".csv": "text/csv; charset=utf-8", ".nt": "application/n-triples",
             ".jsonl": "application/x-ndjson"}.get(path.suffix, "application/octet-stream")
    response = FileResponse(path, media_type=media, filename=path.name if download else None,
                            content_disposition_type="attachment" if download else "inline")
    if path.suffix in (".html", ".svg"):
        # Job pages carry inline scripts: they run sandboxed, without the console's origin.
        response.headers["Content-Security-Policy"] = (
            "sandbox allow-scripts allow-popups; default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'none'; frame-ancestors 'self'")
    return response


@router.get("/jobs/{job_id}/files/{path:path}", summary="Download one result file")
def job_file(request: Request, job_id: JobId, path: Annotated[str, PathParam(max_length=600)],
             p: Investigator) -> FileResponse:
    return serve_job_file(_job(ctx(request), job_id), path, download=True)


@router.get("/jobs/{job_id}/report", summary="The investigator report (report.html)")
def job_report(request: Request, job_id: JobId, p: Investigator) -> FileResponse:
    return serve_job_file(_job(ctx(request), job_id), REPORT, download=False)


# ---- live events --------------------------------------------------------------------------
async def job_events(request: Request, c: Context, job_id: str | None) -> Any:
    """Server-sent events: ``job`` (a job's summary) whenever it changes, a comment every 15 s."""
    last_seq = -1
    last_sent: dict[str, str] = {}
    idle = 0.0
    stop = request.app.state.stopping

    def changed() -> list[dict[str, Any]]:
        nonlocal last_seq
        reg = c.registry
        row = reg._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        seq = int(row[0])
        ids: set[str] = set()
        if last_seq < 0:
            jobs = [reg.get(job_id)] if job_id else reg.list(limit=50)
        else:
            if seq > last_seq:
                ids |= {r[0] for r in reg._db.execute("SELECT DISTINCT job_id FROM events WHERE seq > ?", (last_seq,))}
            ids |= {j.id for j in reg.active()}
            ids |= {j.id for j in reg.list(status=R.DONE, limit=5)}  # their alerts arrive just after
            if job_id:
                ids &= {job_id}
            jobs = [reg.get(i) for i in sorted(ids)]
        last_seq = seq
        out = []
        for job in jobs:
            doc = jobview.summary(job, alerts=c.alerts.counts(job_id=job.id) if job.status == R.DONE else None)
            key = json.dumps(doc, sort_keys=True, default=str)
            if last_sent.get(job.id) != key:
                last_sent[job.id] = key
                out.append(doc)
        return out

    yield "retry: 2000\n\n"
    while not stop.is_set():
        if await request.is_disconnected():
            return
        try:
            docs = await run_in_threadpool(changed)
        except Exception:  # a busy database this tick
            docs = []
        for doc in docs:
            yield f"event: job\ndata: {json.dumps(doc, default=str)}\n\n"
        idle = 0.0 if docs else idle + 0.5
        if idle >= 15:
            idle = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(0.5)


def sse(request: Request, job_id: str | None) -> StreamingResponse:
    limiter = request.app.state.sse_slots
    if limiter.locked():
        raise HTTPException(503, "too many live connections; try again later")

    async def stream() -> Any:
        async with limiter:
            async for item in job_events(request, ctx(request), job_id):
                yield item

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/events", summary="Server-sent events: job status and phase progress as they change",
            response_class=StreamingResponse)
async def events(request: Request, p: Investigator) -> StreamingResponse:
    return sse(request, None)


@router.get("/jobs/{job_id}/events", summary="Server-sent events of one job", response_class=StreamingResponse)
async def one_job_events(request: Request, job_id: JobId, p: Investigator) -> StreamingResponse:
    await run_in_threadpool(_job, ctx(request), job_id)
    return sse(request, job_id)


# ---- SPARQL -------------------------------------------------------------------------------
class SparqlRequest(BaseModel):
    query: Annotated[str, Field(min_length=1, max_length=100_000)]
    job: Annotated[str | None, Field(max_length=121, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = None
    format: Annotated[str, Field(pattern="^(json|csv)$")] = "json"


@router.post("/sparql", summary="Run a read-only SPARQL query over the embedded store",
             description="The first rows as JSON (format=json), or every row as CSV (format=csv). "
             "SERVICE is refused; the query stops at the server's timeout.")
def sparql(request: Request, body: SparqlRequest, p: Investigator) -> Response:
    c = ctx(request)
    answer = run_query(c.config.workspace.store_dir, body.query, job=body.job, rows=c.config.query_rows,
                       timeout=c.config.query_timeout, csv=body.format == "csv")
    if not answer.ok:
        return JSONResponse({"detail": answer.error}, status_code=400)
    if body.format == "csv":
        return Response(answer.csv or "", media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="query.csv"'})
    return JSONResponse(answer.to_dict())


# ---- alerts -------------------------------------------------------------------------------
@router.get("/alerts", summary="Alerts: escalated first, then new, by amount")
def list_alerts(request: Request, p: Investigator,
                status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                job: Annotated[str | None, Query(max_length=121)] = None,
                assignee: Annotated[str | None, Query(max_length=32)] = None,
                rule: Annotated[str | None, Query(max_length=200)] = None,
                kind: Literal[KINDS] | None = None,  # type: ignore[valid-type]
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> dict[str, Any]:
    c = ctx(request)
    rows = c.alerts.list(status=status, job_id=job, assignee=assignee, rule=rule, kind=kind, limit=limit, offset=offset)
    return {"counts": c.alerts.counts(job_id=job), "alerts": [a.to_dict(evidence=False) for a in rows]}


def alert_detail(c: Context, alert_id: int) -> dict[str, Any]:
    alert = c.alerts.get(alert_id)
    return {**alert.to_dict(), "comments": [x.to_dict() for x in c.alerts.comments(alert_id)],
            "cases": c.cases.of_alert(alert_id),
            "audit": [e.to_dict() for e in c.casework.audit_trail(obj=f"alert:{alert_id}")]}


@router.get("/alerts/{alert_id}", summary="One alert with its evidence, comments, cases and history")
def show_alert(request: Request, alert_id: AlertId, p: Investigator) -> dict[str, Any]:
    return alert_detail(ctx(request), alert_id)


class Reason(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=10_000)]


class Closing(Reason):
    outcome: Annotated[str, Field(pattern="^(" + "|".join(OUTCOMES) + ")$")]


class Assignment(BaseModel):
    assignee: Annotated[str, Field(min_length=1, max_length=32)]


class CommentIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


@router.post("/alerts/{alert_id}/start", summary="Start investigating a new alert (you become its assignee)")
def start_alert(request: Request, alert_id: AlertId, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.alerts.start(alert_id, p.user)
    return alert_detail(c, alert_id)


@router.post("/alerts/{alert_id}/assign", summary="Assign an alert (to others: reviewer or admin)")
def assign_alert(request: Request, alert_id: AlertId, body: Assignment, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.alerts.assign(alert_id, p.user, c.users.get(body.assignee))
    return alert_detail(c, alert_id)


@router.post("/alerts/{alert_id}/escalate", summary="Escalate an alert under investigation (its assignee)")
def escalate_alert(request: Request, alert_id: AlertId, body: Reason, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.alerts.escalate(alert_id, p.user, body.reason)
    return alert_detail(c, alert_id)


@router.post("/alerts/{alert_id}/close", summary="Close an alert with an outcome",
             description="An alert under investigation closes as false_positive only. An escalated alert is closed "
             "by a reviewer or admin who did not escalate it (four eyes).")
def close_alert(request: Request, alert_id: AlertId, body: Closing, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.alerts.close(alert_id, p.user, body.outcome, body.reason)
    return alert_detail(c, alert_id)


@router.post("/alerts/{alert_id}/send-back", summary="Send an escalated alert back to investigation (reviewer)")
def send_back_alert(request: Request, alert_id: AlertId, body: Reason, p: Reviewer) -> dict[str, Any]:
    c = ctx(request)
    c.alerts.send_back(alert_id, p.user, body.reason)
    return alert_detail(c, alert_id)


@router.post("/alerts/{alert_id}/reopen", summary="Reopen a closed alert (reviewer)")
def reopen_alert(request: Request, alert_id: AlertId, body: Reason, p: Reviewer) -> dict[str, Any]:
    c = ctx(request)
    c.alerts.reopen(alert_id, p.user, body.reason)
    return alert_detail(c, alert_id)


@router.post("/alerts/{alert_id}/comments", summary="Comment on an alert", status_code=201)
def comment_alert(request: Request, alert_id: AlertId, body: CommentIn, p: Investigator) -> dict[str, Any]:
    return ctx(request).alerts.comment(alert_id, p.user, body.text).to_dict()


# ---- cases --------------------------------------------------------------------------------
class CaseIn(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Text = ""
    action: Text = ""
    alerts: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]], Field(max_length=10_000)] = []


class CaseUpdate(BaseModel):
    title: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    reason: Annotated[str | None, Field(max_length=10_000)] = None
    action: Annotated[str | None, Field(max_length=10_000)] = None


class CaseAlert(BaseModel):
    alert: Annotated[int, Field(ge=1, le=2**62)]


def case_detail(c: Context, case_id: int) -> dict[str, Any]:
    case = c.cases.get(case_id)
    return {**case.to_dict(), "alerts": [a.to_dict(evidence=False) for a in c.cases.case_alerts(case)],
            "audit": [e.to_dict() for e in c.casework.audit_trail(obj=f"case:{case_id}")]}


@router.get("/cases", summary="Cases, newest first")
def list_cases(request: Request, p: Investigator,
               status: Literal["open", "closed"] | None = None) -> list[dict[str, Any]]:
    return [case.to_dict() for case in ctx(request).cases.list(status=status)]


@router.post("/cases", summary="Open a case (optionally with alerts)", status_code=201)
def create_case(request: Request, body: CaseIn, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    case = c.cases.create(p.user, body.title, reason=body.reason, action=body.action, alert_ids=body.alerts)
    return case_detail(c, case.id)


@router.get("/cases/{case_id}", summary="One case with its alerts and history")
def show_case(request: Request, case_id: CaseId, p: Investigator) -> dict[str, Any]:
    return case_detail(ctx(request), case_id)


@router.patch("/cases/{case_id}", summary="Change a case's title, reason or action")
def update_case(request: Request, case_id: CaseId, body: CaseUpdate, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.cases.update(case_id, p.user, title=body.title, reason=body.reason, action=body.action)
    return case_detail(c, case_id)


@router.post("/cases/{case_id}/alerts", summary="Add an alert to a case")
def add_case_alert(request: Request, case_id: CaseId, body: CaseAlert, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.cases.add_alert(case_id, body.alert, p.user)
    return case_detail(c, case_id)


@router.delete("/cases/{case_id}/alerts/{alert_id}", summary="Remove an alert from a case")
def remove_case_alert(request: Request, case_id: CaseId, alert_id: AlertId, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.cases.remove_alert(case_id, alert_id, p.user)
    return case_detail(c, case_id)


@router.post("/cases/{case_id}/close", summary="Close a case (all its alerts must be closed)")
def close_case(request: Request, case_id: CaseId, p: Investigator) -> dict[str, Any]:
    c = ctx(request)
    c.cases.set_status(case_id, p.user, "closed")
    return case_detail(c, case_id)


@router.post("/cases/{case_id}/reopen", summary="Reopen a closed case (reviewer)")
def reopen_case(request: Request, case_id: CaseId, p: Reviewer) -> dict[str, Any]:
    c = ctx(request)
    c.cases.set_status(case_id, p.user, "open")
    return case_detail(c, case_id)


def export_goaml(c: Context, case_id: int, p: Principal) -> Response:
    case = c.cases.get(case_id)
    xml = goaml_xml(case, c.cases.case_alerts(case), p.user, c.config.entity)
    c.casework.record(p.user.username, "case.export", f"case:{case_id}", format="goaml")
    return Response(xml, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="case-{case_id}-str.xml"'})


def export_bundle(c: Context, case_id: int, p: Principal) -> Response:
    case = c.cases.get(case_id)
    data = bundle_zip(c.cases, case, p.user, c.config.entity)
    c.casework.record(p.user.username, "case.export", f"case:{case_id}", format="bundle")
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="case-{case_id}.zip"'})


@router.get("/cases/{case_id}/export/goaml.xml", summary="The case as a goAML STR (reviewer)",
            description="Reports the transactions of the case's confirmed alerts; 409 when none is confirmed.",
            response_class=Response, responses={200: {"content": {"application/xml": {}}}})
def case_goaml(request: Request, case_id: CaseId, p: Reviewer) -> Response:
    return export_goaml(ctx(request), case_id, p)


@router.get("/cases/{case_id}/export/bundle.zip", summary="The case as a CSV/JSON bundle (zip)",
            response_class=Response, responses={200: {"content": {"application/zip": {}}}})
def case_bundle(request: Request, case_id: CaseId, p: Investigator) -> Response:
    return export_bundle(ctx(request), case_id, p)


# ---- users and audit ----------------------------------------------------------------------
class UserIn(BaseModel):
    username: Annotated[str, Field(pattern=r"^[a-z][a-z0-9._-]{1,31}$")]
    role: Annotated[str, Field(pattern="^(" + "|".join(ROLES) + ")$")]
    password: Annotated[str, Field(min_length=10, max_length=1024)]
    full_name: Annotated[str, Field(max_length=200)] = ""
    email: Annotated[str, Field(max_length=200)] = ""


class TokenIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    days: Annotated[float | None, Field(gt=0, le=3650)] = None


@router.get("/users", summary="Users (admin)")
def list_users(request: Request, p: Admin) -> list[dict[str, Any]]:
    return [u.to_dict() for u in ctx(request).users.list()]


@router.post("/users", summary="Add a user (admin)", status_code=201)
def add_user(request: Request, body: UserIn, p: Admin) -> dict[str, Any]:
    user = ctx(request).users.add(body.username, body.role, body.password, full_name=body.full_name,
                                  email=body.email, actor=p.user.username)
    return user.to_dict()


@router.post("/me/tokens", summary="Create an API token for yourself (shown once)", status_code=201)
def create_token(request: Request, body: TokenIn, p: Investigator) -> dict[str, Any]:
    token = ctx(request).users.create_token(p.user.username, body.name, days=body.days, actor=p.user.username)
    return {"token": token, "name": body.name}


@router.get("/audit", summary="The audit trail, newest first (reviewer)")
def audit(request: Request, p: Reviewer, object: Annotated[str | None, Query(max_length=200)] = None,
          limit: Annotated[int, Query(ge=1, le=5000)] = 200,
          before: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> list[dict[str, Any]]:
    return [e.to_dict() for e in ctx(request).casework.audit_trail(obj=object, limit=limit, before=before)]


@router.get("/audit/verify", summary="Check the audit trail's hash chain (admin)")
def verify_audit(request: Request, p: Admin) -> dict[str, Any]:
    broken = ctx(request).casework.verify_audit()
    return {"intact": broken is None, "first_bad_entry": broken}

