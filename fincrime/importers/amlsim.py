"""IBM AMLSim output folder -> the reference vocabulary plus ground truth.

Read from ``DIR`` (column names as AMLSim's ``convert_logs.py`` writes them, or as in the
published upper-case CSVs; matched case-blind):

============================== ==================================================================
``transactions.csv``           ``tran_id|TX_ID``, ``orig_acct|SENDER_ACCOUNT_ID``, ``bene_acct|RECEIVER_ACCOUNT_ID``,
(or ``tx.csv``)                ``base_amt|TX_AMOUNT``, ``tran_timestamp|TIMESTAMP`` (ISO date-time or a
                               simulation step = days after ``--base-date``), optionally ``is_sar|IS_FRAUD``
                               and ``alert_id|ALERT_ID``
``accounts.csv`` (optional)    ``acct_id|ACCOUNT_ID`` and a name (``dsply_nm``, ``first_name``/``last_name``,
                               ``CUSTOMER_ID``); its SAR flags are ground truth and are not copied
``alert_transactions.csv``     ``alert_id``, ``alert_type``, ``is_sar``, ``tran_id``: the transactions of
(or ``alerts.csv``)            each alert
``alert_accounts.csv``         ``alert_id``, ``alert_type``, ``acct_id``, ``is_sar``: each alert's members
``sar_accounts.csv``           ``ALERT_ID``, ``ACCOUNT_ID``, ``ALERT_TYPE``, ``IS_SAR``
============================== ==================================================================

Ground truth: every alert marked SAR is a laundering attempt (``stack`` -> ``layering``); alerts
that are not SAR (AMLSim's look-alike "false alerts") are left out and counted in the notes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fincrime.errors import InputError
from fincrime.importers.common import (
    CsvFile,
    ImportWriter,
    attempt_iri,
    datetime_text,
    decimal_text,
    party_iri,
    transaction_iri,
    typology_name,
)

DEFAULT_BASE_DATE = "2017-01-01"  # AMLSim's default base_date (step 0)
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f", ""}

ProgressFn = Callable[[int, int], None]


def _flag(text: str, where: str) -> bool:
    t = text.strip().lower()
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise InputError(f"{where}: expected a true/false flag, got {text!r}")


def parse_time(text: str, base: datetime, where: str) -> str:
    """An ISO date-time (a zone is converted to UTC), ``YYYYMMDD`` or a step (days after ``base``)."""
    t = text.strip()
    if t.lstrip("-").isdigit() and len(t) != 8:
        return datetime_text(base + timedelta(days=int(t)))
    try:
        if len(t) == 8 and t.isdigit():
            return datetime_text(datetime.strptime(t, "%Y%m%d"))
        value = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: timestamp {text!r} is neither a date-time nor a simulation step") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return datetime_text(value)


def _find(folder: Path, *names: str, required: bool = True) -> Path | None:
    for name in names:
        for p in (folder / name, folder / name.upper()):
            if p.is_file():
                return p
    if required:
        raise InputError(f"{folder}: no {' or '.join(names)} (is this an AMLSim output folder?)")
    return None


class _Alerts:
    """Types, SAR flags, transactions and members of the alerts, from the alert files."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.sar: dict[str, bool] = {}
        self.tx: dict[str, set[str]] = defaultdict(set)  # transaction id -> alert ids
        self.members: dict[str, set[str]] = defaultdict(set)  # alert id -> account ids

    def note(self, alert: str, typ: str | None, sar: bool | None) -> None:
        if typ:
            self.types.setdefault(alert, typology_name(typ))
        if sar is not None:
            self.sar[alert] = self.sar.get(alert, False) or sar

    def read_transactions(self, path: Path) -> None:
        self._read_alert_rows(path, ("tran_id", "tx_id"), self.tx, by_item=True)

    def read_members(self, path: Path) -> None:
        self._read_alert_rows(path, ("acct_id", "account_id"), self.members, by_item=False)

    def _read_alert_rows(self, path: Path, item_names: tuple[str, ...], into, by_item: bool) -> None:  # type: ignore[no-untyped-def]
        """Rows of an alert file: each notes its alert, and links it with a transaction
        (``by_item``: item -> alerts) or an account (alert -> items)."""
        with CsvFile(path) as f:
            a, item = f.column("alert_id"), f.column(*item_names)
            typ, sar = f.column("alert_type", required=False), f.column("is_sar", "is_fraud", required=False)
            for line, row in f.rows():
                where = f"{path}:{line}"
                alert = row[a].strip()
                self.note(alert, row[typ] if typ is not None else None,
                          _flag(row[sar], where) if sar is not None else None)
                if by_item:
                    into[row[item].strip()].add(alert)
                else:
                    into[alert].add(row[item].strip())


