"""Telling people a job ended: e-mail over SMTP and a webhook POST.

Credentials never appear in a spec: a target names the environment variables holding them
(``username_env``, ``password_env``, ``token_env``, ``secret_env``). Every connection obeys the
egress policy (:mod:`fincrime.security.egress`): a webhook or SMTP host on a loopback, private
or link-local address is refused unless the operator allows it, and a webhook is never
redirected. Each delivery is retried with exponential backoff; a delivery that still fails is
reported, it never changes the job's status and never raises.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any

from fincrime import __version__
from fincrime.errors import FincrimeError, InputError
from fincrime.security.egress import EgressPolicy, egress_policy, smtp_client

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def payload_for(job: Any) -> dict[str, Any]:
    """The JSON body sent for a job record: id, status, counts, output path (and why it failed)."""
    counts = job.counts or {}
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "dataset": job.dataset,
        "name": job.name,
        "counts": counts,
        "output": job.output_dir,
        "finished_at": job.finished_at,
    }
    if job.error:
        body["error"] = job.error
    if job.problems:
        body["problems"] = job.problems
    return body


def _secret(env: Mapping[str, str], name: str | None) -> str | None:
    if not name:
        return None
    if name not in env:
        raise FincrimeError(f"environment variable {name} is not set")
    return env[name]


def _summary(payload: Mapping[str, Any]) -> str:
    lines = [f"Job {payload['id']} ({payload.get('name') or payload.get('dataset')}) is {payload['status']}.", ""]
    if payload.get("output"):
        lines.append(f"Results: {payload['output']}")
    counts = payload.get("counts") or {}
    for key in ("derived_triples", "chains"):
        if key in counts:
            lines.append(f"{key.replace('_', ' ')}: {counts[key]}")
    if payload.get("error"):
        lines.append(f"Error: {payload['error']}")
    for problem in payload.get("problems") or []:
        lines.append(f"- {problem.get('where')}: {problem.get('message')}")
    lines += ["", "Details (JSON):", json.dumps(payload, indent=2, default=str)]
    return "\n".join(lines)


def _header(name: str, value: str) -> str:
    if _CONTROL.search(value):
        raise InputError(f"e-mail {name} contains control characters (CR, LF, ...); not sent")
    return value


def send_email(target: Mapping[str, Any], payload: Mapping[str, Any], env: Mapping[str, str],
               policy: EgressPolicy | None = None, timeout: float = 30) -> str:
    """Sends one e-mail; returns a short description of what was done."""
    mode = target.get("tls", "starttls")
    host, port = target["host"], int(target.get("port") or DEFAULT_PORTS[mode])
    user, password = _secret(env, target.get("username_env")), _secret(env, target.get("password_env"))
    msg = EmailMessage()
    msg["Subject"] = _header("subject", target.get("subject") or f"[fincrime] job {payload['id']} {payload['status']}")
    msg["From"] = _header("from", target["from"])
    msg["To"] = _header("to", ", ".join(target["to"]))
    msg["X-Fincrime-Job"] = _header("job id", str(payload["id"]))
    msg.set_content(_summary(payload))
    context = ssl.create_default_context()
    smtp = smtp_client(policy or egress_policy(), host, port, implicit_tls=mode == "ssl", timeout=timeout,
                       context=context, what=f"SMTP host {host}")
    with smtp:
        smtp.ehlo()
        if mode == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if user is not None:
            smtp.login(user, password or "")
        smtp.send_message(msg)
    return f"e-mail to {', '.join(target['to'])} via {host}:{port} ({mode})"


def send_webhook(target: Mapping[str, Any], payload: Mapping[str, Any], env: Mapping[str, str],
                 policy: EgressPolicy | None = None) -> str:
    """POSTs the payload as JSON; a non-2xx answer (a redirect too) is a failure."""
    body = json.dumps(payload, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"fincrime/{__version__}"}
    token = _secret(env, target.get("token_env"))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    secret = _secret(env, target.get("secret_env"))
    if secret:
        headers["X-Fincrime-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    policy = policy or egress_policy()
    what = f"webhook {target['url']}"
    policy.check_url(target["url"], what)
    request = urllib.request.Request(target["url"], data=body, headers=headers, method="POST")
    # a POST must not turn into a GET elsewhere, nor a redirect reach what the URL could not
    opener = policy.opener(what=what, redirects=False)
    try:
        with opener.open(request, timeout=float(target.get("timeout_seconds", 10))) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise FincrimeError(f"webhook {target['url']} answered HTTP {exc.code}") from None
    if not 200 <= status < 300:
        raise FincrimeError(f"webhook {target['url']} answered HTTP {status}")
    return f"webhook POST {target['url']} -> HTTP {status}"


SENDERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, str], EgressPolicy], str]] = {
    "email": send_email,
    "webhook": send_webhook,
}


def deliver(
    targets: list[Mapping[str, Any]],
    payload: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    policy: EgressPolicy | None = None,
) -> list[dict[str, Any]]:
    """Sends the payload to every target whose ``on`` list includes the status; never raises.

    Returns one report per target tried: ``{"type", "ok", "detail", "attempts"}``. A refusal
    by the egress policy or a bad target is not retried.
    """
    policy = policy or egress_policy()
    reports = []
    for target in targets:
        if payload["status"] not in target.get("on", ("done", "failed", "rejected", "cancelled")):
            continue
        report: dict[str, Any] = {"type": target["type"], "ok": False, "attempts": 0}
        for attempt in range(1, attempts + 1):
            report["attempts"] = attempt
            try:
                report["detail"] = SENDERS[target["type"]](target, payload, env, policy)
                report["ok"] = True
                break
            except InputError as exc:  # refused or malformed: trying again changes nothing
                report["detail"] = exc.one_line()
                break
            except Exception as exc:  # whatever a server or a library does, it is this target's failure
                report["detail"] = exc.one_line() if isinstance(exc, FincrimeError) else f"{type(exc).__name__}: {exc}"
                if attempt < attempts:
                    sleep(backoff * 2 ** (attempt - 1))
        reports.append(report)
    return reports
