"""Spark settings chosen from the machine and the input (no Spark session needed), and the
refusal, before any JVM starts, of a job the machine cannot fit."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from fincrime.cli import main
from fincrime.engine.spark import resources as R
from fincrime.engine.spark.resources import (
    GIB,
    MIB,
    Machine,
    input_size,
    parse_memory,
    plan_resources,
)
from fincrime.errors import FincrimeError, InputError

ROOT = Path(__file__).resolve().parents[1]
LAPTOP = Machine(cores=2, memory=24 * GIB, available=20 * GIB)


def test_local_heap_is_what_the_input_needs_with_room_within_half_of_what_is_free() -> None:
    small = plan_resources(LAPTOP, 13 * MIB, local=True)
    assert small.driver_memory == small.executor_memory == "6g" and small.partitions == 4
    assert plan_resources(LAPTOP, 1500 * MIB, local=True).driver_memory == "9g"  # 3 x (1 + 1.5 x 1.5) GiB, rounded down
    assert plan_resources(LAPTOP, 5600 * MIB, local=True).driver_memory == "10g"  # 10M: half of the free 20
    busy = Machine(cores=2, memory=24 * GIB, available=6 * GIB)
    needy = plan_resources(busy, 2 * GIB, local=True)  # needs 1 + 1.5 x 2 = 4 GiB of the 6 free
    assert parse_memory(needy.driver_memory) >= 4 * GIB > 3 * GIB == parse_memory(plan_resources(busy, 0, local=True).driver_memory)


def test_partitions_follow_the_input_size_and_the_cores() -> None:
    assert plan_resources(LAPTOP, 5600 * MIB, local=True).partitions == 88  # 64 MiB of text each
    assert plan_resources(LAPTOP, 0, local=True, threads=3).partitions == 6
    assert plan_resources(LAPTOP, 5600 * MIB, local=True, partitions=7).partitions == 7
    cluster = plan_resources(LAPTOP, 0, local=False, cores=4)
    assert cluster.partitions == 32 and cluster.executor_memory is None  # the cluster's own default
    assert plan_resources(LAPTOP, 0, local=False, memory="6g").executor_memory == "6g"


def test_a_job_that_cannot_fit_is_refused_with_one_line() -> None:
    tight = Machine(cores=2, memory=8 * GIB, available=3 * GIB)
    with pytest.raises(FincrimeError) as info:
        plan_resources(tight, 4 * GIB, local=True)
    line = info.value.one_line()
    assert "cannot fit" in line and "4.0 GiB" in line and "3.0 GiB" in line and "--spark-master" in line
    assert "\n" not in line
    with pytest.raises(FincrimeError, match="given 64g"):
        plan_resources(tight, 0, local=True, memory="64g")
    assert plan_resources(tight, 4 * GIB, local=True, memory="2g").driver_memory == "2g"  # the user's call


def test_memory_settings_are_read_as_the_jvm_reads_them() -> None:
    assert parse_memory("768m") == 768 * MIB and parse_memory("1.5g") == 3 * GIB // 2 and parse_memory("512") == 512 * MIB
    with pytest.raises(InputError, match="not a JVM memory size"):
        parse_memory("lots")


def test_input_size_reads_gzip_trailers_and_parquet_rows(tmp_path: Path) -> None:
    text = b"<http://e/a> <http://e/p> <http://e/b> .\n" * 5000
    (tmp_path / "a.nt.gz").write_bytes(gzip.compress(text))
    (tmp_path / "b.nt").write_bytes(text)
    pl.DataFrame({"id": list(range(100))}).write_parquet(tmp_path / "transactions-0.parquet")
    assert input_size([str(tmp_path / "a.nt.gz")]) == len(text)
    assert input_size([str(tmp_path / "b.nt")]) == len(text)
    assert input_size([str(tmp_path / "transactions-0.parquet")]) == 100 * 5 * R.BYTES_PER_TRIPLE
    assert input_size(["hdfs://cluster/data", str(tmp_path / "missing.nt")]) == 0


def test_cgroup_limits_bound_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "/proc/meminfo": "MemTotal:       25165824 kB\nMemFree: 1 kB\nMemAvailable:   20971520 kB\n",
        "/sys/fs/cgroup/memory.max": str(4 * GIB), "/sys/fs/cgroup/memory.current": str(1 * GIB),
        "/sys/fs/cgroup/cpu.max": "150000 100000",
    }
    monkeypatch.setattr(R, "_read", lambda path: files.get(path))
    monkeypatch.setattr(R.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    machine = Machine.detect()
    assert machine == Machine(cores=2, memory=4 * GIB, available=3 * GIB)
    files["/sys/fs/cgroup/memory.max"] = "max"
    files["/sys/fs/cgroup/cpu.max"] = "max 100000"
    assert Machine.detect() == Machine(cores=4, memory=24 * GIB, available=20 * GIB)


def test_cli_refuses_before_spark_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyspark")
    from fincrime.engine.spark import session

    data = tmp_path / "t.nt"
    data.write_bytes(b"<http://e/a> <http://e/p> <http://e/b> .\n" * 20000)
    monkeypatch.setattr(R.Machine, "detect", classmethod(lambda cls: Machine(cores=2, memory=GIB, available=GIB // 2)))
    monkeypatch.setattr(session, "get_session", lambda *a, **k: pytest.fail("Spark was started"))
    code = main(["reason", "--engine", "spark", "-r", str(ROOT / "rules" / "suspicious-chains.dlog"), "-d", str(data)])
    err = capsys.readouterr().err
    assert code != 0 and "cannot fit the job on Spark local" in err and "Traceback" not in err
