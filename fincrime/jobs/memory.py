"""Memory of jobs: what a worker uses, what the machine has left, what an input will need.

The watcher samples each worker's process tree, stops a job that outgrows the memory its spec
declares, tells a kill by the kernel's out-of-memory killer from any other crash (the last
samples show the worker near the machine's memory), and warns before a job starts when its
input is likely to need more memory than the machine has.

>>> estimate_need_mb(0)
3200
>>> likely_out_of_memory(peak_mb=21_000, total_mb=24_000, available_mb=300)
True
>>> likely_out_of_memory(peak_mb=200, total_mb=24_000, available_mb=20_000)
False
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fincrime.rdf.reader import text_size

# Peak memory of the main job (project rules, generator data) fitted on bench/job.py runs:
# 4.5 GB for 1.1 GB of N-Triples text (1M transactions), 16 GB for 11 GB (10M).
BASE_MB = 3200
MB_PER_TEXT_MB = 1.16
GZIP_RATIO = 10  # text bytes per gzip byte, when the gzip trailer cannot tell (files over 4 GiB)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (0 once it is gone)."""
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            with open(f"/proc/{p}/task/{p}/children", encoding="ascii") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def machine_mb() -> tuple[int, int]:
    """(total, available) memory of the machine in MB (0, 0 where /proc/meminfo is missing)."""
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                values[name] = int(rest.split()[0]) // 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return values.get("MemTotal", 0), values.get("MemAvailable", values.get("MemFree", 0))


def text_mb(paths: Iterable[Path]) -> float:
    """Uncompressed size of input files in MB."""
    return text_size(paths) / (1 << 20)


def estimate_need_mb(text: float) -> int:
    """Likely peak memory of a job over ``text`` MB of N-Triples."""
    return int(BASE_MB + MB_PER_TEXT_MB * text)


def likely_out_of_memory(*, peak_mb: float, total_mb: int, available_mb: int) -> bool:
    """Was a worker that died of SIGKILL most likely stopped by the kernel for memory? Yes when
    it held most of the machine or the machine had almost nothing left when last seen."""
    if total_mb <= 0:
        return False
    return peak_mb >= 0.7 * total_mb or available_mb <= 0.05 * total_mb


__all__ = ["estimate_need_mb", "likely_out_of_memory", "machine_mb", "text_mb", "tree_rss_mb"]
