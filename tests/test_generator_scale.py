"""Scale runs (``make test-slow``): memory stays flat as the transaction count grows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
import resource, sys
from fincrime.generator import GeneratorConfig, generate
report = generate(GeneratorConfig(out=sys.argv[1], transactions=int(sys.argv[2]), parties=20_000,
                                  seed=1, end_date="2024-06-30", files=2))
assert report.transactions == int(sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak_mb(out: Path, transactions: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), str(transactions)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_memory_is_flat_in_the_number_of_transactions(tmp_path: Path) -> None:
    small = _peak_mb(tmp_path / "small", 200_000)
    large = _peak_mb(tmp_path / "large", 3_000_000)  # 15x the rows, 3.8 GB of N-Triples
    assert large - small < 40, (small, large)
    written = sum(p.stat().st_size for p in (tmp_path / "large").glob("transactions-*.nt"))
    assert written > 3_000_000 * 1_000
