"""Bulk: CSV + ZIP of photos -> one result per row; bad rows reported in place; hostile ZIPs refused."""

import csv
import io
import zipfile

import pytest

from conftest import SHARED, needs_shared
from ecomcopy.bulk import BulkLimits, PhotoArchive, read_rows, run_bulk, safe_member_name, write_results
from ecomcopy.errors import InputError
from ecomcopy.config import SamplingConfig


def _csv(path, rows, header="id,keywords,image", encoding="utf-8"):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header.split(","))
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _job(tmp_path):
    """A small real job: 2 good products and 6 kinds of bad row."""
    photo = (SHARED / "hm" / "images" / "0111586001.jpg").read_bytes()
    mug = next((SHARED / "ikea" / "images").iterdir()).read_bytes()
    z = _zip(tmp_path / "photos.zip", {"a/leggings.jpg": photo, "mug.jpg": mug, "notes.jpg": b"not an image"})
    c = _csv(tmp_path / "products.csv", [
        ["p1", "Leggings, Black, Solid", "a/leggings.jpg"],
        ["p2", "", "mug.jpg"],                        # empty keywords
        ["p3", "Mug, White", "missing.jpg"],          # not in the ZIP
        ["p4", "Mug", "notes.jpg"],                   # unreadable
        ["p1", "Again", "mug.jpg"],                   # duplicate id
        ["p5", "Mug", "../etc/passwd"],               # climbs out
        ["p6", "Mug", "/etc/passwd"],                 # absolute
        ["p7", "Mug, White, Ceramic", "mug.jpg"],
    ])
    return read_rows(c), PhotoArchive(z)


@needs_shared
def test_bulk_job_good_and_bad_rows(tmp_path, pipeline):
    rows, archive = _job(tmp_path)
    seen = []
    results = list(run_bulk(pipeline, rows, archive, SamplingConfig(n=2, max_new_tokens=30, seed=0), progress=lambda i, n: seen.append((i, n))))
    assert seen[-1] == (8, 8) and [r.id for r in results] == ["p1", "p2", "p3", "p4", "p1", "p5", "p6", "p7"]
    assert [r.status for r in results] == ["ok", "error", "error", "error", "error", "error", "error", "ok"]
    assert "empty keywords" in results[1].message
    assert "not in the ZIP" in results[2].message
    assert "not an image" in results[3].message
    assert "duplicate id" in results[4].message
    assert "outside the ZIP" in results[5].message and "outside the ZIP" in results[6].message
    ok = results[0]
    assert ok.reference_id and ok.best_draft in ok.drafts and 0 <= ok.best_coverage <= 1
    out = list(csv.DictReader(write_results(results, tmp_path / "out.csv").open()))
    assert len(out) == 8 and out[0]["best_draft"] == ok.best_draft and out[2]["status"] == "error"


def test_csv_problems_have_clear_messages(tmp_path):
    with pytest.raises(InputError, match="lacks the column.*image"):
        read_rows(_csv(tmp_path / "a.csv", [["1", "x"]], header="id,keywords"))
    with pytest.raises(InputError, match="UTF-8"):
        read_rows(_csv(tmp_path / "b.csv", [["1", "Kjole, rød – blå", "x.jpg"]], encoding="cp1252"))
    with pytest.raises(InputError, match="no products"):
        read_rows(_csv(tmp_path / "c.csv", []))
    many = _csv(tmp_path / "d.csv", [[str(i), "mug", f"{i}.jpg"] for i in range(100_000)])
    with pytest.raises(InputError, match="more than 5,000"):
        read_rows(many)
    rows = read_rows(_csv(tmp_path / "e.csv", [["1", "mug", "x.jpg"]], header="ID, Keywords ,Image"))  # header case/spaces
    assert rows[0].id == "1" and rows[0].image == "x.jpg"
    semi = tmp_path / "f.csv"
    semi.write_text("id;keywords;image\n1;mug, white;x.jpg\n")
    assert read_rows(semi)[0].keywords == "mug, white"  # Excel's semicolon CSV


def test_zip_guards(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"big.jpg": b"\0" * 30_000_000})
    archive = PhotoArchive(bomb)
    with pytest.raises(InputError, match="over 25 MB|ZIP bomb"):
        archive.read("big.jpg")
    small_bomb = _zip(tmp_path / "small.zip", {"z.jpg": b"\0" * 2_000_000})
    with pytest.raises(InputError, match="ZIP bomb"):
        PhotoArchive(small_bomb).read("z.jpg")
    many = _zip(tmp_path / "many.zip", {f"{i}.jpg": b"x" for i in range(6)})
    with pytest.raises(InputError, match="at most 5"):
        PhotoArchive(many, BulkLimits(max_members=5))
    with pytest.raises(InputError, match="unpack to"):
        PhotoArchive(bomb, BulkLimits(max_total_bytes=1_000_000))
    (tmp_path / "not.zip").write_bytes(b"hello")
    with pytest.raises(InputError, match="not a ZIP"):
        PhotoArchive(tmp_path / "not.zip")
    evil = _zip(tmp_path / "evil.zip", {"../../evil.jpg": b"x", "/abs.jpg": b"x", "ok/fine.jpg": b"x"})
    with PhotoArchive(evil) as a:
        assert set(a.members) == {"ok/fine.jpg"} and len(a.refused) == 2
        assert a.read("ok/fine.jpg") == b"x"
    assert a.zip.fp is None  # closed on leaving the block
    assert not (tmp_path.parent / "evil.jpg").exists()  # nothing is ever extracted