def _account_names(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    names: dict[str, str] = {}
    with CsvFile(path) as f:
        acct = f.column("acct_id", "account_id")
        name = f.column("dsply_nm", "acct_name", required=False)
        first, last = f.column("first_name", required=False), f.column("last_name", required=False)
        customer = f.column("customer_id", required=False)
        for _line, row in f.rows():
            a = row[acct].strip()
            if first is not None and last is not None and (row[first].strip() or row[last].strip()):
                names[a] = f"{row[first].strip()} {row[last].strip()}".strip()
            elif name is not None and row[name].strip():
                names[a] = row[name].strip()
            elif customer is not None and row[customer].strip():
                names[a] = f"Customer {row[customer].strip()}"
    return names


def import_amlsim(
    folder: str | Path, out: str | Path, *, base_date: str = DEFAULT_BASE_DATE, overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Import an AMLSim output folder into ``out``; returns the report (also in import.json)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    try:
        base = datetime.fromisoformat(base_date)
    except ValueError:
        raise InputError(f"--base-date must be an ISO date such as 2017-01-01 (got {base_date!r})") from None
    tx_path = _find(folder, "transactions.csv", "tx.csv")
    assert tx_path is not None
    alerts = _Alerts()
    sources = [tx_path]
    alert_tx = _find(folder, "alert_transactions.csv", "alerts.csv", required=False)
    if alert_tx:
        alerts.read_transactions(alert_tx)
        sources.append(alert_tx)
    for name in ("alert_accounts.csv", "sar_accounts.csv"):
        path = _find(folder, name, required=False)
        if path:
            alerts.read_members(path)
            sources.append(path)
    accounts = _find(folder, "accounts.csv", required=False)
    names = _account_names(accounts)
    if accounts:
        sources.append(accounts)

    total = tx_path.stat().st_size
    with ImportWriter(out, "IBM AMLSim", overwrite=overwrite) as w:
        for p in sources:
            w.record_input(p)

        def party(acct: str) -> str:
            return w.party(party_iri(acct), names.get(acct) or f"Account {acct}")

        for acct in names:
            party(acct)
        with CsvFile(tx_path) as f:
            tid = f.column("tran_id", "tx_id", required=False)
            orig = f.column("orig_acct", "sender_account_id", "nameOrig")
            bene = f.column("bene_acct", "receiver_account_id", "nameDest")
            amt = f.column("base_amt", "tx_amount", "amount")
            ts = f.column("tran_timestamp", "timestamp", "step")
            sar = f.column("is_sar", "is_fraud", "isSAR", required=False)
            alert = f.column("alert_id", "alertID", required=False)
            done = 0
            for line, row in f.rows():
                where = f"{tx_path}:{line}"
                o, b = row[orig].strip(), row[bene].strip()
                if not o or not b:
                    raise InputError(f"{where}: sender and receiver accounts must not be empty")
                key = row[tid].strip() if tid is not None and row[tid].strip() else f"line{line}"
                tx = transaction_iri(key)
                payer, payee = party(o), party(b)
                w.transaction(tx, payer, payee, decimal_text(row[amt], where), parse_time(row[ts], base, where))
                ids = set(alerts.tx.get(key, ()))
                flagged = _flag(row[sar], where) if sar is not None else None
                if alert is not None and row[alert].strip() not in ("", "-1"):
                    aid = row[alert].strip()
                    ids.add(aid)
                    alerts.note(aid, None, flagged)
                for aid in ids:
                    if alerts.sar.get(aid, False):
                        a = w.attempt(attempt_iri(f"amlsim_{aid}"), alerts.types.get(aid, "unknown"))
                        a.transactions.append(tx)
                        a.parties.update((payer, payee))
                done += sum(map(len, row)) + len(row)
                if progress and line % 50_000 == 0:
                    progress(min(done, total), total)
        for aid, members in alerts.members.items():
            if alerts.sar.get(aid, False):
                a = w.attempt(attempt_iri(f"amlsim_{aid}"), alerts.types.get(aid, "unknown"))
                a.parties.update(party(m) for m in members if m)
        false_alerts = sorted(a for a, s in alerts.sar.items() if not s)
        if false_alerts:
            w.notes.append(f"{len(false_alerts)} alerts are not SAR (look-alike normal activity): not ground truth")
        empty = [t for t, a in w.attempts.items() if not a.transactions]
        if empty:
            w.notes.append(f"{len(empty)} SAR alerts have no transaction in {tx_path.name}")
        w.extra["base_date"] = base_date
    if progress:
        progress(total, total)
    return w.report()
