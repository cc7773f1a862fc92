"""Approvals: stored with everything that led to them, joined to the catalog atomically, exported."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomcopy.approvals import ApprovalStore
from ecomcopy.catalog import Catalog
from ecomcopy.errors import CatalogError, InputError
from ecomcopy.indexer import index_folder
from ecomcopy.pipeline import open_catalog


@pytest.fixture
def seeded(tmp_path, small_folder, image_encoder, text_encoder):
    """A 'shipped' catalog in one folder and a working copy seeded from it in another."""
    base = Catalog(small_folder / "base.db", create=True)
    if len(base) == 0:  # built once per session
        index_folder(small_folder, base, image_encoder, text_encoder, progress=False)
    base.close()
    work = open_catalog(tmp_path / "work" / "catalog.db", small_folder / "base.db")
    return work, ApprovalStore(work, tmp_path / "work" / "photos")


def _vectors(image_encoder, text_encoder, img, keywords):
    return image_encoder.encode([img]).pooled[0].numpy(), text_encoder.encode([", ".join(keywords)])[0]


def test_seeded_copy_resolves_photos_and_keeps_approvals(seeded, small_folder, image_encoder, text_encoder, tmp_path):
    work, store = seeded
    assert len(work) == 24
    assert all(p.image_path.is_file() for p in work.products())  # relative paths rewritten against the base folder
    img = Image.new("RGB", (64, 64), (200, 30, 30))
    store.add(["Mug", "Red"], {"id": "x"}, ["A red mug."], "A red mug.", "A red mug.", "modict", img,
              _vectors(image_encoder, text_encoder, img, ["Mug", "Red"]))
    work.set_meta("seeded_from", "something older")  # the shipped catalog changed: re-seed on open
    work.close()
    again = open_catalog(tmp_path / "work" / "catalog.db", small_folder / "base.db")
    assert len(again) == 25 and again.get("approved-1").description == "A red mug."


def test_approval_joins_catalog_and_is_retrieved(seeded, image_encoder, text_encoder):
    work, store = seeded
    product = work.products()[0]
    img = Image.open(product.image_path)
    kw = ["Limited edition", "Red"]
    a = store.add(kw, {"id": product.id, "name": product.name}, ["d1", "d2"], "d1", "  My final text.  ", "modict",
                  img, _vectors(image_encoder, text_encoder, img, kw))
    assert a.id == 1 and a.final == "My final text." and a.product_id == "approved-1" and a.drafts == ["d1", "d2"]
    assert work.get("approved-1").description == "My final text." and work.get("approved-1").image_path.is_file()
    ivec, tvec = _vectors(image_encoder, text_encoder, img, kw)
    hits = work.search(ivec, tvec, k=2, exclude_group=product.group)
    assert hits[0].product.id == "approved-1"  # the store's own voice is now the reference
    # deleting the approval removes its catalog product too
    assert store.delete(a.id) and len(store) == 0
    with pytest.raises(CatalogError):
        work.get("approved-1")
    assert not store.delete(a.id)


def test_keep_out_of_catalog_and_bad_values(seeded):
    work, store = seeded
    n = len(work)
    a = store.add(["Mug"], {"id": "r"}, ["x"], "x", "A mug.", "prompt", None, None)
    assert a.product_id is None and len(work) == n
    for final in ["", "   ", "x" * 5001]:
        with pytest.raises(InputError):
            store.add(["Mug"], {}, [], "", final)
    assert len(store) == 1  # nothing half-written
    with pytest.raises(InputError, match="no approval"):
        store.get(99)
    with pytest.raises(InputError, match="not an approval number"):
        store.get("abc")


def test_failed_catalog_write_leaves_no_approval(seeded):
    work, store = seeded
    with pytest.raises(Exception):  # vectors of the wrong kind: the product insert fails inside the transaction
        store.add(["Mug"], {}, [], "", "A mug.", "", Image.new("RGB", (8, 8)), (object(), np.zeros(3)))
    assert len(store) == 0 and work.db.execute("SELECT COUNT(*) FROM products WHERE id LIKE 'approved-%'").fetchone()[0] == 0
    assert list(store.photo_dir.iterdir()) == []  # the photo written inside the failed transaction is gone


def test_refused_approval_writes_no_photo(seeded):
    """Security finding: a blank final text used to leave its photo on disk (stored before the text was checked)."""
    work, store = seeded
    for final in ["", "   ", "x" * 5001]:
        with pytest.raises(InputError):
            store.add(["Mug"], {}, [], "", final, "", Image.new("RGB", (32, 32), (1, 2, 3)))
    assert list(store.photo_dir.iterdir()) == [] and len(store) == 0


def test_delete_never_removes_a_photo_another_approval_uses(seeded):
    """Security finding: deleting an approval removed a photo that a concurrent approval had chosen to reuse.
    Approvals of one photo and deletions of the previous approval race; every stored approval keeps its photo."""
    import threading

    work, store = seeded
    img = Image.new("RGB", (32, 32), (9, 9, 9))
    errors = []

    def approve_many():
        for _ in range(30):
            try:
                store.add(["Mug"], {"id": "r"}, ["x"], "x", "A mug.", "prompt", img)
            except Exception as e:  # noqa: BLE001 - the test reports them
                errors.append(e)

    def delete_many():
        for _ in range(30):
            for a in store.list("")[1:]:
                store.delete(a.id)

    threads = [threading.Thread(target=approve_many), threading.Thread(target=delete_many)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(a.photo and Path(a.photo).is_file() for a in store.list(""))


def test_search_and_export(seeded, tmp_path):
    work, store = seeded
    store.add(["Dress", "Black"], {"id": "hm-1", "name": "Dress"}, ["a", "b"], "a", "A black dress.", "modict")
    store.add(["Mug"], {"id": "ikea-2", "name": "Mug"}, ["c"], "c", "=HYPERLINK(\"http://x\")", "prompt")
    assert [a.final for a in store.list("dress")] == ["A black dress."]
    assert len(store.list("")) == 2 and store.list("")[0].keywords == ["Mug"]  # newest first
    rows = list(csv.DictReader(store.export_csv(tmp_path / "a.csv").open()))
    assert [r["id"] for r in rows] == ["2", "1"]
    assert rows[1]["final"] == "A black dress." and rows[1]["reference_id"] == "hm-1" and rows[1]["drafts"] == "a || b"
    assert rows[0]["final"].startswith("'=")  # a spreadsheet will not run it as a formula
    data = json.loads(store.export_json(tmp_path / "a.json", "mug").read_text())
    assert len(data) == 1 and data[0]["final"].startswith("=HYPERLINK") and data[0]["reference"]["id"] == "ikea-2"


def test_an_approval_keeps_its_listing_and_a_file_from_before_listings_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    work = Catalog(path, create=True)
    work.db.executescript("CREATE TABLE approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, photo TEXT NOT NULL DEFAULT '', "
                          "keywords TEXT NOT NULL, reference TEXT NOT NULL, drafts TEXT NOT NULL, chosen TEXT NOT NULL, final TEXT NOT NULL, "
                          "writer TEXT NOT NULL DEFAULT '', product_id TEXT);"
                          "INSERT INTO approvals (created_at, keywords, reference, drafts, chosen, final) VALUES (1, '[\"Mug\"]', '{}', '[]', '', 'Old.');")
    store = ApprovalStore(work, tmp_path / "photos")
    assert store.get(1).listing == {} and store.get(1).final == "Old."  # kept, without a listing
    listing = {"title": "Mug, White", "bullets": ["Colour: White"], "channel": "shopify"}
    a = store.add(["Mug", "White"], {"id": "r"}, ["A mug."], "A mug.", "A mug.", "prompt", listing=listing)
    assert store.get(a.id).listing == listing and a.to_dict()["listing"] == listing
    with sqlite3.connect(path) as db:
        assert "listing" in [r[1] for r in db.execute("PRAGMA table_info(approvals)")]
