"""Who may use the app and what each may do (issue 22): users with roles in SQLite, passwords kept only as
Argon2id hashes (argon2-cffi), checked in constant time whether or not the name exists.

Roles, each with what the one before it may do: a *writer* drafts, edits and submits for approval; an *editor* also
approves, rejects, deletes and exports; an *admin* also manages users and settings.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import InputError

ROLES = ("writer", "editor", "admin")
NEEDS = {"draft": "writer", "submit": "writer", "approve": "editor", "reject": "editor", "delete": "editor",
         "export": "editor", "users": "admin"}  # the least role for each action
MIN_PASSWORD = 10
LOCKOUT_FAILURES, LOCKOUT_S = 5, 900  # failed sign-ins of one name within 15 minutes before it is refused unchecked
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_at REAL NOT NULL
);
"""


class Refused(InputError):
    """An action the signed-in user's role does not allow (nothing was written)."""


def allows(role: str | None, action: str) -> bool:
    """Whether `role` may do `action` (a key of NEEDS); None is nobody."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(NEEDS[action])


def require(role: str | None, action: str, user: str | None = None) -> None:
    if not allows(role, action):
        who = f"{user} ({role})" if user and role else "You are not signed in, so you"
        raise Refused(f"{who} cannot {action}: that needs the {NEEDS[action]} role. Ask an admin if you should.")


class UserStore:
    """The users of one app (`users.db` in its data folder)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)  # hashes are for the app's eyes only
        os.chmod(self.path, 0o600)
        self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()
        self.hasher = PasswordHasher()  # Argon2id, the library's (RFC 9106) defaults: salted and slow
        self._dummy = self.hasher.hash("an unknown user's password is checked against this")
        self._failures: dict[str, list[float]] = {}  # name -> times of its recent failed sign-ins
        self._checks = anyio.CapacityLimiter(2)  # hash checks at once: each takes 64 MiB and tens of ms

    def add(self, name: str, role: str, password: str) -> None:
        name = _name(name)
        _check_role(role)
        if len(password) < MIN_PASSWORD:
            raise InputError(f"A password needs at least {MIN_PASSWORD} characters.")
        with self.lock, self.db:
            if self.db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise InputError(f"There is already a user {name!r}; change their role with 'users role'.")
            self.db.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (name, role, self.hasher.hash(password), time.time()))

    def set_role(self, name: str, role: str) -> None:
        _check_role(role)
        with self.lock, self.db:
            if self.db.execute("UPDATE users SET role = ? WHERE name = ?", (role, name)).rowcount == 0:
                raise InputError(f"There is no user {name!r}.")

    def remove(self, name: str) -> None:
        with self.lock, self.db:
            if self.db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise InputError(f"There is no user {name!r}.")

    def role_of(self, name: str | None) -> str | None:
        row = self.db.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone() if name else None
        return row[0] if row else None

    def list(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT name, role FROM users ORDER BY name").fetchall()

    async def sign_in(self, name: str, password: str) -> bool:
        """Gradio's `auth` hook (awaited by its login route): the hash check runs off the event loop, two at a time,
        so a flood of sign-ins cannot stall everyone's page."""
        return await anyio.to_thread.run_sync(self.check, name, password, limiter=self._checks)

    def check(self, name: str, password: str) -> bool:
        """The name and password match a user. An unknown name costs the same hash check. After `LOCKOUT_FAILURES`
        failures within `LOCKOUT_S`, a name is refused without a check until they age out (guessing is slowed)."""
        now = time.time()
        recent = [t for t in self._failures.get(name, []) if now - t < LOCKOUT_S]
        if len(recent) >= LOCKOUT_FAILURES:
            self._failures[name] = recent
            return False
        ok = self._verify(name, password)
        if ok:
            self._failures.pop(name, None)
        else:
            self._failures[name] = recent + [now]
        return ok

    def _verify(self, name: str, password: str) -> bool:
        row = self.db.execute("SELECT hash FROM users WHERE name = ?", (name,)).fetchone()
        try:
            ok = self.hasher.verify(row[0] if row else self._dummy, password or "")
        except (VerificationError, InvalidHashError):
            return False
        if ok and row and self.hasher.check_needs_rehash(row[0]):
            with self.lock, self.db:
                self.db.execute("UPDATE users SET hash = ? WHERE name = ?", (self.hasher.hash(password), name))
        return ok and row is not None

    def close(self) -> None:
        self.db.close()


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise InputError("A user name is 1-64 printable characters without spaces.")
    return name


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
