"""Notifications over real servers on 127.0.0.1: SMTP (aiosmtpd, STARTTLS + AUTH) and a webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_jobs_support import make_dataset

from fincrime.jobs import registry as R
from fincrime.jobs.notify import deliver
from fincrime.jobs.runner import run_job
from fincrime.jobs.service import notify_finished, submit
from fincrime.workspace import Workspace

# The servers of these tests listen on 127.0.0.1, which the egress policy refuses by default.
LOCAL = {"FINCRIME_EGRESS_ALLOW": "127.0.0.1"}


@pytest.fixture(autouse=True)
def _allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINCRIME_EGRESS_ALLOW", "127.0.0.1")


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope, session.authenticated))
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"alice" and auth_data.password == b"s3cret"
    return AuthResult(success=ok)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def smtp_server(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Any:
    from aiosmtpd.controller import Controller

    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = _Collect()
    with socket.socket() as probe:  # aiosmtpd's readiness check needs the real port up front
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=_auth, auth_require_tls=True, auth_required=True)
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts our test certificate
    yield controller, handler
    controller.stop()


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Any:
    _Hook.received, _Hook.fail_first = [], 0
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook
    server.shutdown()


def test_job_end_sends_email_and_webhook(tmp_path: Path, smtp_server: Any, webhook: Any) -> None:
    controller, mailbox = smtp_server
    url, hook = webhook
    hook.fail_first = 1  # the first POST fails: delivery is retried
    env = {**LOCAL, "SMTP_USER": "alice", "SMTP_PASSWORD": "s3cret", "HOOK_SECRET": "k"}
    spec = make_dataset(tmp_path / "in", spec={
        "name": "x", "data": "*.nt", "queries": "*.rq",
        "retry": {"attempts": 3, "backoff_seconds": 0},
        "notify": [
            {"type": "email", "host": "127.0.0.1", "port": controller.port,
             "tls": "starttls", "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD",
             "from": "fincrime@example.org", "to": ["analyst@example.org"]},
            {"type": "webhook", "url": url, "secret_env": "HOOK_SECRET"},
        ]})
    workspace = Workspace(home=tmp_path / "home", output_root=tmp_path / "out")
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, env=env)
        lease = R.Lease.mine()
        registry.claim(sub.job_id, lease)
        run_job(registry, sub.job_id, lease, workspace=workspace)
        reports = notify_finished(registry, sub.job_id, env=env)
        assert notify_finished(registry, sub.job_id, env=env) == [], "notifications go out once"
    assert [r["ok"] for r in reports] == [True, True], reports
    assert reports[1]["attempts"] == 2
    (envelope, authenticated), = mailbox.messages
    assert authenticated and envelope.rcpt_tos == ["analyst@example.org"]
    mail = message_from_bytes(envelope.content)
    assert sub.job_id in mail["Subject"] and "done" in mail["Subject"]
    headers, body = hook.received[-1]
    payload = json.loads(body)
    assert payload["id"] == sub.job_id and payload["status"] == "done"
    assert payload["counts"]["queries"]["transactions.rq"] == 80
    assert payload["output"] == str(tmp_path / "out" / "ds" / sub.job_id)
    expected = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert headers["X-Fincrime-Signature"] == expected


def test_smtp_without_credentials_is_refused_by_server(smtp_server: Any) -> None:
    controller, mailbox = smtp_server
    target = {"type": "email", "host": "127.0.0.1", "port": controller.port, "from": "a@b.c", "to": ["d@e.f"]}
    reports = deliver([target], {"id": "j", "status": "failed"}, {}, attempts=2, backoff=0)
    assert reports[0]["ok"] is False and reports[0]["attempts"] == 2
    assert "530" in reports[0]["detail"] or "auth" in reports[0]["detail"].lower(), reports
    assert mailbox.messages == []


def test_missing_credential_variable_is_reported(smtp_server: Any) -> None:
    controller, _ = smtp_server
    target = {"type": "email", "host": "127.0.0.1", "port": controller.port, "password_env": "NOT_SET_HERE",
              "username_env": "NOT_SET_HERE", "from": "a@b.c", "to": ["d@e.f"]}
    reports = deliver([target], {"id": "j", "status": "done"}, {}, attempts=1)
    assert reports[0]["ok"] is False and "NOT_SET_HERE is not set" in reports[0]["detail"]


def test_on_filters_statuses(webhook: Any) -> None:
    url, hook = webhook
    reports = deliver([{"type": "webhook", "url": url, "on": ["failed"]}], {"id": "j", "status": "done"}, {})
    assert reports == [] and hook.received == []


def test_rejected_spec_notifies_with_problems(tmp_path: Path, webhook: Any) -> None:
    url, hook = webhook
    spec = make_dataset(tmp_path / "in", spec={"name": "x", "data": "none-*.nt", "notify": [{"type": "webhook", "url": url}]})
    with R.Registry(tmp_path / "registry.sqlite") as registry:
        sub = submit(registry, spec, tmp_path / "out", env=LOCAL)
        notify_finished(registry, sub.job_id, env=LOCAL)
    payload = json.loads(hook.received[-1][1])
    assert payload["status"] == "rejected" and "none-*.nt" in payload["problems"][0]["message"]


def test_a_notification_whose_sender_died_is_retried_a_bounded_number_of_times(tmp_path: Path) -> None:
    with R.Registry(tmp_path / "registry.sqlite") as registry:
        job = registry.new_job(dataset="d", name="d", spec_path="/in/d/d.job.json", spec_sha256=None,
                               status=R.REJECTED, resolved={"spec": {"notify": [{"type": "webhook", "url": "https://x"}]}})
        assert registry.claim_notifications(job, stale_after=60)
        assert not registry.claim_notifications(job, stale_after=60), "one sender at a time"
        assert registry.unnotified(stale_after=60) == []
        # the sender died: once its claim is stale the notification is owed again, at most 3 times in all
        assert [j.id for j in registry.unnotified(stale_after=0)] == [job]
        assert registry.claim_notifications(job, stale_after=0)
        assert registry.claim_notifications(job, stale_after=0)
        assert not registry.claim_notifications(job, stale_after=0)
        assert registry.get(job).notified
        assert any("given up after 3" in (e.message or "") for e in registry.events(job))
