"""The job registry: one SQLite file (WAL) holding every job and every state change with its time.

Writers are the watcher, its worker processes and the CLI, all at once; each state change is
one short ``BEGIN IMMEDIATE`` transaction. A running job is owned by a *lease* (a random token
plus host and pid, refreshed by a heartbeat): every change a worker makes is conditional on
still holding the lease, so a job that was given up for dead and restarted elsewhere can never
be finished twice.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fincrime.errors import FincrimeError, InputError

QUEUED, RUNNING, QUERYING, LOADING, VISUALIZING = "queued", "running", "querying", "loading", "visualizing"
DONE, FAILED, REJECTED, CANCELLED = "done", "failed", "rejected", "cancelled"
ACTIVE = (RUNNING, QUERYING, LOADING, VISUALIZING)
FINAL = (DONE, FAILED, REJECTED, CANCELLED)
STATUSES = (QUEUED, *ACTIVE, *FINAL)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    name TEXT,
    spec_path TEXT NOT NULL,
    spec_sha256 TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    output_dir TEXT,
    resolved_json TEXT,
    problems_json TEXT,
    counts_json TEXT,
    phases_json TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cores INTEGER NOT NULL DEFAULT 1,
    memory_mb INTEGER NOT NULL DEFAULT 0,
    lease TEXT,
    lease_host TEXT,
    lease_pid INTEGER,
    heartbeat_at REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    notified INTEGER NOT NULL DEFAULT 0,
    notify_claimed_at REAL,
    notify_claims INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE INDEX IF NOT EXISTS jobs_spec ON jobs(spec_path, spec_sha256);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id, seq);
CREATE TABLE IF NOT EXISTS seen_specs (
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (path, sha256)
);
"""
# Columns added after the first release: registries made before get them on open.
_ADDED_COLUMNS = {
    "notify_claimed_at": "REAL",
    "notify_claims": "INTEGER NOT NULL DEFAULT 0",
}
#: A claim on a job's notifications older than this is taken to have died with its process.
NOTIFY_CLAIM_SECONDS = 600.0
#: Times a job's notifications are attempted (each attempt retries every target with backoff).
NOTIFY_MAX_CLAIMS = 3


