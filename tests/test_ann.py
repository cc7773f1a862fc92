"""The ANN back end: same answers as exact search, persisted beside the catalog, repaired after a crash."""

import numpy as np
import pytest

from ecomcopy.ann import AnnConfig, AnnIndex, joint
from ecomcopy.catalog import Catalog
from ecomcopy.indexer import index_folder


@pytest.fixture
def db(tmp_path, small_folder, image_encoder, text_encoder):
    cat = Catalog(tmp_path / "cat.db", create=True)
    index_folder(small_folder, cat, image_encoder, text_encoder, progress=False)
    cat.close()
    return tmp_path / "cat.db"


def _queries(cat):
    return [(r[1], r[2], np.frombuffer(r[3], np.float16).astype(np.float32), np.frombuffer(r[4], np.float16).astype(np.float32))
            for r in cat.vector_rows()]


def test_ann_matches_exact(db):
    exact, ann = Catalog(db, backend="exact"), Catalog(db, backend="ann")
    assert not exact.index.uses_ann() and ann.index.uses_ann() and Catalog(db).index.uses_ann() is False  # auto: exact when small
    for pid, grp, iv, tv in _queries(exact):
        for kw in [dict(image_vec=iv, text_vec=tv), dict(image_vec=iv), dict(text_vec=tv)]:
            a = exact.search(**kw, k=3, exclude_group=grp)
            b = ann.search(**kw, k=3, exclude_group=grp)
            assert [h.product.id for h in a] == [h.product.id for h in b]
            assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-4)
            assert all(h.product.group != grp for h in b)
    assert ann.index.ann_path.exists()


def test_index_follows_writes_and_survives_restart(db, image_encoder, text_encoder):
    cat = Catalog(db, backend="ann")
    pid, grp, iv, tv = _queries(cat)[0]
    assert cat.search(iv, tv, k=1)[0].product.id == pid  # builds and saves the index
    product = cat.get(pid)
    clone = type(product)(**{**product.__dict__, "id": "new-1", "group": "new-group"})
    cat.upsert([(clone, product.image_path, "h", iv, tv)])
    hits = cat.search(iv, tv, k=2)
    assert {h.product.id for h in hits} == {pid, "new-1"}  # in memory at once
    # a "crash": the index file on disk is older than the catalog; a new process replays the pending rows
    again = Catalog(db, backend="ann")
    assert {h.product.id for h in again.search(iv, tv, k=2)} == {pid, "new-1"}
    again.delete("new-1")
    assert "new-1" not in {h.product.id for h in again.search(iv, tv, k=3)}
    again.close()
    third = Catalog(db, backend="ann")
    assert len(third.index._ann_index()) == len(third) and "new-1" not in {h.product.id for h in third.search(iv, tv, k=3)}


def test_corrupt_or_disagreeing_index_is_rebuilt(db):
    cat = Catalog(db, backend="ann")
    pid, grp, iv, tv = _queries(cat)[0]
    cat.search(iv, tv, k=1)
    cat.close()
    cat.index.ann_path.write_bytes(b"garbage")
    fresh = Catalog(db, backend="ann")
    assert fresh.search(iv, tv, k=1)[0].product.id == pid and len(fresh.index._ann_index()) == len(fresh)


def test_joint_inner_product_is_the_fused_score():
    rng = np.random.default_rng(0)
    img, txt = rng.normal(size=(50, 8)), rng.normal(size=(50, 4))
    img /= np.linalg.norm(img, axis=1, keepdims=True)
    txt /= np.linalg.norm(txt, axis=1, keepdims=True)
    qi, qt = img[3], txt[3]
    idx = AnnIndex.train(joint(img, txt, 8, 4), 50, 8, np.zeros(8), AnnConfig(nlist=1))
    idx.add(np.arange(50), joint(img, txt, 8, 4))
    ids, scores = idx.search(joint(qi[None], qt[None], 8, 4, 0.3, 0.7)[0], 5)
    fused = 0.3 * img @ qi + 0.7 * txt @ qt
    assert ids[0][0] == int(np.argmax(fused)) and abs(scores[0][0] - fused.max()) < 0.02  # 8-bit codes: close, not equal
