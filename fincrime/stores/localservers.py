"""Starting real SPARQL servers on loopback ports, for tests, benchmarks and local trials.

- the Oxigraph server (``oxigraph serve``, PyPI package ``oxigraph``);
- OpenLink Virtuoso (Debian ``virtuoso-opensource``): Debian's package never starts its
  service (policy-rc.d), so ``virtuoso-t +configfile <ini> +foreground`` runs here from a
  generated ini on free ports. A fresh database has the account dba/dba; updates need
  ``/sparql-auth`` or the graph store at ``/sparql-graph-crud-auth`` (digest auth).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fincrime.errors import FincrimeError

VIRTUOSO_INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql}
DisableUnixSocket = 1
CheckpointInterval = 60
NumberOfBuffers = 40000
MaxDirtyBuffers = 30000
DirsAllowed = ., {d}
[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = {d}
ServerThreads = 10
MaxClientConnections = 10
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 300
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oxigraph_cli() -> Path | None:
    """The ``oxigraph`` server CLI next to this Python, or on PATH."""
    local = Path(sys.executable).with_name("oxigraph")
    found = shutil.which("oxigraph")
    return local if local.exists() else (Path(found) if found else None)


def virtuoso_cli() -> Path | None:
    found = shutil.which("virtuoso-t")
    return Path(found) if found else None


@dataclass
class LocalServer:
    """A running server: its base URL and the load target that reaches it."""

    name: str
    base: str
    target: dict[str, Any]
    process: subprocess.Popen[bytes]


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FincrimeError(f"{url}: the server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise FincrimeError(f"{url}: the server did not answer within {seconds:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def oxigraph_server(folder: Path) -> Iterator[LocalServer]:
    """``oxigraph serve`` on a free loopback port, storing in ``folder``."""
    cli = oxigraph_cli()
    if cli is None:
        raise FincrimeError("the oxigraph server CLI is not installed (pip install oxigraph)")
    port = free_port()
    proc = subprocess.Popen([str(cli), "serve", "--location", str(folder), "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base + "/query?query=ASK%7B%7D", proc, 60)
        target = {"type": "sparql", "endpoint": base + "/query", "update": base + "/update",
                  "graph_store": base + "/store"}
        yield LocalServer("oxigraph-server", base, target, proc)
    finally:
        _stop(proc)


@contextmanager
def virtuoso_server(folder: Path, *, user_env: str = "VIRTUOSO_USER",
                    password_env: str = "VIRTUOSO_PASSWORD") -> Iterator[LocalServer]:
    """Virtuoso from a generated ini in ``folder``; the target's digest credentials are read
    from ``user_env``/``password_env`` (dba/dba on a fresh database)."""
    cli = virtuoso_cli()
    if cli is None:
        raise FincrimeError("virtuoso-t is not installed (Debian package virtuoso-opensource)")
    folder.mkdir(parents=True, exist_ok=True)
    http_port, sql_port = free_port(), free_port()
    ini = folder / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(d=folder, sql=sql_port, http=http_port))
    proc = subprocess.Popen([str(cli), "+configfile", str(ini), "+foreground"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http_port}"
    try:
        _wait(base + "/sparql?query=ASK%7B%7D", proc, 90)
        target = {"type": "sparql", "endpoint": base + "/sparql", "update": base + "/sparql-auth",
                  "graph_store": base + "/sparql-graph-crud-auth",
                  "auth": {"type": "digest", "user_env": user_env, "password_env": password_env}}
        yield LocalServer("virtuoso", base, target, proc)
    finally:
        _stop(proc)
