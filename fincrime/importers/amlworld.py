"""IBM AMLworld (``HI-Small_Trans.csv`` and its ``HI-Small_Patterns.txt``) -> the reference vocabulary.

The transactions CSV has the header ``Timestamp, From Bank, Account, To Bank, Account, Amount
Received, Receiving Currency, Amount Paid, Payment Currency, Payment Format, Is Laundering``
(the second ``Account`` is the payee's; some copies name it ``Account.1``), timestamps like
``2022/09/01 00:20``. An account is a (bank, account) pair: ``:party_<bank>_<account>``. The
transaction of CSV line n is ``:transaction_<file stem>_<n>``.

Amounts: ``prop:hasAmount`` is the amount paid converted to US dollars, with rates taken from
the file itself (the median of received / paid over rows that pay one currency and receive
another; currencies without a direct rate to the dollar go through others), so that amounts
passed on along a laundering chain stay comparable across currencies. The rates are recorded
in ``import.json``.

Ground truth: each ``BEGIN LAUNDERING ATTEMPT - FAN-OUT ...`` ... ``END LAUNDERING ATTEMPT``
block of the patterns file is one attempt (``FAN-OUT`` -> ``fan_out``, ``STACK`` -> ``layering``,
``RANDOM`` -> ``random``), its rows matched to the transactions CSV by their fields; a
transaction marked ``Is Laundering = 1`` in no block is an attempt of its own, typology
``laundering``.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fincrime.errors import InputError
from fincrime.importers.common import (
    CsvFile,
    ImportWriter,
    attempt_iri,
    datetime_text,
    decimal_text,
    local_part,
    party_iri,
    transaction_iri,
    typology_name,
)

BASE_CURRENCY = "US Dollar"
UNLABELLED = "laundering"
_BEGIN = re.compile(r"^BEGIN LAUNDERING ATTEMPT\s*-\s*([A-Za-z_ -]+?)\s*(?::.*)?$")
_END = re.compile(r"^END LAUNDERING ATTEMPT")
#: Rows sampled per currency pair for the exchange rates.
RATE_SAMPLE = 2_000

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)


def parse_timestamp(text: str, where: str) -> str:
    text = text.strip()
    for fmt in ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime_text(datetime.strptime(text, fmt))
        except ValueError:
            continue
    raise InputError(f"{where}: timestamp {text!r} is not like 2022/09/01 00:20")


class _Columns:
    def __init__(self, f: CsvFile) -> None:
        h = [x.lower() for x in f.header]
        accounts = [i for i, x in enumerate(h) if x.startswith("account")]
        if len(accounts) != 2:
            raise InputError(f"{f.path}:1: expected two Account columns (payer's, payee's), found {len(accounts)}")
        self.ts = f.column("Timestamp")
        self.from_bank = f.column("From Bank")
        self.to_bank = f.column("To Bank")
        self.from_acct, self.to_acct = accounts
        self.received = f.column("Amount Received")
        self.recv_cur = f.column("Receiving Currency")
        self.paid = f.column("Amount Paid")
        self.pay_cur = f.column("Payment Currency")
        self.laundering = f.column("Is Laundering", required=False)
        self.width = len(h)

    def key(self, row: list[str]) -> tuple[str, ...]:
        """What identifies a transaction across the CSV and the patterns file."""
        idx = (self.ts, self.from_bank, self.from_acct, self.to_bank, self.to_acct, self.paid, self.pay_cur,
               self.received, self.recv_cur)
        return tuple(row[i].strip() for i in idx)  # type: ignore[index]


def read_patterns(path: Path, columns: _Columns) -> tuple[dict[tuple[str, ...], list[int]], list[str]]:
    """Pattern rows by transaction key -> attempt numbers, and each attempt's typology."""
    import csv

    keyed: dict[tuple[str, ...], list[int]] = defaultdict(list)
    typologies: list[str] = []
    current: int | None = None
    try:
        text_lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    # patterns files are small (the attempts' transactions only): read whole
    for line_no, line in enumerate(text_lines, start=1):
        text = line.strip()
        if not text:
            continue
        begin = _BEGIN.match(text)
        if begin:
            if current is not None:
                raise InputError(f"{path}:{line_no}: BEGIN LAUNDERING ATTEMPT inside another attempt")
            typologies.append(typology_name(begin.group(1)))
            current = len(typologies) - 1
            continue
        if _END.match(text):
            if current is None:
                raise InputError(f"{path}:{line_no}: END LAUNDERING ATTEMPT without a BEGIN")
            current = None
            continue
        if current is None:
            raise InputError(f"{path}:{line_no}: a transaction outside BEGIN/END LAUNDERING ATTEMPT")
        fields = next(csv.reader([text]))
        if len(fields) != columns.width:
            raise InputError(f"{path}:{line_no}: expected {columns.width} fields, found {len(fields)}")
        keyed[columns.key(fields)].append(current)
    if current is not None:
        raise InputError(f"{path}: the last attempt has no END LAUNDERING ATTEMPT")
    return keyed, typologies


