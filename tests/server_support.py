"""Shared by the server tests (no tests here): a real ``fincrime serve`` on 127.0.0.1 with its
own workspace and users, and a small hand-made dataset whose chains and typology flags are known.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fincrime.vocab import ENT, PROP, RDF_TYPE, TYPE, XSD

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
USERS = {"ivy": ("investigator", "Ivy Investigator"), "ian": ("investigator", "Ian Other"),
         "rex": ("reviewer", "Rex Reviewer"), "ada": ("admin", "Ada Admin")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _party(key: str, name: str, suspicious: bool, internal: bool = True) -> list[str]:
    p = f"<{ENT}party_{key}>"
    return [f"{p} <{RDF_TYPE}> <{TYPE}Party> .", f'{p} <{PROP}hasFullName> "{name}" .',
            f'{p} <{PROP}isSuspicious> "{str(suspicious).lower()}"^^<{XSD}boolean> .',
            f'{p} <{PROP}isInternal> "{str(internal).lower()}"^^<{XSD}boolean> .']


def _tx(key: str, orig: str, ben: str, amount: float, day: int) -> list[str]:
    t = f"<{ENT}transaction_{key}>"
    return [f"{t} <{RDF_TYPE}> <{TYPE}Transaction> .", f"{t} <{PROP}hasOriginator> <{ENT}party_{orig}> .",
            f"{t} <{PROP}hasBeneficiary> <{ENT}party_{ben}> .",
            f'{t} <{PROP}hasAmount> "{amount:.2f}"^^<{XSD}decimal> .',
            f'{t} <{PROP}hasDate> "2025-03-{day:02d}T10:00:00"^^<{XSD}dateTime> .']


SPOKES, BACKGROUND = 8, 60


def dataset_files(extra_transactions: int = 0) -> dict[str, str]:
    """Parties and transactions: one high-value chain (sam -> mia -> sue, 50,000 then 45,000),
    one suspicious low-value chain (sam -> max -> sue), and a fan-in hub: 8 spokes pay the hub
    near-equal amounts on one day, against a background of 60 everyday payments between pairs
    of other parties, so by the typology rules' default parameters the hub gets 8 similar
    payments where its volume and the share of such amounts predict fewer than one."""
    parties = _party("sam", "Sam Source", True) + _party("sue", "Sue Sink", True) + _party("mia", "Mia Mule", False)
    parties += _party("max", "Max Mule", False, internal=False) + _party("hub", "Hana Hub", False)
    parties += [line for i in range(SPOKES) for line in _party(f"spoke{i}", f"Spoke {i}", False)]
    txs = _tx("hv1", "sam", "mia", 50_000, 1) + _tx("hv2", "mia", "sue", 45_000, 2)
    txs += _tx("lv1", "sam", "max", 500, 3) + _tx("lv2", "max", "sue", 400, 4)
    txs += [line for i in range(SPOKES) for line in _tx(f"fan{i}", f"spoke{i}", "hub", 2_000 + 7 * i, 10)]
    for i in range(BACKGROUND):  # everyday payments (tens of units): each pair once
        txs += _tx(f"bg{i}", f"payer{i}", f"payee{i}", 20 + i % 40, 5 + i % 20)
    for i in range(extra_transactions):  # volume between unsuspicious parties, for slower jobs
        txs += _tx(f"x{i}", f"a{i}", f"b{i}", 100 + i % 50, 12 + (i % 15))  # pairs: no paths, no hubs
    return {"parties.nt": "\n".join(parties) + "\n", "transactions.nt": "\n".join(txs) + "\n"}


SPEC: dict[str, Any] = {
    "name": "uploaded", "data": "*.nt", "rules": "rules/*.dlog", "queries": "queries/*.rq",
    "params": {"highValueThreshold": 10000},
    "outputs": {"visualizations": ["html"], "top": 10, "report": True},
    "targets": [{"type": "oxigraph"}],
}


def project_files() -> dict[str, bytes]:
    """The project's rule and query files, under rules/ and queries/."""
    out = {f"rules/{p.name}": p.read_bytes() for p in sorted((ROOT / "rules").glob("*.dlog"))}
    out |= {f"queries/{p.name}": p.read_bytes() for p in sorted((ROOT / "queries").glob("*.rq"))}
    return out


@dataclass
class Server:
    url: str
    port: int
    home: Path
    input: Path
    output: Path
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def client(self, user: str | None = "ivy", **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    def login(self, user: str) -> tuple[httpx.Client, str]:
        """A cookie session as a browser has it; returns the client and its CSRF token."""
        c = httpx.Client(base_url=self.url, timeout=60)
        page = c.get("/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = c.post("/login", data={"username": user, "password": PASSWORD, "nonce": nonce, "next": "/jobs"})
        assert r.status_code == 303 and r.headers["location"] == "/jobs", r.text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/jobs").text).group(1)  # type: ignore[union-attr]
        return c, csrf

    def wait_job(self, job_id: str, *, timeout: float = 180, final: tuple[str, ...] = ("done", "failed", "cancelled")) -> dict[str, Any]:
        with self.client("ivy") as c:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                doc = c.get(f"/api/jobs/{job_id}").json()
                if doc["status"] in final:
                    return doc
                time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not finish: {doc}")

    def wait_alerts(self, job_id: str, timeout: float = 60) -> list[dict[str, Any]]:
        with self.client("ivy") as c:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                alerts = c.get("/api/alerts", params={"job": job_id}).json()["alerts"]
                if alerts:
                    return alerts
                time.sleep(0.3)
        raise AssertionError(f"no alerts for {job_id}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def fincrime(home: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "FINCRIME_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "fincrime", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def start_server(root: Path, *extra: str) -> Server:
    home, inp, out = root / "home", root / "input", root / "output"
    for name, (role, full) in USERS.items():
        fincrime(home, "users", "add", name, "--role", role, "--full-name", full, "--email", f"{name}@example.org",
                 "--password-stdin", stdin=PASSWORD + "\n")
    tokens = {name: fincrime(home, "users", "token", name, "--name", "tests").strip() for name in USERS}
    port = free_port()
    log = root / "serve.log"
    env = {**os.environ, "FINCRIME_HOME": str(home)}
    cmd = [sys.executable, "-m", "fincrime", "serve", "--input", str(inp), "--output", str(out), "--port", str(port),
           "--rentity-id", "4711", "--rentity-name", "Example Bank", "--currency", "GBP", "--country", "GB", *extra]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(f"http://127.0.0.1:{port}", port, home, inp, out, proc, tokens, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"fincrime serve exited: {log.read_text()}")
        try:
            if httpx.get(server.url + "/api/openapi.json", timeout=2).status_code in (200, 401):
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.stop()
    raise AssertionError(f"fincrime serve did not start: {log.read_text()}")


def upload_dataset(server: Server, dataset: str, *, spec: dict[str, Any] | None = None, user: str = "ivy",
                   extra_transactions: int = 0) -> httpx.Response:
    """Data by PUT, rules, queries and the spec in one multipart POST (as the console does)."""
    with server.client(user) as c:
        for name, text in dataset_files(extra_transactions).items():
            r = c.put(f"/api/datasets/{dataset}/files/{name}", content=text.encode())
            assert r.status_code == 201, r.text
        files = [("files", (name, data, "application/octet-stream")) for name, data in project_files().items()]
        files.append(("files", (f"{dataset}.job.json", json.dumps(spec or SPEC).encode(), "application/json")))
        return c.post(f"/api/datasets/{dataset}/files", files=files)
