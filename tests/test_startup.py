"""What a fresh ``fincrime`` process sets up before the heavy libraries load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fincrime.jemalloc import ENV, SETTING

# Runs in a fresh interpreter: notes the allocator setting at the moment polars is imported (and
# asks jemalloc to print the options it runs with at exit), then imports the package as a user does.
PROBE = """
import importlib.abc, os, sys

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "polars" and "seen" not in globals():
            globals()["seen"] = os.environ.get({env!r})
            if globals()["seen"] is not None:
                os.environ[{env!r}] += ",stats_print:true"
        return None

sys.meta_path.insert(0, Watch())
import fincrime
print("polars loaded by 'import fincrime':", "polars" in sys.modules)
import {module}
print("setting when polars loaded:", globals().get("seen"))
"""


@pytest.mark.parametrize("module", ["fincrime.engine", "fincrime.jobs.runner"])
def test_allocator_is_configured_before_polars_loads(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    done = subprocess.run([sys.executable, "-c", PROBE.format(env=ENV, module=module)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "polars loaded by 'import fincrime': False" in done.stdout
    assert f"setting when polars loaded: {SETTING}" in done.stdout
    # jemalloc itself reports the setting it took (printed at exit on stderr)
    for option in ("opt.background_thread: true", "opt.dirty_decay_ms: 2000 ", "opt.muzzy_decay_ms: 0 "):
        assert option in done.stderr, done.stderr[-2000:]


def test_a_users_own_allocator_setting_is_kept() -> None:
    env = {**os.environ, ENV: "dirty_decay_ms:250"}
    done = subprocess.run([sys.executable, "-c", f"import os, fincrime; print(os.environ[{ENV!r}])"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "dirty_decay_ms:250"


def test_the_command_starts_without_the_heavy_libraries() -> None:
    """``fincrime --help`` (every command module registered) loads none of what the commands run."""
    heavy = ("polars", "pyoxigraph", "pyspark", "fastapi", "uvicorn", "boto3", "jinja2", "gremlin_python", "pyarrow")
    probe = f"import sys, fincrime.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
