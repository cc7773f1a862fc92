"""Products in the shared data format: a folder with `products.jsonl` (one product a line) and `images/`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CatalogError

log = logging.getLogger(__name__)

# Credits shown wherever these sources' products appear (see the data README's terms).
SOURCE_CREDITS = {
    "hm": "H&M Personalized Fashion Recommendations data (non-commercial research use)",
    "ikea": "IKEA product data of Tautkute et al., FedCSIS 2017 (images property of IKEA, non-commercial use)",
}


@dataclass
class Product:
    id: str
    group: str
    name: str
    keywords: list[str]
    description: str
    image: str  # path, relative to the data folder or absolute
    domain: str = ""
    attributes: dict = field(default_factory=dict)
    split: str = ""
    source: str = ""

    @property
    def keyword_text(self) -> str:
        return ", ".join(self.keywords)


def source_of(product_id: str, fallback: str = "") -> str:
    prefix = product_id.split("-", 1)[0]
    return SOURCE_CREDITS.get(prefix, fallback)


@dataclass
class ReadReport:
    products: list[Product]
    bad_lines: list[tuple[int, str]]  # (1-based line number, reason)


def read_products(folder: str | Path, split: str | None = None) -> ReadReport:
    """Read every well-formed product; a malformed line is reported with its number and skipped."""
    folder = Path(folder)
    path = folder / "products.jsonl"
    if not path.is_file():
        raise CatalogError(f"{folder} is not a product folder: {path.name} is missing.")
    products, bad = [], []
    with path.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                kw = row.get("keywords") or []
                if not isinstance(kw, list) or not all(isinstance(k, str) for k in kw):
                    raise ValueError("keywords must be a list of strings")
                p = Product(
                    id=str(row["id"]),
                    group=str(row.get("group") or row["id"]),
                    name=str(row.get("name") or ""),
                    keywords=[k.strip() for k in kw if k.strip()],
                    description=str(row.get("description") or "").strip(),
                    image=str(row["image"]),
                    domain=str(row.get("domain") or ""),
                    attributes=row.get("attributes") if isinstance(row.get("attributes"), dict) else {},
                    split=str(row.get("split") or ""),
                )
                p.source = source_of(p.id, fallback=folder.name)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                bad.append((n, f"{type(e).__name__}: {e}"))
                continue
            if split is None or p.split == split:
                products.append(p)
    for n, why in bad:
        log.warning("%s line %d skipped: %s", path, n, why)
    return ReadReport(products, bad)
