import csv

from conftest import SHARED, needs_shared

from ecomcopy.metrics import copies
from ecomcopy.products import Product
from ecomcopy.train import TrainConfig, lr_at, train, uncopied_references


def _cfg(folder, out, steps):
    return TrainConfig(data=[str(folder)], out=str(out), steps=steps, batch_size=2, ckpt_every=2, warmup=2, lr=3e-3, seed=3)


def _losses(out):
    return [float(r["loss"]) for r in csv.DictReader((out / "loss.csv").open())]


def test_train_resume_and_determinism(tmp_path, small_folder, tiny_lm):
    a = tmp_path / "a"
    train(_cfg(small_folder, a, 4), progress=False, lm=tiny_lm)
    train(_cfg(small_folder, a, 6), progress=False, lm=tiny_lm)  # resumes at step 4
    assert len(_losses(a)) == 6
    assert (a / "loss.png").stat().st_size > 0 and (a / "adapter.safetensors").is_file() and (a / "adapter.json").is_file()
    b = tmp_path / "b"
    train(_cfg(small_folder, b, 6), progress=False, lm=tiny_lm)  # straight through, same seed
    assert _losses(b)[:4] == _losses(a)[:4]


def test_lr_schedule_warmup_then_decay():
    cfg = TrainConfig(steps=100, warmup=10, lr=1.0)
    assert lr_at(0, cfg) == 0.1 and lr_at(9, cfg) == 1.0
    assert lr_at(50, cfg) < 1.0 and abs(lr_at(100, cfg) - 0.1) < 1e-9


def test_train_starts_from_a_given_adapter(tmp_path, small_folder, tiny_lm):
    import dataclasses

    from safetensors.torch import load_file

    a = tmp_path / "a"
    train(_cfg(small_folder, a, 2), progress=False, lm=tiny_lm)
    c = tmp_path / "c"  # lr 0: the run's adapter must be the one it started from, not fresh zero-influence modules
    train(dataclasses.replace(_cfg(small_folder, c, 2), init=str(a / "adapter"), lr=0.0), progress=False, lm=tiny_lm)
    fresh = tmp_path / "fresh"
    train(dataclasses.replace(_cfg(small_folder, fresh, 2), lr=0.0), progress=False, lm=tiny_lm)
    start, kept, zero = (load_file(str(p / "adapter.safetensors")) for p in (a, c, fresh))
    assert all(kept[k].equal(start[k]) for k in start)
    assert not all(zero[k].equal(start[k]) for k in start)


@needs_shared
def test_no_copy_refs_takes_the_next_candidate_the_target_does_not_copy():
    """Real H&M train products: two groups that share one description copy each other; a third does not."""
    import json

    import numpy as np

    rows = [json.loads(line) for line in (SHARED / "hm" / "products.jsonl").open()]
    by_text: dict[str, list[dict]] = {}
    for r in rows:
        if r["split"] == "train":
            by_text.setdefault(r["description"], []).append(r)
    twins = next(rs for rs in by_text.values() if len({r["group"] for r in rs}) > 1 and len(rs[0]["description"].split()) >= 8)
    a = twins[0]
    b = next(r for r in twins if r["group"] != a["group"])
    other = next(r for r in rows if r["split"] == "train" and not copies(r["description"], a["description"]))
    products = [Product(**{k: r[k] for k in ("id", "group", "name", "keywords", "description", "image")}) for r in (a, b, other)]
    assert copies(b["description"], a["description"])
    cands = np.array([[1, 2], [0, 2], [0, 1]])  # product 0's nearest is its twin (copied), then `other`
    refs = uncopied_references(products, cands)
    assert refs.tolist() == [2, 2, 0]  # 0 and 1 move to `other`; `other` copies neither and keeps its nearest
    assert uncopied_references(products, np.array([[1, 1], [0, 0], [0, 1]])).tolist() == [1, 0, 0]  # nothing free: keep


def test_retrieve_references_top_k_excludes_own_group_best_first():
    import numpy as np

    from ecomcopy.features import retrieve_references

    rng = np.random.default_rng(0)
    pooled, text = rng.normal(size=(12, 16)).astype(np.float32), rng.normal(size=(12, 8)).astype(np.float32)
    groups = [f"g{i // 2}" for i in range(12)]  # pairs share a group
    one = retrieve_references(pooled, text, groups, 0.5)
    top = retrieve_references(pooled, text, groups, 0.5, k=4)
    assert one.shape == (12,) and top.shape == (12, 4)
    assert (top[:, 0] == one).all()
    for i, cands in enumerate(top):
        assert len(set(cands.tolist())) == 4 and all(groups[c] != groups[i] for c in cands)


def test_lora_run_trains_its_branches_and_continues_from_its_adapter(tmp_path, small_folder, tiny_lm):
    import copy
    import dataclasses
    import json

    from safetensors.torch import load_file

    def private():  # LoRA wraps the projections of the LM it trains on
        return dataclasses.replace(tiny_lm, model=copy.deepcopy(tiny_lm.model))

    a = tmp_path / "a"
    train(dataclasses.replace(_cfg(small_folder, a, 2), lora_rank=2, lora_lr=1e-2), progress=False, lm=private())
    start = load_file(str(a / "adapter.safetensors"))
    lora_b = [k for k in start if k.startswith("lora.") and k.endswith(".B.weight")]
    assert json.loads((a / "adapter.json").read_text())["lora"]["rank"] == 2
    assert lora_b and all(start[k].abs().sum() > 0 for k in lora_b)  # B starts at zero: the branches trained
    c = tmp_path / "c"  # lr 0 from a LoRA adapter: the LM gets that adapter's branches, and keeps them
    train(dataclasses.replace(_cfg(small_folder, c, 2), init=str(a / "adapter"), lr=0.0), progress=False, lm=private())
    kept = load_file(str(c / "adapter.safetensors"))
    assert kept.keys() == start.keys() and all(kept[k].equal(start[k]) for k in start)


def test_lora_run_resumes_where_it_stopped(tmp_path, small_folder, tiny_lm):
    import copy
    import dataclasses

    def cfg(out, steps):
        return dataclasses.replace(_cfg(small_folder, out, steps), lora_rank=2, lora_lr=1e-2)

    a, b = tmp_path / "a", tmp_path / "b"
    train(cfg(a, 2), progress=False, lm=dataclasses.replace(tiny_lm, model=copy.deepcopy(tiny_lm.model)))
    with (a / "loss.csv").open("a") as f:
        f.write("3,9.99,0.001,1.0\n")  # a step logged before a crash, after the last checkpoint: it runs again
    train(cfg(a, 4), progress=False, lm=dataclasses.replace(tiny_lm, model=copy.deepcopy(tiny_lm.model)))  # from last.pt
    train(cfg(b, 4), progress=False, lm=dataclasses.replace(tiny_lm, model=copy.deepcopy(tiny_lm.model)))
    assert len(_losses(a)) == 4 and _losses(a) == _losses(b)
