"""Frozen-encoder features of a whole product folder, computed once and kept in the cache folder.

Training reads every product's visual tokens many times; encoding them once (float16 memmap,
49 x 1280 per product) turns a 17 ms image pass per example into a disk read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .search import fused_scores, top_k, unit
from .encoders import ImageEncoder, TextEncoder
from .errors import InputError
from .images import load_image
from .config import cache_dir
from .products import Product, read_products


@dataclass
class FolderFeatures:
    products: list[Product]
    tokens: np.ndarray  # (N, T, D) float16 memmap
    pooled: np.ndarray  # (N, D) float32

    def visual(self, i: int) -> torch.Tensor:  # (T, D)
        return torch.from_numpy(np.asarray(self.tokens[i], dtype=np.float32))


def folder_features(folder: str | Path, encoder: ImageEncoder, split: str | None = None, batch_size: int = 32, progress: bool = True) -> FolderFeatures:
    """Encode (or reuse) every product of `folder` (optionally one split); resumes a partial run."""
    folder = Path(folder)
    read = read_products(folder, split=split)
    products = read.products
    key = hashlib.sha256((folder.resolve().as_posix() + str(split) + encoder.fingerprint + "".join(p.id + p.image for p in products)).encode()).hexdigest()[:16]
    out = cache_dir() / "features" / f"{folder.name}-{split or 'all'}-{key}"
    out.mkdir(parents=True, exist_ok=True)
    n, t, d = len(products), encoder.num_tokens, encoder.token_dim
    tok_path, pool_path, done_path = out / "tokens.f16", out / "pooled.npy", out / "done.json"
    mode = "r+" if tok_path.exists() else "w+"
    tokens = np.memmap(tok_path, dtype=np.float16, mode=mode, shape=(n, t, d))
    pooled = np.load(pool_path) if pool_path.exists() else np.zeros((n, encoder.pooled_dim), np.float32)
    done = json.loads(done_path.read_text())["done"] if done_path.exists() else 0
    bar = tqdm(total=n, initial=done, desc=f"encoding {folder.name}", unit="image", disable=not progress or done == n)
    for i in range(done, n, batch_size):
        batch = products[i : i + batch_size]
        images = []
        for p in batch:
            try:
                images.append(load_image(folder / p.image))
            except InputError:  # an unreadable photo gets a blank one, keeping indices aligned
                images.append(_blank())
        feats = encoder.encode(images)
        tokens[i : i + len(batch)] = feats.tokens.numpy().astype(np.float16)
        pooled[i : i + len(batch)] = feats.pooled.numpy()
        tokens.flush()
        np.save(pool_path, pooled)
        done_path.write_text(json.dumps({"done": i + len(batch)}))
        bar.update(len(batch))
    bar.close()
    return FolderFeatures(products, np.memmap(tok_path, dtype=np.float16, mode="r", shape=(n, t, d)), pooled)


def _blank() -> Image.Image:
    return Image.new("RGB", (64, 64), (255, 255, 255))


def retrieve_references(
    pooled: np.ndarray, text_vecs: np.ndarray, groups: list[str], image_weight: float, chunk: int = 512, k: int = 1
) -> np.ndarray:
    """For each product, the indices of its k most similar other products outside its own group (fused
    search), best first: (N,) for k = 1, else (N, k)."""
    img = unit(pooled - pooled.mean(0))
    txt = unit(text_vecs)
    g = np.array(groups, dtype=object)
    refs = np.zeros((len(groups), k), dtype=np.int64)
    for s in range(0, len(groups), chunk):
        _, _, score = fused_scores(img, txt, img[s : s + chunk], txt[s : s + chunk], image_weight)  # (N, C)
        for j in range(score.shape[1]):
            col = score[:, j].copy()
            col[g == g[s + j]] = -np.inf
            best = top_k(col, k)
            refs[s + j] = np.pad(best, (0, k - len(best)), mode="edge")  # fewer candidates than k: repeat the last
    return refs[:, 0] if k == 1 else refs


def keyword_vectors(texts: list[str], encoder: TextEncoder) -> np.ndarray:
    return encoder.encode(texts, batch_size=128)
