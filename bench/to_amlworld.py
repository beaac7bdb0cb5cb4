"""Write a generated dataset in IBM AMLworld's format, to score the rules through ``fincrime import amlworld``.

The transactions become ``Trans.csv`` (minute timestamps ``2025/02/27 10:54``, accounts as
(bank, account) pairs, each party paying in one of three currencies and receiving in its own,
amounts converted at fixed rates, ``Is Laundering`` set on the attempts' transfers) and the
ground truth ``Patterns.txt`` (one ``BEGIN LAUNDERING ATTEMPT - FAN-IN`` ... block per attempt,
AMLworld's names: STACK for layering). The importer then has to recover the parties, the
dollar amounts (from the file's own cross-currency rows) and the attempts.

    .venv/bin/python bench/to_amlworld.py bench/out/detection/realistic-long-100000 bench/out/aw
    .venv/bin/fincrime import amlworld bench/out/aw/Trans.csv --patterns bench/out/aw/Patterns.txt --out bench/out/aw-in
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import re
from collections import defaultdict
from pathlib import Path

NAMES = {"fan_in": "FAN-IN", "fan_out": "FAN-OUT", "cycle": "CYCLE", "scatter_gather": "SCATTER-GATHER",
         "gather_scatter": "GATHER-SCATTER", "layering": "STACK", "structuring": "STRUCTURING", "bipartite": "BIPARTITE"}
RATES = {"US Dollar": 1.0, "Euro": 0.85, "Yuan": 7.0}  # per US dollar
HEADER = ["Timestamp", "From Bank", "Account", "To Bank", "Account", "Amount Received", "Receiving Currency",
          "Amount Paid", "Payment Currency", "Payment Format", "Is Laundering"]
FIELD = re.compile(r"^<[^>]*#(transaction_\w+)> <[^>]*#(hasOriginator|hasBeneficiary|hasAmount|hasDate)> (.*) \.$")


def _digest(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def account(party: str) -> tuple[str, str]:
    h = _digest(party)
    return str(int(h[:4], 16) % 500).zfill(5), h[4:13].upper()


def currency(party: str) -> str:
    return list(RATES)[int(_digest("currency " + party)[:2], 16) % len(RATES)]


def read_transactions(path: Path) -> dict[str, dict[str, str]]:
    records: dict[str, dict[str, str]] = defaultdict(dict)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            m = FIELD.match(line)
            if m:
                value = m.group(3)
                records[m.group(1)][m.group(2)] = (value.rsplit("#", 1)[-1].rstrip(">") if value.startswith("<")
                                                   else value.split('"')[1])
    return records


def csv_row(r: dict[str, str], laundering: bool) -> list[str]:
    stamp = r["hasDate"][:16].replace("-", "/").replace("T", " ")
    (fb, fa), (tb, ta) = account(r["hasOriginator"]), account(r["hasBeneficiary"])
    paid, received = currency(r["hasOriginator"]), currency(r["hasBeneficiary"])
    usd = float(r["hasAmount"])
    return [stamp, fb, fa, tb, ta, f"{usd * RATES[received]:.2f}", received, f"{usd * RATES[paid]:.2f}", paid, "Wire",
            "1" if laundering else "0"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="a folder written by fincrime generate (nt.gz, ground-truth.csv)")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    records = read_transactions(args.dataset / "transactions-0.nt.gz")
    attempts: dict[str, list[str]] = defaultdict(list)
    typology: dict[str, str] = {}
    with open(args.dataset / "ground-truth.csv", encoding="utf-8", newline="") as f:
        for g in csv.DictReader(f):
            attempts[g["attempt"]].append(g["transaction"])
            typology[g["attempt"]] = g["typology"]
    laundering = {t for ts in attempts.values() for t in ts}
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "Trans.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for t in sorted(records, key=lambda t: records[t]["hasDate"]):
            w.writerow(csv_row(records[t], t in laundering))
    with open(args.out / "Patterns.txt", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for attempt, transactions in attempts.items():
            name = NAMES[typology[attempt]]
            f.write(f"BEGIN LAUNDERING ATTEMPT - {name}\n")
            for t in transactions:
                w.writerow(csv_row(records[t], True))
            f.write(f"END LAUNDERING ATTEMPT - {name}\n\n")
    print(f"{len(records):,} transactions, {len(attempts):,} attempts -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
