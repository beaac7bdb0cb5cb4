"""Cases: a group of alerts investigated and reported together.

A case carries what a suspicious transaction report needs besides the transactions: a title,
the reason for suspicion and the action taken. Alerts join and leave a case while it is open;
a closed case is frozen (reopen it to change it). Each change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fincrime.cases.alerts import Alert, Alerts, Conflict
from fincrime.cases.db import Casework, NotFound
from fincrime.cases.users import AccessDenied, User
from fincrime.errors import InputError
from fincrime.jobs.registry import now_iso

OPEN, CLOSED = "open", "closed"
MAX_TEXT = 10_000


@dataclass(frozen=True)
class Case:
    id: int
    title: str
    reason: str
    action: str
    status: str
    created_by: str
    created_at: str
    updated_at: str
    alert_ids: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "reason": self.reason, "action": self.action,
                "status": self.status, "created_by": self.created_by, "created_at": self.created_at,
                "updated_at": self.updated_at, "alerts": list(self.alert_ids)}


def _clean(text: str | None, what: str, limit: int = MAX_TEXT) -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise InputError(f"{what}: at most {limit} characters")
    return value


class Cases:
    def __init__(self, cw: Casework) -> None:
        self.cw = cw
        self.alerts = Alerts(cw)

    def get(self, case_id: int) -> Case:
        row = self.cw.db.execute("SELECT * FROM cases WHERE id = ?", (int(case_id),)).fetchone()
        if row is None:
            raise NotFound(f"no case {case_id}")
        ids = tuple(r[0] for r in self.cw.db.execute(
            "SELECT alert_id FROM case_alerts WHERE case_id = ? ORDER BY alert_id", (row["id"],)).fetchall())
        return Case(row["id"], row["title"], row["reason"], row["action"], row["status"], row["created_by"],
                    row["created_at"], row["updated_at"], ids)

    def list(self, *, status: str | None = None, limit: int = 200) -> list[Case]:
        sql, args = "SELECT id FROM cases", []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        rows = self.cw.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, max(1, min(int(limit), 1000)))).fetchall()
        return [self.get(r[0]) for r in rows]

    def of_alert(self, alert_id: int) -> list[int]:
        return [r[0] for r in self.cw.db.execute("SELECT case_id FROM case_alerts WHERE alert_id = ?", (int(alert_id),))]

    def case_alerts(self, case: Case) -> list[Alert]:
        return [self.alerts.get(i) for i in case.alert_ids]

    def create(self, actor: User, title: str, *, reason: str = "", action: str = "",
               alert_ids: list[int] | None = None) -> Case:
        title = _clean(title, "title", 200)
        if not title:
            raise InputError("a case needs a title")
        reason, action = _clean(reason, "reason"), _clean(action, "action")
        for alert_id in alert_ids or []:
            self.alerts.get(alert_id)
        at = now_iso()
        with self.cw.write() as db:
            cur = db.execute("INSERT INTO cases(title, reason, action, status, created_by, created_at, updated_at)"
                             " VALUES (?,?,?,?,?,?,?)", (title, reason, action, OPEN, actor.username, at, at))
            case_id = int(cur.lastrowid or 0)
            self.cw.audit(db, actor.username, "case.create", f"case:{case_id}", title=title, reason=reason, action=action)
            for alert_id in dict.fromkeys(alert_ids or []):
                db.execute("INSERT INTO case_alerts(case_id, alert_id, added_by, added_at) VALUES (?,?,?,?)",
                           (case_id, int(alert_id), actor.username, at))
                self.cw.audit(db, actor.username, "case.add_alert", f"case:{case_id}", alert=int(alert_id))
        return self.get(case_id)

    def _open(self, case_id: int) -> Case:
        case = self.get(case_id)
        if case.status != OPEN:
            raise Conflict(f"case {case_id} is closed; reopen it to change it")
        return case

    def update(self, case_id: int, actor: User, *, title: str | None = None, reason: str | None = None,
               action: str | None = None) -> Case:
        case = self._open(case_id)
        sets: dict[str, str] = {}
        if title is not None:
            sets["title"] = _clean(title, "title", 200) or case.title
        if reason is not None:
            sets["reason"] = _clean(reason, "reason")
        if action is not None:
            sets["action"] = _clean(action, "action")
        if not sets:
            return case
        with self.cw.write() as db:
            db.execute(f"UPDATE cases SET {', '.join(f'{k} = ?' for k in sets)}, updated_at = ? WHERE id = ?",
                       (*sets.values(), now_iso(), case.id))
            self.cw.audit(db, actor.username, "case.update", f"case:{case.id}",
                          before={k: getattr(case, k) for k in sets}, after=sets)
        return self.get(case.id)

    def add_alert(self, case_id: int, alert_id: int, actor: User) -> Case:
        case = self._open(case_id)
        self.alerts.get(alert_id)
        with self.cw.write() as db:
            cur = db.execute("INSERT OR IGNORE INTO case_alerts(case_id, alert_id, added_by, added_at) VALUES (?,?,?,?)",
                             (case.id, int(alert_id), actor.username, now_iso()))
            if cur.rowcount == 1:
                db.execute("UPDATE cases SET updated_at = ? WHERE id = ?", (now_iso(), case.id))
                self.cw.audit(db, actor.username, "case.add_alert", f"case:{case.id}", alert=int(alert_id))
        return self.get(case.id)

    def remove_alert(self, case_id: int, alert_id: int, actor: User) -> Case:
        case = self._open(case_id)
        with self.cw.write() as db:
            cur = db.execute("DELETE FROM case_alerts WHERE case_id = ? AND alert_id = ?", (case.id, int(alert_id)))
            if cur.rowcount != 1:
                raise NotFound(f"alert {alert_id} is not in case {case.id}")
            db.execute("UPDATE cases SET updated_at = ? WHERE id = ?", (now_iso(), case.id))
            self.cw.audit(db, actor.username, "case.remove_alert", f"case:{case.id}", alert=int(alert_id))
        return self.get(case.id)

    def set_status(self, case_id: int, actor: User, status: str) -> Case:
        if status not in (OPEN, CLOSED):
            raise InputError(f"case status {status!r}: open or closed")
        case = self.get(case_id)
        if status == CLOSED and any(a.status != "closed" for a in self.case_alerts(case)):
            raise Conflict(f"case {case_id} still has alerts that are not closed")
        if status == OPEN and case.status == CLOSED and not actor.can("reviewer"):
            raise AccessDenied("reopening a closed case takes a reviewer or admin")
        with self.cw.write() as db:
            cur = db.execute("UPDATE cases SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                             (status, now_iso(), case.id, case.status))
            if cur.rowcount != 1:
                raise Conflict(f"case {case_id} changed meanwhile; reload it")
            self.cw.audit(db, actor.username, "case.close" if status == CLOSED else "case.reopen", f"case:{case.id}")
        return self.get(case.id)
