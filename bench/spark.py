"""fincrime on Spark beside a hand-written PySpark job and the in-memory executor, in one run.

For each size it generates the original profile (1% suspicious parties, seed 42, a fixed end
date) twice: gzip N-Triples and the generator's Parquet tables (the same data). Then, with the
chain length capped (``--max-chain-length``, default 3):

* **memory**: ``rules/suspicious-chains.dlog`` on the in-memory executor over the N-Triples;
* **pyspark**: the same chain semantics written the way a data engineer would, with DataFrame
  joins on the Parquet tables (first hop from suspicious originators, then hop by hop on
  ``beneficiary = originator`` and strictly later dates, the bottleneck amount carried along,
  chain IRIs as the rules mint them), written as a Parquet chains table;
* **fincrime spark**: the rules on Spark over the same Parquet tables (and, with ``--ntriples``,
  over the N-Triples too), derived triples written as Parquet parts;

in one Spark session started before the timings (both Spark runs use the settings fincrime picks
for the input, so neither has a tuned session). The chains, the suspicious chains and the chain
IRIs themselves are asserted equal; ratios are printed against the in-memory run and against the
hand-written job.

    .venv/bin/python bench/spark.py --sizes 1M                   # 1M, cap 3
    .venv/bin/python bench/spark.py --sizes 10k,1M,10M --skip-memory-above 1M
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fincrime.engine import materialize  # noqa: E402
from fincrime.generator import GeneratorConfig, generate  # noqa: E402
from fincrime.rules import load_program  # noqa: E402
from fincrime.vocab import ENT, TYPE  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 200)
BASE = "http://oxfordsemantic.tech/transactions/"  # the rules' BASE: chain IRIs resolve against it
END_DATE = "2026-01-31T00:00:00"


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


def dataset(out: Path, transactions: int, fmt: str) -> list[str]:
    folder = out / f"data-{transactions}-{fmt}"
    if not (folder / "generation.json").exists():
        console.print(f"generating {transactions:,} transactions ({fmt}) into {folder}")
        files = max(2, min(16, transactions // 500_000))
        generate(GeneratorConfig(out=str(folder), transactions=transactions, profile="original", suspicious_ratio=0.01,
                                 format=fmt, files=files, seed=42, end_date=END_DATE))
    suffix = ".parquet" if fmt == "parquet" else ".nt.gz"
    return sorted(str(p) for p in folder.iterdir() if p.name.endswith(suffix) and not p.name.startswith("ground"))


def handwritten_chains(spark, files: list[str], max_length: int, out: Path):  # type: ignore[no-untyped-def]
    """The chains of ``rules/suspicious-chains.dlog`` as a data engineer writes them in PySpark;
    returns the stored chains (``chain`` IRI, ``length``, ``suspicious``) after writing them."""
    from pyspark.sql import functions as F

    tx = spark.read.parquet(*[f for f in files if Path(f).name.startswith("transactions")])
    parties = spark.read.parquet(*[f for f in files if Path(f).name.startswith("parties")])
    suspicious = parties.filter("is_suspicious").select(F.col("id").alias("party"))

    def iri(column):  # type: ignore[no-untyped-def]
        return F.concat(F.lit(ENT), column)

    first = tx.join(suspicious, tx.originator == suspicious.party, "left_semi").select(
        F.concat(F.lit(BASE), F.md5(F.concat(F.lit("PartialChain"), iri(F.col("id"))))).alias("chain"),
        F.lit(None).cast("string").alias("derived_from"),
        "originator", "beneficiary", F.lit(1).alias("length"), F.col("date").alias("start_date"),
        F.col("date").alias("end_date"), F.col("amount").alias("start_amount"), F.col("amount").alias("final_amount"),
        F.col("amount").alias("minimum_amount"), F.col("id").alias("first_tx"), F.col("id").alias("last_tx"),
    ).localCheckpoint()
    levels, frontier = [first], first
    # the next hop's transfers under their own column names (no ambiguous self-join)
    hop = tx.select(F.col("id").alias("t_id"), F.col("originator").alias("t_originator"),
                    F.col("beneficiary").alias("t_beneficiary"), F.col("amount").alias("t_amount"),
                    F.col("date").alias("t_date"))
    for length in range(2, max_length + 1):
        step = frontier.join(hop, (F.col("beneficiary") == F.col("t_originator")) & (F.col("t_date") > F.col("end_date")))
        frontier = step.select(
            F.concat(F.lit(BASE), F.md5(F.concat(F.lit("PartialChain"), F.col("chain"), iri(F.col("t_id"))))).alias("chain"),
            F.col("chain").alias("derived_from"), "originator", F.col("t_beneficiary").alias("beneficiary"),
            F.lit(length).alias("length"), "start_date", F.col("t_date").alias("end_date"), "start_amount",
            F.col("t_amount").alias("final_amount"), F.least("minimum_amount", "t_amount").alias("minimum_amount"),
            "first_tx", F.col("t_id").alias("last_tx"),
        ).localCheckpoint()
        if frontier.isEmpty():
            break
        levels.append(frontier)
    chains = levels[0]
    for level in levels[1:]:
        chains = chains.unionByName(level)
    flagged = chains.join(suspicious.select(F.col("party").alias("beneficiary"), F.lit(True).alias("suspicious")),
                          "beneficiary", "left").fillna(False, ["suspicious"])
    flagged.write.mode("overwrite").parquet(str(out))
    return spark.read.parquet(str(out)).select("chain", "length", "suspicious")


def timed(fn: Callable[[], object]) -> tuple[object, float, int]:
    with PeakMemory() as mem:
        started = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - started
    return value, seconds, mem.peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M", help="transaction counts, e.g. 10k,1M,10M")
    parser.add_argument("--max-chain-length", type=int, default=3)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--ntriples", action="store_true", help="also run fincrime on Spark over the N-Triples")
    parser.add_argument("--skip-memory-above", default="10M", help="no in-memory run above this size")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/spark")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cap = args.max_chain_length
    program = load_program([str(ROOT / "rules/suspicious-chains.dlog")], params={"maxChainLength": cap})
    sizes = [count(s) for s in args.sizes.split(",")]
    table = Table(title=f"rules/suspicious-chains.dlog, maxChainLength={cap}, original profile (1% suspicious)")
    for col in ("run", "transactions", "input", "chains", "suspicious", "load s", "reason s", "write s", "total s",
                "peak RSS", "vs memory", "vs pyspark"):
        table.add_column(col, justify="left" if col in ("run", "input") else "right")

    from fincrime.engine.spark.resources import input_size
    from fincrime.engine.spark.session import SparkOptions, get_session

    options = SparkOptions.parse({"master": args.master})
    # one session for both Spark runs, sized by fincrime for the largest input, started untimed
    largest = max(sizes)
    inputs = [input_size(dataset(args.out, largest, fmt)) for fmt in ("parquet", "nt.gz")]
    spark = get_session(options, options.resources(max(inputs)))
    console.print(f"Spark {spark.version} on {spark.sparkContext.master}, "
                  f"driver {spark.sparkContext.getConf().get('spark.driver.memory', '1g')}")
    for n in sizes:
        nt, pq = dataset(args.out, n, "nt.gz"), dataset(args.out, n, "parquet")
        memory_s = None
        if n <= count(args.skip_memory_above):
            result, memory_s, peak = timed(lambda nt=nt, n=n: _memory_run(program, nt, args.out / f"memory-{n}.nt"))
            t = result.timings  # type: ignore[attr-defined]
            classes = result.counts_by_class()  # type: ignore[attr-defined]
            table.add_row("memory (N-Triples)", f"{n:,}", "nt.gz", f"{classes.get(TYPE + 'PartialChain', 0):,}",
                          f"{classes.get(TYPE + 'SuspiciousChain', 0):,}", f"{t['parse'] + t['load']:.1f}",
                          f"{t['reason']:.1f}", f"{t['write']:.1f}", f"{memory_s:.1f}", f"{peak / 2**30:.1f} GiB",
                          "1.00x", "")
            expected = (classes.get(TYPE + "PartialChain", 0), classes.get(TYPE + "SuspiciousChain", 0))
            del result
        target = args.out / f"pyspark-{n}.parquet"
        hand, hand_s, peak = timed(lambda pq=pq, target=target: _handwritten(spark, pq, cap, target))
        chains, suspicious, hand_iris = hand  # type: ignore[misc]
        if memory_s is not None:
            assert (chains, suspicious) == expected, f"pyspark {chains, suspicious} != memory {expected}"
        table.add_row("pyspark hand-written (Parquet)", f"{n:,}", "parquet", f"{chains:,}", f"{suspicious:,}", "-", "-",
                      "-", f"{hand_s:.1f}", f"{peak / 2**30:.1f} GiB", _ratio(hand_s, memory_s), "1.00x")
        runs = [("fincrime spark (Parquet)", pq, "parquet")] + ([("fincrime spark (N-Triples)", nt, "nt.gz")] if args.ntriples else [])
        for label, files, kind in runs:
            parts = args.out / f"spark-{n}-{kind}.parquet"
            shutil.rmtree(parts, ignore_errors=True)
            result, total, peak = timed(lambda files=files, parts=parts: _fincrime_run(program, files, parts, args.master))
            t = result.timings  # type: ignore[attr-defined]
            classes = result.counts_by_class()  # type: ignore[attr-defined]
            got = (classes.get(TYPE + "PartialChain", 0), classes.get(TYPE + "SuspiciousChain", 0))
            assert got == (chains, suspicious), f"{label} {got} != pyspark {(chains, suspicious)}"
            _assert_same_iris(result, hand_iris)
            table.add_row(label, f"{n:,}", kind, f"{got[0]:,}", f"{got[1]:,}", f"{t['load']:.1f}", f"{t['reason']:.1f}",
                          f"{t['write_parquet']:.1f}", f"{total:.1f}", f"{peak / 2**30:.1f} GiB",
                          _ratio(total, memory_s), _ratio(total, hand_s))
            del result
        console.print(table)
    return 0


def _ratio(seconds: float, baseline: float | None) -> str:
    return f"{seconds / baseline:.2f}x" if baseline else "-"


def _memory_run(program, files: list[str], target: Path):  # type: ignore[no-untyped-def]
    result = materialize(program, files, engine="memory")
    result.write_ntriples(target)
    return result


def _handwritten(spark, files: list[str], cap: int, target: Path):  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    stored = handwritten_chains(spark, files, cap, target)
    row = stored.agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("suspicious").cast("int")).alias("s")).collect()[0]
    return int(row["n"]), int(row["s"] or 0), stored.select("chain")


def _fincrime_run(program, files: list[str], parts: Path, master: str):  # type: ignore[no-untyped-def]
    result = materialize(program, files, engine="spark", engine_options={"master": master},
                         progress=lambda m: console.print(f"  {m}"))
    result.write_parts(str(parts), "parquet")
    return result


def _assert_same_iris(result, hand_iris) -> None:  # type: ignore[no-untyped-def]
    """Every chain IRI of one run is a chain of the other (counts are equal, so no extras)."""
    from pyspark.sql import functions as F

    ours = result.frame(True).filter((F.col("p") == "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>")
                                     & (F.col("o") == f"<{TYPE}PartialChain>"))
    theirs = hand_iris.select(F.concat(F.lit("<"), F.col("chain"), F.lit(">")).alias("s"))
    missing = theirs.join(ours.select("s"), "s", "left_anti").count()
    assert missing == 0, f"{missing:,} hand-written chains are not among fincrime's"


if __name__ == "__main__":
    raise SystemExit(main())
