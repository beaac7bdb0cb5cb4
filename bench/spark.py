"""Benchmark the Spark executor against the in-memory executor measured in the same run.

For each size it generates the original profile (1% suspicious parties, gzip N-Triples in a few
files so Spark reads them in parallel), runs ``rules/suspicious-chains.dlog`` with a chain
length cap on Spark (time per phase, input triples per second, peak memory of the driver's
process tree: Python + the JVM) and, on the smallest size, on the in-memory executor.

    .venv/bin/python bench/spark.py --memory 14g                      # 1M and 10M, cap 3 (~35 min)
    .venv/bin/python bench/spark.py --sizes 1M --max-chain-length 5 --memory 8g
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fincrime.engine import materialize  # noqa: E402
from fincrime.generator import GeneratorConfig, generate  # noqa: E402
from fincrime.rules import load_program  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 200)


def count(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


class PeakMemory:
    """Peak resident memory of this process and all its descendants (the Spark JVM)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss() -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/statm") as fh:
                    rss[int(entry)] = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        total, todo = 0, [os.getpid()]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo += children.get(pid, [])
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, self._tree_rss())

    def __enter__(self) -> PeakMemory:
        self.peak = self._tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def dataset(out: Path, transactions: int, files: int) -> list[str]:
    folder = out / f"data-{transactions}"
    if not (folder / "generation.json").exists():
        console.print(f"generating {transactions:,} transactions into {folder}")
        generate(GeneratorConfig(out=str(folder), transactions=transactions, profile="original",
                                 suspicious_ratio=0.01, format="nt.gz", files=files, seed=42))
    return sorted(str(p) for p in folder.glob("*.nt.gz") if not p.name.startswith("ground"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M", help="transaction counts, e.g. 1M,10M")
    parser.add_argument("--max-chain-length", type=int, default=3)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--memory", default="10g", help="driver memory (local mode)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/spark")
    parser.add_argument("--skip-memory", action="store_true", help="do not run the in-memory baseline")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    program = load_program([str(ROOT / "rules/suspicious-chains.dlog")], params={"maxChainLength": args.max_chain_length})
    options = {"master": args.master, "memory": args.memory}
    if args.partitions:
        options["partitions"] = args.partitions
    sizes = [count(s) for s in args.sizes.split(",")]
    table = Table(title=f"Spark executor, rules/suspicious-chains.dlog, maxChainLength={args.max_chain_length}")
    for col in ("engine", "transactions", "input triples", "derived", "session s", "load s", "reason s",
                "write s", "total s", "input triples/s", "peak RSS", "vs memory"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    baseline: float | None = None
    for n in sizes:
        files = dataset(args.out, n, max(2, min(16, n // 500_000)))
        if baseline is None and not args.skip_memory:
            with PeakMemory() as mem:
                started = time.perf_counter()
                result = materialize(program, files, engine="memory")
                target = args.out / f"memory-{n}.nt"
                result.write_ntriples(target)
                baseline = time.perf_counter() - started
            t = result.timings
            triples = sum(result.counts_by_predicate(derived_only=False).values()) - result.count()
            table.add_row("memory", f"{n:,}", f"{triples:,}", f"{result.count():,}", "-", f"{t['parse'] + t['load']:.1f}",
                          f"{t['reason']:.1f}", f"{t['write']:.1f}", f"{baseline:.1f}", f"{triples / baseline:,.0f}",
                          f"{mem.peak / 2**30:.1f} GiB", "1.00x")
            console.print(f"memory {n:,}: {baseline:.1f}s")
            del result
        with PeakMemory() as mem:
            started = time.perf_counter()
            result = materialize(program, files, engine="spark", engine_options=options,
                                 progress=lambda m: console.print(f"  {m}"))
            parts = args.out / f"spark-{n}.parquet"
            shutil.rmtree(parts, ignore_errors=True)
            result.write_parts(str(parts), "parquet")
            total = time.perf_counter() - started
        t = result.timings
        triples = sum(result.counts_by_predicate(derived_only=False).values()) - result.count()
        ratio = f"{total / baseline:.2f}x" if baseline and n == sizes[0] else "-"
        table.add_row("spark", f"{n:,}", f"{triples:,}", f"{result.count():,}", f"{t['session']:.1f}", f"{t['load']:.1f}",
                      f"{t['reason']:.1f}", f"{t['write_parquet']:.1f}", f"{total:.1f}", f"{triples / total:,.0f}",
                      f"{mem.peak / 2**30:.1f} GiB", ratio)
        console.print(table)
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
