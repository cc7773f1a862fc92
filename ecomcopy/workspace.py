"""Where a user's approvals, History and audit trail live: the shared ones of a team, or in public demo mode one
private workspace per visitor's browser session.

A visitor's workspace is its own small catalog file (an overlay) with its approvals, their photos and its audit
trail. The shared catalog is read-only to visitors: their approved products join their overlay (as
`session-approved-N`, never an id of the shared catalog), which only their own later drafts search beside the
shared catalog (`Pipeline.references`). A workspace is deleted a little after its page closes (a dropped connection
that comes back keeps it), when it has gone unused for `ttl_s`, when more than `max_sessions` are live (least
recently used first), and when the app starts again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .approvals import ApprovalStore
from .audit import AuditTrail
from .catalog import Catalog
from .config import DEMO_CLOSED_GRACE_S
from .errors import InputError

log = logging.getLogger(__name__)


@dataclass
class Workspace:
    approvals: ApprovalStore
    audit: AuditTrail
    overlay: Catalog | None = None  # a visitor's own approved products; None: approvals join the shared catalog
    max_approvals: int | None = None  # a visitor's session holds at most this many
    files: tuple[Path, ...] = ()  # what is deleted with it: its database and its photos' folder
    used_at: float = field(default_factory=time.monotonic)

    def check_room(self) -> None:
        """Refuse an approval past the session's limit (public demo), before anything is written."""
        if self.max_approvals is not None and len(self.approvals) >= self.max_approvals:
            raise InputError(f"This demo session holds at most {self.max_approvals} approvals: delete some in History first.")

    def close(self) -> None:
        """Under the catalog's lock: a request writing to it finishes first (a later one finds it gone)."""
        if self.overlay is not None:
            with self.overlay.lock:
                self.overlay.close()
        for path in self.files:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            for wal in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                wal.unlink(missing_ok=True)


def shared_workspace(approvals: ApprovalStore) -> Workspace:
    """A team's (or one person's) workspace: the working catalog's approvals and trail."""
    return Workspace(approvals, AuditTrail(approvals.catalog))


class SessionWorkspaces:
    """The public demo's private workspaces, one per browser session (Gradio's session hash)."""

    def __init__(self, root: Path, encoders: tuple[str, str], ttl_s: float, max_sessions: int, max_approvals: int) -> None:
        self.root, self.encoders = Path(root), encoders
        self.ttl_s, self.max_sessions, self.max_approvals = ttl_s, max_sessions, max_approvals
        self._live: dict[str, Workspace] = {}
        self._lock = threading.Lock()
        shutil.rmtree(self.root, ignore_errors=True)  # sessions of an earlier run cannot come back: their pages are gone
        for folder in (self.root, self.photos, self.root / "db"):
            folder.mkdir(parents=True, mode=0o700)

    @property
    def photos(self) -> Path:
        """The sessions' photos, which the page may show (each session's under its own random name); their
        databases are beside it, never served."""
        return self.root / "photos"

    def get(self, session: str, create: bool = True) -> Workspace | None:
        """The session's workspace, made now if `create` (else None when it has none); expired ones are deleted first."""
        if not session:
            raise InputError("This request has no browser session; open the page again.")
        key = hashlib.sha256(session.encode()).hexdigest()
        with self._lock:
            self._expire(time.monotonic(), room=create and key not in self._live)
            ws = self._live.get(key)
            if ws is None and create:
                ws = self._live[key] = self._open()
            if ws is not None:
                ws.used_at = time.monotonic()
            return ws

    def _open(self) -> Workspace:
        """A new workspace under a random name (not derived from the session hash, which the browser chose)."""
        name = secrets.token_hex(16)
        db, photos = self.root / "db" / f"{name}.db", self.photos / name
        overlay = Catalog(db, create=True)
        overlay.check_encoders(*self.encoders)
        store = ApprovalStore(overlay, photos, product_prefix="session-approved-")
        return Workspace(store, AuditTrail(overlay), overlay, self.max_approvals, (db, photos))

    def _expire(self, now: float, room: bool) -> None:
        gone = [self._live.pop(k) for k in [k for k, ws in self._live.items() if now - ws.used_at > self.ttl_s]]
        while room and len(self._live) >= self.max_sessions:  # room for a new one: the least recently used goes
            gone.append(self._live.pop(min(self._live, key=lambda k: self._live[k].used_at)))
        for ws in gone:
            ws.close()
        if gone:
            log.info("deleted %d demo session(s): unused for %.0f s, or the oldest of too many", len(gone), self.ttl_s)

    def drop(self, session: str, grace_s: float = DEMO_CLOSED_GRACE_S) -> None:
        """The page was closed, or its connection dropped: its session's approvals, photos and overlay go `grace_s`
        later (at most its time to live) unless the page comes back and uses it."""
        key = hashlib.sha256((session or "").encode()).hexdigest()
        with self._lock:
            ws = self._live.get(key)
            if ws is not None:
                ws.used_at = min(ws.used_at, time.monotonic() - self.ttl_s + min(grace_s, self.ttl_s))
                log.info("a demo page closed: its session is deleted in %.0f s unless it comes back", min(grace_s, self.ttl_s))

    def __len__(self) -> int:
        return len(self._live)
