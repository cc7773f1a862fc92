import csv

from ecomcopy.train import TrainConfig, lr_at, train


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
