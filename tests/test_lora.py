"""LoRA branches on the LM, trained with ModICT: checkpoint round trip (unmerged and merged into int8), refusals."""

import copy

import pytest
import torch

from ecomcopy import lora
from ecomcopy.errors import BackboneError
from ecomcopy.lm import LoadedLM, quantize_int8
from ecomcopy.model import ModICT
from ecomcopy.prompt import Example

D = 32


def _example() -> Example:
    g = torch.Generator().manual_seed(0)
    return Example(["Dress", "Black", "jersey"], torch.randn(49, D, generator=g), ["Top", "White"], "Short top in soft jersey.",
                   torch.randn(49, D, generator=g), "Long dress in black jersey with short sleeves.")


def _copy(tiny_lm, **kw) -> LoadedLM:
    """A private copy of the session's tiny LM: LoRA changes the modules of the LM it is attached to."""
    fields = dict(name=tiny_lm.name, model=copy.deepcopy(tiny_lm.model), tokenizer=tiny_lm.tokenizer,
                  fingerprint=tiny_lm.fingerprint, quantized=False)
    return LoadedLM(**{**fields, **kw})


@torch.no_grad()
def _hidden(model: ModICT) -> torch.Tensor:
    """The LM's last hidden states over an example, prefix included."""
    e, _, summary = model.build(_example())
    model._set_prefix(model.prompts(summary[None]))
    try:
        return model.lm.model.model(inputs_embeds=e[None]).last_hidden_state[0]
    finally:
        model._set_prefix(None)


@pytest.fixture
def trained(tiny_lm, tmp_path):
    """A LoRA + ModICT adapter with non-zero weights everywhere, saved; -> (path, loss before saving)."""
    torch.manual_seed(0)
    model = ModICT.for_lm(_copy(tiny_lm), "enc:test", D, lora=lora.LoraSpec(rank=4).to_dict())
    assert model.lora is not None and len(model.lora) == 2 * 7  # 2 layers x (4 attention + 3 MLP projections)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        for branch in model.lora.values():
            branch["B"].weight.normal_(0, 0.5)  # a LoRA that changes the LM's output a lot, so a lost merge shows
        before = model.loss([_example()]).item()
    model.save(tmp_path / "adapter")
    model.remove_hooks()
    return tmp_path / "adapter", before


def test_lora_trains_only_its_branches_and_modict(tiny_lm):
    lm = _copy(tiny_lm)
    base = {k: v.clone() for k, v in lm.model.state_dict().items()}
    model = ModICT.for_lm(lm, "enc:test", D, lora=lora.LoraSpec(rank=2).to_dict())
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(2):
        opt.zero_grad()
        model.loss([_example()]).backward()
        opt.step()
    model.remove_hooks()
    assert all(m["B"].weight.abs().sum() > 0 for m in model.lora.values())  # B starts at zero and has moved
    after = {k.replace(".base_layer", ""): v for k, v in lm.model.state_dict().items() if "lora_" not in k}
    assert after.keys() == base.keys() and all(torch.equal(base[k], after[k]) for k in base)  # the LM's own weights


def test_lora_checkpoint_round_trips_unmerged_merged_and_int8(tiny_lm, trained):
    from safetensors import safe_open

    path, before = trained
    weights = lora.weights_of(path)
    with safe_open(str(path.with_suffix(".safetensors")), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}  # small enough for git
    assert weights is not None and weights.spec.rank == 4
    unmerged = _copy(tiny_lm, lora=weights.digest)
    lora.attach(unmerged.model, weights, 2)
    again = ModICT.load(path, unmerged, "enc:test")
    assert again.lora is not None
    with torch.no_grad():
        assert abs(again.loss([_example()]).item() - before) < 1e-2  # fp16 on disk
    again.remove_hooks()
    merged = _copy(tiny_lm, lora=weights.digest, lora_merged=True)
    lora.attach(merged.model, weights, 2)
    for layer in merged.model.model.layers:
        lora.merge(layer)
    assert not lora.has_lora(merged.model)
    plain = ModICT.load(path, merged, "enc:test")
    with torch.no_grad():
        assert plain.lora is None and abs(plain.loss([_example()]).item() - before) < 1e-2
    want = _hidden(plain)
    plain.remove_hooks()
    q = _copy(tiny_lm, quantized=True, lora=weights.digest, lora_merged=True)
    lora.attach(q.model, weights, 2)
    quantize_int8(q.model, before_block=lora.merge)
    int8 = ModICT.load(path, q, "enc:test")
    no_lora = ModICT.load(path, _copy(tiny_lm, quantized=True, lora=weights.digest, lora_merged=True), "enc:test")
    err, effect = (_hidden(int8) - want).norm(), (_hidden(no_lora) - want).norm()
    assert err < 0.2 * effect  # the merged LoRA is in the int8 weights (int8 rounding is small beside it)
    drafts, _ = int8.generate(_example(), n=2, max_new_tokens=4)
    assert len(drafts) == 2


