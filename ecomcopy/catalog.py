"""The catalog store: products and their search vectors in one SQLite file (the in-context references).

Rows and vectors are written in one transaction, so a product never exists without its vectors (float16 blobs:
half the size, same cosine ranking). The search (`search.py`) and the approvals (`approvals.py`) use the store
through its public methods; the search is told of every write, so its caches and ANN index follow the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .ann import AnnConfig
from .errors import CatalogError
from .products import Product
from .search import CatalogSearch, Hit

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY,
    grp TEXT NOT NULL,
    domain TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    keywords TEXT NOT NULL,          -- JSON list of strings
    attributes TEXT NOT NULL,        -- JSON object
    description TEXT NOT NULL,
    image TEXT NOT NULL,             -- relative to the database's folder, or absolute
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS products_grp ON products (grp);
CREATE TABLE IF NOT EXISTS ann_pending (  -- products written or deleted since the ANN index file was saved
    product_rowid INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS vectors (
    product_id TEXT PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,      -- of the image bytes and keywords the vectors were computed from
    image_vec BLOB NOT NULL,         -- float16, pooled image features
    text_vec BLOB NOT NULL           -- float16, keyword embedding
);
"""


@dataclass
class CatalogProduct(Product):
    image_path: Path | None = None  # resolved absolute path of the photo


def content_hash(image_bytes: bytes, keywords: list[str]) -> str:
    h = hashlib.sha256(image_bytes)
    h.update(json.dumps(keywords).encode())
    return h.hexdigest()[:32]


