"""Approved descriptions: the copy editor's decisions, kept durably in the working catalog's SQLite file.

An approval and the catalog product it becomes are written in one transaction, so the catalog never
holds a product without its approval (or the reverse) even if the process is killed mid-write; WAL
with synchronous=FULL makes an acknowledged approval survive a crash. The approved product joins the
candidate set, so later similar products retrieve it: the shop's own voice becomes the reference.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .audit import SCHEMA as AUDIT_SCHEMA, write_entry
from .catalog import Catalog, content_hash
from .errors import InputError
from .products import Product
from .request import MAX_FINAL_CHARS
from .spreadsheet import safe_cell

PHOTO_MAX_SIDE = 1024  # stored copies are re-encoded (no EXIF, bounded size)
APPROVED_DOMAIN = "approved"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    photo TEXT NOT NULL DEFAULT '',    -- stored copy of the merchant's photo ('' if none)
    keywords TEXT NOT NULL,            -- JSON list
    reference TEXT NOT NULL,           -- JSON snapshot of the reference used (id, name, keywords, description)
    drafts TEXT NOT NULL,              -- JSON list of every draft shown
    chosen TEXT NOT NULL,              -- the draft picked
    final TEXT NOT NULL,               -- the edited text approved
    writer TEXT NOT NULL DEFAULT '',
    product_id TEXT,                   -- the catalog product it became; NULL when kept out of the catalog
    listing TEXT NOT NULL DEFAULT '',  -- JSON of the listing approved with it (listing.Listing); '' = none
    status TEXT NOT NULL DEFAULT 'approved',  -- or 'submitted' (a writer's, waiting for review), 'rejected' (`review_queue.py`)
    reason TEXT NOT NULL DEFAULT '',   -- why it was rejected
    version INTEGER NOT NULL DEFAULT 1,  -- edits of the approved text (each one's before/after is in the audit trail)
    to_catalog INTEGER NOT NULL DEFAULT 1  -- a submitted text joins the catalog when approved (unless kept out)
);
"""
# columns files from before them lack
_ADDED_COLUMNS = {"listing": "TEXT NOT NULL DEFAULT ''", "status": "TEXT NOT NULL DEFAULT 'approved'", "reason": "TEXT NOT NULL DEFAULT ''",
                  "version": "INTEGER NOT NULL DEFAULT 1", "to_catalog": "INTEGER NOT NULL DEFAULT 1"}

EXPORT_FIELDS = ["id", "created_at", "keywords", "final", "chosen", "reference_id", "reference_name", "drafts", "writer", "in_catalog", "photo"]


@dataclass
class Approval:
    id: int
    created_at: float
    photo: str
    keywords: list[str]
    reference: dict
    drafts: list[str]
    chosen: str
    final: str
    writer: str
    product_id: str | None
    listing: dict = field(default_factory=dict)  # `Listing.to_dict()` without its HTML; {} = approved without one
    status: str = "approved"  # or "submitted", "rejected" (`review_queue.py`)
    reason: str = ""
    version: int = 1
    to_catalog: bool = True

    @property
    def photo_file(self) -> str | None:
        """The stored photo's path while the file is there (None: approved without one, or it went missing)."""
        return self.photo if self.photo and Path(self.photo).is_file() else None

    def to_dict(self) -> dict:
        """The JSON the API returns for an approval."""
        return {"id": self.id, "created_at": self.created_at, "keywords": self.keywords, "final": self.final, "chosen": self.chosen,
                "reference_id": self.reference.get("id"), "drafts": self.drafts, "writer": self.writer, "catalog_product_id": self.product_id,
                "listing": self.listing, "status": self.status, "reason": self.reason, "version": self.version}

    def export_row(self) -> dict:
        """One flat row for spreadsheets; cells that a spreadsheet would run as a formula are quoted."""
        row = {
            "id": self.id,
            "created_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.created_at)) + " UTC",
            "keywords": ", ".join(self.keywords),
            "final": self.final,
            "chosen": self.chosen,
            "reference_id": self.reference.get("id", ""),
            "reference_name": self.reference.get("name", ""),
            "drafts": " || ".join(self.drafts),
            "writer": self.writer,
            "in_catalog": "yes" if self.product_id else "no",
            "photo": Path(self.photo).name if self.photo else "",
        }
        return {k: safe_cell(v) for k, v in row.items()}


