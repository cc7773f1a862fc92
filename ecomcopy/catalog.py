"""The catalog: products and their search vectors in one SQLite file, searched for the in-context reference.

Rows and vectors are written in one transaction, so a product never exists without its vectors.
Vectors are stored as float16 blobs (half the size; cosine ranking is unaffected at this precision).
Search is exact (a matrix product over all vectors), fusing image and keyword similarity.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Iterable, Iterator

import numpy as np

from .ann import AnnConfig, AnnIndex, joint
from .errors import CatalogError
from .products import Product

SCHEMA_VERSION = 1
DEFAULT_IMAGE_WEIGHT = 0.5  # share of image similarity in the fused score; 1.0 = image-only, as in the paper
ANN_MIN_PRODUCTS = 50_000  # "auto" switches from exact search to the ANN index at this catalog size
BACKENDS = ("auto", "exact", "ann")

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


@dataclass
class Hit:
    product: CatalogProduct
    score: float  # fused similarity used for ranking
    image_score: float | None
    text_score: float | None


def content_hash(image_bytes: bytes, keywords: list[str]) -> str:
    h = hashlib.sha256(image_bytes)
    h.update(json.dumps(keywords).encode())
    return h.hexdigest()[:32]


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-8)


def fused_scores(
    img: np.ndarray, txt: np.ndarray, qi: np.ndarray | None, qt: np.ndarray | None, image_weight: float
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """(image cosines, keyword cosines, fused score) of unit query vectors against unit matrices (N, D).

    Queries may be one vector (D,) or a batch (Q, D); a missing side drops out of the fused score.
    """
    img_s = img @ qi.T if qi is not None else None
    txt_s = txt @ qt.T if qt is not None else None
    if img_s is not None and txt_s is not None:
        return img_s, txt_s, image_weight * img_s + (1.0 - image_weight) * txt_s
    return img_s, txt_s, (img_s if img_s is not None else txt_s).copy()


def top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best finite scores, best first; ties go to the lower index (the older product)."""
    k = min(k, int(np.isfinite(score).sum()))
    if k == 0:
        return np.array([], dtype=int)
    kth = np.partition(score, len(score) - k)[len(score) - k]
    cand = np.flatnonzero(score >= kth)
    return cand[np.lexsort((cand, -score[cand]))][:k]


