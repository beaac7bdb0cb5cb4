"""The ASGI application of ``fincrime serve``: the API, the console and what runs beside them.

``create_app(config)`` builds it; the lifespan starts the folder watcher (a child process) and
the alert ingester, and stops both at shutdown. A pure-ASGI guard in front of everything
refuses unknown ``Host`` headers (a loopback server must not answer a rebound DNS name), caps
request bodies, and sets the security headers: the console's pages allow only their own
scripts and styles, and nothing they load comes from anywhere but this server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fincrime import __version__
from fincrime.cases.alerts import Conflict
from fincrime.cases.db import NotFound
from fincrime.cases.export import NothingToReport
from fincrime.cases.users import AccessDenied
from fincrime.errors import FincrimeError, InputError
from fincrime.server import api, console
from fincrime.server.auth import LoginThrottle, NeedsLogin, Principal, require
from fincrime.server.background import AlertIngester, WatcherSupervisor
from fincrime.server.config import ServerConfig
from fincrime.server.context import Context

log = logging.getLogger("fincrime.server")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
Scope = dict[str, Any]


class Guard:
    """Host check, body cap for everything but uploads, and security headers."""

    def __init__(self, app: FastAPI, config: ServerConfig) -> None:
        self.app, self.config = app, config
        self.fastapi = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if headers.get("host", "") not in self.config.hosts:
            await _plain(send, 421, "unknown Host header (this server answers on its own address only)")
            return
        upload = scope["path"].startswith("/api/datasets/") and scope["method"] in ("PUT", "POST")
        limit = self.config.max_request_bytes if upload else self.config.max_json_bytes
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _plain(send, 413 if length.isdigit() else 400,
                         "request body too large" if length.isdigit() else "bad Content-Length")
            return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
            return message

        async def secured_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                         (b"cross-origin-opener-policy", b"same-origin"), (b"cross-origin-resource-policy", b"same-origin")]
                names = {k.lower() for k, _ in message.get("headers", [])}
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", CSP.encode()))
                    extra.append((b"x-frame-options", b"DENY"))
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, limited_receive, secured_send)
        except _BodyTooLarge:
            await _plain(send, 413, "request body too large")


class _BodyTooLarge(Exception):
    pass


async def _plain(send: Any, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.method in ("GET", "POST")


def _status_of(exc: FincrimeError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, Conflict | NothingToReport):
        return 409
    return 400 if isinstance(exc, InputError) else 500


def create_app(config: ServerConfig) -> Guard:
    """The application, wrapped in its :class:`Guard` (``.fastapi`` is the FastAPI app)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.stopping = asyncio.Event()
        app.state.sse_slots = asyncio.Semaphore(64)
        watcher = WatcherSupervisor(config) if config.run_watcher else None
        ingester = AlertIngester(config) if config.run_ingester else None
        app.state.watcher, app.state.ingester = watcher, ingester
        for part in (watcher, ingester):
            if part:
                part.start()
        try:
            yield
        finally:
            app.state.stopping.set()
            for part in (ingester, watcher):
                if part:
                    await asyncio.to_thread(part.stop)
            app.state.ctx.close()

    app = FastAPI(title="fincrime", version=__version__, lifespan=lifespan,
                  description="Uploads, jobs, results, SPARQL, alerts and cases of a fincrime workspace. "
                  "Authenticate with `Authorization: Bearer <token>` (`fincrime users token NAME`).",
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = Context(config)
    app.state.login_throttle = LoginThrottle()
    app.state.watcher = app.state.ingester = None
    app.state.stopping = asyncio.Event()
    app.state.sse_slots = asyncio.Semaphore(64)
    app.include_router(api.router)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(p: Annotated[Principal, Depends(require("investigator"))]) -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(console.router)
    app.mount("/static", console.static_files(), name="static")

    @app.exception_handler(FincrimeError)
    async def fincrime_error(request: Request, exc: FincrimeError) -> Response:
        status = _status_of(exc)
        if status == 500:
            log.exception("request failed", exc_info=exc)
        if _wants_html(request):
            return console.error_page(request, status, exc.one_line())
        return JSONResponse({"detail": exc.one_line()}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, NeedsLogin) and _wants_html(request):
            return RedirectResponse(console.login_url(request), status_code=303)
        if _wants_html(request):
            return console.error_page(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"where": ".".join(str(x) for x in e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        if _wants_html(request):
            return console.error_page(request, 422, "; ".join(f"{p['where']}: {p['message']}" for p in problems))
        return JSONResponse({"detail": problems}, status_code=422)

    return Guard(app, config)
