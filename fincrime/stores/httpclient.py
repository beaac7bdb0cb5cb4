"""A small HTTP client for SPARQL servers: timeouts, retries with backoff, basic/digest auth.

Standard library only (urllib): digest auth, which Virtuoso's graph-store endpoint demands,
comes with ``HTTPDigestAuthHandler``. Credentials are read from environment variables named in
the target, so specs and manifests never hold secrets. Every connection, redirects included,
goes through the egress policy (:mod:`fincrime.security.egress`).
"""

from __future__ import annotations

import base64
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fincrime.errors import FincrimeError, InputError
from fincrime.security.egress import EgressPolicy, egress_policy

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class TargetUnavailable(FincrimeError):
    """The server could not be reached, or kept failing, after every retry."""


class HttpStatusError(FincrimeError):
    """The server answered with an error status that retrying will not fix."""

    def __init__(self, message: str, *, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Retry:
    """How hard to try: ``attempts`` in total, sleeping ``backoff * 2**n`` (jittered) between."""

    attempts: int = 4
    backoff: float = 0.5
    timeout: float = 60.0

    @classmethod
    def from_target(cls, target: Mapping[str, Any]) -> Retry:
        spec = target.get("retry") or {}
        return cls(
            attempts=int(spec.get("attempts", cls.attempts)),
            backoff=float(spec.get("backoff", cls.backoff)),
            timeout=float(spec.get("timeout", cls.timeout)),
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based), capped at 30 s.

        >>> Retry(backoff=1.0).delay(0) >= 1.0
        True
        """
        base = min(self.backoff * (2**attempt), 30.0)
        return base * (1 + random.random() * 0.25)


def credentials(auth: Mapping[str, Any] | None) -> tuple[str, str, str] | None:
    """``(type, user, password)`` from the environment variables an ``auth`` object names."""
    if not auth:
        return None
    env = os.environ
    user = auth.get("user")
    if user is None:
        user_env = auth.get("user_env")
        if not user_env:
            raise InputError("target auth: give \"user\" or \"user_env\"")
        if user_env not in env:
            raise InputError(f"target auth: environment variable {user_env} (the user name) is not set")
        user = env[user_env]
    password_env = auth["password_env"]
    if password_env not in env:
        raise InputError(f"target auth: environment variable {password_env} (the password) is not set")
    return str(auth.get("type", "basic")), str(user), env[password_env]


class HttpClient:
    """Sends requests with retries; ``auth`` is an ``auth`` object of a target (or None)."""

    def __init__(
        self,
        *,
        auth: Mapping[str, Any] | None = None,
        retry: Retry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        egress: EgressPolicy | None = None,
        what: str = "SPARQL server",
    ) -> None:
        self.retry = retry or Retry()
        self.egress = egress or egress_policy()
        self.what = what
        self._sleep = sleep
        handlers: list[urllib.request.BaseHandler] = []
        creds = credentials(auth)
        if creds is not None:
            kind, user, password = creds
            manager = _Credentials(user, password)
            if kind == "digest":
                handlers.append(urllib.request.HTTPDigestAuthHandler(manager))
            else:
                # Preemptive: a server that allows anonymous reads never sends the challenge.
                handlers.append(_PreemptiveBasic(manager))
        self._opener = self.egress.opener(*handlers, what=what)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str, bytes]:
        """Returns ``(status, content type, body)``; retries what a retry can fix.

        Raises :class:`~fincrime.security.egress.EgressRefused` (never retried) for a URL or a
        redirect the egress policy refuses.
        """
        self.egress.check_url(url, f"{self.what} {url}")
        last = ""
        for attempt in range(self.retry.attempts):
            req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
            try:
                with self._opener.open(req, timeout=self.retry.timeout) as resp:
                    return resp.status, resp.headers.get("Content-Type", ""), resp.read()
            except urllib.error.HTTPError as exc:
                text = exc.read().decode("utf-8", "replace")[:500]
                if exc.code not in RETRY_STATUS:
                    one = " ".join(text.split())[:200]
                    raise HttpStatusError(
                        f"{method} {url}: HTTP {exc.code} {exc.reason}" + (f": {one}" if one else ""),
                        status=exc.code,
                        body=text,
                    ) from None
                last = f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                last = str(reason) or type(reason).__name__
            if attempt + 1 < self.retry.attempts:
                self._sleep(self.retry.delay(attempt))
        shown = urllib.parse.urlsplit(url)._replace(query="").geturl()  # graph IRIs are long
        raise TargetUnavailable(f"{method} {shown}: failed after {self.retry.attempts} attempts ({last})")


class _Credentials(urllib.request.HTTPPasswordMgr):
    """One user for every URL of a target (its query, update and graph-store endpoints)."""

    def __init__(self, user: str, password: str) -> None:
        super().__init__()
        self._pair = (user, password)

    def find_user_password(self, realm: object, authuri: object) -> tuple[str, str]:
        return self._pair


class _PreemptiveBasic(urllib.request.HTTPBasicAuthHandler):
    def http_request(self, req: urllib.request.Request) -> urllib.request.Request:
        user, password = self.passwd.find_user_password(None, req.full_url)
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            req.add_unredirected_header("Authorization", f"Basic {token}")
        return req

    https_request = http_request
