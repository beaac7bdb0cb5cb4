"""Casework without the server: users and tokens, alerts from a job, triage, cases, exports."""

from __future__ import annotations

import io
import json
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from viz_support import make_jobs

from fincrime.cases.alerts import Alerts, Conflict
from fincrime.cases.casefile import Cases
from fincrime.cases.db import Casework
from fincrime.cases.export import NothingToReport, ReportingEntity, bundle_zip, goaml_xml
from fincrime.cases.ingest import ingest_job
from fincrime.cases.users import AccessDenied, Users, hash_password, verify_password
from fincrime.errors import InputError

PASSWORD = "correct horse battery"


@pytest.fixture
def cw(tmp_path: Path):
    with Casework(tmp_path / "casework.sqlite") as db:
        yield db


@pytest.fixture
def people(cw: Casework):
    users = Users(cw)
    return {
        "ivy": users.add("ivy", "investigator", PASSWORD, full_name="Ivy Investigator", email="ivy@example.org"),
        "ian": users.add("ian", "investigator", PASSWORD),
        "rex": users.add("rex", "reviewer", PASSWORD, full_name="Rex Reviewer", email="rex@example.org"),
        "ada": users.add("ada", "admin", PASSWORD),
    }


@pytest.fixture
def job(tmp_path: Path):
    job_dir, facts = make_jobs().small_job(tmp_path / "out")
    return job_dir, facts


# ---- users --------------------------------------------------------------------------------
def test_passwords_are_salted_scrypt_and_checked_in_constant_form():
    a, b = hash_password(PASSWORD, n=1024), hash_password(PASSWORD, n=1024)
    assert a != b and a.startswith("scrypt$1024$8$1$")
    assert verify_password(PASSWORD, a) and not verify_password(PASSWORD + "x", a)
    assert not verify_password(PASSWORD, "md5$abc") and not verify_password(PASSWORD, None)


