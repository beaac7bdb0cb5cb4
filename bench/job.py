"""The main job end to end at scale: generate -> reason -> load -> queries -> pictures and report.

For each size it generates a dataset with the generator's defaults (fixed seed and end date),
puts the project's rules, queries and the demo's job spec beside it (as ``fincrime demo`` does),
and runs ``fincrime run`` in a fresh process, sampling that process tree's resident memory.
The job's own log says when each phase started and ended, so every phase gets its time and its
peak memory. The baseline, measured in the same run, is the floor of any job over that input:
decompressing it and counting its lines (``gzip -dc | wc -l``).

    .venv/bin/python bench/job.py                         # 100k and 1M transactions
    .venv/bin/python bench/job.py --sizes 10M --keep-data
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fincrime.jobs.memory import tree_rss_mb  # noqa: E402  (the checkout's own module)

DATA_ROOT = ROOT / "bench" / "data" / "job"
PHASES = ("reason", "load[0]", "query", "visualize")


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []  # (unix time, MB)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.samples.append((time.time(), tree_rss_mb(self.pid)))


def prepare(size: int, seed: int, end_date: str, console: Any, inputs: str) -> Path:
    """A dataset folder with data (generator defaults), rules, queries and the demo spec."""
    from fincrime.generator import GeneratorConfig, generate
    from fincrime.jobs.demo import prepare_demo

    folder = DATA_ROOT / f"t{size}-s{seed}-{end_date}" / "bench"
    if not any(folder.glob("transactions-*.nt.gz")):
        began = time.perf_counter()
        generate(GeneratorConfig(out=folder, transactions=size, seed=seed, format="nt.gz", end_date=end_date,
                                 overwrite=True))
        console.print(f"generated {size:,} transactions in {time.perf_counter() - began:.1f}s")
    spec = prepare_demo(folder, say=lambda _: None, repo=ROOT)
    text = json.loads(spec.read_text())
    text["keep"] = {**text.get("keep", {}), "inputs": inputs}
    spec.write_text(json.dumps(text, indent=2) + "\n")
    return spec


def baseline(folder: Path) -> float:
    """Seconds to decompress every input file and count its lines."""
    began = time.perf_counter()
    for path in sorted(folder.glob("*.nt.gz")):
        subprocess.run(f"gzip -dc '{path}' | wc -l > /dev/null", shell=True, check=True)
    return time.perf_counter() - began


def run_job(spec: Path, work: Path) -> dict[str, Any]:
    env = dict(os.environ, FINCRIME_HOME=str(work / "home"), FINCRIME_OUTPUT=str(work / "out"))
    command = [str(Path(sys.executable).with_name("fincrime")), "run", str(spec), "--no-progress"]
    began = time.time()
    with open(work / "run.log", "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        sampler = Sampler(proc.pid)
        sampler.start()
        code = proc.wait()
        sampler.done.set()
        sampler.join()
    wall = time.time() - began
    manifests = sorted((work / "out").glob("*/*/manifest.json"))
    if code != 0 or not manifests:
        tail = (work / "run.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"fincrime run failed (exit {code}):\n{tail}")
    manifest = json.loads(manifests[-1].read_text())
    events = [json.loads(line) for line in (manifests[-1].parent / "log.jsonl").read_text().splitlines() if line]
    spans: dict[str, list[float]] = {}
    for event in events:
        at = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()
        if event["event"] == "phase":
            spans[event["phase"]] = [at, at]
        elif event["event"] == "phase_done" and event.get("phase") in spans:
            spans[event["phase"]][1] = at
    phases = {}
    for name, (start, end) in spans.items():
        peak = max((mb for t, mb in sampler.samples if start <= t <= end + 0.2), default=0.0)
        phases[name] = {"seconds": end - start, "peak_mb": peak}
    return {
        "wall": wall, "status": manifest["status"], "phases": phases, "counts": manifest["counts"],
        "peak_mb": max((mb for _, mb in sampler.samples), default=0.0),
    }


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from rich.console import Console
    from rich.table import Table

    from fincrime.generator.config import parse_count

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1M", help="transactions per run, comma-separated (100k,1M)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--end-date", default="2025-06-01")
    parser.add_argument("--keep-data", action="store_true", help="keep the generated data under bench/data/job")
    parser.add_argument("--inputs", default="all", choices=("all", "context"),
                        help="the spec's keep.inputs: every input file into the store (all) or the results' context")
    args = parser.parse_args(argv)
    sizes = [parse_count(s.strip(), "--sizes") for s in args.sizes.split(",") if s.strip()]
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(f"machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
                  f"load average {os.getloadavg()[0]:.1f}")
    table = Table(title=f"the main job end to end, keep.inputs {args.inputs} "
                  "(seconds, peak resident MB of the job's process tree)")
    for header in ("transactions", "reason", "load", "queries", "pictures+report", "total", "vs gzip -dc|wc",
                   "peak MB", "derived", "results", "chains (partial/suspicious/high value)"):
        table.add_column(header, justify="right")
    failed = False
    for size in sizes:
        spec = prepare(size, args.seed, args.end_date, console, args.inputs)
        floor = baseline(spec.parent)
        with tempfile.TemporaryDirectory(prefix="fincrime-bench-job-") as tmp, \
                console.status(f"{size:,} transactions: running the job"):
            try:
                r = run_job(spec, Path(tmp))
            except RuntimeError as exc:
                console.print(f"[red]{size:,}: {exc}[/red]")
                failed = True
                continue
        ph = r["phases"]

        def cell(name: str, ph: dict[str, Any] = ph) -> str:
            return f"{ph[name]['seconds']:.1f} ({ph[name]['peak_mb']:,.0f})" if name in ph else ""

        chains = r["counts"]["chains"]
        reason = r["counts"]
        table.add_row(
            f"{size:,}", cell("reason"), cell("load[0]"), cell("query"), cell("visualize"), f"{r['wall']:.1f}",
            f"{r['wall'] / floor:.1f}x", f"{r['peak_mb']:,.0f}", f"{reason['derived_triples']:,}",
            f"{reason.get('loads', [{}])[0].get('derived_triples', 0):,}",
            f"{chains['PartialChain']:,} / {chains['SuspiciousChain']:,} / {chains['HighValueChain']:,}",
        )
        console.print(f"{size:,}: {r['status']} in {r['wall']:.1f}s (baseline {floor:.1f}s), peak {r['peak_mb']:,.0f} MB; "
                      f"reason {cell('reason')}, load {cell('load[0]')}, queries {cell('query')}, "
                      f"pictures+report {cell('visualize')} (seconds (peak MB))")
        if not args.keep_data:
            shutil.rmtree(spec.parent.parent, ignore_errors=True)
    console.print(table)
    console.print(f"load average after the run: {os.getloadavg()[0]:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