class Catalog:
    """One SQLite catalog file. Thread-safe for the app's use: one connection guarded by a lock."""

    def __init__(self, path: str | Path, create: bool = False, backend: str = "auto", ann: AnnConfig | None = None) -> None:
        if backend not in BACKENDS:
            raise CatalogError(f"Unknown search back end {backend!r}; choose one of: {', '.join(BACKENDS)}.")
        self.backend = backend
        self.ann_config = ann or AnnConfig()
        self._ann: AnnIndex | None = None
        self._touched: set[int] = set()  # product rowids written in the open transaction
        self.path = Path(path).resolve()
        if not create and not self.path.is_file():
            raise CatalogError(f"No catalog at {self.path}. Build one with: python -m ecomcopy index --data DIR --db {path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
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
        self._matrix: tuple | None = None  # cached search matrices, rebuilt after writes

    # -- metadata -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self.db:
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
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write (callers may add their own rows, e.g. an approval with its catalog product)."""
        with self._lock:
            self._touched = set()
            try:
                with self.db:
                    yield self.db
                    if self._touched and (self._ann is not None or self.ann_path.exists()):  # else a build covers them
                        self.db.executemany("INSERT OR IGNORE INTO ann_pending (product_rowid) VALUES (?)", [(r,) for r in self._touched])
            finally:
                touched, self._touched = self._touched, set()
            self._matrix = None
            if self._ann is not None and touched:
                self._ann_apply(touched)

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
        with self._lock:
            self.db.execute("ATTACH DATABASE ? AS base", (str(base),))  # not allowed inside a transaction
            try:
                with self.transaction() as db:
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
            self._ann = None
            self.ann_path.unlink(missing_ok=True)  # rebuilt on the next ANN search
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

    # -- search -------------------------------------------------------------------------------
    def _matrices(self) -> tuple:
        """(ids, groups, image matrix, image mean, text matrix), unit rows; cached until the next write."""
        with self._lock:
            if self._matrix is None:
                rows = self.db.execute(
                    "SELECT p.id, p.grp, v.image_vec, v.text_vec FROM products p JOIN vectors v ON v.product_id = p.id ORDER BY p.rowid"
                ).fetchall()
                if not rows:
                    raise CatalogError(f"The catalog {self.path} is empty; index some products first.")
                ids = [r[0] for r in rows]
                groups = np.array([r[1] for r in rows], dtype=object)
                img = np.stack([np.frombuffer(r[2], np.float16) for r in rows]).astype(np.float32)
                txt = _unit(np.stack([np.frombuffer(r[3], np.float16) for r in rows]).astype(np.float32))
                # Pooled CNN features are all positive, so raw cosines bunch near 1; centring spreads them
                # onto the same scale as keyword similarity, which makes the fused weight meaningful.
                mean = img.mean(axis=0)
                self._matrix = (ids, groups, _unit(img - mean), mean, txt)
            return self._matrix

    def uses_ann(self) -> bool:
        if self.backend == "exact":
            return False
        return self.backend == "ann" or len(self) >= ANN_MIN_PRODUCTS

    def search(
        self,
        image_vec: np.ndarray | None = None,
        text_vec: np.ndarray | None = None,
        k: int = 3,
        image_weight: float = DEFAULT_IMAGE_WEIGHT,
        exclude_group: str | None = None,
        exclude_ids: Iterable[str] = (),
    ) -> list[Hit]:
        """Top-k products by w * image cosine + (1 - w) * keyword cosine; a missing query side drops out.

        Exact (one matrix product) below `ANN_MIN_PRODUCTS`, else the ANN index proposes candidates
        that are re-scored exactly (`backend` forces either)."""
        if image_vec is None and text_vec is None:
            raise CatalogError("A search needs a photo or keywords.")
        if not 0.0 <= image_weight <= 1.0:
            raise CatalogError("image_weight must lie between 0 and 1.")
        if self.uses_ann():
            found = self._search_ann(image_vec, text_vec, k, image_weight, exclude_group, set(exclude_ids))
        else:
            found = self._search_exact(image_vec, text_vec, k, image_weight, exclude_group, set(exclude_ids))
        return [Hit(self.get(pid), score, i_s, t_s) for pid, score, i_s, t_s in found]

    def _search_exact(self, image_vec, text_vec, k, image_weight, exclude_group, excluded) -> list[tuple]:
        ids, groups, img, mean, txt = self._matrices()
        qi = _unit(np.asarray(image_vec, np.float32) - mean) if image_vec is not None else None
        qt = _unit(np.asarray(text_vec, np.float32)) if text_vec is not None else None
        img_s, txt_s, score = fused_scores(img, txt, qi, qt, image_weight)
        if exclude_group is not None:
            score[groups == exclude_group] = -np.inf
        if excluded:
            score[[i for i, pid in enumerate(ids) if pid in excluded]] = -np.inf
        return [
            (ids[i], float(score[i]), float(img_s[i]) if img_s is not None else None, float(txt_s[i]) if txt_s is not None else None)
            for i in top_k(score, k)
        ]

    # -- ANN back end -------------------------------------------------------------------------------
    @property
    def ann_path(self) -> Path:
        return self.path.with_suffix(".faiss")

    def _vectors_by_rowid(self, rowids: list[int]) -> list[tuple]:
        """(rowid, id, group, image vec, text vec) of existing products among `rowids`."""
        out = []
        for i in range(0, len(rowids), 900):  # SQLite's bound-parameter limit
            chunk = rowids[i : i + 900]
            out += self.db.execute(
                f"SELECT p.rowid, p.id, p.grp, v.image_vec, v.text_vec FROM products p JOIN vectors v ON v.product_id = p.id "
                f"WHERE p.rowid IN ({','.join('?' * len(chunk))}) ORDER BY p.rowid",
                chunk,
            ).fetchall()
        return out

    @staticmethod
    def _unit_rows(rows: list[tuple], mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centred unit image vectors and unit keyword vectors of `_vectors_by_rowid` rows."""
        img = _unit(np.stack([np.frombuffer(r[3], np.float16) for r in rows]).astype(np.float32) - mean)
        txt = _unit(np.stack([np.frombuffer(r[4], np.float16) for r in rows]).astype(np.float32))
        return img, txt

    def _joint_rows(self, rows: list[tuple], mean: np.ndarray) -> np.ndarray:
        img, txt = self._unit_rows(rows, mean)
        return joint(img, txt, img.shape[1], txt.shape[1])

    def _ann_apply(self, rowids: set[int]) -> None:
        """Bring the in-memory index up to date with these rows (written, updated or deleted)."""
        ann = self._ann
        ann.remove(rowids)
        rows = self._vectors_by_rowid(sorted(rowids))
        if rows:
            ann.add(np.array([r[0] for r in rows]), self._joint_rows(rows, ann.mean))

    def _ann_index(self) -> AnnIndex:
        """The index, loaded and repaired from the pending rows, or (re)built if it is missing or disagrees."""
        with self._lock:
            if self._ann is not None:
                return self._ann
            n_vectors = self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            if n_vectors == 0:
                raise CatalogError(f"The catalog {self.path} is empty; index some products first.")
            ann = None
            if self.ann_path.exists():
                try:
                    ann, meta = AnnIndex.load(self.ann_path)
                    self._ann = ann
                    pending = {r[0] for r in self.db.execute("SELECT product_rowid FROM ann_pending")}
                    pending |= {r[0] for r in self.db.execute("SELECT rowid FROM products WHERE rowid > ?", (meta["max_rowid"],))}
                    if pending:
                        self._ann_apply(pending)
                    if len(ann) != n_vectors:
                        raise CatalogError("the index and the catalog disagree")
                except CatalogError:
                    ann = self._ann = None
            if ann is None:
                ann = self._build_ann()
            self._save_ann()
            return ann

    def _build_ann(self) -> AnnIndex:
        chunk = 50_000
        rowids = [r[0] for r in self.db.execute("SELECT p.rowid FROM products p JOIN vectors v ON v.product_id = p.id ORDER BY p.rowid")]
        total = None
        for i in range(0, len(rowids), chunk):
            rows = self._vectors_by_rowid(rowids[i : i + chunk])
            s = np.stack([np.frombuffer(r[3], np.float16) for r in rows]).astype(np.float64).sum(0)
            total = s if total is None else total + s
        mean = (total / len(rowids)).astype(np.float32)
        rng = np.random.default_rng(0)
        sample_ids = sorted(rng.choice(rowids, size=min(len(rowids), self.ann_config.train_size), replace=False).tolist())
        ann = AnnIndex.train(self._joint_rows(self._vectors_by_rowid(sample_ids), mean), len(rowids), mean.shape[0], mean, self.ann_config)
        for i in range(0, len(rowids), chunk):
            rows = self._vectors_by_rowid(rowids[i : i + chunk])
            ann.add(np.array([r[0] for r in rows]), self._joint_rows(rows, mean))
        self._ann = ann
        return ann

    def _save_ann(self) -> None:
        """Persist the index, then forget the pending rows it now holds (a crash between the two only replays them)."""
        if self._ann is None:
            return
        max_rowid = self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM products").fetchone()[0]
        self._ann.save(self.ann_path, max_rowid)
        with self.db:
            self.db.execute("DELETE FROM ann_pending")

    def _search_ann(self, image_vec, text_vec, k, image_weight, exclude_group, excluded) -> list[tuple]:
        ann = self._ann_index()
        qi = _unit(np.asarray(image_vec, np.float32) - ann.mean) if image_vec is not None else None
        qt = _unit(np.asarray(text_vec, np.float32)) if text_vec is not None else None
        w_img, w_txt = (image_weight, 1.0 - image_weight) if qi is not None and qt is not None else (1.0, 1.0)
        q = joint(qi[None] if qi is not None else None, qt[None] if qt is not None else None, ann.dim_image, ann.dim_text, w_img, w_txt)[0]
        c = max(ann.cfg.candidates, k)
        while True:
            ids, _ = ann.search(q, c)
            rows = [r for r in self._vectors_by_rowid(sorted(int(i) for i in ids[0] if i >= 0))
                    if r[1] not in excluded and (exclude_group is None or r[2] != exclude_group)]
            if len(rows) >= k or c >= len(ann):
                break
            c *= 4
        if not rows:
            return []
        img, txt = self._unit_rows(rows, ann.mean)
        img_s, txt_s, score = fused_scores(img, txt, qi, qt, image_weight)
        return [
            (rows[i][1], float(score[i]), float(img_s[i]) if img_s is not None else None, float(txt_s[i]) if txt_s is not None else None)
            for i in top_k(score, k)
        ]

    def close(self) -> None:
        if self._ann is not None and self.db.execute("SELECT 1 FROM ann_pending LIMIT 1").fetchone():
            self._save_ann()
        self.db.close()
