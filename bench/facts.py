"""Facts written in a rule file against the same triples given as an input file.

The program: ``--facts`` edge facts of a binary tree, a root fact and one recursive rule
(``:Reach[?y] :- :Reach[?x], :edge[?x, ?y] .``, one round per tree level). Measured in one run:

- ``input file``: the edges as an N-Triples data file, the rule file holding only the rule
  (the baseline: input triples are bulk loaded);
- ``rule-file facts``: the same edges written as facts in the rule file (parse included).

Usage: .venv/bin/python bench/facts.py [--facts 50000] [--repeat 3] [--spark] [--spark-facts 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fincrime.engine import materialize
from fincrime.rules import load_program

console = Console()
RULE = ":Reach[:n0] .\n:Reach[?y] :- :Reach[?x], :edge[?x, ?y] .\n"
E = "http://e/"


def write_inputs(folder: Path, n: int) -> tuple[Path, Path, Path]:
    edges = [(i, 2 * i + 1 + k) for i in range((n + 1) // 2) for k in (0, 1)][:n]
    facts = folder / f"facts-{n}.dlog"
    facts.write_text("PREFIX : <http://e/>\n" + "".join(f":edge[:n{a}, :n{b}] .\n" for a, b in edges) + RULE)
    rule = folder / "rule.dlog"
    rule.write_text("PREFIX : <http://e/>\n" + RULE)
    data = folder / f"edges-{n}.nt"
    data.write_text("".join(f"<{E}n{a}> <{E}edge> <{E}n{b}> .\n" for a, b in edges))
    return facts, rule, data


def timed(rules: Path, data: list[Path], engine: str, options: dict) -> tuple[float, int]:  # type: ignore[type-arg]
    started = time.perf_counter()
    result = materialize(load_program([rules]), data, engine=engine, engine_options=options)
    reach = result.counts_by_class().get(f"{E}Reach", 0)
    return time.perf_counter() - started, reach


def measure(n: int, engine: str, repeat: int, options: dict) -> list[tuple[str, int, float, int]]:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        facts, rule, data = write_inputs(Path(tmp), n)
        empty = Path(tmp) / "empty.nt"
        empty.write_text("")
        best = {"input file": (float("inf"), 0), "rule-file facts": (float("inf"), 0)}
        for _ in range(repeat):
            for name, (rules, files) in {"input file": (rule, [data]), "rule-file facts": (facts, [empty])}.items():
                seconds, reach = timed(rules, files, engine, options)
                best[name] = min(best[name], (seconds, reach))
    return [(f"{engine}: {name}", n, s, r) for name, (s, r) in best.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spark", action="store_true", help="also run on Spark local[2]")
    parser.add_argument("--spark-facts", type=int, nargs="*", default=[1_000])
    args = parser.parse_args()
    rows = measure(args.facts, "memory", args.repeat, {})
    if args.spark:
        measure(10, "spark", 1, {"master": "local[2]", "partitions": 4})  # start the session, unmeasured
        for n in args.spark_facts:
            rows += measure(n, "spark", 1, {"master": "local[2]", "partitions": 4})
    table = Table(title="facts in a rule file vs the same triples as input")
    for col in ("run", "facts", "seconds", "Reach", "vs input file"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for i in range(0, len(rows), 2):
        base = rows[i][2]
        for name, n, seconds, reach in rows[i : i + 2]:
            table.add_row(name, f"{n:,}", f"{seconds:.2f}", f"{reach:,}", f"{seconds / base:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