def test_users_tokens_and_sessions(cw: Casework, people):
    users = Users(cw)
    assert users.authenticate("ivy", PASSWORD).role == "investigator"
    for name, pw in (("ivy", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(AccessDenied, match="wrong user name or password"):
            users.authenticate(name, pw)
    with pytest.raises(InputError, match="at least 10"):
        users.add("short", "investigator", "abc")
    with pytest.raises(InputError, match="role"):
        users.add("bob", "boss", PASSWORD)
    with pytest.raises(InputError, match="exists"):
        users.add("ivy", "admin", PASSWORD)

    token = users.create_token("rex", "ci")
    assert users.by_token(token).username == "rex"
    stored = cw.db.execute("SELECT secret_sha256 FROM tokens").fetchone()[0]
    assert token.split("_", 2)[2] not in stored and len(stored) == 64  # only the hash is kept
    assert users.by_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    users.revoke_token(users.tokens("rex")[0]["id"])
    assert users.by_token(token) is None

    sid, session = users.start_session(people["ivy"])
    assert users.session(sid).user.username == "ivy" and users.session(sid).csrf == session.csrf
    users.set_disabled("ivy", True)
    assert users.session(sid) is None
    with pytest.raises(AccessDenied):
        users.authenticate("ivy", PASSWORD)


# ---- alerts from a job --------------------------------------------------------------------
def test_every_flag_of_a_job_becomes_one_alert_with_evidence(cw: Casework, job):
    job_dir, facts = job
    assert ingest_job(cw, job_dir) == 3 + 2 + 3  # 3 flagged chains, FanInHub x2, CycleChain x3
    assert ingest_job(cw, job_dir) == 0  # idempotent
    alerts = Alerts(cw).list(limit=100)
    by_rule: dict[str, list] = {}
    for a in alerts:
        by_rule.setdefault(a.rule, []).append(a)
    assert sorted((k, len(v)) for k, v in by_rule.items()) == [
        ("CycleChain", 3), ("FanInHub", 2), ("HighValueChain", 1), ("SuspiciousChain", 2)]
    high = by_rule["HighValueChain"][0]
    assert high.subject == facts["high"] and high.amount == 72_500.0
    assert [t["iri"] for t in high.evidence["transfers"]] == [t.iri for t in facts["high_hops"]]
    assert high.evidence["originator"]["name"] == "Hugo High" and high.evidence["originator"]["internal"] is True
    long = next(a for a in by_rule["SuspiciousChain"] if a.subject == facts["long"])
    assert long.evidence["length"] == 30 and long.evidence["bottleneck"] == 1234.56
    hub = next(a for a in by_rule["FanInHub"] if a.subject == facts["hub"])
    assert hub.kind == "typology" and hub.evidence["typology"] == "fan_in"
    assert hub.evidence["transfer_count"] == 4 and {t["to"] for t in hub.evidence["transfers"]} == {facts["hub"]}
    cyc = by_rule["CycleChain"][0]
    assert cyc.evidence["kind"] == "transaction" and len(cyc.evidence["transfers"]) == 1
    # the cycle returns to its suspicious originator: suspicious, but under the high-value threshold
    assert next(a for a in alerts if a.subject == facts["cycle"]).rule == "SuspiciousChain"
    assert cw.verify_audit() is None


# ---- triage -------------------------------------------------------------------------------
def _one(cw: Casework, job, rule: str = "HighValueChain"):
    ingest_job(cw, job[0])
    return next(a for a in Alerts(cw).list() if a.rule == rule)


def test_triage_with_four_eyes(cw: Casework, people, job):
    alerts = Alerts(cw)
    a = _one(cw, job)
    ivy, ian, rex, ada = (people[k] for k in ("ivy", "ian", "rex", "ada"))
    with pytest.raises(Conflict):
        alerts.escalate(a.id, ivy, "too early")
    a = alerts.start(a.id, ivy)
    assert (a.status, a.assignee) == ("investigating", "ivy")
    with pytest.raises(Conflict):
        alerts.start(a.id, ian)  # someone else cannot take a started alert by starting it
    with pytest.raises(AccessDenied):
        alerts.escalate(a.id, ian, "not mine")
    with pytest.raises(Conflict, match="second person"):
        alerts.close(a.id, ivy, "confirmed", "sure")
    with pytest.raises(InputError, match="reason"):
        alerts.escalate(a.id, ivy, "   ")
    a = alerts.escalate(a.id, ivy, "layering through a mule")
    assert (a.status, a.escalated_by) == ("escalated", "ivy")
    with pytest.raises(AccessDenied):
        alerts.close(a.id, ian, "confirmed", "an investigator cannot")
    # a reviewer who escalated cannot confirm their own escalation
    b = next(x for x in alerts.list() if x.rule == "SuspiciousChain" and x.id != a.id)
    alerts.start(b.id, rex)
    alerts.escalate(b.id, rex, "mine")
    with pytest.raises(AccessDenied, match="four eyes"):
        alerts.close(b.id, rex, "confirmed", "self review")
    a = alerts.close(a.id, rex, "confirmed", "confirmed: funds moved within 2 days")
    assert (a.status, a.outcome, a.closed_by) == ("closed", "confirmed", "rex")
    with pytest.raises(Conflict):
        alerts.close(a.id, ada, "false_positive", "again")
    a = alerts.reopen(a.id, ada, "new information")
    assert (a.status, a.outcome) == ("investigating", None)
    alerts.comment(a.id, ivy, "looking again")
    texts = [c.text for c in alerts.comments(a.id)]
    assert texts == ["layering through a mule", "confirmed: funds moved within 2 days", "new information", "looking again"]
    trail = [(e.actor, e.action) for e in reversed(cw.audit_trail(obj=f"alert:{a.id}"))]
    assert trail == [("system", "alert.create"), ("ivy", "alert.start"), ("ivy", "alert.escalate"),
                     ("rex", "alert.close"), ("ada", "alert.reopen"), ("ivy", "alert.comment")]
    assert cw.verify_audit() is None


def test_false_positive_by_the_assignee_and_reassignment(cw: Casework, people, job):
    alerts = Alerts(cw)
    a = _one(cw, job, "FanInHub")
    ivy, ian, rex = people["ivy"], people["ian"], people["rex"]
    alerts.start(a.id, ivy)
    with pytest.raises(AccessDenied):
        alerts.assign(a.id, ian, ian)  # taking over someone's alert takes a reviewer
    a = alerts.assign(a.id, rex, ian)
    assert a.assignee == "ian"
    a = alerts.close(a.id, ian, "false_positive", "payroll account")
    assert (a.status, a.outcome) == ("closed", "false_positive")


def test_audit_trail_detects_tampering(cw: Casework, people, job):
    a = _one(cw, job)
    Alerts(cw).start(a.id, people["ivy"])
    assert cw.verify_audit() is None
    raw = sqlite3.connect(cw.path)
    seq = raw.execute("SELECT seq FROM audit WHERE action = 'alert.start'").fetchone()[0]
    raw.execute("UPDATE audit SET actor = 'mallory' WHERE seq = ?", (seq,))
    raw.commit()
    raw.close()
    assert cw.verify_audit() == seq


# ---- cases and exports --------------------------------------------------------------------
def _confirmed_case(cw: Casework, people, job):
    alerts = Alerts(cw)
    a = _one(cw, job)
    fan = next(x for x in alerts.list() if x.rule == "FanInHub")
    alerts.start(a.id, people["ivy"])
    alerts.escalate(a.id, people["ivy"], "high value layering")
    alerts.close(a.id, people["rex"], "confirmed", "confirmed")
    cases = Cases(cw)
    case = cases.create(people["ivy"], "Hugo High layering", reason="Funds of a suspicious party moved on at once.",
                        alert_ids=[a.id, fan.id])
    return cases, case, a


def test_goaml_str_reports_the_confirmed_transactions(cw: Casework, people, job):
    cases, case, confirmed = _confirmed_case(cw, people, job)
    xml = goaml_xml(case, cases.case_alerts(case), people["rex"],
                    ReportingEntity(rentity_id="4711", name="Example Bank", currency="GBP", country="GB"))
    root = ET.fromstring(xml)
    assert root.tag == "report"
    order = [child.tag for child in root]
    assert order[:8] == ["rentity_id", "submission_code", "report_code", "entity_reference", "submission_date",
                         "currency_code_local", "reporting_person", "location"]
    assert order[8:10] == ["reason", "action"] and order[-1] == "report_indicators"
    assert root.findtext("rentity_id") == "4711" and root.findtext("report_code") == "STR"
    assert root.findtext("reporting_person/first_name") == "Rex"
    assert root.findtext("reporting_person/last_name") == "Reviewer"
    assert root.findtext("reason") == "Funds of a suspicious party moved on at once."
    txs = root.findall("transaction")
    assert [t.findtext("internal_ref_number") for t in txs] == [t["iri"] for t in confirmed.evidence["transfers"]]
    first = txs[0]
    assert first.findtext("amount_local") == "75000.00"
    assert first.findtext("date_transaction").startswith("2025-03-03T")
    assert first.find("t_from_my_client/from_account/account_name").text == "Hugo High"
    assert first.find("t_to_my_client/to_account/account_name").text == "Victor Value"
    assert first.findtext("t_from_my_client/from_country") == "GB"
    # the FanInHub alert is in the case but not confirmed: its transfers are not reported
    assert [i.text for i in root.findall("report_indicators/indicator")] == ["HighValueChain"]


def test_an_str_needs_a_confirmed_alert(cw: Casework, people, job):
    a = _one(cw, job)
    case = Cases(cw).create(people["ivy"], "nothing yet", alert_ids=[a.id])
    with pytest.raises(NothingToReport):
        goaml_xml(case, Cases(cw).case_alerts(case), people["rex"], ReportingEntity())


def test_bundle_has_json_csv_and_the_str(cw: Casework, people, job):
    cases, case, _confirmed = _confirmed_case(cw, people, job)
    z = zipfile.ZipFile(io.BytesIO(bundle_zip(cases, case, people["rex"], ReportingEntity())))
    assert sorted(z.namelist()) == ["alerts.csv", "case.json", "parties.csv", "str.xml", "transactions.csv"]
    doc = json.loads(z.read("case.json"))
    assert doc["case"]["title"] == "Hugo High layering" and len(doc["alerts"]) == 2
    assert {e["action"] for e in doc["audit"]} >= {"case.create", "alert.escalate", "alert.close"}
    assert doc["alerts"][0]["comments"]
    rows = z.read("transactions.csv").decode().splitlines()
    assert rows[0] == "iri,date,amount,from,to,alerts" and len(rows) == 1 + 2 + 4


def test_a_closed_case_is_frozen(cw: Casework, people, job):
    cases, case, confirmed = _confirmed_case(cw, people, job)
    with pytest.raises(Conflict, match="not closed"):
        cases.set_status(case.id, people["ivy"], "closed")
    cases.remove_alert(case.id, case.alert_ids[1], people["ivy"])
    cases.set_status(case.id, people["ivy"], "closed")
    with pytest.raises(Conflict):
        cases.add_alert(case.id, confirmed.id, people["ivy"])
    with pytest.raises(AccessDenied):
        cases.set_status(case.id, people["ivy"], "open")
    cases.set_status(case.id, people["rex"], "open")
