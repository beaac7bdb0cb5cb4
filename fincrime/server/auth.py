"""Who is asking: API tokens (``Authorization: Bearer``) and console sessions (a cookie).

Every route depends on :func:`require`. A request authenticated by its session cookie that
changes something must also carry the session's CSRF token (form field ``csrf`` or header
``X-CSRF-Token``), and its ``Origin``, when sent, must be this server: a page elsewhere cannot
act with a user's cookie. Requests with a bearer token carry no ambient credential, so they
need neither. Failed logins are throttled per user name and client address.
"""

from __future__ import annotations

import hmac
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from fincrime.cases.users import RANK, Session, User
from fincrime.server.context import Context

COOKIE = "fincrime_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Principal:
    user: User
    via: str  # "token" or "session"
    session: Session | None = None

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""


class NeedsLogin(HTTPException):
    """401 for the API; the console turns it into a redirect to the login page."""

    def __init__(self) -> None:
        super().__init__(401, "authentication required (a bearer token or a console session)",
                         headers={"WWW-Authenticate": 'Bearer realm="fincrime"'})


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


def identify(request: Request) -> Principal | None:
    ctx = ctx_of(request)
    header = request.headers.get("authorization")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return None
        user = ctx.users.by_token(credential.strip())
        return Principal(user, "token") if user else None
    sid = request.cookies.get(COOKIE)
    if sid:
        session = ctx.users.session(sid)
        if session:
            return Principal(session.user, "session", session)
    return None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    host = urllib.parse.urlsplit(origin).netloc
    return host in ctx_of(request).config.hosts


async def check_csrf(request: Request, principal: Principal) -> None:
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    if not _same_origin(request):
        raise HTTPException(403, "cross-origin request refused")
    sent = request.headers.get(CSRF_HEADER, "")
    ctype = request.headers.get("content-type", "")
    if not sent and ctype.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        sent = str(form.get("csrf") or "")
    if not sent or not hmac.compare_digest(sent, principal.csrf):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")


def require(role: str = "investigator") -> Callable[[Request], Any]:
    """A dependency giving the authenticated :class:`Principal` with at least ``role``."""
    if role not in RANK:
        raise ValueError(role)

    async def dependency(request: Request) -> Principal:
        principal = identify(request)
        if principal is None:
            raise NeedsLogin()
        if not principal.user.can(role):
            raise HTTPException(403, f"this needs the {role} role (you are {principal.user.role})")
        await check_csrf(request, principal)
        request.state.principal = principal
        return principal

    return dependency


class LoginThrottle:
    """After ``limit`` failures for a (user name, address) within ``window`` seconds, refuse
    further tries until the window has passed. Bounded memory: oldest keys are dropped."""

    def __init__(self, limit: int = 5, window: float = 300.0, size: int = 10_000) -> None:
        self.limit, self.window, self.size = limit, window, size
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def blocked(self, username: str, address: str) -> float:
        """Seconds until another try is allowed (0 when allowed now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent((username, address), now)
            return max(0.0, self.window - (now - times[0])) if len(times) >= self.limit else 0.0

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            key = (username, address)
            self._failures[key] = [*self._recent(key, now), now]
            self._failures.move_to_end(key)
            while len(self._failures) > self.size:
                self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username, address), None)
