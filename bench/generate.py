"""Benchmark ``fincrime generate`` against the disk limit measured in the same run.

The disk limit is the time to write the same number of bytes, in similar 8 MiB pieces, from a
buffer computed beforehand, into the same directory. For ``nt.gz`` the binding limit is
compression instead: the time to gzip (same level, one thread) the same amount of N-Triples
text from a ready buffer. Both sides are measured twice, alternating, and the best of each is
compared (neither side calls fsync, so both measure what the page cache and disk absorb).

    .venv/bin/python bench/generate.py                      # 1M transactions, realistic, nt
    .venv/bin/python bench/generate.py --profile original --format nt.gz
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fincrime.generator import GeneratorConfig, generate  # noqa: E402

#: Throughput of the original public generator on this machine, from the issue (not measured here)
ORIGINAL_TX_PER_S = 2_500
PIECE = 8 << 20


def disk_limit(out: Path, total: int, files: int) -> float:
    """Seconds to write ``total`` bytes from a ready buffer, split over ``files`` files."""
    line = b"<http://oxfordsemantic.tech/transactions/entities#transaction_0123456789abcdef> .\n"
    buffer = memoryview((line * (PIECE // len(line) + 1))[:PIECE])
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"disk-limit-{i}.bin" for i in range(files)]
    began = time.perf_counter()
    for i, path in enumerate(paths):
        left = total * (i + 1) // files - total * i // files
        with open(path, "wb") as fh:
            while left > 0:
                fh.write(buffer[: min(left, PIECE)])
                left -= PIECE
    seconds = time.perf_counter() - began
    for path in paths:
        path.unlink()
    return seconds


def compression_limit(text_bytes: int, level: int) -> float:
    """Seconds to gzip ``text_bytes`` of generated N-Triples from a ready buffer."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(GeneratorConfig(out=tmp, transactions=8_000, seed=2, end_date="2024-06-30"))
        sample = memoryview((Path(tmp) / "transactions-0.nt").read_bytes())
    began = time.perf_counter()
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)
    left = text_bytes
    while left > 0:
        packer.compress(sample[: min(left, len(sample))])
        left -= len(sample)
    packer.flush()
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", default="1M")
    parser.add_argument("--profile", default="realistic", choices=("realistic", "original"))
    parser.add_argument("--format", default="nt", choices=("nt", "nt.gz", "parquet"))
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/generate")
    args = parser.parse_args()
    console = Console()

    config = GeneratorConfig(
        out=args.out / "data",
        transactions=args.transactions,
        seed=1,
        end_date="2024-06-30",
        profile=args.profile,
        format=args.format,
        files=args.files,
        overwrite=True,
    )
    gen_times: list[float] = []
    disk_times: list[float] = []
    zip_times: list[float] = []
    written = text = transactions = 0
    for _ in range(args.rounds):
        shutil.rmtree(args.out / "data", ignore_errors=True)
        began = time.perf_counter()
        report = generate(config)
        gen_times.append(time.perf_counter() - began)
        written, text, transactions = report.data_bytes, report.text_bytes, report.transactions
        disk_times.append(disk_limit(args.out, written, args.files))
        if args.format == "nt.gz":
            zip_times.append(compression_limit(text, config.gzip_level))
    shutil.rmtree(args.out, ignore_errors=True)

    gen, disk = min(gen_times), min(disk_times)
    limit = max(disk, min(zip_times)) if zip_times else disk
    table = Table(
        title=f"fincrime generate: {transactions:,} transactions, {args.profile}, {args.format}"
    )
    for col in ("", "seconds", "transactions/s", "MB/s written", "vs limit"):
        table.add_column(col, justify="right" if col else "left")
    rows = [
        ("generator (best)", gen, transactions, written),
        ("disk limit (best)", disk, 0, written),
    ]
    if zip_times:
        rows.append((f"gzip -{config.gzip_level} limit (best)", min(zip_times), 0, text))
    for label, seconds, count, size in rows:
        table.add_row(
            label,
            f"{seconds:.2f}",
            f"{count / seconds:,.0f}" if count else "",
            f"{size / seconds / 1e6:,.0f}" + (" (text)" if size == text and zip_times else ""),
            f"{seconds / limit:.2f}x",
        )
    console.print(table)
    console.print(
        f"bytes written {written / 1e6:,.1f} MB (N-Triples text {text / 1e6:,.1f} MB); "
        f"rounds: generator {', '.join(f'{t:.2f}' for t in gen_times)} s, disk "
        f"{', '.join(f'{t:.2f}' for t in disk_times)} s"
        + (f", gzip {', '.join(f'{t:.2f}' for t in zip_times)} s" if zip_times else "")
        + f"; {transactions / gen / ORIGINAL_TX_PER_S:,.0f}x the "
        f"original generator's ~{ORIGINAL_TX_PER_S:,} transactions/s; load average at end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