def test_lora_adapter_refuses_an_lm_without_its_lora_or_another_backbone(tiny_lm, trained):
    path, _ = trained
    with pytest.raises(BackboneError, match="LoRA weights"):
        ModICT.load(path, _copy(tiny_lm), "enc:test")  # the plain LM would write with half the model missing
    with pytest.raises(BackboneError, match="carries a LoRA"):  # and a frozen-LM adapter is not for a LoRA'd LM
        frozen = ModICT.for_lm(_copy(tiny_lm), "enc:test", D)
        frozen.save(path.parent / "frozen")
        frozen.remove_hooks()
        ModICT.load(path.parent / "frozen", _copy(tiny_lm, lora=lora.weights_of(path).digest), "enc:test")
    with pytest.raises(BackboneError, match="trained with lm"):
        ModICT.load(path, _copy(tiny_lm, fingerprint="qwen2.5-1.5b:cc324af070c2ecbf", lora=lora.weights_of(path).digest), "enc:test")
    other = lora.weights_of(path)
    other.state = {k: v + 1 for k, v in other.state.items()}
    with pytest.raises(BackboneError, match="LoRA weights"):
        ModICT.load(path, _copy(tiny_lm, lora=lora.digest(other.state)), "enc:test")


def test_lora_weights_must_fit_the_lm(tiny_lm, trained):
    path, _ = trained
    weights = lora.weights_of(path)
    weights.state.pop(next(iter(weights.state)))
    with pytest.raises(BackboneError, match="do not fit"):
        lora.attach(_copy(tiny_lm).model, weights, 2)


def test_frozen_adapter_has_no_lora(tiny_lm, tmp_path):
    model = ModICT.for_lm(_copy(tiny_lm), "enc:test", D)
    model.save(tmp_path / "adapter")
    model.remove_hooks()
    assert model.lora is None and lora.weights_of(tmp_path / "adapter") is None


def test_last_layers_only(tiny_lm):
    model = ModICT.for_lm(_copy(tiny_lm), "enc:test", D, lora=lora.LoraSpec(rank=2, targets=("q_proj", "v_proj"), last_layers=1).to_dict())
    model.remove_hooks()
    assert sorted(model.lora) == ["model_layers_1_self_attn_q_proj", "model_layers_1_self_attn_v_proj"]


def test_each_backbone_writes_with_its_own_shipped_adapter(tmp_path, monkeypatch):
    """ECOMCOPY_LM / --lm pick the writer's LM; its shipped adapter comes with it, or the plain prompt if it has none."""
    import json

    from ecomcopy import config

    for folder, lm in [("qwen2.5-1.5b", "qwen2.5-1.5b"), ("qwen2.5-0.5b", "qwen2.5-0.5b"), ("gemma3-270m", "smollm2-135m")]:
        (tmp_path / "modict" / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / "modict" / folder / "adapter.json").write_text(json.dumps({"lm": lm}))
    monkeypatch.setattr(config, "ASSETS_DIR", tmp_path)
    assert config.shipped_adapter() == config.shipped_adapter(config.DEFAULT_LM) == tmp_path / "modict" / config.DEFAULT_LM / "adapter"
    assert config.shipped_adapter("qwen2.5-0.5b") == tmp_path / "modict" / "qwen2.5-0.5b" / "adapter"
    assert config.shipped_adapter("gemma3-270m") is None  # a file by that name trained on another LM is not its adapter
    assert config.shipped_adapter("smollm2-135m") is None


def test_every_shipped_adapter_is_found_by_its_own_lm_and_stored_in_fp16():
    """Each adapter under assets/modict is the one `shipped_adapter` gives its LM (the 1.5B's carries its LoRA),
    and holds fp16 weights only. The exception is the 0.5B's, saved in fp32 before adapters were saved in fp16: rounding it
    now would change the drafts its measurements describe. The default writer's is the 1.5B's LoRA writer."""
    from safetensors import safe_open

    from ecomcopy import config
    from ecomcopy.model import ModICT

    stems = sorted(p.with_suffix("") for p in (config.ASSETS_DIR / "modict").rglob("adapter.safetensors"))
    assert len(stems) >= 2
    for stem in stems:
        cfg = ModICT.config_of(stem)
        assert config.shipped_adapter(cfg.lm) == stem
        with safe_open(stem.with_suffix(".safetensors"), "pt") as f:
            dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
        assert dtypes == ({"F32"} if cfg.lm == "qwen2.5-0.5b" else {"F16"}), stem
    assert config.DEFAULT_ADAPTER == config.shipped_adapter("qwen2.5-1.5b") and ModICT.config_of(config.DEFAULT_ADAPTER).lora
