"""Telling people a job ended: e-mail over SMTP and a webhook POST.

Credentials never appear in a spec: a target names the environment variables holding them
(``username_env``, ``password_env``, ``token_env``, ``secret_env``). Each delivery is retried
with exponential backoff; a delivery that still fails is reported, it never changes the job's
status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any

from fincrime import __version__
from fincrime.errors import FincrimeError

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


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


def send_email(target: Mapping[str, Any], payload: Mapping[str, Any], env: Mapping[str, str], timeout: float = 30) -> str:
    """Sends one e-mail; returns a short description of what was done."""
    mode = target.get("tls", "starttls")
    host, port = target["host"], int(target.get("port") or DEFAULT_PORTS[mode])
    user, password = _secret(env, target.get("username_env")), _secret(env, target.get("password_env"))
    msg = EmailMessage()
    msg["Subject"] = target.get("subject") or f"[fincrime] job {payload['id']} {payload['status']}"
    msg["From"] = target["from"]
    msg["To"] = ", ".join(target["to"])
    msg["X-Fincrime-Job"] = str(payload["id"])
    msg.set_content(_summary(payload))
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if mode == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if mode == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if user is not None:
            smtp.login(user, password or "")
        smtp.send_message(msg)
    return f"e-mail to {', '.join(target['to'])} via {host}:{port} ({mode})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a POST must not turn into a GET elsewhere
        return None


def send_webhook(target: Mapping[str, Any], payload: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """POSTs the payload as JSON; a non-2xx answer is a failure."""
    body = json.dumps(payload, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"fincrime/{__version__}"}
    token = _secret(env, target.get("token_env"))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    secret = _secret(env, target.get("secret_env"))
    if secret:
        headers["X-Fincrime-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(target["url"], data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=float(target.get("timeout_seconds", 10))) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise FincrimeError(f"webhook {target['url']} answered HTTP {exc.code}") from None
    if not 200 <= status < 300:
        raise FincrimeError(f"webhook {target['url']} answered HTTP {status}")
    return f"webhook POST {target['url']} -> HTTP {status}"


SENDERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, str]], str]] = {
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
) -> list[dict[str, Any]]:
    """Sends the payload to every target whose ``on`` list includes the status.

    Returns one report per target tried: ``{"type", "ok", "detail", "attempts"}``.
    """
    reports = []
    for target in targets:
        if payload["status"] not in target.get("on", ("done", "failed", "rejected", "cancelled")):
            continue
        report: dict[str, Any] = {"type": target["type"], "ok": False, "attempts": 0}
        for attempt in range(1, attempts + 1):
            report["attempts"] = attempt
            try:
                report["detail"] = SENDERS[target["type"]](target, payload, env)
                report["ok"] = True
                break
            except (OSError, smtplib.SMTPException, FincrimeError, ssl.SSLError) as exc:
                report["detail"] = f"{type(exc).__name__}: {exc}"
                if attempt < attempts:
                    sleep(backoff * 2 ** (attempt - 1))
        reports.append(report)
    return reports
