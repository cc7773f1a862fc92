"""Build or update a catalog from a product folder; only new or changed products are re-encoded."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .catalog import Catalog, content_hash
from .encoders import ImageEncoder, TextEncoder
from .errors import InputError
from .images import load_image
from .products import read_products

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    encoded: int = 0  # new or changed products (vectors computed)
    unchanged: int = 0  # rows refreshed, vectors kept
    skipped: list[str] = field(default_factory=list)  # "line N: why" / "id: why"

    def summary(self) -> str:
        s = f"{self.encoded} products encoded, {self.unchanged} unchanged, {len(self.skipped)} skipped"
        return s + "".join(f"\n  skipped {why}" for why in self.skipped)


def index_folder(
    folder: str | Path,
    catalog: Catalog,
    image_encoder: ImageEncoder,
    text_encoder: TextEncoder,
    split: str | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> IndexReport:
    """Idempotent: re-running over the same folder encodes nothing and leaves the catalog as it was."""
    folder = Path(folder)
    catalog.check_encoders(image_encoder.fingerprint, text_encoder.fingerprint)
    read = read_products(folder, split=split)
    report = IndexReport(skipped=[f"line {n}: {why}" for n, why in read.bad_lines])
    stored = catalog.stored_hashes()
    base = Path(os.path.normpath(folder.absolute()))
    seen: set[str] = set()
    todo, keep = [], []
    for p in read.products:
        if p.id in seen:
            report.skipped.append(f"{p.id}: duplicate id (first occurrence kept)")
            continue
        seen.add(p.id)
        image = Path(os.path.normpath(base / p.image))  # lexical: a symlinked images/ is fine
        try:
            if base not in image.parents:
                raise InputError("image path points outside the product folder")
            data = image.read_bytes()
        except (OSError, InputError) as e:
            report.skipped.append(f"{p.id}: image {p.image} unreadable ({e})")
            continue
        chash = content_hash(data, p.keywords)
        (keep if stored.get(p.id) == chash else todo).append((p, image, chash))
    if keep:
        catalog.upsert((p, image, chash, None, None) for p, image, chash in keep)
        report.unchanged = len(keep)
    bar = tqdm(total=len(todo), desc="indexing", unit="product", disable=not progress)
    for i in range(0, len(todo), batch_size):
        batch, images = [], []
        for p, image, chash in todo[i : i + batch_size]:
            try:
                images.append(load_image(image))
                batch.append((p, image, chash))
            except InputError as e:
                report.skipped.append(f"{p.id}: {e}")
        if batch:
            ivecs = image_encoder.encode(images).pooled.numpy()
            tvecs = text_encoder.encode([p.keyword_text for p, _, _ in batch])
            catalog.upsert((p, image, chash, iv, tv) for (p, image, chash), iv, tv in zip(batch, ivecs, tvecs))
            report.encoded += len(batch)
        bar.update(len(todo[i : i + batch_size]))
    bar.close()
    return report
