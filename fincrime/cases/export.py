"""A case as a goAML-style suspicious transaction report (STR) and as a CSV/JSON bundle.

**goAML.** The UNODC goAML schema's ``<report>``: the reporting entity (``rentity_id``), the
submission and report codes (``E``, ``STR``), a reference, the submission date and local
currency, the ``reporting_person`` (the user exporting), the entity's ``location``, the
``reason`` for suspicion and the ``action`` taken, one ``<transaction>`` per distinct
transaction of the case's *confirmed* alerts (number, internal reference, description, date,
mode, amount, and the from/to sides: ``t_from_my_client`` / ``t_to_my_client`` for parties that
are the institution's customers, ``t_from`` / ``t_to`` otherwise, each with the account and
country), and ``report_indicators``. Lookup codes (transmission mode, funds type, indicators)
differ between FIUs, so they come from :class:`ReportingEntity`; the indicators default to the
rule names that raised the alerts.

**Bundle.** A zip of ``case.json`` (the case, its alerts with evidence and comments, and the
audit trail of all of them), ``alerts.csv``, ``transactions.csv``, ``parties.csv`` and, when
the case has confirmed alerts, ``str.xml``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from fincrime.cases.alerts import CONFIRMED, Alert, Alerts
from fincrime.cases.casefile import Case, Cases
from fincrime.cases.users import User
from fincrime.errors import InputError


@dataclass(frozen=True)
class ReportingEntity:
    """Who files the report; ``fincrime serve --rentity-id ... --currency ...`` sets these."""

    rentity_id: str = "0"
    rentity_branch: str = ""
    name: str = "Reporting institution"
    currency: str = "EUR"
    country: str = "ZZ"  # ISO 3166 'unknown' until the operator sets it
    address: str = ""
    city: str = ""
    transmode_code: str = "E"  # electronic transfer in most FIUs' lookup lists
    funds_code: str = "E"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class NothingToReport(InputError):
    """An STR needs at least one confirmed alert."""


def _goaml_date(text: str) -> str:
    """xsd:dateTime to goAML's ``yyyy-mm-ddThh:mm:ss`` (date only becomes midnight).

    >>> _goaml_date("2024-03-01T10:20:30.5+01:00"), _goaml_date("2024-03-01")
    ('2024-03-01T10:20:30', '2024-03-01T00:00:00')
    """
    m = re.match(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}:\d{2}))?", text or "")
    if not m:
        return ""
    return f"{m.group(1)}T{m.group(2) or '00:00:00'}"


def _local(iri: str) -> str:
    s = iri.rstrip("/#")
    return s[max(s.rfind("#"), s.rfind("/")) + 1:] or iri


def _split_name(full: str) -> tuple[str, str]:
    parts = full.strip().rsplit(" ", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0] if parts else "")


_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = _NOT_XML.sub("\ufffd", str(text))  # XML 1.0 cannot carry control characters
    return el


def case_transactions(alerts: list[Alert]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Distinct transfers of ``alerts`` in time order (each with the alerts it appears in),
    and the parties they involve by IRI."""
    transfers: dict[str, dict[str, Any]] = {}
    parties: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        ev = alert.evidence
        for p in ev.get("parties") or []:
            parties.setdefault(p["iri"], p)
        for key in ("originator", "beneficiary", "party"):
            if isinstance(ev.get(key), dict):
                parties.setdefault(ev[key]["iri"], ev[key])
        for i, t in enumerate(ev.get("transfers") or []):
            entry = transfers.setdefault(t["iri"], {**t, "alerts": [], "hops": []})
            if alert.id not in entry["alerts"]:
                entry["alerts"].append(alert.id)
                entry["hops"].append(f"alert {alert.id} ({alert.rule})" + (f" hop {i + 1}" if alert.kind == "chain" else ""))
    ordered = sorted(transfers.values(), key=lambda t: (t.get("date") or "", t["iri"]))
    return ordered, parties


def _side(tx: ET.Element, side: str, party: dict[str, Any], entity: ReportingEntity) -> None:
    ours = bool(party.get("internal"))
    el = _sub(tx, f"t_{side}_my_client" if ours else f"t_{side}")
    _sub(el, f"{side}_funds_code", entity.funds_code)
    account = _sub(el, f"{side}_account")
    _sub(account, "institution_name", entity.name if ours else "not known")
    _sub(account, "non_bank_institution", "false")
    _sub(account, "account", _local(party["iri"]))
    _sub(account, "account_name", party.get("name") or _local(party["iri"]))
    _sub(account, "comments", party["iri"] + (" (flagged suspicious in the input data)" if party.get("suspicious") else ""))
    _sub(el, f"{side}_country", entity.country)


