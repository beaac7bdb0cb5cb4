"""Generator bounds and cleanup: absurd counts are clean errors, and no killed run leaves its
(possibly multi-GB) partial files behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fincrime.errors import InputError
from fincrime.generator import GeneratorConfig, generate

FINCRIME = [sys.executable, "-m", "fincrime"]


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"transactions": "1e30"}, "--transactions must be between 1 and 1,000,000,000,000"),
        ({"transactions": "1e300"}, "--transactions must be between"),
        ({"transactions": 100, "days": "100000000"}, "--days must be between 1 and 3,660,000"),
        ({"transactions": 100, "parties": "1e15"}, "--parties must be at most"),
        ({"transactions": "1e12"}, "by default, transactions/10"),
        ({"transactions": 100, "parties": "1e10"}, "GB of memory for the party table"),
        ({"transactions": 100, "days": 3_000_000}, "outside the years 1000-9999"),
    ],
)
def test_absurd_sizes_are_clean_errors(tmp_path, options, needle):
    with pytest.raises(InputError) as info:
        GeneratorConfig(out=str(tmp_path), **options).resolve()
    assert needle in info.value.one_line()


def test_cli_prints_one_line_for_overflowing_counts(tmp_path):
    for args in (["-n", "1e30"], ["-n", "100", "--days", "100000000"]):
        done = subprocess.run([*FINCRIME, "generate", *args, "--out", str(tmp_path / "x")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: --") and "Traceback" not in done.stderr


def _partials(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if ".partial-" in p.name] if out.exists() else []


def _start_big_run(out: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*FINCRIME, "generate", "-n", "20M", "--seed", "1", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 1_000_000 for p in _partials(out)):  # writing has begun
        assert proc.poll() is None and time.monotonic() < deadline, "the run did not start writing"
        time.sleep(0.1)
    return proc


def test_sigterm_removes_the_partial_files(tmp_path):
    out = tmp_path / "out"
    proc = _start_big_run(out)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"stopped by SIGTERM" in err
    assert _partials(out) == [] and not [p for p in out.iterdir() if not p.name.startswith(".")]


def test_a_sigkilled_runs_partial_files_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    proc = _start_big_run(out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = _partials(out)
    assert left  # nothing can run on SIGKILL ...
    generate(GeneratorConfig(out=str(out), transactions=200, seed=3))
    assert _partials(out) == []  # ... so the next run into the folder deletes them
    assert (out / "transactions-0.nt").is_file()
