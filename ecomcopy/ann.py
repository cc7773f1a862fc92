"""Approximate search for large catalogs: a FAISS inverted-file index over joint vectors.

The fused score w * cos(image) + (1 - w) * cos(keywords) is one inner product: each product is stored
as [image unit vector, keyword unit vector] and the query is [w * q_image, (1 - w) * q_keywords], so one
index serves every weight. 8-bit scalar quantisation keeps 10^6 products in about 1.7 GB. The index only
proposes candidates; the catalog re-scores them exactly from its float16 vectors, so what the user sees
is ranked by the exact fused score.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import CatalogError


@dataclass
class AnnConfig:
    nlist: int = 0  # inverted lists; 0 = about 4 * sqrt(N), at least 16
    nprobe: int = 32  # lists visited per query
    candidates: int = 64  # proposals re-scored exactly per query
    train_size: int = 65_536  # vectors the coarse quantiser and the 8-bit codec are trained on


def _faiss():
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - faiss-cpu is in requirements.txt
        raise CatalogError("The ANN back end needs faiss-cpu: pip install faiss-cpu") from e
    return faiss


def joint(img: np.ndarray | None, txt: np.ndarray | None, dim_image: int, dim_text: int, w_img: float = 1.0, w_txt: float = 1.0) -> np.ndarray:
    """(N, Di + Dt) float32 rows [w_img * img, w_txt * txt]; a missing side is zeros."""
    n = (img if img is not None else txt).shape[0]
    out = np.zeros((n, dim_image + dim_text), np.float32)
    if img is not None:
        out[:, :dim_image] = w_img * img
    if txt is not None:
        out[:, dim_image:] = w_txt * txt
    return out


class AnnIndex:
    """IVF + 8-bit scalar quantiser, ids = catalog row ids; `sidecar` JSON records what the file holds."""

    def __init__(self, index, dim_image: int, dim_text: int, mean: np.ndarray, cfg: AnnConfig) -> None:
        self.index, self.dim_image, self.dim_text, self.mean, self.cfg = index, dim_image, dim_text, mean.astype(np.float32), cfg
        self.index.nprobe = cfg.nprobe

    @classmethod
    def train(cls, sample: np.ndarray, n_total: int, dim_image: int, mean: np.ndarray, cfg: AnnConfig | None = None) -> "AnnIndex":
        """An empty index trained on a sample of joint vectors (N, Di + Dt) of the catalog to come."""
        faiss = _faiss()
        cfg = cfg or AnnConfig()
        d = sample.shape[1]
        nlist = cfg.nlist or max(16, int(4 * math.sqrt(max(n_total, 1))))
        nlist = min(nlist, max(1, sample.shape[0] // 39))  # faiss wants ~39 training points per list
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return cls(index, dim_image, d - dim_image, mean, AnnConfig(nlist, cfg.nprobe, cfg.candidates, cfg.train_size))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids) -> int:
        ids = np.asarray(list(ids), dtype=np.int64)
        return int(self.index.remove_ids(ids)) if len(ids) else 0

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and approximate scores of the k best for one joint query (D,) or a batch (Q, D)."""
        q = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        scores, ids = self.index.search(q, k)
        return ids, scores

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path, max_rowid: int) -> None:
        """Atomically: the index file, then its sidecar (what a reader checks against the catalog)."""
        faiss = _faiss()
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)
        meta = {"ntotal": len(self), "max_rowid": int(max_rowid), "dim_image": self.dim_image, "dim_text": self.dim_text,
                "config": asdict(self.cfg), "mean": self.mean.tolist()}
        side = sidecar(path)
        side.with_suffix(".tmp").write_text(json.dumps(meta))
        os.replace(side.with_suffix(".tmp"), side)

    @classmethod
    def load(cls, path: str | Path) -> tuple["AnnIndex", dict]:
        faiss = _faiss()
        path = Path(path)
        try:
            meta = json.loads(sidecar(path).read_text())
            index = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError) as e:
            raise CatalogError(f"The search index {path} is unreadable ({e}); it will be rebuilt.") from e
        if index.ntotal != meta["ntotal"]:
            raise CatalogError(f"The search index {path} does not match its sidecar; it will be rebuilt.")
        cfg = AnnConfig(**meta["config"])
        return cls(index, meta["dim_image"], meta["dim_text"], np.asarray(meta["mean"], np.float32), cfg), meta


def sidecar(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix(path.suffix + ".json")
