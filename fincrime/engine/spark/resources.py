"""Spark settings chosen from the machine and the input: memory, shuffle partitions, checkpoints.

A Spark run started with no memory or partition settings must work on the machine it starts on:
the JVM's default heap (1 GB) runs out on the 10k-transaction sample, and a fixed partition count
is either too few for 10M transactions or thousands of empty tasks for 10k. So the settings come
from what this process may use (cores and memory, cgroup limits included) and the input's size
(uncompressed bytes of N-Triples; rows of Parquet tables), and a job that cannot fit is refused
with one line *before* a JVM is started.

>>> m = Machine(cores=2, memory=24 * GIB, available=20 * GIB)
>>> r = plan_resources(m, input_bytes=620 * MIB, local=True)
>>> r.driver_memory, r.partitions, r.local_threads
('6g', 10, 2)
>>> plan_resources(m, input_bytes=1 * MIB, local=True).partitions
4
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fincrime.errors import FincrimeError, InputError

MIB = 1 << 20
GIB = 1 << 30
MIN_HEAP = 1 * GIB
HEAP_SHARE = 0.5  # at most, of the memory available now: the machine may be shared
DEFAULT_HEAP = 6 * GIB  # the least a local run gets when the machine has it: with 4 GiB the 10k sample
# (3M facts, 25 rounds) lost its SparkContext in round 23
HEAP_ROOM = 3  # heap per estimated need: derived facts, checkpoints and shuffles beside the input
HEAP_CEILING = 0.75  # of the machine's (or cgroup's) memory, whatever is free
HEAP_PER_INPUT_BYTE = 1.5  # measured: 10M transactions (5.6 GB of text) ran in a 14 GB heap, 1M in 2 GB
HEAP_OVERHEAD = 1 * GIB  # the JVM, Spark's own structures, the plans of a long program
BYTES_PER_PARTITION = 64 * MIB  # of input text per shuffle partition (Spark merges small ones)
BYTES_PER_TRIPLE = 110  # a generator triple in N-Triples, for Parquet rows and estimates
TRIPLES_PER_ROW = {"parties": 6, "transactions": 5}


@dataclass(frozen=True)
class Machine:
    """What this process may use: cores, memory (the machine's or its cgroup's limit) and the
    memory available now (free + reclaimable, within the cgroup)."""

    cores: int
    memory: int
    available: int

    @classmethod
    def detect(cls) -> Machine:
        cores = _usable_cores()
        total = _meminfo("MemTotal") or 4 * GIB
        available = _meminfo("MemAvailable") or total // 2
        limit, used = _cgroup_memory()
        if limit is not None and limit < total:
            total = limit
            available = min(available, max(limit - (used or 0), 0))
        return cls(cores=cores, memory=total, available=min(available, total))


@dataclass(frozen=True)
class Resources:
    """The settings of one run; ``None`` leaves a setting to Spark (or to the cluster)."""

    driver_memory: str | None
    executor_memory: str | None
    partitions: int
    local_threads: int
    input_bytes: int

    def describe(self) -> str:
        heap = f"{self.driver_memory} driver" if self.driver_memory else "driver memory as configured"
        return f"{heap}, {self.partitions} shuffle partitions, input ≈ {_size(self.input_bytes)}"


def plan_resources(
    machine: Machine, input_bytes: int, local: bool, memory: str | None = None, partitions: int | None = None,
    cores: int | None = None, threads: int | None = None,
) -> Resources:
    """Settings for an input of ``input_bytes`` (uncompressed N-Triples) on ``machine``.

    Local mode: the executors live in the driver's JVM, so its heap is the engine's memory: a
    given ``memory``, else three times what the input needs (at least 6 GiB), within half of what
    is available now, never less than the input needs. Raises :class:`FincrimeError` when the input cannot fit. On a cluster
    the executors' memory is the given one (else the cluster's default) and the driver, which only
    plans and collects small results, gets a modest heap.
    """
    need = HEAP_OVERHEAD + int(HEAP_PER_INPUT_BYTE * input_bytes)
    workers = threads or (machine.cores if local else (cores or 2) * 4)
    by_size = math.ceil(input_bytes / BYTES_PER_PARTITION)
    shuffle = partitions or max(2 * workers, min(by_size, 4096))
    if not local:
        driver = min(max(MIN_HEAP, machine.available // 4), 4 * GIB)
        return Resources(_spelled(driver), memory, shuffle, workers, input_bytes)
    ceiling = int(min(machine.available * 0.8, machine.memory * HEAP_CEILING))
    if memory is not None:
        heap = parse_memory(memory)
        if heap > machine.memory:
            raise FincrimeError(
                f"the Spark engine was given {memory} of memory and this machine has {_size(machine.memory)}",
                hint="give at most the machine's memory (engine.memory / --memory) or run on a cluster (--spark-master)")
        return Resources(memory, memory, shuffle, workers, input_bytes)
    if need > ceiling:
        raise FincrimeError(
            f"this machine cannot fit the job on Spark local: the input (≈ {_size(input_bytes)} of N-Triples) needs "
            f"≈ {_size(need)} of memory and {_size(machine.available)} of this machine's {_size(machine.memory)} is available",
            hint="run it on a cluster (--spark-master spark://HOST:PORT), free memory, "
                 "or set --memory to try with less")
    # A JVM fills whatever heap it is given before it collects hard, so the heap is what the
    # input needs with room to spare, not all that is free: on a shared machine a greedy heap
    # gets the JVM killed by the kernel (seen: an 11 GB JVM for the 10k sample).
    heap = min(max(DEFAULT_HEAP, HEAP_ROOM * need), int(machine.available * HEAP_SHARE), ceiling)
    heap = max(heap, need, MIN_HEAP)
    return Resources(_spelled(heap), _spelled(heap), shuffle, workers, input_bytes)


def parse_memory(text: str) -> int:
    """Bytes of a JVM memory setting: ``768m``, ``4g``, ``1.5g`` (a bare number is MiB, as Spark reads it).

    >>> parse_memory("768m"), parse_memory("2g") == 2 * GIB, parse_memory("512")
    (805306368, True, 536870912)
    """
    value = str(text).strip().lower().removesuffix("b")
    scale = {"k": 1 << 10, "m": MIB, "g": GIB, "t": 1 << 40}
    try:
        if value[-1:] in scale:
            return int(float(value[:-1]) * scale[value[-1]])
        return int(float(value) * MIB)
    except ValueError:
        raise InputError(f"engine option memory {text!r} is not a JVM memory size (e.g. 768m, 4g)") from None


def input_size(paths: Sequence[str]) -> int:
    """Uncompressed bytes of the input: gzip members' recorded sizes, Parquet rows × a triple's text."""
    total = 0
    for p in paths:
        path = Path(str(p))
        if "://" in str(p) or not path.exists():
            continue
        if path.is_dir() or path.name.endswith(".parquet"):
            total += _parquet_bytes(path)
        elif path.name.endswith(".gz"):
            total += _gzip_size(path)
        else:
            total += path.stat().st_size
    return total


def _gzip_size(path: Path) -> int:
    """The last member's ISIZE (size mod 4 GiB), corrected by the compressed size; a fair
    estimate for one-member files, a lower bound for multi-member ones (never below 4x)."""
    packed = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            (isize,) = struct.unpack("<I", fh.read(4))
    except (OSError, struct.error):
        return packed * 8
    while isize < packed:
        isize += 1 << 32
    return max(isize, packed * 4)


def _parquet_bytes(path: Path) -> int:
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    rows = 0
    try:
        import pyarrow.parquet as pq

        for f in files:
            kind = next((k for k in TRIPLES_PER_ROW if f.name.startswith(k) or path.name.startswith(k)), None)
            rows += pq.ParquetFile(f).metadata.num_rows * TRIPLES_PER_ROW.get(kind or "", 5)
    except Exception:  # unreadable here: Spark will say what is wrong with it
        return sum(f.stat().st_size for f in files) * 10
    return rows * BYTES_PER_TRIPLE


def _usable_cores() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota else max(1, cores)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _meminfo(field: str) -> int | None:
    text = _read("/proc/meminfo") or ""
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            return int(rest.split()[0]) * 1024
    return None


def _cgroup_memory() -> tuple[int | None, int | None]:
    """The memory limit and use of this process's cgroup (v2, then v1); None: no limit."""
    for limit_file, used_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                  ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                   "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read(limit_file)
        if limit is None:
            continue
        used = _read(used_file)
        if not limit.isdigit() or int(limit) >= 1 << 60:  # "max", or v1's "no limit" sentinel
            return None, None
        return int(limit), int(used) if used and used.isdigit() else None
    return None, None


def _cgroup_cpu_quota() -> float | None:
    text = _read("/sys/fs/cgroup/cpu.max")
    if text:
        quota, _, period = text.partition(" ")
        return int(quota) / int(period or 100000) if quota.isdigit() else None
    quota, period = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    if quota and period and quota.lstrip("-").isdigit() and int(quota) > 0 and period.isdigit():
        return int(quota) / int(period)
    return None


def _spelled(size: int) -> str:
    """A JVM memory setting: whole GiB when at least 2 GiB, else MiB."""
    return f"{size // GIB}g" if size >= 2 * GIB else f"{max(size // MIB, 256)}m"


def _size(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


__all__ = ["GIB", "MIB", "Machine", "Resources", "input_size", "parse_memory", "plan_resources"]