def checked_final(final: str | None) -> str:
    """The text to store, stripped; refused when empty or too long."""
    final = (final or "").strip()
    if not final:
        raise InputError("There is no text to approve: pick a draft or write the description first.")
    if len(final) > MAX_FINAL_CHARS:
        raise InputError(f"The description is {len(final):,} characters; approvals are limited to {MAX_FINAL_CHARS:,}.")
    return final


class ApprovalStore:
    def __init__(self, catalog: Catalog, photo_dir: str | Path, product_prefix: str = "approved-") -> None:
        self.catalog, self.product_prefix = catalog, product_prefix  # approval N becomes catalog product f"{prefix}{N}"
        self.photo_dir = Path(photo_dir)
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        catalog.durable()  # an acknowledged approval is on disk
        catalog.add_tables(_SCHEMA)
        catalog.add_tables(AUDIT_SCHEMA)  # who approved and deleted, written in the same transactions
        have = {r[1] for r in catalog.query("PRAGMA table_info(approvals)")}
        with catalog.transaction():
            for name, kind in _ADDED_COLUMNS.items():
                if name not in have:
                    catalog.execute(f"ALTER TABLE approvals ADD COLUMN {name} {kind}")

    # -- writing ------------------------------------------------------------------------------
    def photo_path(self, image: Image.Image) -> tuple[Path, bytes]:
        """Where a photo's stored copy goes (named by its content) and its bytes: a JPEG re-encoded at most
        PHOTO_MAX_SIDE px, without EXIF."""
        img = image.convert("RGB")
        img.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        data = buf.getvalue()
        return self.photo_dir / f"{hashlib.sha256(data).hexdigest()[:24]}.jpg", data

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Written and fsynced before any row points at it."""
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    def add(
        self,
        keywords: list[str],
        reference: dict,
        drafts: list[str],
        chosen: str,
        final: str,
        writer: str = "",
        image: Image.Image | None = None,
        vectors: tuple[np.ndarray, np.ndarray] | None = None,
        listing: dict | None = None,
        user: str | None = None,
        status: str = "approved",
        to_catalog: bool = True,
    ) -> Approval:
        """Store an approval (or a writer's text submitted for review: `status`), and who made it in the audit
        trail, in one transaction; with `vectors` (image, keywords) and a photo it also joins the catalog. The
        photo is written inside the transaction, after every check, and removed again if the transaction fails."""
        final = checked_final(final)
        if status not in ("approved", "submitted"):
            raise ValueError(status)
        photo, data = self.photo_path(image) if image is not None else (None, b"")
        created = False
        try:
            with self.catalog.transaction():  # holds the catalog's lock: no delete() between the photo and its row
                if photo is not None and not photo.exists():
                    self._write(photo, data)
                    created = True
                aid = self._insert(keywords, reference, drafts, chosen, final, writer, photo, listing, status, to_catalog)
                if vectors is not None and photo is not None:
                    self.join_catalog(aid, keywords, final, photo, vectors)
                write_entry(self.catalog, user, "approve" if status == "approved" else "submit", f"approval {aid}",
                            after={"final": final, "keywords": keywords})
        except BaseException:
            if created:
                photo.unlink(missing_ok=True)
            raise
        return self.get(aid)

    def _insert(self, keywords, reference, drafts, chosen, final, writer, photo: Path | None, listing: dict | None, status: str,
                to_catalog: bool) -> int:
        cur = self.catalog.execute(
            "INSERT INTO approvals (created_at, photo, keywords, reference, drafts, chosen, final, writer, product_id, listing, status, "
            "to_catalog) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
            (time.time(), str(photo or ""), json.dumps(keywords), json.dumps(reference), json.dumps(drafts), chosen or "", final, writer,
             json.dumps(listing, ensure_ascii=False) if listing else "", status, int(to_catalog)),
        )
        return int(cur.lastrowid)

    def join_catalog(self, aid: int, keywords: list[str], final: str, photo: Path, vectors: tuple[np.ndarray, np.ndarray]) -> None:
        """The approved product joins the catalog (inside the caller's transaction): later products retrieve it."""
        pid = f"{self.product_prefix}{aid}"
        product = Product(
            id=pid, group=pid, name=keywords[0] if keywords else "Approved product", keywords=keywords,
            description=final, image=str(photo), domain=APPROVED_DOMAIN, attributes={},
            source=f"approved in ecomcopy on {time.strftime('%Y-%m-%d', time.gmtime())}",
        )
        chash = content_hash(photo.read_bytes(), keywords)
        self.catalog.write_products([(product, photo, chash, vectors[0], vectors[1])])
        self.catalog.execute("UPDATE approvals SET product_id = ? WHERE id = ?", (pid, aid))

    def delete(self, approval_id: int, user: str | None = None) -> bool:
        """Remove an approval and the catalog product it became, and record who did (one transaction); the photo
        goes if unused."""
        with self.catalog.transaction():  # the photo's use is counted and it is removed under the same lock as add()
            try:
                a = self.get(approval_id)  # read under the lock: an approval decided meanwhile takes its product along
            except InputError:
                return False
            self.catalog.execute("DELETE FROM approvals WHERE id = ?", (a.id,))
            write_entry(self.catalog, user, "delete", f"approval {a.id}", before={"final": a.final, "keywords": a.keywords})
            if a.product_id:
                self.catalog.remove_products([a.product_id])
            if a.photo and not self.catalog.query("SELECT 1 FROM approvals WHERE photo = ? LIMIT 1", (a.photo,)):
                Path(a.photo).unlink(missing_ok=True)
        return True

    # -- reading ------------------------------------------------------------------------------
    _COLUMNS = "id, created_at, photo, keywords, reference, drafts, chosen, final, writer, product_id, listing, status, reason, version, to_catalog"

    @staticmethod
    def _row(r: tuple) -> Approval:
        return Approval(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), json.loads(r[5]), r[6], r[7], r[8], r[9],
                        json.loads(r[10]) if r[10] else {}, r[11], r[12], r[13], bool(r[14]))

    def get(self, approval_id: int) -> Approval:
        try:
            aid = int(approval_id)
        except (TypeError, ValueError):
            raise InputError(f"{approval_id!r} is not an approval number.") from None
        rows = self.catalog.query(f"SELECT {self._COLUMNS} FROM approvals WHERE id = ?", (aid,))
        if not rows:
            raise InputError(f"There is no approval #{aid} (it may have been deleted).")
        return self._row(rows[0])

    def list(self, query: str = "", limit: int = 200, status: str | None = None) -> list[Approval]:
        """Newest first; `query` matches keywords, the text or the reference (case-insensitive); `status`: only those."""
        like = f"%{query.strip()}%"
        rows = self.catalog.query(
            f"SELECT {self._COLUMNS} FROM approvals WHERE (keywords LIKE ? OR final LIKE ? OR reference LIKE ?) AND status LIKE ? "
            "ORDER BY id DESC LIMIT ?",
            (like, like, like, status or "%", int(limit)),
        )
        return [self._row(r) for r in rows]

    def __len__(self) -> int:
        return self.catalog.query("SELECT COUNT(*) FROM approvals")[0][0]


    def export_csv(self, path: str | Path, query: str = "") -> Path:
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=EXPORT_FIELDS)
            w.writeheader()
            for a in self.list(query, limit=1_000_000, status="approved"):
                w.writerow(a.export_row())
        return path

    def export_json(self, path: str | Path, query: str = "") -> Path:
        path = Path(path)
        rows = [asdict(a) | {"photo": Path(a.photo).name if a.photo else ""}  # no server paths
                for a in self.list(query, limit=1_000_000, status="approved")]
        path.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
        return path
