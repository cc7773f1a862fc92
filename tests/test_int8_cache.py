"""The int8 weights kept after the first start: a warm start loads them instead of packing the fp32 checkpoint."""

import logging

import pytest
import torch

from ecomcopy import int8_cache, lora
from ecomcopy.lm import load_lm

LM = "smollm2-135m"  # the smallest pip-carried LM: the same code path as the writer's, in seconds


@pytest.fixture
def kept(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOMCOPY_INT8_CACHE", str(tmp_path / "int8"))
    return tmp_path / "int8" / LM


def _no_fp32_checkpoint(monkeypatch):
    """Make reading the fp32 checkpoint fail: a load that succeeds must have used the kept int8 weights."""
    from transformers import AutoModelForCausalLM

    def refuse(*a, **k):
        raise AssertionError("read the fp32 checkpoint")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", refuse)


def _logits(lm) -> torch.Tensor:
    ids = lm.tokenizer("Slim-fit jeans in washed denim with", return_tensors="pt")
    with torch.no_grad():
        return lm.model(**ids).logits


def _random_lora(rank: int = 2) -> lora.LoraWeights:
    """A LoRA for the LM that changes its output (B non-zero), as an adapter file would carry it."""
    fp32 = load_lm(LM, quantize=False)
    torch.manual_seed(0)
    found = lora.inject(fp32.model, lora.LoraSpec(rank=rank), fp32.model.config.num_hidden_layers)
    with torch.no_grad():
        for branch in found.values():
            branch["B"].weight.normal_(0, 0.05)
    state = {lora.PREFIX + k: v.clone() for k, v in found.state_dict().items()}
    return lora.LoraWeights(lora.LoraSpec(rank=rank), state, lora.digest(state))


def test_second_start_loads_the_kept_int8_weights_and_writes_the_same(kept, monkeypatch):
    first = load_lm(LM)
    folders = list(kept.glob("int8-*"))
    assert len(folders) == 1 and (folders[0] / int8_cache.INDEX).exists()
    _no_fp32_checkpoint(monkeypatch)
    second = load_lm(LM)
    assert second.quantized and second.fingerprint == first.fingerprint
    assert not any(p.requires_grad for p in second.model.parameters()) and not second.model.training
    assert torch.equal(_logits(first), _logits(second))
    assert second.model.generation_config.to_dict() == first.model.generation_config.to_dict()
    ids = first.tokenizer("A soft cotton T-shirt", return_tensors="pt")
    assert torch.equal(first.model.generate(**ids, max_new_tokens=8, do_sample=False),
                       second.model.generate(**ids, max_new_tokens=8, do_sample=False))


def test_a_writer_lora_is_kept_merged_under_its_own_name(kept, monkeypatch):
    weights = _random_lora()
    plain = load_lm(LM)
    merged = load_lm(LM, lora=weights)
    assert len(list(kept.glob("int8-*"))) == 2  # one per LoRA: the plain LM's is not overwritten
    assert not torch.equal(_logits(plain), _logits(merged))
    _no_fp32_checkpoint(monkeypatch)
    again = load_lm(LM, lora=weights)
    assert again.lora == weights.digest and again.lora_merged
    assert torch.equal(_logits(again), _logits(merged))


def test_an_unusable_kept_file_is_packed_again(kept, caplog):
    want = _logits(load_lm(LM))
    folder = next(kept.glob("int8-*"))
    piece = sorted(folder.glob("*.pt"))[3]
    piece.write_bytes(piece.read_bytes()[: piece.stat().st_size // 3])  # a start killed while writing, a full disk
    with caplog.at_level(logging.WARNING, logger="ecomcopy.int8_cache"):
        lm = load_lm(LM)
    assert "unusable" in caplog.text
    assert torch.equal(_logits(lm), want)
    assert [p.name for p in kept.iterdir()] == [folder.name] and (folder / int8_cache.INDEX).exists()  # packed again


def test_the_name_follows_every_input_that_changes_the_bytes(tmp_path):
    env = {"ECOMCOPY_INT8_CACHE": str(tmp_path)}
    base = int8_cache.path_for(LM, "smollm2-135m:abc", "", env)
    assert base.parent == tmp_path / LM and base.name.startswith("int8-")
    assert int8_cache.path_for(LM, "smollm2-135m:abc", "", env) == base
    assert int8_cache.path_for(LM, "smollm2-135m:abd", "", env) != base  # other weights
    assert int8_cache.path_for(LM, "smollm2-135m:abc", "0123456789abcdef", env) != base  # a LoRA merged in
    assert int8_cache.path_for(LM, "smollm2-135m:abc", "", {"ECOMCOPY_INT8_CACHE": "off"}) is None


def test_only_the_newest_folders_of_an_lm_are_kept(tmp_path):
    import os

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2))
    paths = [tmp_path / f"int8-{i}" for i in range(int8_cache.KEEP + 2)]
    for i, p in enumerate(paths):
        int8_cache.save(model, p)
        os.utime(p / int8_cache.INDEX, (1000 + i, 1000 + i))
    int8_cache.save(model, paths[-1])
    assert sorted(tmp_path.iterdir()) == sorted(paths[-int8_cache.KEEP:])
    assert len(list(paths[-1].glob("*.pt"))) == 2  # one file per piece: the Linear, the norm
