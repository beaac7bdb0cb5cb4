"""``fincrime demo``: a generated dataset plus the project's rules and queries in ``input/demo``.

Spec paths must stay inside the dataset folder, so the project's ``rules/`` and ``queries/``
are copied into it, next to the example spec ``jobs/demo.job.json``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from fincrime.errors import FincrimeError
from fincrime.generator import GeneratorConfig, generate

REPO = Path(__file__).resolve().parents[2]
#: A few attempts of every typology, so the demo's pictures and report have something to show.
DEMO_TYPOLOGIES = "fan_in=3,fan_out=3,cycle=3,layering=3,structuring=2,scatter_gather=2,gather_scatter=2,bipartite=2"


def _copy_tree(src: Path, dst: Path, pattern: str) -> int:
    files = sorted(src.glob(pattern)) if src.is_dir() else []
    dst.mkdir(parents=True, exist_ok=True)
    for old in dst.glob(pattern):
        old.unlink()
    for f in files:
        shutil.copy2(f, dst / f.name)
    return len(files)


def prepare_demo(folder: Path, *, transactions: int = 10_000, regenerate: bool = False,
                 say: Callable[[str], None] = print, repo: Path = REPO) -> Path:
    """Fills ``folder`` (data, rules, queries, ``demo.job.json``); returns the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    if regenerate or not any(folder.glob("transactions-*.nt.gz")):
        say(f"generating {transactions:,} transactions with laundering typologies into {folder}")
        report = generate(GeneratorConfig(out=folder, transactions=transactions, seed=7, format="nt.gz",
                                          end_date="2024-06-30", typologies=DEMO_TYPOLOGIES, overwrite=True))
        attempts = sum(report.attempts.values()) if isinstance(report.attempts, dict) else report.attempts
        say(f"  {report.transactions:,} transactions, {attempts:,} laundering attempts")
    else:
        say(f"using the dataset already in {folder} (--regenerate to make a new one)")
    if not _copy_tree(repo / "rules", folder / "rules", "*.dlog"):
        raise FincrimeError(f"{repo / 'rules'}: no *.dlog rule files to run (is this a full checkout?)")
    _copy_tree(repo / "queries", folder / "queries", "*.rq")
    spec = json.loads((repo / "jobs" / "demo.job.json").read_text(encoding="utf-8"))
    if not any((folder / "queries").glob("*.rq")):
        spec.pop("queries", None)
    target = folder / "demo.job.json"
    target.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return target
