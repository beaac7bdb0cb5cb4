"""Benchmark of fincrime.viz on a job with 10,000 suspicious chains (2..30 hops).

Baselines measured in the same run:
* reading: pyoxigraph's strict N-Triples parser just counting the job's triples;
* drawing: one bare ``dot -Tsvg`` call on the same 30-hop chain.

Run: .venv/bin/python bench/viz.py [--chains 10000] [--top 50]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fincrime.viz import loader, render_job, write_report  # noqa: E402
from fincrime.viz.chain_graph import chain_dot  # noqa: E402
from fincrime.viz.chain_page import render_chain  # noqa: E402


def _make_jobs():
    spec = importlib.util.spec_from_file_location("viz_make_jobs", ROOT / "tests/fixtures/viz/make_jobs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["viz_make_jobs"] = mod
    spec.loader.exec_module(mod)
    return mod


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _open_in_chromium(paths: list[Path]) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto("about:blank")
        for p in paths:
            start = time.perf_counter()
            page.goto(p.as_uri(), wait_until="load")
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(1)))")  # first paint
            times.append(time.perf_counter() - start)
        b.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--top", type=int, default=50)
    args = ap.parse_args()
    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="viz-bench-"))
    try:
        job_dir, build_s = _timed(lambda: _make_jobs().scale_job(tmp, n_chains=args.chains))
        files = [job_dir / "derived.nt", *sorted((job_dir.parent / f"{job_dir.name}-inputs").glob("*.nt"))]

        def strict_count() -> int:
            import pyoxigraph as ox

            n = 0
            for f in files:
                with f.open("rb") as fh:
                    n += sum(1 for _ in ox.parse(fh, ox.RdfFormat.N_TRIPLES))
            return n

        triples, parse_s = _timed(strict_count)
        loader._cache.clear()
        job, load_s = _timed(lambda: loader.load_job(job_dir))
        _, report_s = _timed(lambda: write_report(job_dir))
        drawn, render_s = _timed(lambda: render_job(job_dir, formats=("html", "svg"), top=args.top))
        long = max(job.chains, key=lambda c: (c.length, c.bottleneck))
        dot_src = chain_dot(long, job)
        _, dot_s = _timed(lambda: subprocess.run(["dot", "-Tsvg"], input=dot_src.encode(), capture_output=True, check=True))
        _, one_s = _timed(lambda: render_chain(job, long, job_dir / "viz", ("html", "svg")))
        opened = _open_in_chromium([job_dir / "report.html", job_dir / "viz" / "chains" / f"{long.slug}.html",
                                    job_dir / "viz" / "overview.html"])
        report_mb = (job_dir / "report.html").stat().st_size / 1e6

        t = Table(title=f"fincrime.viz on {len(job.chains):,} chains, {triples:,} triples ({build_s:.1f} s to build)")
        for col in ("step", "seconds", "vs baseline"):
            t.add_column(col, justify="right" if col != "step" else "left")
        t.add_row("baseline: strict parse (pyoxigraph, count only)", f"{parse_s:.2f}", "1.00x")
        t.add_row("load_job (manifest, data, derived.nt -> chains)", f"{load_s:.2f}", f"{load_s / parse_s:.2f}x")
        t.add_row(f"write_report (report.html {report_mb:.1f} MB, csv, json)", f"{report_s:.2f}", f"{report_s / parse_s:.2f}x")
        t.add_row(f"render_job top {args.top} (html+svg) + overview/timeline", f"{render_s:.2f}", f"{render_s / parse_s:.2f}x")
        t.add_row("baseline: bare dot -Tsvg, 30-hop chain", f"{dot_s:.3f}", "1.00x")
        t.add_row(f"one {long.length}-hop chain page (dot + html + svg)", f"{one_s:.3f}", f"{one_s / dot_s:.2f}x")
        t.add_row("Chromium: open report.html (10k chains)", f"{opened[0]:.2f}", "")
        t.add_row(f"Chromium: open {long.length}-hop chain page", f"{opened[1]:.2f}", "")
        t.add_row("Chromium: open overview.html", f"{opened[2]:.2f}", "")
        console.print(t)
        console.print(f"{len(drawn)} picture files drawn")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
