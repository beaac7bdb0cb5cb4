"""The investigator console: server-rendered pages (jinja2) with a little JavaScript.

Pages call the same functions as the API; forms post back here with the session's CSRF token
and redirect (post/redirect/get). Live parts (job status and phase progress) use the API's
server-sent events. Every asset is served from ``/static``: the console works offline.
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from fincrime.cases.alerts import OUTCOMES, STATUSES
from fincrime.cases.ingest import ingested
from fincrime.cases.users import ROLES, AccessDenied
from fincrime.jobfolder import CHAIN_PAGES, REPORT
from fincrime.jobs import registry as R
from fincrime.server import api, jobview
from fincrime.server.auth import COOKIE, Principal, ctx_of, identify, require
from fincrime.server.context import Context
from fincrime.server.sparql import run_query
from fincrime.viz import render_job
from fincrime.viz.loader import load_job

router = APIRouter(include_in_schema=False)
Investigator = Annotated[Principal, Depends(require("investigator"))]
Reviewer = Annotated[Principal, Depends(require("reviewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
JobId = api.JobId
LOGIN_COOKIE = "fincrime_login"
HERE = Path(__file__).parent
CHAINS_PER_PAGE = 200

_env = Environment(loader=PackageLoader("fincrime.server", "templates"), autoescape=select_autoescape(("html", "j2")),
                   trim_blocks=True, lstrip_blocks=True)
_env.filters["money"] = lambda v: "" if v is None else f"{float(v):,.2f}"
_env.filters["short"] = lambda iri: (str(iri).rstrip("/#").rsplit("#", 1)[-1].rsplit("/", 1)[-1]) if iri else ""
_env.filters["when"] = lambda t: (t or "").replace("T", " ")[:19]


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def render(request: Request, template: str, *, code: int = 200, **context: Any) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    html = _env.get_template(template).render(request=request, me=principal.user if principal else None,
                                              csrf=principal.csrf if principal else "", **context)
    return HTMLResponse(html, status_code=code)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    if getattr(request.state, "principal", None) is None:
        principal = identify(request)
        if principal:
            request.state.principal = principal
    return render(request, "error.html.j2", code=status, status_code=status, message=message)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urllib.parse.urlencode({"next": target})


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _local(url: str | None) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") and "\\" not in url else "/jobs"


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def ctx(request: Request) -> Context:
    return ctx_of(request)


# ---- login --------------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request, next: str = "/jobs", error: str = "") -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "login.html.j2", next=_local(next), nonce=nonce, error=error[:200])
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", max_age=900,
                        secure=ctx(request).config.secure_cookies)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_of(request)
    c = ctx(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    target = _local(form.get("next"))
    if not nonce or not secrets.compare_digest(nonce, form.get("nonce", "")):
        return back("/login?" + urllib.parse.urlencode({"next": target, "error": "The form expired; try again."}))
    username, password = form.get("username", "")[:64].strip().lower(), form.get("password", "")[:1024]
    address = request.client.host if request.client else "?"
    throttle = request.app.state.login_throttle
    wait = throttle.blocked(username, address)
    if wait:
        return back("/login?" + urllib.parse.urlencode(
            {"next": target, "error": f"Too many failed attempts; try again in {wait:.0f} s."}))
    try:
        user = await run_in_threadpool(c.users.authenticate, username, password)
    except AccessDenied as exc:
        throttle.failed(username, address)
        await run_in_threadpool(c.casework.record, username or "?", "session.login_failed", f"user:{username}",
                                address=address)
        return back("/login?" + urllib.parse.urlencode({"next": target, "error": str(exc)}))
    throttle.succeeded(username, address)
    sid, session = await run_in_threadpool(c.users.start_session, user)
    response = back(target)
    response.set_cookie(COOKIE, sid, httponly=True, samesite="lax", max_age=int(session.expires_at - time.time()),
                        secure=c.config.secure_cookies, path="/")
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, p: Investigator) -> Response:
    ctx(request).users.end_session(request.cookies.get(COOKIE, ""))
    response = back("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


# ---- jobs ---------------------------------------------------------------------------------
@router.get("/")
def home(p: Investigator) -> Response:
    return back("/jobs")


@router.get("/jobs")
def jobs_page(request: Request, p: Investigator, status: str | None = None) -> Response:
    c = ctx(request)
    status = status if status in R.STATUSES else None
    jobs = [jobview.summary(j, alerts=c.alerts.counts(job_id=j.id)) for j in c.registry.list(status=status, limit=100)]
    watcher = request.app.state.watcher
    return render(request, "jobs.html.j2", jobs=jobs, status=status, statuses=R.STATUSES,
                  watcher=watcher.status() if watcher else None)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: JobId, p: Investigator) -> Response:
    c = ctx(request)
    job = api._job(c, job_id)
    doc = jobview.detail(job, c.registry.events(job_id), alerts=c.alerts.counts(job_id=job_id))
    log = jobview.read_log(Path(job.output_dir) if job.output_dir else None)[-200:]

    return render(request, "job.html.j2", job=doc, log=log, ingest=ingested(c.casework).get(job_id),
                  has_report=any(f["path"] == REPORT for f in doc["files"]),
                  has_chains=job.status == R.DONE, final=job.status in R.FINAL)


@router.post("/jobs/{job_id}/cancel")
def job_cancel(request: Request, job_id: JobId, p: Investigator) -> Response:
    api.cancel_job(request, job_id, p)
    return back(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/retry")
def job_retry(request: Request, job_id: JobId, p: Investigator) -> Response:
    api.retry_job(request, job_id, p)
    return back(f"/jobs/{job_id}")


@router.get("/jobs/{job_id}/files/{path:path}")
def job_file_inline(request: Request, job_id: JobId, path: Annotated[str, PathParam(max_length=600)],
                    p: Investigator) -> Response:
    return api.serve_job_file(api._job(ctx(request), job_id), path, download=False)


def _job_data(c: Context, job_id: str) -> tuple[R.JobRecord, Any]:
    job = api._job(c, job_id)
    if job.status != R.DONE or not job.output_dir:
        raise HTTPException(409, f"job {job_id} is {job.status}; its chains are shown when it is done")
    return job, load_job(job.output_dir)


@router.get("/jobs/{job_id}/chains")
def chains_page(request: Request, job_id: JobId, p: Investigator, page: int = 1) -> Response:
    c = ctx(request)
    job, data = _job_data(c, job_id)
    page = max(1, page)
    chains = data.chains[(page - 1) * CHAINS_PER_PAGE: page * CHAINS_PER_PAGE]
    drawn = {f.stem for f in (Path(job.output_dir) / CHAIN_PAGES).glob("*.html")}
    alerts = {a.subject: a.id for a in c.alerts.list(job_id=job_id, kind="chain", limit=1000)}
    pages = max(1, -(-len(data.chains) // CHAINS_PER_PAGE))
    return render(request, "chains.html.j2", job=job, data=data, chains=chains, drawn=drawn, alerts=alerts,
                  page=page, pages=pages, total=len(data.chains), offset=(page - 1) * CHAINS_PER_PAGE)


@router.get("/jobs/{job_id}/chains/{slug}")
def chain_page(request: Request, job_id: JobId, slug: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
               p: Investigator) -> Response:
    c = ctx(request)
    job, data = _job_data(c, job_id)
    chain = next((ch for ch in data.chains if ch.slug == slug), None)
    if chain is None:
        raise HTTPException(404, f"job {job_id} has no chain {slug!r}")
    drawn = (Path(job.output_dir) / CHAIN_PAGES / f"{slug}.html").is_file()
    alert = next((a for a in c.alerts.list(job_id=job_id, kind="chain", limit=1000) if a.subject == chain.iri), None)
    return render(request, "chain.html.j2", job=job, data=data, chain=chain, drawn=drawn, alert=alert)


@router.post("/jobs/{job_id}/draw")
async def draw(request: Request, job_id: JobId, p: Investigator) -> Response:
    job = await run_in_threadpool(api._job, ctx(request), job_id)
    if job.status != R.DONE or not job.output_dir:
        raise HTTPException(409, f"job {job_id} is {job.status}; pictures are drawn for finished jobs")
    await run_in_threadpool(render_job, job.output_dir, ("html",), 200)
    await run_in_threadpool(ctx(request).casework.record, p.user.username, "job.draw", f"job:{job_id}")
    return back(f"/jobs/{job_id}/chains")


# ---- upload -------------------------------------------------------------------------------
@router.get("/upload")
def upload_page(request: Request, p: Investigator, dataset: str = "") -> Response:
    return render(request, "upload.html.j2", dataset=dataset[:64], max_bytes=ctx(request).config.max_file_bytes)


# ---- SPARQL -------------------------------------------------------------------------------
EXAMPLE_QUERY = """PREFIX type: <http://oxfordsemantic.tech/transactions/classes#>
PREFIX prop: <http://oxfordsemantic.tech/transactions/properties#>
SELECT ?chain ?length ?bottleneck WHERE {
  ?chain a type:SuspiciousChain ; prop:hasLength ?length ; prop:hasMinimumAmount ?bottleneck .
} ORDER BY DESC(?bottleneck) LIMIT 20"""


def _store_jobs(c: Context) -> list[str]:
    return [j.id for j in c.registry.list(status=R.DONE, limit=200)]


@router.get("/sparql")
def sparql_page(request: Request, p: Investigator) -> Response:
    c = ctx(request)
    return render(request, "sparql.html.j2", query=EXAMPLE_QUERY, job="", jobs=_store_jobs(c), answer=None)


@router.post("/sparql")
async def sparql_run(request: Request, p: Investigator) -> Response:
    form = await form_of(request)
    c = ctx(request)
    query, job = form.get("query", "")[:100_000], form.get("job", "")[:121] or None
    fmt = "csv" if form.get("format") == "csv" else "json"
    answer = await run_in_threadpool(run_query, c.config.workspace.store_dir, query, job=job,
                                     rows=c.config.query_rows, timeout=c.config.query_timeout, csv=fmt == "csv")
    if fmt == "csv" and answer.ok:
        return Response(answer.csv or "", media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="query.csv"'})
    jobs = await run_in_threadpool(_store_jobs, c)
    return render(request, "sparql.html.j2", query=query, job=job or "", jobs=jobs, answer=answer,
                  code=200 if answer.ok else 400)


# ---- alerts -------------------------------------------------------------------------------
@router.get("/alerts")
def alerts_page(request: Request, p: Investigator, status: str = "", job: str = "", rule: str = "",
                assignee: str = "", offset: int = 0) -> Response:
    c = ctx(request)
    status = status if status in STATUSES else ""
    rows = c.alerts.list(status=status or None, job_id=job[:121] or None, rule=rule[:200] or None,
                         assignee=assignee[:32] or None, limit=100, offset=max(0, offset))
    return render(request, "alerts.html.j2", alerts=rows, counts=c.alerts.counts(job_id=job or None), status=status,
                  job=job, rule=rule, assignee=assignee, statuses=STATUSES, offset=max(0, offset),
                  cases=c.cases.list(status="open"))


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: api.AlertId, p: Investigator) -> Response:
    c = ctx(request)
    doc = api.alert_detail(c, alert_id)
    return render(request, "alert.html.j2", alert=doc, outcomes=OUTCOMES, users=[u for u in c.users.list() if not u.disabled],
                  cases=c.cases.list(status="open"))


@router.post("/alerts/{alert_id}/{action}")
async def alert_action(request: Request, alert_id: api.AlertId,
                       action: Annotated[str, PathParam(pattern="^(start|assign|escalate|close|send-back|reopen|comment|add-to-case)$")],
                       p: Investigator) -> Response:
    form = await form_of(request)
    c = ctx(request)

    def act() -> None:
        alerts, user = c.alerts, p.user
        if action == "start":
            alerts.start(alert_id, user)
        elif action == "assign":
            alerts.assign(alert_id, user, c.users.get(form.get("assignee", "")[:32]))
        elif action == "escalate":
            alerts.escalate(alert_id, user, form.get("reason", ""))
        elif action == "close":
            alerts.close(alert_id, user, form.get("outcome", ""), form.get("reason", ""))
        elif action == "send-back":
            alerts.send_back(alert_id, user, form.get("reason", ""))
        elif action == "reopen":
            alerts.reopen(alert_id, user, form.get("reason", ""))
        elif action == "comment":
            alerts.comment(alert_id, user, form.get("text", ""))
        elif action == "add-to-case":
            case = form.get("case", "")
            if case == "new":
                created = c.cases.create(user, form.get("title", "") or alerts.get(alert_id).title[:200],
                                         alert_ids=[alert_id])
                form["_case"] = str(created.id)
            else:
                c.cases.add_alert(int(case) if case.isdigit() else 0, alert_id, user)
                form["_case"] = case

    await run_in_threadpool(act)
    if action == "add-to-case":
        return back(f"/cases/{form['_case']}")
    return back(f"/alerts/{alert_id}")


# ---- cases --------------------------------------------------------------------------------
@router.get("/cases")
def cases_page(request: Request, p: Investigator) -> Response:
    c = ctx(request)
    return render(request, "cases.html.j2", cases=c.cases.list())


@router.post("/cases")
async def cases_create(request: Request, p: Investigator) -> Response:
    form = await request.form()
    c = ctx(request)
    ids = [int(v) for v in form.getlist("alert") if isinstance(v, str) and v.isdigit()][:10_000]
    case = await run_in_threadpool(lambda: c.cases.create(p.user, str(form.get("title") or "").strip() or "New case",
                                                          reason=str(form.get("reason") or ""), alert_ids=ids))
    return back(f"/cases/{case.id}")


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: api.CaseId, p: Investigator) -> Response:
    c = ctx(request)
    doc = api.case_detail(c, case_id)
    confirmed = sum(1 for a in doc["alerts"] if a["outcome"] == "confirmed")
    return render(request, "case.html.j2", case=doc, confirmed=confirmed, entity=c.config.entity)


@router.post("/cases/{case_id}/{action}")
async def case_action(request: Request, case_id: api.CaseId,
                      action: Annotated[str, PathParam(pattern="^(update|close|reopen|remove-alert)$")],
                      p: Investigator) -> Response:
    form = await form_of(request)
    c = ctx(request)

    def act() -> None:
        if action == "update":
            c.cases.update(case_id, p.user, title=form.get("title"), reason=form.get("reason"), action=form.get("action"))
        elif action == "close":
            c.cases.set_status(case_id, p.user, "closed")
        elif action == "reopen":
            if not p.user.can("reviewer"):
                raise AccessDenied("reopening a closed case takes a reviewer or admin")
            c.cases.set_status(case_id, p.user, "open")
        else:
            alert = form.get("alert", "")
            c.cases.remove_alert(case_id, int(alert) if alert.isdigit() else 0, p.user)

    await run_in_threadpool(act)
    return back(f"/cases/{case_id}")


@router.get("/cases/{case_id}/export/goaml.xml")
def case_goaml(request: Request, case_id: api.CaseId, p: Reviewer) -> Response:
    return api.export_goaml(ctx(request), case_id, p)


@router.get("/cases/{case_id}/export/bundle.zip")
def case_bundle(request: Request, case_id: api.CaseId, p: Investigator) -> Response:
    return api.export_bundle(ctx(request), case_id, p)


# ---- audit and users ----------------------------------------------------------------------
@router.get("/audit")
def audit_page(request: Request, p: Reviewer, object: str = "", before: int | None = None) -> Response:
    c = ctx(request)
    entries = c.casework.audit_trail(obj=object[:200] or None, limit=200, before=before)
    return render(request, "audit.html.j2", entries=entries, object=object, intact=c.casework.verify_audit())


@router.get("/users")
def users_page(request: Request, p: Admin) -> Response:
    c = ctx(request)
    return render(request, "users.html.j2", users=c.users.list(), roles=ROLES, tokens=c.users.tokens())


@router.post("/users")
async def users_add(request: Request, p: Admin) -> Response:
    form = await form_of(request)
    c = ctx(request)
    await run_in_threadpool(lambda: c.users.add(form.get("username", "").strip(), form.get("role", ""),
                                                form.get("password", ""), full_name=form.get("full_name", ""),
                                                email=form.get("email", ""), actor=p.user.username))
    return back("/users")
