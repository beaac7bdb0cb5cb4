"""Shared helpers of the Spark tests: one Spark session for the whole run, small datasets."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
from pathlib import Path

import pytest

from fincrime.generator import GeneratorConfig, generate

ROOT = Path(__file__).resolve().parents[1]
SEED_RULES = ROOT.parent / "shared" / "seed" / "rules"
OPTIONS = {"master": "local[2]", "partitions": 2}


@functools.cache
def spark_session():  # type: ignore[no-untyped-def]
    """The one local[2] session of the test run (a session takes ~20 s to start)."""
    pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    from fincrime.engine.spark.session import SparkOptions, get_session

    session = get_session(SparkOptions.parse(OPTIONS))
    atexit.register(session.stop)
    return session


@functools.cache
def dataset(name: str, fmt: str = "nt") -> list[str]:
    """Small generated datasets (cached per test run under a temp folder)."""
    settings = {
        "orig": dict(transactions=400, parties=60, days=4, seed=11, profile="original", suspicious_ratio=0.08),
        "typo": dict(transactions=600, parties=80, days=5, seed=5, profile="realistic", suspicious_ratio=0.05,
                     typologies="cycle=1:4,fan_in=1:4,layering=1:4"),
        "mixed": dict(transactions=500, parties=70, days=3, seed=23, profile="realistic", suspicious_ratio=0.06,
                      typologies="fan_out=1:5,structuring=1:6,cycle=1:3"),
        # every typology, spread over days, day-resolution dates (ties everywhere)
        "eight": dict(transactions=4000, parties=400, days=40, attempt_days=10, resolution="day", seed=7,
                      profile="realistic", suspicious_ratio=0.0,
                      typologies="fan_in=1:6,fan_out=1:6,cycle=1:4,scatter_gather=1:3,gather_scatter=1:3,"
                                 "layering=1:4,structuring=1:8,bipartite=1:2"),
    }[name]
    # a fixed end date: the same name gives the same data in every format, whenever generated
    settings["end_date"] = "2026-01-31T00:00:00"
    out = Path(os.environ.get("PYTEST_SPARK_DATA", "/tmp/fincrime-spark-tests")) / f"{name}-{fmt}-{os.getpid()}"
    if out.exists():
        shutil.rmtree(out)
    generate(GeneratorConfig(out=str(out), format=fmt, **settings))
    atexit.register(shutil.rmtree, out, True)
    suffix = ".parquet" if fmt == "parquet" else ".nt"
    return sorted(str(p) for p in out.iterdir() if p.name.endswith(suffix) and not p.name.startswith("ground"))


def rule_files() -> list[Path]:
    files = sorted((ROOT / "rules").glob("*.dlog"))
    return files