@pytest.mark.parametrize("name, ok", [("a.jpg", "a.jpg"), ("dir/b.png", "dir/b.png"), ("dir\\c.jpg", "dir/c.jpg"), ("./d.jpg", "d.jpg"),
                                      ("../e.jpg", None), ("/f.jpg", None), ("C:/g.jpg", None), ("a/../../h.jpg", None), ("", None)])
def test_member_names(name, ok):
    assert safe_member_name(name) == ok


@needs_shared
def test_ray_runner_gives_the_in_process_results(tmp_path, pipeline):
    """The Ray runner (a local Ray, one pipeline replica as an actor) writes what the in-process path writes."""
    import dataclasses

    ray = pytest.importorskip("ray")
    from ecomcopy.bulk_ray import run_bulk_ray

    rows, archive = _job(tmp_path)
    sampling = SamplingConfig(n=2, max_new_tokens=30, seed=0)
    here = list(run_bulk(pipeline, rows, archive, sampling))
    cfg = dataclasses.replace(pipeline.cfg, seed=None, photos=None)  # the same catalog, read-only
    seen = []
    try:
        there = list(run_bulk_ray(cfg, rows, archive, sampling, workers=1, batch_size=3, progress=lambda i, n: seen.append(i)))
    finally:
        ray.shutdown()
    assert seen == list(range(1, 9))
    assert [dataclasses.asdict(r) for r in there] == [dataclasses.asdict(r) for r in here]
    assert sum(r.status == "ok" for r in there) == 2


def test_rows_with_copy_are_kept_and_results_mark_what_a_model_wrote(tmp_path):
    from ecomcopy.bulk import BulkOptions, BulkResult, process_row

    c = _csv(tmp_path / "p.csv", [["p1", "Mug, White", "mug.jpg", "Our own copy.", "Acme"]], header="id,keywords,image,description,brand")
    row = read_rows(c)[0]
    assert (row.description, row.brand) == ("Our own copy.", "Acme")
    kept = process_row(None, row, None, SamplingConfig(n=1))  # skipped before any model or photo is touched
    assert kept.status == "skipped" and "kept" in kept.message and not kept.passes
    written = BulkResult("p2", "ok", drafts=["A white mug."], best_draft="A white mug.", writer="modict",
                         listing={"channel": "ebay", "title": "Mug, White", "bullets": ["Colour: White"], "tags": ["mug", "white"],
                                  "machine_written": ["description", "meta_description"]})
    flagged = BulkResult("p3", "ok", best_flags="a word stammered", listing=written.listing)
    broken = BulkResult("p4", "ok", violations=["Title is 81 characters; eBay allows 80: cut 1."], listing=written.listing)
    assert [r.passes for r in (written, flagged, broken)] == [True, False, False]
    out = list(csv.DictReader(write_results([kept, written, broken], tmp_path / "out.csv").open()))
    assert out[0]["status"] == "skipped" and out[1]["machine_written"] == "description, meta_description"
    assert (out[1]["title"], out[1]["bullets"], out[1]["passes"], out[2]["passes"]) == ("Mug, White", "Colour: White", "yes", "no")
    assert out[2]["violations"].startswith("Title is 81") and BulkOptions().channel == "shopify"


@needs_shared
def test_the_bulk_tab_approves_each_passing_product_once_and_exports_for_a_shop(tmp_path, pipeline):
    import app

    photos = sorted((SHARED / "hm" / "images").iterdir())[20:24]
    z = _zip(tmp_path / "photos.zip", {p.name: p.read_bytes() for p in photos})
    c = _csv(tmp_path / "p.csv", [[f"b{i}", "Top, Black, jersey", p.name, "Our copy." if i == 3 else ""] for i, p in enumerate(photos)],
             header="id,keywords,image,description")
    table, _, status = app.bulk(str(c), str(z), 2, "amazon")
    ready = [r[0] for r in table if r[9] == "yes"]
    assert [r[1] for r in table] == ["ok", "ok", "ok", "skipped"] and "1 kept their description" in status
    assert all(r[7] == "Top, Jersey, Black" for r in table[:3])  # the listing's title, for Amazon
    again, _, status = app.bulk(str(c), str(z), 2, "amazon")  # the same job: every row from the job store
    assert again == table and status.startswith("Resumed an earlier run of this job: 4 product(s)")
    before = len(pipeline.approvals)
    said, _ = app.approve_passing(str(c), str(z), 2, "amazon")
    assert said.startswith(f"Approved {len(ready)} product(s)") and len(pipeline.approvals) == before + len(ready)
    said, _ = app.approve_passing(str(c), str(z), 2, "amazon")  # pressed twice: nothing approved twice
    assert said.startswith("Approved 0 product(s)") and len(pipeline.approvals) == before + len(ready)
    mine = pipeline.approvals.list()[: len(ready)]
    assert all(a.listing["channel"] == "amazon" and a.product_id for a in mine)
    with open(app.export_job("shopify", str(c), str(z), 2, "amazon"), encoding="utf-8") as f:
        shop = list(csv.DictReader(f))
    assert [r["Handle"] for r in shop] == ["top-jersey-black", "top-jersey-black-2", "top-jersey-black-3"]
    assert {r["Status"] for r in shop} == {"draft"}
    for a in mine:  # leave the session's catalog as it was
        pipeline.approvals.delete(a.id)