class LeaseLost(FincrimeError):
    """The job was taken over (given up for dead, or cancelled and reset) by someone else."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not doing any work.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass(frozen=True)
class Lease:
    """Who owns a running job: a token unique to one attempt, and the process holding it."""

    token: str
    host: str
    pid: int

    @classmethod
    def mine(cls) -> Lease:
        return cls(token=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid())


@dataclass(frozen=True)
class JobRecord:
    id: str
    dataset: str
    name: str | None
    spec_path: str
    spec_sha256: str | None
    status: str
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    output_dir: str | None
    resolved: dict[str, Any] | None
    problems: list[dict[str, Any]]
    counts: dict[str, Any]
    phases: dict[str, Any]
    error: str | None
    attempts: int
    cores: int
    memory_mb: int
    lease: str | None
    lease_host: str | None
    lease_pid: int | None
    heartbeat_at: float | None
    cancel_requested: bool
    notified: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        d = dict(row)
        return cls(
            id=d["id"], dataset=d["dataset"], name=d["name"], spec_path=d["spec_path"],
            spec_sha256=d["spec_sha256"], status=d["status"], created_at=d["created_at"],
            updated_at=d["updated_at"], started_at=d["started_at"], finished_at=d["finished_at"],
            output_dir=d["output_dir"],
            resolved=json.loads(d["resolved_json"]) if d["resolved_json"] else None,
            problems=json.loads(d["problems_json"]) if d["problems_json"] else [],
            counts=json.loads(d["counts_json"]) if d["counts_json"] else {},
            phases=json.loads(d["phases_json"] or "{}"), error=d["error"], attempts=d["attempts"],
            cores=d["cores"], memory_mb=d["memory_mb"], lease=d["lease"], lease_host=d["lease_host"],
            lease_pid=d["lease_pid"], heartbeat_at=d["heartbeat_at"],
            cancel_requested=bool(d["cancel_requested"]), notified=bool(d["notified"]),
        )

    def lease_is_stale(self, timeout: float, host: str | None = None) -> bool:
        """True when the owner of an active job is gone (dead pid here, or silent too long)."""
        if self.status not in ACTIVE:
            return False
        if self.lease_pid and self.lease_host == (host or socket.gethostname()) and not pid_alive(self.lease_pid):
            return True
        return self.heartbeat_at is None or time.time() - self.heartbeat_at > timeout


@dataclass(frozen=True)
class Event:
    seq: int
    job_id: str
    at: str
    status: str
    message: str | None


class Registry:
    """Access to ``registry.sqlite``; safe to use from many processes at once.

    >>> import tempfile, pathlib
    >>> reg = Registry(pathlib.Path(tempfile.mkdtemp()) / "registry.sqlite")
    >>> job = reg.new_job(dataset="demo", name="demo", spec_path="/in/demo/demo.job.json",
    ...                   spec_sha256="0" * 64, status="queued", day="20250101")
    >>> job, reg.get(job).status
    ('demo_20250101_001', 'queued')
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 60000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._write() as db:
            have = {row[1] for row in db.execute("PRAGMA table_info(jobs)").fetchall()}
            if have:
                for name, kind in _ADDED_COLUMNS.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _event(self, db: sqlite3.Connection, job_id: str, status: str, message: str | None, at: str) -> None:
        db.execute("INSERT INTO events(job_id, at, status, message) VALUES (?,?,?,?)", (job_id, at, status, message))

    # ---- creation -------------------------------------------------------------------------
    def new_job(
        self,
        *,
        dataset: str,
        name: str | None,
        spec_path: str,
        spec_sha256: str | None,
        status: str,
        output_root: str | None = None,
        resolved: dict[str, Any] | None = None,
        problems: list[dict[str, Any]] | None = None,
        cores: int = 1,
        memory_mb: int = 0,
        message: str | None = None,
        day: str | None = None,
        reuse_seen: bool = False,
    ) -> str:
        """Registers a job (``queued`` or ``rejected``) under a fresh id ``<dataset>_<day>_<NNN>``.

        With ``reuse_seen``, a job already made from this exact spec file content is returned
        instead (checked in the same transaction, so two processes never make two jobs of one spec).
        """
        if status not in (QUEUED, REJECTED):
            raise ValueError(status)
        day = day or datetime.now(UTC).strftime("%Y%m%d")
        prefix = f"{dataset}_{day}_"
        at = now_iso()
        with self._write() as db:
            if reuse_seen and spec_sha256:
                row = db.execute("SELECT job_id FROM seen_specs WHERE path = ? AND sha256 = ?",
                                 (spec_path, spec_sha256)).fetchone()
                if row:
                    return str(row[0])
            rows = db.execute("SELECT id FROM jobs WHERE substr(id, 1, ?) = ?", (len(prefix), prefix)).fetchall()
            numbers = [int(r[0][len(prefix):]) for r in rows if r[0][len(prefix):].isdigit()]
            job_id = f"{prefix}{max(numbers, default=0) + 1:03d}"
            output_dir = str(Path(output_root) / dataset / job_id) if output_root else None
            db.execute(
                "INSERT INTO jobs(id, dataset, name, spec_path, spec_sha256, status, created_at, updated_at,"
                " finished_at, output_dir, resolved_json, problems_json, cores, memory_mb)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (job_id, dataset, name, spec_path, spec_sha256, status, at, at,
                 at if status == REJECTED else None, output_dir,
                 json.dumps(resolved) if resolved is not None else None,
                 json.dumps(problems) if problems else None, cores, memory_mb),
            )
            if spec_sha256:
                db.execute("INSERT OR REPLACE INTO seen_specs(path, sha256, job_id) VALUES (?,?,?)",
                           (spec_path, spec_sha256, job_id))
            self._event(db, job_id, status, message, at)
        return job_id

    def spec_seen(self, spec_path: str, sha256: str) -> str | None:
        """The job already made from this exact spec file content, if any."""
        row = self._db.execute("SELECT job_id FROM seen_specs WHERE path = ? AND sha256 = ?", (spec_path, sha256)).fetchone()
        return row[0] if row else None

    # ---- reading --------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise InputError(f"no job {job_id!r} in {self.path}")
        return JobRecord.from_row(row)

    def list(self, *, status: str | None = None, dataset: str | None = None, limit: int | None = None) -> list[JobRecord]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if status:
            sql += " AND status = ?"
            args.append(status)
        if dataset:
            sql += " AND dataset = ?"
            args.append(dataset)
        sql += " ORDER BY created_at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [JobRecord.from_row(r) for r in self._db.execute(sql, args).fetchall()]

    def queued(self) -> list[JobRecord]:
        """Jobs waiting to run, oldest first."""
        rows = self._db.execute("SELECT * FROM jobs WHERE status = ? ORDER BY created_at, id", (QUEUED,)).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    def active(self) -> list[JobRecord]:
        marks = ",".join("?" * len(ACTIVE))
        rows = self._db.execute(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY id", ACTIVE).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    def events(self, job_id: str) -> list[Event]:
        rows = self._db.execute("SELECT * FROM events WHERE job_id = ? ORDER BY seq", (job_id,)).fetchall()
        return [Event(**dict(r)) for r in rows]

    # ---- lifecycle ------------------------------------------------------------------------
    def claim(self, job_id: str, lease: Lease, message: str | None = None) -> bool:
        """``queued`` -> ``running`` under ``lease``; False when someone else got there first."""
        at = now_iso()
        with self._write() as db:
            cur = db.execute(
                "UPDATE jobs SET status = ?, lease = ?, lease_host = ?, lease_pid = ?, heartbeat_at = ?,"
                " attempts = attempts + 1, started_at = COALESCE(started_at, ?), updated_at = ?, error = NULL"
                " WHERE id = ? AND status = ? AND cancel_requested = 0",
                (RUNNING, lease.token, lease.host, lease.pid, time.time(), at, at, job_id, QUEUED),
            )
            if cur.rowcount != 1:
                return False
            self._event(db, job_id, RUNNING, message or f"started (pid {lease.pid} on {lease.host})", at)
        return True

    def adopt(self, job_id: str, old_token: str, lease: Lease) -> None:
        """Hands a lease from the process that claimed the job to the worker that runs it."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE jobs SET lease = ?, lease_host = ?, lease_pid = ?, heartbeat_at = ? WHERE id = ? AND lease = ?",
                (lease.token, lease.host, lease.pid, time.time(), job_id, old_token),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer ours to run")

    def _owned_update(self, job_id: str, token: str, sets: str, args: tuple[Any, ...], status: str | None, message: str | None) -> None:
        at = now_iso()
        with self._write() as db:
            cur = db.execute(f"UPDATE jobs SET {sets}, updated_at = ? WHERE id = ? AND lease = ?", (*args, at, job_id, token))
            if cur.rowcount != 1:
                raise LeaseLost(f"job {job_id} was taken over; this attempt stops")
            if status:
                self._event(db, job_id, status, message, at)

    def set_status(self, job_id: str, token: str, status: str, message: str | None = None) -> None:
        """Moves an owned job to another active phase (querying, loading, visualizing)."""
        self._owned_update(job_id, token, "status = ?, heartbeat_at = ?", (status, time.time()), status, message)

    def note(self, job_id: str, token: str, message: str) -> None:
        """An event that does not change the status (a retry, a skipped phase)."""
        status = self.get(job_id).status
        self._owned_update(job_id, token, "heartbeat_at = ?", (time.time(),), status, message)

    def phase_done(self, job_id: str, token: str, phase: str, info: dict[str, Any]) -> None:
        """Records a finished phase so an interrupted job resumes after it."""
        phases = self.get(job_id).phases
        phases[phase] = info
        self._owned_update(job_id, token, "phases_json = ?", (json.dumps(phases),), None, None)

    def heartbeat(self, job_id: str, token: str) -> bool:
        """Refreshes the lease; returns True when a cancel was requested."""
        with self._write() as db:
            cur = db.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND lease = ?", (time.time(), job_id, token))
            if cur.rowcount != 1:
                raise LeaseLost(f"job {job_id} was taken over")
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row[0])

    def finish(self, job_id: str, token: str, status: str, *, message: str | None = None,
               counts: dict[str, Any] | None = None, error: str | None = None) -> None:
        """The one transition to a final status of an owned job; the lease ends with it."""
        if status not in (DONE, FAILED, CANCELLED):
            raise ValueError(status)
        at = now_iso()
        sets = "status = ?, finished_at = ?, lease = NULL, lease_pid = NULL, error = ?, counts_json = COALESCE(?, counts_json)"
        self._owned_update(job_id, token, sets, (status, at, error, json.dumps(counts) if counts is not None else None), status, message or error)

    def record_counts(self, job_id: str, token: str, counts: dict[str, Any]) -> None:
        self._owned_update(job_id, token, "counts_json = ?", (json.dumps(counts),), None, None)

    def release(self, job_id: str, token: str, message: str) -> None:
        """Gives an owned, unfinished job back to the queue (shutdown); it resumes later."""
        self._owned_update(job_id, token, "status = ?, lease = NULL, lease_pid = NULL, heartbeat_at = NULL", (QUEUED,), QUEUED, message)

    def requeue_stale(self, *, timeout: float, max_attempts: int) -> list[str]:
        """Active jobs whose owner is gone go back to the queue (or fail after too many tries)."""
        touched = []
        for job in self.active():
            if not job.lease_is_stale(timeout):
                continue
            at = now_iso()
            why = f"interrupted (owner pid {job.lease_pid} on {job.lease_host} is gone)"
            with self._write() as db:
                if job.cancel_requested:
                    new, msg, fin = CANCELLED, why + "; cancel was requested", at
                elif job.attempts >= max_attempts:
                    new, msg, fin = FAILED, why + f"; gave up after {job.attempts} attempts", at
                else:
                    new, msg, fin = QUEUED, why + "; will resume", None
                cur = db.execute(
                    "UPDATE jobs SET status = ?, lease = NULL, lease_pid = NULL, heartbeat_at = NULL,"
                    " finished_at = ?, error = CASE WHEN ? = 'failed' THEN ? ELSE error END, updated_at = ?"
                    " WHERE id = ? AND lease IS ?",
                    (new, fin, new, msg, at, job.id, job.lease),
                )
                if cur.rowcount == 1:
                    self._event(db, job.id, new, msg, at)
                    touched.append(job.id)
        return touched

    # ---- user requests --------------------------------------------------------------------
    def request_cancel(self, job_id: str) -> str:
        """Cancels a queued job now, or asks the running owner to stop; returns the new status."""
        job = self.get(job_id)
        at = now_iso()
        if job.status in FINAL:
            raise InputError(f"job {job_id} is already {job.status}")
        with self._write() as db:
            if job.status == QUEUED:
                cur = db.execute("UPDATE jobs SET status = ?, finished_at = ?, updated_at = ?, cancel_requested = 1"
                                 " WHERE id = ? AND status = ?", (CANCELLED, at, at, job_id, QUEUED))
                if cur.rowcount == 1:
                    self._event(db, job_id, CANCELLED, "cancelled before it started", at)
                    return CANCELLED
            db.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", (at, job_id))
            self._event(db, job_id, self.get(job_id).status, "cancel requested", at)
        return "cancelling"

    def retry(self, job_id: str) -> None:
        """A failed or cancelled job goes back to the queue; finished phases are kept."""
        job = self.get(job_id)
        if job.status == REJECTED:
            raise InputError(f"job {job_id} was rejected: fix {job.spec_path} and save it again "
                             "(the watcher picks up the new version), or run it with `fincrime run`")
        if job.status not in (FAILED, CANCELLED):
            raise InputError(f"job {job_id} is {job.status}; only failed or cancelled jobs can be retried")
        at = now_iso()
        with self._write() as db:
            db.execute("UPDATE jobs SET status = ?, cancel_requested = 0, attempts = 0, finished_at = NULL,"
                       " notified = 0, notify_claimed_at = NULL, notify_claims = 0, error = NULL, updated_at = ?"
                       " WHERE id = ?", (QUEUED, at, job_id))
            self._event(db, job_id, QUEUED, f"retry requested (was {job.status})", at)

    def add_event(self, job_id: str, message: str) -> None:
        """An event under the job's current status, from outside its owner (e.g. notifications)."""
        at = now_iso()
        with self._write() as db:
            self._event(db, job_id, self.get(job_id).status, message, at)

    def abort(self, job_id: str, status: str, message: str) -> bool:
        """Ends an active job whose worker was stopped from outside (timeout); False if it already ended."""
        if status not in (FAILED, CANCELLED):
            raise ValueError(status)
        at = now_iso()
        marks = ",".join("?" * len(ACTIVE))
        with self._write() as db:
            cur = db.execute(
                f"UPDATE jobs SET status = ?, finished_at = ?, updated_at = ?, error = ?, lease = NULL, lease_pid = NULL"
                f" WHERE id = ? AND status IN ({marks})", (status, at, at, message, job_id, *ACTIVE))
            if cur.rowcount != 1:
                return False
            self._event(db, job_id, status, message, at)
        return True

    def unnotified(self, *, stale_after: float = NOTIFY_CLAIM_SECONDS) -> list[JobRecord]:
        """Finished jobs whose notifications are owed: never sent, or their sender died mid-way."""
        marks = ",".join("?" * len(FINAL))
        rows = self._db.execute(
            f"SELECT * FROM jobs WHERE notified = 0 AND status IN ({marks})"
            " AND (notify_claimed_at IS NULL OR notify_claimed_at < ?)", (*FINAL, time.time() - stale_after)).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    def claim_notifications(self, job_id: str, *, stale_after: float = NOTIFY_CLAIM_SECONDS,
                            max_claims: int = NOTIFY_MAX_CLAIMS) -> bool:
        """Takes the job's notifications for sending; False when someone else is sending them.

        A claim older than ``stale_after`` died with its process and may be taken again, at
        most ``max_claims`` times in all; after that the notifications are given up (an event
        says so), so a notification that crashes its sender cannot come back for ever.
        """
        at = now_iso()
        now = time.time()
        with self._write() as db:
            row = db.execute("SELECT notified, notify_claimed_at, notify_claims, status FROM jobs WHERE id = ?",
                             (job_id,)).fetchone()
            if row is None or row[0] or row[3] not in FINAL:
                return False
            if row[1] is not None and row[1] >= now - stale_after:
                return False
            if row[2] >= max_claims:
                db.execute("UPDATE jobs SET notified = 1 WHERE id = ?", (job_id,))
                self._event(db, job_id, row[3], f"notifications given up after {row[2]} interrupted attempts", at)
                return False
            db.execute("UPDATE jobs SET notify_claimed_at = ?, notify_claims = notify_claims + 1 WHERE id = ?",
                       (now, job_id))
            self._event(db, job_id, row[3], f"notifying (attempt {row[2] + 1})", at)
        return True

    def notifications_done(self, job_id: str, message: str | None) -> None:
        """The job's notifications are finished with (sent, or failed after their retries)."""
        at = now_iso()
        with self._write() as db:
            db.execute("UPDATE jobs SET notified = 1, notify_claimed_at = NULL WHERE id = ?", (job_id,))
            if message:
                self._event(db, job_id, self.get(job_id).status, message, at)
