"""The console's SPARQL box: queries over the embedded store, each in a child process.

A query from a browser is untrusted text. It runs in ``python -m fincrime.server.sparql``,
which opens the store read-only, so a query that crashes the parser or runs too long ends
with its child (killed at the timeout) and never with the server. Before that, the operator's
query screen (:func:`fincrime.security.screen_query`: size, nesting, ``SERVICE`` only to
allow-listed endpoints the egress policy accepts) refuses what may not run. At most ``PARALLEL``
queries run at once. The table shows the first rows; CSV downloads have every row.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from fincrime.errors import FincrimeError
from fincrime.security import QueryLimits, QueryRefused, egress_policy, load_config, screen_query
from fincrime.stores.query import run_embedded
from fincrime.stores.results import json_term, write_csv

PARALLEL = 2
_slots = threading.BoundedSemaphore(PARALLEL)


def check(text: str, home: Path) -> None:
    """The operator's query screen (size, nesting, SERVICE; :mod:`fincrime.security.sparql`)."""
    if not text.strip():
        raise ValueError("the query is empty")
    screen_query(text, "query", limits=QueryLimits.from_config(load_config(home)), egress=egress_policy(home))


@dataclass
class Answer:
    ok: bool
    error: str | None = None
    form: str | None = None
    variables: list[str] | None = None
    rows: list[list[Any]] | None = None
    boolean: bool | None = None
    truncated: bool = False
    csv: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "csv"}


def main() -> int:
    """Child: reads the query on stdin; writes one JSON answer (or CSV with ``--csv``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--job")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--csv", action="store_true")
    args = parser.parse_args()
    text = sys.stdin.read()
    try:
        result = run_embedded(Path(args.store), text, source="query", job_id=args.job or None)
        if args.csv:
            buf = io.StringIO()
            write_csv(result, buf)
            sys.stdout.write(json.dumps({"ok": True, "csv": buf.getvalue()}))
            return 0
        if result.form == "ask":
            doc: dict[str, Any] = {"ok": True, "form": "ask", "boolean": bool(result.boolean)}
        elif result.form == "select":
            it = iter(result.rows)
            rows = [[json_term(t) if t is not None else None for t in row] for row in islice(it, args.rows)]
            doc = {"ok": True, "form": "select", "variables": result.variables, "rows": rows,
                   "truncated": next(it, None) is not None}
        else:
            it2 = iter(result.triples)
            rows = [[json_term(t) for t in triple] for triple in islice(it2, args.rows)]
            doc = {"ok": True, "form": "graph", "variables": ["subject", "predicate", "object"], "rows": rows,
                   "truncated": next(it2, None) is not None}
    except FincrimeError as exc:
        doc = {"ok": False, "error": exc.render() if hasattr(exc, "render") else exc.one_line()}
    except Exception as exc:
        doc = {"ok": False, "error": f"query failed: {exc}"}
    sys.stdout.write(json.dumps(doc))
    return 0


def run_query(store_dir: Path, text: str, *, job: str | None, rows: int, timeout: float, csv: bool = False) -> Answer:
    """Runs ``text`` in a child process; the answer, or the reason there is none."""
    try:
        check(text, store_dir.parent)
    except QueryRefused as exc:
        return Answer(False, exc.render())
    except ValueError as exc:
        return Answer(False, str(exc))
    if not store_dir.is_dir():
        return Answer(False, "the embedded store is empty: no job has been loaded into it yet")
    if not _slots.acquire(timeout=timeout):
        return Answer(False, "the server is busy with other queries; try again")
    try:
        cmd = [sys.executable, "-m", "fincrime.server.sparql", "--store", str(store_dir), "--rows", str(rows)]
        if job:
            cmd += ["--job", job]
        if csv:
            cmd.append("--csv")
        try:
            done = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=timeout,
                                  env=dict(os.environ))
        except subprocess.TimeoutExpired:
            return Answer(False, f"the query ran longer than {timeout:g} s and was stopped")
    finally:
        _slots.release()
    if done.returncode != 0:
        return Answer(False, f"the query could not be run (its process ended with code {done.returncode})")
    try:
        doc = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Answer(False, "the query gave no answer")
    return Answer(**doc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
