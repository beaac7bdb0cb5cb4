"""Alerts and their triage: new -> investigating -> escalated / closed, with four eyes.

The workflow, and who may move an alert:

============  ==============  ==========================================================
from          to              who
============  ==============  ==========================================================
new           investigating   any user (``start``); they become the assignee
investigating escalated       the assignee, or an admin (``escalate``, with a reason)
investigating closed          the assignee, or a reviewer, as *false positive* only
escalated     closed          a reviewer or admin **other than the one who escalated**
                              (four eyes), as *confirmed* or *false positive*
escalated     investigating   a reviewer other than the escalator (sent back, with a reason)
closed        investigating   a reviewer or admin (``reopen``, with a reason)
============  ==============  ==========================================================

A confirmed suspicion therefore always passes two people. Every transition is conditional on
the status it starts from, so two people acting at once cannot both succeed, and each change,
comment and assignment lands in the audit trail with the alert's before and after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fincrime.cases.db import Casework, NotFound
from fincrime.cases.users import AccessDenied, User
from fincrime.errors import InputError
from fincrime.jobs.registry import now_iso

NEW, INVESTIGATING, ESCALATED, CLOSED = "new", "investigating", "escalated", "closed"
STATUSES = (NEW, INVESTIGATING, ESCALATED, CLOSED)
CONFIRMED, FALSE_POSITIVE = "confirmed", "false_positive"
OUTCOMES = (CONFIRMED, FALSE_POSITIVE)
KINDS = ("chain", "typology")
MAX_TEXT = 10_000


class Conflict(InputError):
    """The alert is not in a state that allows the action (or someone changed it meanwhile)."""


@dataclass(frozen=True)
class Alert:
    id: int
    job_id: str
    dataset: str
    kind: str
    rule: str
    subject: str
    title: str
    amount: float | None
    status: str
    outcome: str | None
    assignee: str | None
    escalated_by: str | None
    closed_by: str | None
    evidence: dict[str, Any]
    created_at: str
    updated_at: str

    def to_dict(self, *, evidence: bool = True) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("id", "job_id", "dataset", "kind", "rule", "subject", "title", "amount",
                                              "status", "outcome", "assignee", "escalated_by", "closed_by",
                                              "created_at", "updated_at")}
        if evidence:
            out["evidence"] = self.evidence
        return out


def _alert(row: Any) -> Alert:
    return Alert(row["id"], row["job_id"], row["dataset"], row["kind"], row["rule"], row["subject"], row["title"],
                 row["amount"], row["status"], row["outcome"], row["assignee"], row["escalated_by"], row["closed_by"],
                 json.loads(row["evidence_json"]), row["created_at"], row["updated_at"])


@dataclass(frozen=True)
class Comment:
    id: int
    alert_id: int
    author: str
    at: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "alert_id": self.alert_id, "author": self.author, "at": self.at, "text": self.text}


@dataclass(frozen=True)
class NewAlert:
    """An alert as ingestion makes it, before it has an id."""

    job_id: str
    dataset: str
    kind: str
    rule: str
    subject: str
    title: str
    amount: float | None
    evidence: dict[str, Any]


def _text(value: str | None, what: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InputError(f"{what} is required")
    if len(text) > MAX_TEXT:
        raise InputError(f"{what}: at most {MAX_TEXT} characters")
    return text


class Alerts:
    def __init__(self, cw: Casework) -> None:
        self.cw = cw

    # ---- reading ----------------------------------------------------------------------------
    def get(self, alert_id: int) -> Alert:
        row = self.cw.db.execute("SELECT * FROM alerts WHERE id = ?", (int(alert_id),)).fetchone()
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        return _alert(row)

    def list(self, *, status: str | None = None, job_id: str | None = None, assignee: str | None = None,
             rule: str | None = None, kind: str | None = None, limit: int = 100, offset: int = 0) -> list[Alert]:
        sql, args = "SELECT * FROM alerts WHERE 1=1", []
        for column, value in (("status", status), ("job_id", job_id), ("assignee", assignee), ("rule", rule), ("kind", kind)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        sql += " ORDER BY CASE status WHEN 'escalated' THEN 0 WHEN 'new' THEN 1 WHEN 'investigating' THEN 2 ELSE 3 END,"
        sql += " amount IS NULL, amount DESC, id LIMIT ? OFFSET ?"
        args += [max(1, min(int(limit), 1000)), max(0, int(offset))]
        return [_alert(r) for r in self.cw.db.execute(sql, args).fetchall()]

    def counts(self, *, job_id: str | None = None) -> dict[str, int]:
        sql, args = "SELECT status, COUNT(*) FROM alerts", []
        if job_id:
            sql += " WHERE job_id = ?"
            args.append(job_id)
        got = dict(self.cw.db.execute(sql + " GROUP BY status", args).fetchall())
        return {s: int(got.get(s, 0)) for s in STATUSES}

    def comments(self, alert_id: int) -> list[Comment]:
        rows = self.cw.db.execute("SELECT * FROM comments WHERE alert_id = ? ORDER BY id", (int(alert_id),)).fetchall()
        return [Comment(r["id"], r["alert_id"], r["author"], r["at"], r["text"]) for r in rows]

    # ---- creation ---------------------------------------------------------------------------
    def add_many(self, alerts: list[NewAlert], *, actor: str = "system") -> int:
        """Inserts alerts not already there (same job, subject and rule); returns how many were new."""
        at = now_iso()
        added = 0
        with self.cw.write() as db:
            for a in alerts:
                cur = db.execute(
                    "INSERT OR IGNORE INTO alerts(job_id, dataset, kind, rule, subject, title, amount, status,"
                    " evidence_json, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (a.job_id, a.dataset, a.kind, a.rule, a.subject, a.title, a.amount, NEW,
                     json.dumps(a.evidence, ensure_ascii=False), at, at))
                if cur.rowcount == 1:
                    added += 1
                    self.cw.audit(db, actor, "alert.create", f"alert:{cur.lastrowid}", job=a.job_id, rule=a.rule,
                                  subject=a.subject)
        return added

    # ---- workflow ---------------------------------------------------------------------------
    def _move(self, alert: Alert, actor: User, action: str, frm: str, sets: dict[str, Any], reason: str | None) -> Alert:
        assignments = ", ".join(f"{k} = ?" for k in sets)
        with self.cw.write() as db:
            cur = db.execute(f"UPDATE alerts SET {assignments}, updated_at = ? WHERE id = ? AND status = ?",
                             (*sets.values(), now_iso(), alert.id, frm))
            if cur.rowcount != 1:
                raise Conflict(f"alert {alert.id} changed meanwhile (it is {self.get(alert.id).status} now); reload it")
            if reason:
                db.execute("INSERT INTO comments(alert_id, author, at, text) VALUES (?,?,?,?)",
                           (alert.id, actor.username, now_iso(), reason))
            before = {k: getattr(alert, k) for k in sets}
            self.cw.audit(db, actor.username, f"alert.{action}", f"alert:{alert.id}", before=before, after=sets,
                          **({"reason": reason} if reason else {}))
        return self.get(alert.id)

    def start(self, alert_id: int, actor: User) -> Alert:
        alert = self.get(alert_id)
        if alert.status != NEW:
            raise Conflict(f"alert {alert_id} is {alert.status}; only new alerts can be started")
        return self._move(alert, actor, "start", NEW, {"status": INVESTIGATING, "assignee": actor.username}, None)

    def assign(self, alert_id: int, actor: User, assignee: User) -> Alert:
        alert = self.get(alert_id)
        if alert.status == CLOSED:
            raise Conflict(f"alert {alert_id} is closed; reopen it first")
        own = assignee.username == actor.username and alert.assignee in (None, actor.username)
        if not own and not actor.can("reviewer"):
            raise AccessDenied("only a reviewer or admin assigns alerts to others or takes them over")
        if assignee.disabled:
            raise InputError(f"user {assignee.username} is disabled")
        sets: dict[str, Any] = {"assignee": assignee.username}
        if alert.status == NEW:
            sets["status"] = INVESTIGATING
        return self._move(alert, actor, "assign", alert.status, sets, None)

    def escalate(self, alert_id: int, actor: User, reason: str) -> Alert:
        alert = self.get(alert_id)
        reason = _text(reason, "a reason for the escalation", required=True)
        if alert.status != INVESTIGATING:
            raise Conflict(f"alert {alert_id} is {alert.status}; only alerts under investigation can be escalated")
        if alert.assignee != actor.username and not actor.can("admin"):
            raise AccessDenied(f"alert {alert_id} is assigned to {alert.assignee}; only they (or an admin) escalate it")
        return self._move(alert, actor, "escalate", INVESTIGATING,
                          {"status": ESCALATED, "escalated_by": actor.username}, reason)

    def close(self, alert_id: int, actor: User, outcome: str, reason: str) -> Alert:
        alert = self.get(alert_id)
        reason = _text(reason, "a reason for closing", required=True)
        if outcome not in OUTCOMES:
            raise InputError(f"outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
        if alert.status == INVESTIGATING:
            if outcome == CONFIRMED:
                raise Conflict("a confirmed suspicion needs a second person: escalate the alert, and a reviewer closes it")
            if alert.assignee != actor.username and not actor.can("reviewer"):
                raise AccessDenied(f"alert {alert_id} is assigned to {alert.assignee}")
        elif alert.status == ESCALATED:
            if not actor.can("reviewer"):
                raise AccessDenied("closing an escalated alert takes a reviewer or admin")
            if actor.username == alert.escalated_by:
                raise AccessDenied(f"four eyes: {actor.username} escalated alert {alert_id}; "
                                   "a second person must close it")
        else:
            raise Conflict(f"alert {alert_id} is {alert.status}; it cannot be closed now")
        return self._move(alert, actor, "close", alert.status,
                          {"status": CLOSED, "outcome": outcome, "closed_by": actor.username}, reason)

    def send_back(self, alert_id: int, actor: User, reason: str) -> Alert:
        alert = self.get(alert_id)
        reason = _text(reason, "a reason for sending the alert back", required=True)
        if alert.status != ESCALATED:
            raise Conflict(f"alert {alert_id} is {alert.status}; only escalated alerts are sent back")
        if not actor.can("reviewer") or actor.username == alert.escalated_by:
            raise AccessDenied("a reviewer other than the one who escalated sends an alert back")
        return self._move(alert, actor, "send_back", ESCALATED, {"status": INVESTIGATING, "escalated_by": None}, reason)

    def reopen(self, alert_id: int, actor: User, reason: str) -> Alert:
        alert = self.get(alert_id)
        reason = _text(reason, "a reason for reopening", required=True)
        if alert.status != CLOSED:
            raise Conflict(f"alert {alert_id} is {alert.status}; only closed alerts are reopened")
        if not actor.can("reviewer"):
            raise AccessDenied("reopening a closed alert takes a reviewer or admin")
        return self._move(alert, actor, "reopen", CLOSED,
                          {"status": INVESTIGATING, "outcome": None, "closed_by": None, "escalated_by": None}, reason)

    def comment(self, alert_id: int, actor: User, text: str) -> Comment:
        alert = self.get(alert_id)
        text = _text(text, "a comment", required=True)
        at = now_iso()
        with self.cw.write() as db:
            cur = db.execute("INSERT INTO comments(alert_id, author, at, text) VALUES (?,?,?,?)",
                             (alert.id, actor.username, at, text))
            self.cw.audit(db, actor.username, "alert.comment", f"alert:{alert.id}", comment=cur.lastrowid, text=text)
        return Comment(int(cur.lastrowid or 0), alert.id, actor.username, at, text)
