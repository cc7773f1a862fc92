import json

import numpy as np
import pytest

from ecomcopy.catalog import Catalog
from ecomcopy.errors import CatalogError
from ecomcopy.indexer import index_folder
from ecomcopy.products import read_products


@pytest.fixture
def built(tmp_path, small_folder, image_encoder, text_encoder):
    cat = Catalog(tmp_path / "cat.db", create=True)
    report = index_folder(small_folder, cat, image_encoder, text_encoder, progress=False)
    return cat, report


def test_build_and_idempotent(built, small_folder, image_encoder, text_encoder):
    cat, report = built
    assert report.encoded == 24 and not report.skipped
    assert len(cat) == 24
    assert cat.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = index_folder(small_folder, cat, image_encoder, text_encoder, progress=False)
    assert again.encoded == 0 and again.unchanged == 24 and len(cat) == 24


def test_update_reencodes_only_changed(tmp_path, small_folder, image_encoder, text_encoder):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "images").symlink_to(small_folder / "images")
    rows = [json.loads(line) for line in (small_folder / "products.jsonl").open()]
    rows[0]["keywords"] = rows[0]["keywords"] + ["limited edition"]
    rows[1]["description"] = "A new description."
    cat = Catalog(tmp_path / "c.db", create=True)
    index_folder(small_folder, cat, image_encoder, text_encoder, progress=False)
    (folder / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = index_folder(folder, cat, image_encoder, text_encoder, progress=False)
    assert report.encoded == 1 and report.unchanged == 23  # only the keyword change needs new vectors
    assert cat.get(rows[1]["id"]).description == "A new description."
    assert "limited edition" in cat.get(rows[0]["id"]).keywords


def test_search_scores_sorted_and_self_first(built, small_folder, image_encoder, text_encoder):
    cat, _ = built
    p = read_products(small_folder).products[3]
    from ecomcopy.images import load_image

    iv = image_encoder.encode([load_image(small_folder / p.image)]).pooled[0].numpy()
    tv = text_encoder.encode([p.keyword_text])[0]
    hits = cat.search(iv, tv, k=5)
    assert hits[0].product.id == p.id and hits[0].score == pytest.approx(1.0, abs=0.01)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # image-only, as in the paper, is available and ignores the keywords
    only_img = cat.search(iv, tv, k=3, image_weight=1.0)
    assert all(h.score == pytest.approx(h.image_score, abs=1e-6) for h in only_img)
    # excluding the query's group never returns a product of that group
    hits = cat.search(iv, tv, k=24, exclude_group=p.group)
    assert hits and all(h.product.group != p.group for h in hits)
    assert len(hits) == 24 - sum(q.group == p.group for q in read_products(small_folder).products)


def test_persists_across_reopen(built):
    cat, _ = built
    path = cat.path
    first = cat.products(limit=3)
    cat.close()
    again = Catalog(path)
    assert len(again) == 24
    assert [p.id for p in again.products(limit=3)] == [p.id for p in first]
    assert again.get(first[0].id).image_path.is_file()
    assert again.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_rows_and_vectors_stay_consistent(built):
    cat, _ = built
    pid = cat.products(limit=1)[0].id
    assert cat.delete(pid)
    n_vec = cat.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert n_vec == len(cat) == 23  # the product's vectors went with it
    p = cat.products(limit=1)[0]
    with pytest.raises(CatalogError, match="no search vectors"):
        cat.upsert([(p.__class__(**{**p.__dict__, "id": "new-id"}), p.image_path, "x", None, None)])
    assert len(cat) == 23  # nothing half-written


def test_malformed_line_reported_good_rows_kept(tmp_path, small_folder, image_encoder, text_encoder):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "images").symlink_to(small_folder / "images")
    lines = (small_folder / "products.jsonl").read_text().splitlines()
    lines.insert(2, '{"id": "broken", "keywords": ')
    lines.insert(5, json.dumps({"id": "noimg", "keywords": ["x"], "image": "images/missing.jpg"}))
    (folder / "products.jsonl").write_text("\n".join(lines) + "\n")
    cat = Catalog(tmp_path / "b.db", create=True)
    report = index_folder(folder, cat, image_encoder, text_encoder, progress=False)
    assert report.encoded == 24
    assert any(s.startswith("line 3:") for s in report.skipped)
    assert any(s.startswith("noimg:") for s in report.skipped)


def test_encoder_mismatch_refused(built):
    cat, _ = built
    with pytest.raises(CatalogError, match="indexed with image encoder"):
        cat.check_encoders("open_clip:ViT-S-32:random-init", cat.get_meta("text_encoder"))


def test_missing_and_garbage_catalog(tmp_path):
    with pytest.raises(CatalogError, match="No catalog"):
        Catalog(tmp_path / "nope.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(CatalogError, match="not a readable"):
        Catalog(junk)


def test_not_a_product_folder(tmp_path):
    with pytest.raises(CatalogError, match="products.jsonl"):
        read_products(tmp_path)


def test_search_needs_a_query(built):
    cat, _ = built
    with pytest.raises(CatalogError):
        cat.search(None, None)
    assert isinstance(np.zeros(1), np.ndarray)
