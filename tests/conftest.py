"""Shared fixtures. Tests that read ../shared (the steering side's reference material) skip when
it is absent, so a fresh clone of the repository alone still passes. ``FINCRIME_SHARED`` points
elsewhere (a checkout in another folder, such as a git worktree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FINCRIME_SHARED") or ROOT.parent / "shared")
SEED = SHARED / "seed"


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    if not (SEED / "data" / "original-generator-10k").is_dir():
        pytest.skip("../shared/seed is not present (reference material lives beside the repo)")
    return SEED


@pytest.fixture(scope="session")
def seed_data(seed_dir: Path) -> list[Path]:
    return sorted((seed_dir / "data" / "original-generator-10k").glob("*.nt.gz"))


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A workspace of the test's own (home, output root and embedded store under tmp_path)."""
    from fincrime.workspace import Workspace

    monkeypatch.setenv("FINCRIME_HOME", str(tmp_path / ".fincrime"))
    monkeypatch.setenv("FINCRIME_OUTPUT", str(tmp_path / "output"))
    return Workspace.from_env()
