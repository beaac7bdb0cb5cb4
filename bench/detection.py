"""Benchmark typology detection: precision, recall and F1 per typology of ``rules/typologies.dlog``.

Each configuration generates a dataset with injected attempts of all eight typologies (fixed
seed), runs the project's typology rules on the in-memory executor and scores the flags
against the generator's ground truth with ``fincrime.scoring`` (the code ``fincrime score`` and
the report use). Configurations: sizes x profiles (``realistic``, ``original``) x timings
(``default``: the generator's 3 days and each typology's own short span; ``long``: 120 days,
attempts spread over up to 30 days, day-resolution dates). The baseline measured in the same
run is the project's previous rules (``bench/baseline-typologies.dlog``: absolute counts in a
2-day window), by default at sizes up to 100k only (its cycle rule builds flow paths from every
transaction).

    .venv/bin/python bench/detection.py                               # every configuration
    .venv/bin/python bench/detection.py --sizes 100k --profiles realistic --timings default
    .venv/bin/python bench/detection.py --json out.json               # also the numbers as JSON
    .venv/bin/python bench/detection.py --datasets bench/out/aw-long-in  # folders made elsewhere

``--datasets`` scores folders that already hold ``parties-0.nt.gz``, ``transactions-0.nt.gz``
and ``ground-truth.nt`` (e.g. written by ``fincrime import amlworld``; ``bench/to_amlworld.py``
writes a generated dataset in AMLworld's format); with it, generated configurations run only
when ``--sizes`` is given.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fincrime.engine import materialize  # noqa: E402
from fincrime.generator import GeneratorConfig, generate  # noqa: E402
from fincrime.generator.config import parse_count  # noqa: E402
from fincrime.rules import load_program  # noqa: E402
from fincrime.scoring import Scorecard, score_outputs  # noqa: E402
from fincrime.vocab import TYPOLOGIES  # noqa: E402

RULES = ROOT / "rules" / "typologies.dlog"
BASELINE = ROOT / "bench" / "baseline-typologies.dlog"
TIMINGS = {
    "default": {},
    "long": {"days": 120, "attempt_days": 30, "resolution": "day"},
}
console = Console(width=130)


def attempts_for(transactions: int) -> str:
    each = 20 if transactions <= 200_000 else 50
    return ",".join(f"{t}={each if t != 'bipartite' else each * 3 // 5}" for t in TYPOLOGIES)


def dataset(work: Path, size: int, profile: str, timing: str, seed: int) -> tuple[Path, float]:
    out = work / f"{profile}-{timing}-{size}"
    if not (out / "ground-truth.nt").is_file():
        began = time.perf_counter()
        generate(GeneratorConfig(out=out, transactions=size, seed=seed, end_date="2025-03-01", format="nt.gz",
                                 profile=profile, typologies=attempts_for(size), overwrite=True, **TIMINGS[timing]))
        return out, time.perf_counter() - began
    return out, 0.0


def run_rules(rules: Path, data: Path, derived: Path) -> tuple[Scorecard, dict[str, float]]:
    files = [data / "parties-0.nt.gz", data / "transactions-0.nt.gz"]
    began = time.perf_counter()
    result = materialize(load_program([rules]), [str(f) for f in files])
    seconds = time.perf_counter() - began
    result.write_ntriples(derived)
    card = score_outputs(derived, files, [data / "ground-truth.nt"])
    timings = {"total": seconds, **{k: v for k, v in result.timings.items() if isinstance(v, int | float)}}
    return card, timings


def row_of(card: Scorecard, typ: str) -> dict[str, Any]:
    r = card.row(typ)
    return r.to_json() if r else {"typology": typ, "attempts": 0}


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None, help="default 100k,1M (none with --datasets)")
    parser.add_argument("--datasets", default="", help="comma-separated folders to score as they are")
    parser.add_argument("--profiles", default="realistic,original")
    parser.add_argument("--timings", default="default,long")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--baseline-max", default="100k", help="largest size the baseline rules run at (0: never)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "detection")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    extra = [Path(d) for d in args.datasets.split(",") if d]
    sizes_text = args.sizes if args.sizes is not None else ("" if extra else "100k,1M")
    sizes = [parse_count(s, "--sizes") for s in sizes_text.split(",") if s]
    baseline_max = parse_count(args.baseline_max, "--baseline-max")
    args.work.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for size in sizes:
        for profile in args.profiles.split(","):
            for timing in args.timings.split(","):
                data, gen_s = dataset(args.work, size, profile, timing, args.seed)
                card, timings = run_rules(RULES, data, args.work / f"{data.name}.derived.nt")
                entry: dict[str, Any] = {"size": size, "profile": profile, "timing": timing, "generate_s": gen_s,
                                         "timings": timings, "scores": card.to_json()}
                if size <= baseline_max:
                    base, base_t = run_rules(BASELINE, data, args.work / f"{data.name}.baseline.nt")
                    entry["baseline"] = {"timings": base_t, "scores": base.to_json()}
                results.append(entry)
                show(entry)
    for data in extra:
        card, timings = run_rules(RULES, data, args.work / f"{data.name}.derived.nt")
        entry = {"size": 0, "profile": data.name, "timing": "as given", "generate_s": 0.0, "timings": timings,
                 "scores": card.to_json()}
        results.append(entry)
        show(entry)
    summary(results)
    console.print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} GB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def show(entry: dict[str, Any]) -> None:
    scores = entry["scores"]
    base = {r["typology"]: r for r in entry.get("baseline", {}).get("scores", {}).get("typologies", [])}
    t = entry["timings"]
    what = (f"{entry['profile']} profile, {entry['timing']} timing, {entry['size']:,} transactions" if entry["size"]
            else f"dataset {entry['profile']}")
    table = Table(title=f"{what}: "
                        f"rules {t.get('reason', t['total']):.1f} s (read {t.get('load', 0):.1f} s)")
    for col in ("typology", "attempts", "found", "recall %", "flagged", "correct", "precision %", "F1 %", "baseline F1 %"):
        table.add_column(col, justify="left" if col == "typology" else "right")
    for r in scores["typologies"]:
        b = base.get(r["typology"])
        table.add_row(r["typology"], str(r["attempts"]), str(r["found"]), pct(r["recall"]), str(r["flagged"]),
                      str(r["correct"]), pct(r["precision"]), pct(r["f1"]), pct(b["f1"]) if b else "")
    table.add_row("no attempt", "", "", "", str(scores["no_attempt"]["flagged"]), "", "", "", "", style="dim")
    console.print(table)


def summary(results: list[dict[str, Any]]) -> None:
    table = Table(title="F1 % per typology (precision / recall in the per-configuration tables)")
    table.add_column("configuration")
    for typ in TYPOLOGIES:
        table.add_column(typ, justify="right")
    table.add_column("rules s", justify="right")
    for e in results:
        rows = {r["typology"]: r for r in e["scores"]["typologies"]}
        table.add_row(f"{e['profile']} {e['timing']} {e['size']:,}" if e["size"] else e["profile"], *(pct(rows.get(t, {}).get("f1")) for t in TYPOLOGIES),
                      f"{e['timings'].get('reason', e['timings']['total']):.1f}")
    console.print(table)


if __name__ == "__main__":
    raise SystemExit(main())
