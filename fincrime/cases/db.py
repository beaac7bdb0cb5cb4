"""The casework database: users, tokens, sessions, alerts, cases and the audit trail.

One SQLite file, ``FINCRIME_HOME/casework.sqlite`` (WAL), beside the job registry. Every change
is one short ``BEGIN IMMEDIATE`` transaction that also appends to the audit trail, so a change
and its audit entry are written together or not at all. The trail is hash-chained: each entry
stores the SHA-256 of the previous entry's hash and its own content, and :meth:`verify_audit`
finds the first entry edited or deleted after the fact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fincrime.errors import InputError
from fincrime.jobs.registry import now_iso
from fincrime.workspace import Workspace

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at REAL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    title TEXT NOT NULL,
    amount REAL,
    status TEXT NOT NULL,
    outcome TEXT,
    assignee TEXT,
    escalated_by TEXT,
    closed_by TEXT,
    evidence_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (job_id, subject, rule)
);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status);
CREATE INDEX IF NOT EXISTS alerts_job ON alerts(job_id);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_alert ON comments(alert_id, id);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_alerts (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (case_id, alert_id)
);
CREATE TABLE IF NOT EXISTS ingested (
    job_id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    alerts INTEGER NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail_json TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_object ON audit(object, seq);
"""
GENESIS = "0" * 64


class NotFound(InputError):
    """No alert, case, user or token by that id."""


def casework_path(workspace: Workspace) -> Path:
    return workspace.home / "casework.sqlite"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    object: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "object": self.object, "detail": self.detail}


def _entry_hash(prev: str, at: str, actor: str, action: str, obj: str, detail: str) -> str:
    text = json.dumps([prev, at, actor, action, obj, detail], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Casework:
    """Access to ``casework.sqlite``; safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA busy_timeout = 60000")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        with self.write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)  # password hashes and session ids live here

    @classmethod
    def open(cls, workspace: Workspace) -> Casework:
        return cls(casework_path(workspace))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Casework:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- audit ------------------------------------------------------------------------------
    def audit(self, db: sqlite3.Connection, actor: str, action: str, obj: str, /, **detail: Any) -> None:
        """Appends an entry inside the caller's write transaction."""
        row = db.execute("SELECT sha256 FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        prev = row[0] if row else GENESIS
        at = now_iso()
        text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        db.execute(
            "INSERT INTO audit(at, actor, action, object, detail_json, prev_sha256, sha256) VALUES (?,?,?,?,?,?,?)",
            (at, actor, action, obj, text, prev, _entry_hash(prev, at, actor, action, obj, text)),
        )

    def record(self, actor: str, action: str, obj: str, /, **detail: Any) -> None:
        """An audit entry on its own (a download, an export)."""
        with self.write() as db:
            self.audit(db, actor, action, obj, **detail)

    def audit_trail(self, *, obj: str | None = None, prefix: str | None = None, limit: int = 500,
                    before: int | None = None) -> list[AuditEntry]:
        sql, args = "SELECT * FROM audit WHERE 1=1", []
        if obj is not None:
            sql += " AND object = ?"
            args.append(obj)
        if prefix is not None:
            sql += " AND substr(object, 1, ?) = ?"
            args += [len(prefix), prefix]
        if before is not None:
            sql += " AND seq < ?"
            args.append(before)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(int(limit))
        return [AuditEntry(r["seq"], r["at"], r["actor"], r["action"], r["object"], json.loads(r["detail_json"]))
                for r in self.db.execute(sql, args).fetchall()]

    def verify_audit(self) -> int | None:
        """The seq of the first entry that does not match the chain, or None when it is intact."""
        prev = GENESIS
        expected_seq = None
        for r in self.db.execute("SELECT * FROM audit ORDER BY seq"):
            if expected_seq is not None and r["seq"] != expected_seq:
                return expected_seq  # a row was deleted
            ok = r["prev_sha256"] == prev and r["sha256"] == _entry_hash(
                prev, r["at"], r["actor"], r["action"], r["object"], r["detail_json"])
            if not ok:
                return int(r["seq"])
            prev, expected_seq = r["sha256"], r["seq"] + 1
        return None