class Catalog:
    """One SQLite catalog file. Thread-safe for the app's use: one connection guarded by a lock."""

    def __init__(self, path: str | Path, create: bool = False, backend: str = "auto", ann: AnnConfig | None = None) -> None:
        self._touched: set[int] = set()  # product rowids written in the open transaction
        self.path = Path(path).resolve()
        if not create and not self.path.is_file():
            raise CatalogError(f"No catalog at {self.path}. Build one with: python -m ecomcopy index --data DIR --db {path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()  # the search's caches are guarded by it too
        try:
            self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_SCHEMA)
            version = self.get_meta("schema_version")
            if version is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
            elif int(version) != SCHEMA_VERSION:
                raise CatalogError(f"{self.path} has catalog schema {version}; this ecomcopy reads schema {SCHEMA_VERSION}.")
        except sqlite3.DatabaseError as e:
            raise CatalogError(f"{self.path} is not a readable ecomcopy catalog ({e}).") from e
        self.index = CatalogSearch(self, backend, ann)  # exact or ANN search over this store's vectors

    # -- metadata -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def check_encoders(self, image_fingerprint: str, text_fingerprint: str) -> None:
        """Vectors from different encoders are not comparable: refuse to mix them."""
        for key, value in (("image_encoder", image_fingerprint), ("text_encoder", text_fingerprint)):
            stored = self.get_meta(key)
            if stored is None:
                self.set_meta(key, value)
            elif stored != value:
                raise CatalogError(
                    f"{self.path} was indexed with {key.replace('_', ' ')} {stored!r}, not {value!r}; "
                    "re-index it into a new file with the encoder you want."
                )

    # -- rows ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM products").fetchone()[0]

    def stored_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT product_id, content_hash FROM vectors"))

    def _image_ref(self, image: Path) -> str:
        image = image.resolve()
        try:
            return str(image.relative_to(self.path.parent))
        except ValueError:
            return str(image)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write of `execute`, `write_products` and `remove_products` calls (an approval and its product)."""
        with self.lock:
            self._touched = set()
            try:
                with self.db:
                    yield
                    self.index.written(self._touched)
            finally:
                touched, self._touched = self._touched, set()
            self.index.committed(touched)

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """One statement: a write inside `transaction()`, or a read (`query` returns the rows)."""
        return self.db.execute(sql, params)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    def add_tables(self, schema: str) -> None:
        """Tables that live beside the catalog's in its file (the approvals), created once."""
        with self.transaction():
            self.db.executescript(schema)

    def durable(self) -> None:
        """Every commit reaches the disk before it is acknowledged (for what users approve)."""
        self.db.execute("PRAGMA synchronous=FULL")

    def write_products(self, items: Iterable[tuple[Product, Path, str, np.ndarray | None, np.ndarray | None]]) -> int:
        """Insert or update products inside an open `transaction()`; vectors of None keep the stored ones."""
        n = 0
        now = time.time()
        for p, image, chash, ivec, tvec in items:
            self.db.execute(
                "INSERT INTO products (id, grp, domain, name, keywords, attributes, description, image, source, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET grp=excluded.grp, domain=excluded.domain, "
                "name=excluded.name, keywords=excluded.keywords, attributes=excluded.attributes, "
                "description=excluded.description, image=excluded.image, source=excluded.source",
                (p.id, p.group, p.domain, p.name, json.dumps(p.keywords), json.dumps(p.attributes),
                 p.description, self._image_ref(image), p.source, now),
            )
            self._touched.add(self.db.execute("SELECT rowid FROM products WHERE id = ?", (p.id,)).fetchone()[0])
            if ivec is not None and tvec is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO vectors (product_id, content_hash, image_vec, text_vec) VALUES (?, ?, ?, ?)",
                    (p.id, chash, np.asarray(ivec, np.float16).tobytes(), np.asarray(tvec, np.float16).tobytes()),
                )
            n += 1
        return n

    def upsert(self, items: Iterable[tuple[Product, Path, str, np.ndarray | None, np.ndarray | None]]) -> int:
        """Insert or update products in one transaction; refuses (writes nothing) if any would lack vectors."""
        with self.transaction():
            n = self.write_products(items)
            orphans = self.db.execute(
                "SELECT COUNT(*) FROM products p LEFT JOIN vectors v ON v.product_id = p.id WHERE v.product_id IS NULL"
            ).fetchone()[0]
            if orphans:
                raise CatalogError(f"{orphans} product(s) would have no search vectors; nothing was written.")
        return n

    def seed_from(self, base: str | Path) -> int:
        """Copy every product and its vectors from another catalog file (the shipped one) into this one.

        Photos stay where they are: relative paths are rewritten against the base catalog's folder.
        Products of this catalog that the base lacks (approvals) are kept.
        """
        base = Path(base).resolve()
        Catalog(base).close()  # validates the file and its schema
        with self.lock:
            self.db.execute("ATTACH DATABASE ? AS base", (str(base),))  # not allowed inside a transaction
            try:
                with self.transaction():
                    db = self.db
                    for key in ("image_encoder", "text_encoder"):
                        row = db.execute("SELECT value FROM base.meta WHERE key = ?", (key,)).fetchone()
                        mine = self.get_meta(key)
                        if row and mine and row[0] != mine:
                            raise CatalogError(f"{base} was indexed with another {key.replace('_', ' ')}; it cannot seed {self.path}.")
                        if row:
                            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, row[0]))
                    n = db.execute(
                        "INSERT OR REPLACE INTO products (id, grp, domain, name, keywords, attributes, description, image, source, created_at) "
                        "SELECT id, grp, domain, name, keywords, attributes, description, "
                        "CASE WHEN substr(image, 1, 1) = '/' THEN image ELSE ? || image END, source, created_at FROM base.products",
                        (str(base.parent) + "/",),
                    ).rowcount
                    db.execute("INSERT OR REPLACE INTO vectors SELECT * FROM base.vectors")
            finally:
                self.db.execute("DETACH DATABASE base")
            self.index.reseeded()
        return n

    def remove_products(self, product_ids: Iterable[str]) -> int:
        """Delete products (and, by cascade, their vectors) inside an open `transaction()`."""
        n = 0
        for pid in product_ids:
            row = self.db.execute("SELECT rowid FROM products WHERE id = ?", (pid,)).fetchone()
            if row:
                self._touched.add(row[0])
                n += self.db.execute("DELETE FROM products WHERE id = ?", (pid,)).rowcount
        return n

    def delete(self, product_id: str) -> bool:
        with self.transaction():
            return self.remove_products([product_id]) > 0

    def _row_to_product(self, row: tuple) -> CatalogProduct:
        pid, grp, domain, name, kw, attrs, desc, image, source = row
        path = Path(image)
        return CatalogProduct(
            id=pid, group=grp, name=name, keywords=json.loads(kw), description=desc, image=image, domain=domain,
            attributes=json.loads(attrs), source=source, image_path=path if path.is_absolute() else self.path.parent / path,
        )

    _COLUMNS = "id, grp, domain, name, keywords, attributes, description, image, source"

    def get(self, product_id: str) -> CatalogProduct:
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM products WHERE id = ?", (product_id,)).fetchone()
        if row is None:
            raise CatalogError(f"No product {product_id!r} in the catalog.")
        return self._row_to_product(row)

    def products(self, limit: int | None = None) -> list[CatalogProduct]:
        sql = f"SELECT {self._COLUMNS} FROM products ORDER BY rowid" + (" LIMIT ?" if limit else "")
        return [self._row_to_product(r) for r in self.db.execute(sql, (limit,) if limit else ())]

    def search(self, image_vec: np.ndarray | None = None, text_vec: np.ndarray | None = None, k: int = 3, **kw) -> list[Hit]:
        """Top-k products by the fused similarity (`search.CatalogSearch.search`)."""
        return self.index.search(image_vec, text_vec, k, **kw)

    # -- vectors, for the search ------------------------------------------------------------
    _VECTOR_ROWS = "SELECT p.rowid, p.id, p.grp, v.image_vec, v.text_vec FROM products p JOIN vectors v ON v.product_id = p.id"

    def vector_rows(self, rowids: list[int] | None = None) -> list[tuple]:
        """(rowid, id, group, image vector, keyword vector) of the products with vectors (of `rowids` only,
        when given), by rowid; vectors are float16 bytes."""
        if rowids is None:
            return self.db.execute(f"{self._VECTOR_ROWS} ORDER BY p.rowid").fetchall()
        out = []
        for i in range(0, len(rowids), 900):  # SQLite's bound-parameter limit
            chunk = rowids[i : i + 900]
            out += self.db.execute(f"{self._VECTOR_ROWS} WHERE p.rowid IN ({','.join('?' * len(chunk))}) ORDER BY p.rowid", chunk).fetchall()
        return out

    def vector_rowids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT p.rowid FROM products p JOIN vectors v ON v.product_id = p.id ORDER BY p.rowid")]

    def count_vectors(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def max_rowid(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM products").fetchone()[0]

    def close(self) -> None:
        self.index.close()
        self.db.close()


def open_catalog(path: Path, seed: Path | None) -> Catalog:
    """Open the working catalog, (re)seeding it from `seed` when it is new or the seed file changed."""
    if seed is None:
        return Catalog(path)
    seed = Path(seed).resolve()
    st = seed.stat()
    key = f"{seed}|{st.st_size}|{st.st_mtime_ns}"
    catalog = Catalog(path, create=True)
    if catalog.get_meta("seeded_from") != key:
        n = catalog.seed_from(seed)
        catalog.set_meta("seeded_from", key)
        log.info("working catalog %s seeded with %d products from %s", path, n, seed)
    return catalog
