"""The audit trail (issue 22): who approved, deleted or exported what, and when. Append-only for the app: SQLite
triggers refuse any UPDATE or DELETE of its rows, so no code path of the app can rewrite it (whoever can write the
database file itself can drop them: keep the data folder the app's own)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .catalog import Catalog

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, before TEXT, after TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
LOCAL_USER = "local"  # sign-in off: the one person at this machine


@dataclass
class Entry:
    id: int
    at: float
    user: str
    action: str  # approve, delete, export, ...
    target: str  # "approval 12", "approvals matching 'dress'", ...
    before: object = None
    after: object = None


class AuditTrail:
    """Kept in the catalog's database, beside the approvals it records."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        catalog.add_tables(SCHEMA)

    def record(self, user: str | None, action: str, target: str, before: object = None, after: object = None) -> None:
        with self.catalog.transaction():
            write_entry(self.catalog, user, action, target, before, after)

    def approvers(self, approval_ids: list[int], actions: tuple[str, ...] = ("approve",)) -> dict[int, str]:
        """Who last did one of `actions` (approve, submit, reject) to each of these approvals (those from before the
        trail existed are missing)."""
        targets = {f"approval {i}": i for i in approval_ids}
        rows = self.catalog.query(f"SELECT target, user FROM audit WHERE action IN ({','.join('?' * len(actions))}) AND "
                                  f"target IN ({','.join('?' * len(targets))}) ORDER BY id", (*actions, *targets)) if targets else []
        return {targets[t]: u for t, u in rows}

    def entries(self, limit: int = 500) -> list[Entry]:
        rows = self.catalog.query("SELECT id, at, user, action, target, before, after FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [Entry(*r[:5], *(json.loads(x) if x else None for x in r[5:])) for r in rows]


def write_entry(catalog: Catalog, user: str | None, action: str, target: str, before: object = None, after: object = None) -> None:
    """One row, inside the caller's open transaction: an approval and the record of who made it commit together."""
    catalog.execute("INSERT INTO audit (at, user, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?)",
                    (time.time(), user or LOCAL_USER, action, target, _json(before), _json(after)))


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
