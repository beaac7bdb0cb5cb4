"""Parsing untrusted SPARQL where a crash or a call to the outside cannot happen to us.

:func:`check_queries` hands queries to a short-lived child Python that parses each one with
pyoxigraph on an empty in-memory store (and reads a few result rows, so evaluation-time
recursion is exercised too). Before it touches a query, the child locks itself down:

- it cannot open a file or a socket (``RLIMIT_NOFILE`` set to the descriptors it already has),
  so even a ``SERVICE`` clause that slipped through screening cannot reach anybody, nor can a
  DNS lookup;
- its address space and CPU time are bounded, and the parent kills it after ``timeout``.

A child that dies (pyoxigraph's recursive parser overflows its stack on some inputs and the
process gets SIGSEGV) only costs that query: it is reported as refused, and the remaining
queries are checked in a fresh child.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from fincrime.errors import SourceError
from fincrime.security.sparql import syntax_error

MAX_ROWS = 100
DEFAULT_TIMEOUT = 10.0
DEFAULT_BUDGET = 60.0
DEFAULT_MEMORY_MB = 2048

_CHILD = r"""
import json, os, resource, sys
import pyoxigraph as ox
queries = json.loads(sys.stdin.buffer.read())
store = ox.Store()
limit_as = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
cpu = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
free = os.dup(0); os.close(free)
resource.setrlimit(resource.RLIMIT_NOFILE, (free, free))
out = sys.stdout
for i, text in queries:
    try:
        result = store.query(text)
    except SyntaxError as exc:
        out.write(json.dumps({"i": i, "error": "syntax", "message": str(exc)}) + "\n"); out.flush(); continue
    except Exception as exc:
        out.write(json.dumps({"i": i, "error": type(exc).__name__, "message": str(exc)}) + "\n"); out.flush(); continue
    kind = "ask" if isinstance(result, (bool, ox.QueryBoolean)) else ("select" if isinstance(result, ox.QuerySolutions) else "graph")
    out.write(json.dumps({"i": i, "parsed": kind}) + "\n"); out.flush()
    try:
        if kind != "ask":
            for n, _ in enumerate(result):
                if n >= int(sys.argv[3]):
                    break
    except Exception as exc:
        out.write(json.dumps({"i": i, "evaluated": False, "message": str(exc)}) + "\n"); out.flush(); continue
    out.write(json.dumps({"i": i, "evaluated": True}) + "\n"); out.flush()
"""


@dataclass(frozen=True)
class QueryCheck:
    """The outcome for one query: its form when it parsed, else the problem."""

    form: str | None
    problem: SourceError | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _run_child(batch: list[tuple[int, str]], timeout: float, memory_mb: int,
               budget_end: float) -> tuple[dict[int, dict[str, object]], int | None, bool]:
    """Runs one child over ``batch``; returns the reports per index, its exit code, and whether it timed out."""
    cmd = [sys.executable, "-I", "-c", _CHILD, str(memory_mb), str(int(timeout) + 1), str(MAX_ROWS)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            close_fds=True, start_new_session=True)
    assert proc.stdin is not None and proc.stdout is not None
    reports: dict[int, dict[str, object]] = {}
    timed_out = False
    try:
        proc.stdin.write(json.dumps(batch).encode("utf-8"))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""
    deadline = min(time.monotonic() + timeout, budget_end)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if not selector.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                report = json.loads(line)
                index = int(report.pop("i"))
                if "parsed" in report or index not in reports:
                    deadline = min(time.monotonic() + timeout, budget_end)  # each query gets its own time
                reports.setdefault(index, {}).update(report)
    finally:
        selector.close()
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        proc.stdout.close()
    return reports, code, timed_out


def _outcome(report: dict[str, object], text: str, source: str) -> QueryCheck:
    if report.get("error") == "syntax":
        return QueryCheck(None, syntax_error(str(report["message"]), text, source))
    if "error" in report:
        return QueryCheck(None, SourceError(f"query refused: {report['message']}", source=source, line=1))
    return QueryCheck(str(report["parsed"]), None)


def check_queries(queries: list[tuple[str, str]], *, timeout: float = DEFAULT_TIMEOUT,
                  budget: float = DEFAULT_BUDGET, memory_mb: int = DEFAULT_MEMORY_MB) -> list[QueryCheck]:
    """Parses each ``(source, text)`` in isolation; one :class:`QueryCheck` per query, in order.

    Each query may take ``timeout`` seconds, all of them together ``budget`` (so a spec full of
    slow queries holds its caller up for a bounded time); what is left unchecked is refused.

    The child checks queries in order, so when it dies or runs out of time the first query
    without a complete report is the culprit; the ones after it go to a fresh child.
    """
    results: dict[int, QueryCheck] = {}
    pending = list(enumerate(text for _, text in queries))
    budget_end = time.monotonic() + budget
    while pending and time.monotonic() < budget_end:
        reports, code, timed_out = _run_child(pending, timeout, memory_mb, budget_end)
        rest: list[tuple[int, str]] = []
        for index, text in pending:
            source = queries[index][0]
            report = reports.get(index, {})
            if rest:
                rest.append((index, text))
            elif "error" in report or "evaluated" in report:
                results[index] = _outcome(report, text, source)
            elif "parsed" in report and (timed_out or not code):
                results[index] = _outcome(report, text, source)  # parsed; slow to evaluate is not a syntax problem
            else:
                stage = "evaluating" if "parsed" in report else "parsing"
                why = (f"checking it took longer than {timeout:g} s" if timed_out else
                       f"the SPARQL engine crashed {stage} it ({_signal_name(code)})" if code and code < 0 else
                       f"the SPARQL checker failed {stage} it (exit code {code})")
                results[index] = QueryCheck(None, SourceError(
                    f"query refused: {why}; it is too large or too deeply structured", source=source, line=1))
                rest.append((-1, ""))  # everything after the culprit is checked again
        pending = [(i, t) for i, t in rest if i >= 0]
    for index, _ in pending:
        results[index] = QueryCheck(None, SourceError(
            f"query refused: not checked, the {budget:g} s allowed for checking queries ran out",
            source=queries[index][0], line=1))
    return [results[i] for i in range(len(queries))]
