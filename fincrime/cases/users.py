"""People who use the console and the API: roles, passwords, API tokens and login sessions.

Passwords are hashed with scrypt (a salt per user; the cost parameters are stored with the
hash, so they can be raised later). API tokens and session ids are random 256-bit secrets;
only their SHA-256 is stored, so a copy of the database gives no way in. Roles are ordered:
an ``admin`` may do what a ``reviewer`` may, a ``reviewer`` what an ``investigator`` may.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fincrime.cases.db import Casework, NotFound
from fincrime.errors import InputError
from fincrime.jobs.registry import now_iso

ROLES = ("investigator", "reviewer", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# scrypt cost: 2^15 * 8 * 128 bytes = 32 MiB and about 0.1 s per check on this class of machine.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
SESSION_SECONDS = 8 * 3600
TOKEN_PREFIX = "fct_"


class AccessDenied(InputError):
    """Bad credentials, or a role too low for the action."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$N$r$p$salt$hash`` (salt and hash base64url).

    >>> h = hash_password("correct horse battery", n=1024)
    >>> h.startswith("scrypt$1024$8$1$"), verify_password("correct horse battery", h), verify_password("x", h)
    (True, True, False)
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 << 20, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or len(password) > MAX_PASSWORD:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=256 << 20, dklen=len(_unb64(digest)))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"passwords need at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"passwords may have at most {MAX_PASSWORD} characters"
    return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    username: str
    full_name: str
    email: str
    role: str
    disabled: bool

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or above it."""
        return not self.disabled and RANK[self.role] >= RANK[role]

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "full_name": self.full_name, "email": self.email,
                "role": self.role, "disabled": self.disabled}

    @property
    def display(self) -> str:
        return self.full_name or self.username


def _user(row: Any) -> User:
    return User(row["id"], row["username"], row["full_name"], row["email"], row["role"], bool(row["disabled"]))


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: float


class Users:
    """Users, tokens and sessions of one casework database."""

    def __init__(self, cw: Casework) -> None:
        self.cw = cw

    # ---- users ------------------------------------------------------------------------------
    def add(self, username: str, role: str, password: str | None, *, full_name: str = "", email: str = "",
            actor: str = "cli") -> User:
        if not USERNAME.match(username):
            raise InputError(f"user name {username!r}: 2-32 characters, lower-case letters, digits, '.', '_', '-', "
                             "starting with a letter")
        if role not in ROLES:
            raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
        if password is not None and (why := password_problem(password)):
            raise InputError(why)
        hashed = hash_password(password) if password is not None else None
        at = now_iso()
        with self.cw.write() as db:
            if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise InputError(f"user {username!r} exists already")
            db.execute("INSERT INTO users(username, full_name, email, role, password_hash, created_at, updated_at)"
                       " VALUES (?,?,?,?,?,?,?)", (username, full_name[:200], email[:200], role, hashed, at, at))
            self.cw.audit(db, actor, "user.add", f"user:{username}", role=role, full_name=full_name, email=email)
        return self.get(username)

    def get(self, username: str) -> User:
        row = self.cw.db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise NotFound(f"no user {username!r}")
        return _user(row)

    def by_id(self, user_id: int) -> User | None:
        row = self.cw.db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def list(self) -> list[User]:
        return [_user(r) for r in self.cw.db.execute("SELECT * FROM users ORDER BY username").fetchall()]

    def set_password(self, username: str, password: str, *, actor: str = "cli") -> None:
        if why := password_problem(password):
            raise InputError(why)
        user = self.get(username)
        with self.cw.write() as db:
            db.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                       (hash_password(password), now_iso(), user.id))
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
            self.cw.audit(db, actor, "user.password", f"user:{username}")

    def set_role(self, username: str, role: str, *, actor: str = "cli") -> None:
        if role not in ROLES:
            raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
        user = self.get(username)
        with self.cw.write() as db:
            db.execute("UPDATE users SET role = ?, updated_at = ? WHERE id = ?", (role, now_iso(), user.id))
            self.cw.audit(db, actor, "user.role", f"user:{username}", old=user.role, new=role)

    def set_disabled(self, username: str, disabled: bool, *, actor: str = "cli") -> None:
        user = self.get(username)
        with self.cw.write() as db:
            db.execute("UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?", (int(disabled), now_iso(), user.id))
            if disabled:
                db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
                db.execute("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", (now_iso(), user.id))
            self.cw.audit(db, actor, "user.disable" if disabled else "user.enable", f"user:{username}")

    def authenticate(self, username: str, password: str) -> User:
        """The user with these credentials; :class:`AccessDenied` (one message for every cause) otherwise."""
        row = self.cw.db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        # Hash even for unknown users, so the answer time does not tell which names exist.
        stored = row["password_hash"] if row else _DUMMY_HASH
        ok = verify_password(password, stored)
        if not row or not ok or row["disabled"]:
            raise AccessDenied("wrong user name or password")
        return _user(row)

    # ---- API tokens -------------------------------------------------------------------------
    def create_token(self, username: str, name: str, *, days: float | None = None, actor: str = "cli") -> str:
        """A new API token for ``username``; the secret is returned once and stored only hashed."""
        user = self.get(username)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        expires = time.time() + days * 86400 if days else None
        with self.cw.write() as db:
            db.execute("INSERT INTO tokens(id, user_id, name, secret_sha256, created_at, expires_at) VALUES (?,?,?,?,?,?)",
                       (token_id, user.id, name[:100], _sha256(secret), now_iso(), expires))
            self.cw.audit(db, actor, "token.create", f"user:{username}", token=token_id, name=name, days=days)
        return f"{TOKEN_PREFIX}{token_id}_{secret}"

    def tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT t.id, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at, u.username"
               " FROM tokens t JOIN users u ON u.id = t.user_id")
        args: list[Any] = []
        if username:
            sql += " WHERE u.username = ?"
            args.append(username)
        return [dict(r) for r in self.cw.db.execute(sql + " ORDER BY t.created_at", args).fetchall()]

    def revoke_token(self, token_id: str, *, actor: str = "cli") -> None:
        with self.cw.write() as db:
            cur = db.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now_iso(), token_id))
            if cur.rowcount != 1:
                    raise NotFound(f"no active token {token_id!r}")
            self.cw.audit(db, actor, "token.revoke", f"token:{token_id}")

    def by_token(self, token: str) -> User | None:
        m = re.fullmatch(rf"{TOKEN_PREFIX}([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,100}})", token)
        if not m:
            return None
        row = self.cw.db.execute(
            "SELECT t.secret_sha256, t.expires_at, t.revoked_at, t.last_used_at, u.* FROM tokens t"
            " JOIN users u ON u.id = t.user_id WHERE t.id = ?", (m.group(1),)).fetchone()
        if row is None or not hmac.compare_digest(row["secret_sha256"], _sha256(m.group(2))):
            return None
        if row["revoked_at"] or (row["expires_at"] and row["expires_at"] < time.time()) or row["disabled"]:
            return None
        now = now_iso()
        if (row["last_used_at"] or "")[:16] != now[:16]:  # at most one write a minute per token
            with self.cw.write() as db:
                db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now, m.group(1)))
        return _user(row)

    # ---- browser sessions -------------------------------------------------------------------
    def start_session(self, user: User, *, seconds: float = SESSION_SECONDS) -> tuple[str, Session]:
        """A new session: (cookie value, session with its CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self.cw.write() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute("INSERT INTO sessions(id_sha256, user_id, csrf, created_at, expires_at) VALUES (?,?,?,?,?)",
                       (_sha256(sid), user.id, csrf, now, now + seconds))
            self.cw.audit(db, user.username, "session.login", f"user:{user.username}")
        return sid, Session(user, csrf, now + seconds)

    def session(self, sid: str) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        row = self.cw.db.execute(
            "SELECT s.csrf, s.expires_at, u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_sha256 = ?",
            (_sha256(sid),)).fetchone()
        if row is None or row["expires_at"] < time.time() or row["disabled"]:
            return None
        return Session(_user(row), row["csrf"], row["expires_at"])

    def end_session(self, sid: str) -> None:
        session = self.session(sid)
        with self.cw.write() as db:
            db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (_sha256(sid),))
            if session:
                self.cw.audit(db, session.user.username, "session.logout", f"user:{session.user.username}")


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