def goaml_xml(case: Case, alerts: list[Alert], reporter: User, entity: ReportingEntity,
              *, now: datetime | None = None) -> bytes:
    """The STR of a case (its confirmed alerts' transactions) as UTF-8 XML."""
    confirmed = [a for a in alerts if a.status == "closed" and a.outcome == CONFIRMED]
    if not confirmed:
        raise NothingToReport(f"case {case.id} has no confirmed alert; an STR reports confirmed suspicions only")
    transfers, parties = case_transactions(confirmed)
    now = now or datetime.now(UTC)
    report = ET.Element("report")
    _sub(report, "rentity_id", entity.rentity_id)
    if entity.rentity_branch:
        _sub(report, "rentity_branch", entity.rentity_branch)
    _sub(report, "submission_code", "E")
    _sub(report, "report_code", "STR")
    _sub(report, "entity_reference", f"fincrime-case-{case.id}")
    _sub(report, "submission_date", now.strftime("%Y-%m-%dT%H:%M:%S"))
    _sub(report, "currency_code_local", entity.currency)
    person = _sub(report, "reporting_person")
    first, last = _split_name(reporter.full_name or reporter.username)
    _sub(person, "first_name", first or reporter.username)
    _sub(person, "last_name", last)
    if reporter.email:
        _sub(person, "email", reporter.email)
    _sub(person, "occupation", reporter.role)
    location = _sub(report, "location")
    _sub(location, "address_type", "B")
    _sub(location, "address", entity.address or entity.name)
    _sub(location, "city", entity.city or "not known")
    _sub(location, "country_code", entity.country)
    reason = case.reason or "; ".join(a.title for a in confirmed)
    _sub(report, "reason", reason)
    _sub(report, "action", case.action or "Alerts confirmed after four-eyes review; reported to the FIU.")
    for t in transfers:
        tx = _sub(report, "transaction")
        _sub(tx, "transactionnumber", _local(t["iri"]))
        _sub(tx, "internal_ref_number", t["iri"])
        _sub(tx, "transaction_description", "; ".join(t["hops"]))
        _sub(tx, "date_transaction", _goaml_date(t.get("date") or ""))
        _sub(tx, "transmode_code", entity.transmode_code)
        _sub(tx, "amount_local", f"{float(t['amount']):.2f}")
        _side(tx, "from", parties.get(t["from"], {"iri": t["from"]}), entity)
        _side(tx, "to", parties.get(t["to"], {"iri": t["to"]}), entity)
    indicators = _sub(report, "report_indicators")
    for rule in sorted({a.rule for a in confirmed}):
        _sub(indicators, "indicator", rule)
    ET.indent(report)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(report, encoding="utf-8") + b"\n"


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()})
    return buf.getvalue()


def bundle_zip(cases: Cases, case: Case, reporter: User, entity: ReportingEntity) -> bytes:
    """The case as a zip of JSON and CSV files (plus ``str.xml`` when there is something to report)."""
    alerts_api: Alerts = cases.alerts
    alerts = cases.case_alerts(case)
    transfers, parties = case_transactions(alerts)
    audit = cases.cw.audit_trail(obj=f"case:{case.id}", limit=10_000)
    for a in alerts:
        audit += cases.cw.audit_trail(obj=f"alert:{a.id}", limit=10_000)
    doc = {
        "case": case.to_dict(),
        "exported_by": reporter.to_dict(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reporting_entity": entity.to_dict(),
        "alerts": [{**a.to_dict(), "comments": [c.to_dict() for c in alerts_api.comments(a.id)]} for a in alerts],
        "transactions": transfers,
        "parties": list(parties.values()),
        "audit": [e.to_dict() for e in sorted(audit, key=lambda e: e.seq)],
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("case.json", json.dumps(doc, indent=2, ensure_ascii=False))
        z.writestr("alerts.csv", _csv([a.to_dict(evidence=False) for a in alerts],
                                      ["id", "job_id", "dataset", "kind", "rule", "subject", "title", "amount", "status",
                                       "outcome", "assignee", "escalated_by", "closed_by", "created_at", "updated_at"]))
        z.writestr("transactions.csv", _csv(transfers, ["iri", "date", "amount", "from", "to", "alerts"]))
        z.writestr("parties.csv", _csv(list(parties.values()), ["iri", "name", "suspicious", "internal"]))
        with contextlib.suppress(NothingToReport):
            z.writestr("str.xml", goaml_xml(case, alerts, reporter, entity))
    return buf.getvalue()
