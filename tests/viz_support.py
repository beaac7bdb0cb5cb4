"""Shared by the viz tests: the fixture job builder in tests/fixtures/viz/make_jobs.py (also
used by bench/viz.py, so it stays a plain script rather than a package module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FIXTURES = Path(__file__).parent / "fixtures" / "viz"


def make_jobs() -> ModuleType:
    if "viz_make_jobs" not in sys.modules:
        spec = importlib.util.spec_from_file_location("viz_make_jobs", FIXTURES / "make_jobs.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["viz_make_jobs"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["viz_make_jobs"]
