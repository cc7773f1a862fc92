"""Catalog search: the top-k products by a fused image + keyword similarity, exact or through an ANN index.

Exact search is one matrix product over all vectors (the demo catalog's 3,102 products in under a millisecond);
from `ANN_MIN_PRODUCTS` on, a FAISS index (`ann.py`) proposes candidates that are re-scored exactly. Both read
the store (`catalog.Catalog`) through its public methods only, and the store tells the search what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from .ann import AnnConfig, AnnIndex, joint
from .config import DEFAULT_IMAGE_WEIGHT
from .errors import CatalogError

if TYPE_CHECKING:
    from .catalog import Catalog, CatalogProduct

ANN_MIN_PRODUCTS = 50_000  # "auto" switches from exact search to the ANN index at this catalog size
BACKENDS = ("auto", "exact", "ann")


@dataclass
class Hit:
    product: "CatalogProduct"
    score: float  # fused similarity used for ranking
    image_score: float | None
    text_score: float | None

    def to_dict(self) -> dict:
        p = self.product
        return {
            "id": p.id, "name": p.name, "keywords": p.keywords, "description": p.description,
            "score": round(self.score, 4), "image_score": self.image_score, "text_score": self.text_score,
            "image": Path(p.image).name, "source": p.source,  # the file's name: no server paths in results
        }


def unit(m: np.ndarray) -> np.ndarray:
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



def _rows_matrix(rows: list[tuple], col: int) -> np.ndarray:
    """The float32 matrix of one vector column of `Catalog.vector_rows` rows."""
    return np.stack([np.frombuffer(r[col], np.float16) for r in rows]).astype(np.float32)


class CatalogSearch:
    """The search over one store; the store calls `written`, `committed`, `reseeded` and `close` as it changes."""

    def __init__(self, store: "Catalog", backend: str = "auto", ann: AnnConfig | None = None) -> None:
        if backend not in BACKENDS:
            raise CatalogError(f"Unknown search back end {backend!r}; choose one of: {', '.join(BACKENDS)}.")
        self.store = store
        self.backend = backend
        self.ann_config = ann or AnnConfig()
        self._ann: AnnIndex | None = None
        self._matrix: tuple | None = None  # cached search matrices, rebuilt after writes
        self.following = False  # another process writes this catalog too (`follow`)
        self._version: int | None = None

    # -- what the store tells it --------------------------------------------------------------
    def written(self, rowids: set[int]) -> None:
        """Inside the store's transaction: rows an ANN index file does not hold yet are remembered with the write."""
        if rowids and (self._ann is not None or self.ann_path.exists()):  # else a build covers them
            for rowid in rowids:  # the store's `ann_pending` table: rows the saved index file lacks
                self.store.execute("INSERT OR IGNORE INTO ann_pending (product_rowid) VALUES (?)", (rowid,))

    def committed(self, rowids: set[int]) -> None:
        self._matrix = None
        if self._ann is not None and rowids:
            self._ann_apply(rowids)

    def follow(self) -> None:
        """Commits of other processes (the app's approvals, seen by its Ray replicas) drop the cached matrices and
        ANN index: SQLite's data_version moves with every other connection's commit. The saved index and its
        pending rows are read again at the next search."""
        with self.store.lock:
            version = self.store.query("PRAGMA data_version")[0][0]
            if self._version is not None and version != self._version:
                self._matrix, self._ann = None, None
            self._version = version

    def reseeded(self) -> None:
        self._ann = None
        self.ann_path.unlink(missing_ok=True)  # rebuilt on the next ANN search

    def close(self) -> None:
        if self._ann is not None and self.store.query("SELECT 1 FROM ann_pending LIMIT 1"):
            self._save_ann()

    # -- exact --------------------------------------------------------------------------------
    def _matrices(self) -> tuple:
        """(ids, groups, image matrix, image mean, text matrix), unit rows; cached until the next write."""
        with self.store.lock:
            if self._matrix is None:
                rows = self.store.vector_rows()
                if not rows:
                    raise CatalogError(f"The catalog {self.store.path} is empty; index some products first.")
                ids = [r[1] for r in rows]
                groups = np.array([r[2] for r in rows], dtype=object)
                img = _rows_matrix(rows, 3)
                txt = unit(_rows_matrix(rows, 4))
                # Pooled CNN features are all positive, so raw cosines bunch near 1; centring spreads them
                # onto the same scale as keyword similarity, which makes the fused weight meaningful.
                mean = img.mean(axis=0)
                self._matrix = (ids, groups, unit(img - mean), mean, txt)
            return self._matrix

    def uses_ann(self) -> bool:
        if self.backend == "exact":
            return False
        return self.backend == "ann" or len(self.store) >= ANN_MIN_PRODUCTS

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
        if self.following:
            self.follow()
        if self.uses_ann():
            found = self._search_ann(image_vec, text_vec, k, image_weight, exclude_group, set(exclude_ids))
        else:
            found = self._search_exact(image_vec, text_vec, k, image_weight, exclude_group, set(exclude_ids))
        return [Hit(self.store.get(pid), score, i_s, t_s) for pid, score, i_s, t_s in found]

    def _search_exact(self, image_vec, text_vec, k, image_weight, exclude_group, excluded) -> list[tuple]:
        ids, groups, img, mean, txt = self._matrices()
        qi = unit(np.asarray(image_vec, np.float32) - mean) if image_vec is not None else None
        qt = unit(np.asarray(text_vec, np.float32)) if text_vec is not None else None
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
        return self.store.path.with_suffix(".faiss")

    @staticmethod
    def _unit_rows(rows: list[tuple], mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centred unit image vectors and unit keyword vectors of `Catalog.vector_rows` rows."""
        return unit(_rows_matrix(rows, 3) - mean), unit(_rows_matrix(rows, 4))

    def _joint_rows(self, rows: list[tuple], mean: np.ndarray) -> np.ndarray:
        img, txt = self._unit_rows(rows, mean)
        return joint(img, txt, img.shape[1], txt.shape[1])

    def _ann_apply(self, rowids: set[int]) -> None:
        """Bring the in-memory index up to date with these rows (written, updated or deleted)."""
        ann = self._ann
        ann.remove(rowids)
        rows = self.store.vector_rows(sorted(rowids))
        if rows:
            ann.add(np.array([r[0] for r in rows]), self._joint_rows(rows, ann.mean))

    def _ann_index(self) -> AnnIndex:
        """The index, loaded and repaired from the pending rows, or (re)built if it is missing or disagrees."""
        with self.store.lock:
            if self._ann is not None:
                return self._ann
            n_vectors = self.store.count_vectors()
            if n_vectors == 0:
                raise CatalogError(f"The catalog {self.store.path} is empty; index some products first.")
            ann = None
            if self.ann_path.exists():
                try:
                    ann, meta = AnnIndex.load(self.ann_path)
                    self._ann = ann
                    pending = {r[0] for r in self.store.query("SELECT product_rowid FROM ann_pending")}
                    pending |= {r[0] for r in self.store.query("SELECT rowid FROM products WHERE rowid > ?", (meta["max_rowid"],))}
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
        rowids = self.store.vector_rowids()
        total = None
        for i in range(0, len(rowids), chunk):
            rows = self.store.vector_rows(rowids[i : i + chunk])
            s = np.stack([np.frombuffer(r[3], np.float16) for r in rows]).astype(np.float64).sum(0)
            total = s if total is None else total + s
        mean = (total / len(rowids)).astype(np.float32)
        rng = np.random.default_rng(0)
        sample_ids = sorted(rng.choice(rowids, size=min(len(rowids), self.ann_config.train_size), replace=False).tolist())
        ann = AnnIndex.train(self._joint_rows(self.store.vector_rows(sample_ids), mean), len(rowids), mean.shape[0], mean, self.ann_config)
        for i in range(0, len(rowids), chunk):
            rows = self.store.vector_rows(rowids[i : i + chunk])
            ann.add(np.array([r[0] for r in rows]), self._joint_rows(rows, mean))
        self._ann = ann
        return ann

    def _save_ann(self) -> None:
        """Persist the index, then forget the pending rows it now holds (a crash between the two only replays them).
        A follower (a replica) never does: the writer's next commit could fall between its read and its save."""
        if self._ann is None or self.following:
            return
        self._ann.save(self.ann_path, self.store.max_rowid())
        with self.store.transaction():
            self.store.execute("DELETE FROM ann_pending")

    def _search_ann(self, image_vec, text_vec, k, image_weight, exclude_group, excluded) -> list[tuple]:
        ann = self._ann_index()
        qi = unit(np.asarray(image_vec, np.float32) - ann.mean) if image_vec is not None else None
        qt = unit(np.asarray(text_vec, np.float32)) if text_vec is not None else None
        w_img, w_txt = (image_weight, 1.0 - image_weight) if qi is not None and qt is not None else (1.0, 1.0)
        q = joint(qi[None] if qi is not None else None, qt[None] if qt is not None else None, ann.dim_image, ann.dim_text, w_img, w_txt)[0]
        c = max(ann.cfg.candidates, k)
        while True:
            ids, _ = ann.search(q, c)
            rows = [r for r in self.store.vector_rows(sorted(int(i) for i in ids[0] if i >= 0))
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

