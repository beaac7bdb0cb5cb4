"""Validate one spec in a child process: ``python -m fincrime.server.validate SPEC``.

The server never parses untrusted rules or queries in its own process: a parser that crashes
or hangs on a hostile input takes down this child, which the server reports as that spec's
problem. The child runs :func:`fincrime.jobs.spec.validate_spec`, the watcher's own check, and
prints one JSON object: ``{"ok": true, "files": {...}, "notes": {...}}`` or ``{"ok": false,
"problems": [{"where": ..., "message": ...}, ...]}``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from fincrime.jobs.problems import Problem, SpecRejected
from fincrime.jobs.spec import validate_spec


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0])
    try:
        valid = validate_spec(path)
    except SpecRejected as exc:
        doc: dict[str, Any] = {"ok": False, "problems": [p.to_dict() for p in exc.problems]}
    except Exception as exc:  # any failure of the check is a reason not to run the spec
        doc = {"ok": False, "problems": [{"where": path.name, "message": f"{type(exc).__name__}: {exc}"}]}
    else:
        doc = {"ok": True, "files": {k: [str(p.relative_to(valid.dataset_dir)) for p in v] for k, v in valid.files.items()},
               "notes": valid.notes}
    sys.stdout.write(json.dumps(doc))
    return 0


def validate_in_child(path: Path, *, timeout: float = 120.0) -> tuple[bool, list[Problem], dict[str, Any]]:
    """(valid, problems, details) for the spec at ``path``, checked in a child process."""
    cmd = [sys.executable, "-m", "fincrime.server.validate", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, env=dict(os.environ))
    except subprocess.TimeoutExpired:
        return False, [Problem(path.name, f"validation did not finish within {timeout:g} s")], {}
    if done.returncode != 0:
        why = (f"signal {signal.Signals(-done.returncode).name}" if done.returncode < 0
               else f"exit code {done.returncode}")
        return False, [Problem(path.name, f"validation crashed ({why}); the spec or a file it names is not acceptable")], {}
    try:
        doc = json.loads(done.stdout)
    except json.JSONDecodeError:
        return False, [Problem(path.name, "validation gave no answer")], {}
    problems = [Problem(str(p.get("where", path.name)), str(p.get("message", ""))) for p in doc.get("problems") or []]
    return bool(doc.get("ok")), problems, doc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
