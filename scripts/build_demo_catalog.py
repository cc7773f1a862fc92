"""Build the shipped demo catalog in assets/catalog from the TRAIN splits of the shared data.

Never dev or test: those products are what the model is evaluated on, and a reference that is the
query itself would flatter every number. H&M colour variants share one description, so we keep one
product per group, chosen by a stable hash, to cover more distinct products in the same size.

    python scripts/build_demo_catalog.py --shared ../shared/data --hm 2500
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecomcopy.catalog import Catalog  # noqa: E402
from ecomcopy.encoders import TextEncoder, create_image_encoder  # noqa: E402
from ecomcopy.indexer import index_folder  # noqa: E402

SOURCES_MD = """# Demo catalog: sources and terms

The products in this folder are a sample of the **train** splits of two public research data sets.
They are not ecomcopy's own content; they are here to demonstrate the app.

- **H&M** (`hm-*` ids): H&M Personalized Fashion Recommendations data, as committed in the public
  GitHub repository hungle45/PSE-Recommendor-System at a8979e10. Non-commercial research use.
- **IKEA** (`ikea-*` ids): product data of Tautkute et al., "What Looks Good with my Sofa"
  (FedCSIS 2017), public GitHub repository IvonaTau/ikea at 6f316e3f. IKEA's images are the property
  of IKEA and are allowed for non-commercial use only.

Built by `scripts/build_demo_catalog.py`: {counts}.
"""


def stable_key(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "assets" / "catalog"))
    ap.add_argument("--hm", type=int, default=2500, help="H&M groups to keep (one product each)")
    ap.add_argument("--ikea", type=int, default=0, help="IKEA products to keep (0 = all train)")
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    rows, counts = [], []
    for source, limit in (("hm", args.hm), ("ikea", args.ikea)):
        train = [json.loads(line) for line in (shared / source / "products.jsonl").open()]
        train = [r for r in train if r["split"] == "train"]
        by_group: dict[str, dict] = {}
        for r in sorted(train, key=lambda r: stable_key(r["id"])):
            by_group.setdefault(r["group"], r)
        chosen = sorted(by_group.values(), key=lambda r: stable_key(r["group"]))
        chosen = chosen[:limit] if limit else chosen
        for r in chosen:
            shutil.copyfile(shared / source / r["image"], out / r["image"])
        rows += chosen
        counts.append(f"{len(chosen)} {source} products")
    rows.sort(key=lambda r: r["id"])
    with (out / "products.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "SOURCES.md").write_text(SOURCES_MD.format(counts=", ".join(counts)))
    catalog = Catalog(out / "catalog.db", create=True)
    report = index_folder(out, catalog, create_image_encoder(), TextEncoder())
    catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    catalog.close()
    print(report.summary())


if __name__ == "__main__":
    main()
