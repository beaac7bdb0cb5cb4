"""A process that evaluates SPARQL queries for ``serve-sparql``, so a query can be truly stopped.

The server keeps a few of these (:class:`EvaluatorPool`). Each opens the embedded store
read-only, takes one request at a time on stdin and answers on stdout, both framed as a 4-byte
length and a JSON header (plus the result body). A query that runs past its time, whose
client went away, or that crashes the engine costs only its process: the server kills it
(``SIGKILL`` really stops evaluation, wherever pyoxigraph is) and starts a fresh one.

Run as ``python -m fincrime.stores.sparql_worker STORE_DIR [JOB_ID]``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox

from fincrime.stores.embedded import EmbeddedStore
from fincrime.stores.query import declared_prefixes, from_oxigraph
from fincrime.stores.results import write_csv, write_json, write_nt

_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 31


def _write_frame(out: IO[bytes], header: dict[str, Any], body: bytes = b"") -> None:
    head = json.dumps({**header, "length": len(body)}).encode("utf-8")
    out.write(_HEADER.pack(len(head)) + head + body)
    out.flush()


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _read_frame(stream: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    header = json.loads(_read_exact(stream, size))
    body = _read_exact(stream, int(header.get("length", 0)))
    return header, body


# ---- the worker process ----------------------------------------------------------------------
class _Snapshot:
    """The read-only store, reopened when a load changed the store folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None
        self._store: Any = None

    def get(self) -> Any:
        stamp = self.path.stat().st_mtime_ns
        if stamp != self._stamp:
            self._store = EmbeddedStore(self.path, read_only=True)
            self._stamp = stamp
        return self._store


def _evaluate(snapshot: _Snapshot, request: dict[str, Any], job_id: str | None) -> tuple[dict[str, Any], bytes]:
    store = snapshot.get()
    text = request["query"]
    default = [ox.NamedNode(g) for g in request.get("default") or []]
    named = [ox.NamedNode(g) for g in request["named"]] if request.get("named") else None
    try:
        graphs = default or store.job_graphs(job_id) or [ox.NamedNode("urn:fincrime:empty")]
        result = from_oxigraph(store.store.query(text, default_graph=graphs, named_graphs=named),
                               declared_prefixes(text))
        out = io.StringIO()
        if result.form == "graph":
            write_nt(result, out)
            ctype = "application/n-triples"
        elif request.get("format") == "csv":
            write_csv(result, out)
            ctype = "text/csv"
        else:
            write_json(result, out)
            ctype = "application/sparql-results+json"
    except SyntaxError as exc:
        return {"status": 400, "message": f"query syntax error: {exc}"}, b""
    except (OSError, ValueError, RuntimeError) as exc:
        return {"status": 500, "message": f"query failed: {exc}"}, b""
    return {"status": 200, "ctype": ctype + "; charset=utf-8"}, out.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    store_dir, job_id = Path(args[0]), (args[1] if len(args) > 1 and args[1] else None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops us; Ctrl+C goes to it
    snapshot = _Snapshot(store_dir)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing may write into the frames by accident
    _write_frame(stdout, {"status": "ready"})
    while True:
        try:
            request, _ = _read_frame(stdin)
        except EOFError:
            return 0
        try:
            header, body = _evaluate(snapshot, request, job_id)
        except Exception as exc:  # whatever happens, the server gets an answer
            header, body = {"status": 500, "message": f"query failed: {type(exc).__name__}: {exc}"}, b""
        _write_frame(stdout, header, body)


# ---- the server's side ------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    ctype: str
    body: bytes


class _Evaluator:
    def __init__(self, store_dir: Path, job_id: str | None) -> None:
        cmd = [sys.executable, "-m", "fincrime.stores.sparql_worker", str(store_dir), job_id or ""]
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self.ready = False

    def wait_ready(self, deadline: float) -> bool:
        if self.ready:
            return True
        if not self._readable(deadline):
            return False
        try:
            header, _ = _read_frame(self.process.stdout)  # type: ignore[arg-type]
        except (EOFError, ValueError):
            return False
        self.ready = header.get("status") == "ready"
        return self.ready

    def _readable(self, deadline: float) -> bool:
        remaining = max(deadline - time.monotonic(), 0)
        ready, _, _ = select.select([self.process.stdout], [], [], remaining)
        return bool(ready)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()


class EvaluatorPool:
    """``size`` evaluator processes over one store; :meth:`run` gives each query one of them."""

    def __init__(self, store_dir: Path, size: int = 2, *, job_id: str | None = None, start_timeout: float = 60.0) -> None:
        self.store_dir, self.job_id, self.size = store_dir, job_id, size
        self.start_timeout = start_timeout
        self._idle: list[_Evaluator] = []
        self._all: set[_Evaluator] = set()
        self._cond = threading.Condition()
        self._closed = False
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        evaluator = _Evaluator(self.store_dir, self.job_id)
        with self._cond:
            self._all.add(evaluator)
            self._idle.append(evaluator)
            self._cond.notify()

    def _retire(self, evaluator: _Evaluator) -> None:
        evaluator.kill()
        with self._cond:
            self._all.discard(evaluator)
            closed = self._closed
        if not closed:
            self._spawn()  # a replacement starts now, before the next query needs it

    def _take(self, deadline: float) -> _Evaluator | None:
        with self._cond:
            while not self._idle:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._cond.wait(remaining)
            return self._idle.pop(0)

    def _give_back(self, evaluator: _Evaluator) -> None:
        with self._cond:
            self._idle.append(evaluator)
            self._cond.notify()

    def run(self, request: dict[str, Any], *, timeout: float,
            cancelled: Callable[[], bool] = lambda: False) -> Answer:
        """Evaluates one request within ``timeout`` seconds; stops it when ``cancelled()`` turns true."""
        deadline = time.monotonic() + timeout
        evaluator = self._take(deadline)
        if evaluator is None:
            return Answer(503, "text/plain", f"every query evaluator stayed busy for {timeout:g} s; try again\n".encode())
        if not evaluator.wait_ready(max(deadline, time.monotonic() + self.start_timeout)):
            self._retire(evaluator)
            return Answer(500, "text/plain", b"a query evaluator failed to start\n")
        deadline = time.monotonic() + timeout  # the query's own time starts now
        try:
            _write_frame(evaluator.process.stdin, {**request})  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            self._retire(evaluator)
            return Answer(500, "text/plain", b"the query evaluator stopped; try again\n")
        while True:
            if evaluator._readable(min(deadline, time.monotonic() + 0.2)):
                try:
                    header, body = _read_frame(evaluator.process.stdout)  # type: ignore[arg-type]
                except (EOFError, ValueError):
                    code = evaluator.process.poll()
                    self._retire(evaluator)
                    return Answer(500, "text/plain", f"query evaluation crashed (exit {code})\n".encode())
                self._give_back(evaluator)
                status = int(header["status"])
                if status == 200:
                    return Answer(200, str(header["ctype"]), body)
                return Answer(status, "text/plain; charset=utf-8", (str(header.get("message")) + "\n").encode())
            if cancelled():
                self._retire(evaluator)
                return Answer(499, "text/plain", b"client closed the connection; query stopped\n")
            if time.monotonic() >= deadline:
                self._retire(evaluator)
                return Answer(503, "text/plain; charset=utf-8",
                              f"query stopped: it ran longer than {timeout:g} s\n".encode())

    def close(self) -> None:
        with self._cond:
            self._closed = True
            everyone = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for evaluator in everyone:
            evaluator.kill()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