def exchange_rates(path: Path, columns: _Columns) -> tuple[dict[str, Decimal], list[str]]:
    """Units of each currency per US dollar, from the file's own cross-currency rows."""
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    currencies: set[str] = set()
    with CsvFile(path) as f:
        for line, row in f.rows():
            pay, recv = row[columns.pay_cur].strip(), row[columns.recv_cur].strip()
            currencies.update((pay, recv))
            if pay == recv or len(samples[(pay, recv)]) >= RATE_SAMPLE:
                continue
            try:
                paid, received = float(row[columns.paid]), float(row[columns.received])
            except ValueError:
                raise InputError(f"{path}:{line}: amount is not a number") from None
            if paid > 0 and received > 0:
                samples[(pay, recv)].append(received / paid)
    ratio = {pair: statistics.median(v) for pair, v in samples.items() if v}
    rates: dict[str, float] = {BASE_CURRENCY: 1.0}
    frontier = [BASE_CURRENCY]
    while frontier:  # breadth first over the currency pairs, from the dollar
        nxt = []
        for cur in frontier:
            for (a, b), r in ratio.items():
                if a == cur and b not in rates:
                    rates[b] = rates[a] * r
                    nxt.append(b)
                elif b == cur and a not in rates:
                    rates[a] = rates[b] / r
                    nxt.append(a)
        frontier = nxt
    notes = []
    missing = sorted(currencies - set(rates))
    if missing:
        notes.append(f"no exchange rate to {BASE_CURRENCY} for {', '.join(missing)}: those amounts are kept unconverted")
    return {c: Decimal(repr(r)) for c, r in rates.items()}, notes


def import_amlworld(
    csv_path: str | Path, out: str | Path, *, patterns: str | Path | None = None, overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Import an AMLworld transactions CSV (and its patterns file) into ``out``; returns the report."""
    csv_path = Path(csv_path)
    with CsvFile(csv_path) as f:
        columns = _Columns(f)
    keyed, typologies = read_patterns(Path(patterns), columns) if patterns else ({}, [])
    rates, notes = exchange_rates(csv_path, columns)
    stem = local_part(csv_path.name.split(".")[0])
    total = csv_path.stat().st_size
    seen_in_pattern: set[int] = set()
    with ImportWriter(out, "IBM AMLworld", overwrite=overwrite) as w:
        w.record_input(csv_path)
        if patterns:
            w.record_input(Path(patterns))
        w.notes += [*notes, f"amounts in {BASE_CURRENCY} (amount paid, converted with the rates below)"]
        with CsvFile(csv_path) as f:
            done = 0
            for line, row in f.rows():
                where = f"{csv_path}:{line}"
                fb, fa, tb, ta = (row[i].strip() for i in (columns.from_bank, columns.from_acct, columns.to_bank, columns.to_acct))
                if not (fb and fa and tb and ta):
                    raise InputError(f"{where}: bank and account must not be empty")
                payer = w.party(party_iri(fb, fa), f"Bank {fb} account {fa}")
                payee = w.party(party_iri(tb, ta), f"Bank {tb} account {ta}")
                paid = Decimal(decimal_text(row[columns.paid], where))
                rate = rates.get(row[columns.pay_cur].strip())
                amount = decimal_text(str((paid / rate).quantize(Decimal("0.01"))) if rate else str(paid), where)
                date = parse_timestamp(row[columns.ts], where)
                tx = transaction_iri(f"{stem}_{line}")
                w.transaction(tx, payer, payee, amount, date)
                hits = keyed.get(columns.key(row), [])
                for n in hits:
                    a = w.attempt(attempt_iri(f"{stem}_{n + 1}"), typologies[n])
                    a.transactions.append(tx)
                    a.parties.update((payer, payee))
                    seen_in_pattern.add(n)
                flag = row[columns.laundering].strip() if columns.laundering is not None else "0"
                if flag not in ("0", "1"):
                    raise InputError(f"{where}: Is Laundering must be 0 or 1 (got {flag!r})")
                if flag == "1" and not hits:
                    a = w.attempt(attempt_iri(f"{stem}_line{line}"), UNLABELLED)
                    a.transactions.append(tx)
                    a.parties.update((payer, payee))
                done += sum(map(len, row)) + len(row)
                if progress and line % 50_000 == 0:
                    progress(min(done, total), total)
        unmatched = len(typologies) - len(seen_in_pattern)
        if unmatched:
            w.notes.append(f"{unmatched} attempts of the patterns file matched no transaction of the CSV")
        w.extra["exchange_rates_per_us_dollar"] = {c: float(r) for c, r in sorted(rates.items())}
    if progress:
        progress(total, total)
    return w.report()
