import pytest
import torch

from ecomcopy.errors import BackboneError
from ecomcopy.sampler import stop_ids
from ecomcopy.model import DynamicPrompts, FeatureTransformer, ModICT, ModICTConfig
from ecomcopy.prompt import Example

D = 32  # visual token width of a pretend encoder


def example(seed: int = 0, target: str | None = "Long dress in black jersey with short sleeves.") -> Example:
    g = torch.Generator().manual_seed(seed)
    return Example(["Dress", "Black", "jersey"], torch.randn(49, D, generator=g), ["Top", "White"], "Short top in soft jersey.",
                   torch.randn(49, D, generator=g), target)


@pytest.fixture
def model(tiny_lm):
    torch.manual_seed(0)
    m = ModICT.for_lm(tiny_lm, "enc:test", visual_dim=D)
    yield m
    m.remove_hooks()


def test_module_shapes():
    cfg = ModICTConfig(visual_dim=D, lm_hidden=64, lm_layers=3, num_queries=8, prefix_len=5)
    assert FeatureTransformer(cfg)(torch.randn(2, 49, D)).shape == (2, 8, 64)
    assert DynamicPrompts(cfg)(torch.randn(2, 64)).shape == (3, 2, 5, 64)


def test_input_order_and_labels(model):
    e, labels, summary = model.build(example())
    k = model.cfg.num_queries
    n_target = int((labels != -100).sum())
    assert e.shape[1] == 64 and summary.shape == (64,)
    assert n_target > 5 and (labels[-n_target:] != -100).all()  # only the target is learned, and it comes last
    no_ref, _, _ = model.build(Example(["Dress"], torch.randn(49, D)))
    no_vis, _, s0 = model.build(Example(["Dress"]))
    assert no_ref.shape[0] - no_vis.shape[0] == k and torch.equal(s0, torch.zeros(64))


def test_starts_as_the_unchanged_lm(model, tiny_lm):
    e, _, s = model.build(example())
    with torch.no_grad():
        plain = tiny_lm.model(inputs_embeds=e[None]).logits
        model._prefix = model.prompts(s[None])
        prompted = tiny_lm.model(inputs_embeds=e[None]).logits
        model._prefix = None
    assert torch.equal(plain, prompted)


def test_prefix_adds_gated_attention_over_the_prefix(model, tiny_lm):
    """Each layer's attention output gains gate * o_proj(attention of its own query over its prefix), the
    prefix keyed and valued by the layer's frozen projections (the hooks fold it in before o_proj)."""
    import torch.nn.functional as F

    with torch.no_grad():
        model.prompts.gate.fill_(0.7)
        for p in model.prompts.parameters():
            p.add_(0.05 * torch.randn_like(p))
    attn = tiny_lm.model.model.layers[1].self_attn
    e, _, s = model.build(example())
    h = torch.randn(1, e.shape[0], e.shape[1])  # (B, T, H): what the layer's input norm hands its attention
    rope = tiny_lm.model.model.rotary_emb(h, torch.arange(h.shape[1])[None])
    with torch.no_grad():
        plain = attn(hidden_states=h, position_embeddings=rope, attention_mask=None)[0]
        model._prefix = prefix = model.prompts(s[None])  # (L, 1, P, H)
        prompted = attn(hidden_states=h, position_embeddings=rope, attention_mask=None)[0]
        model._prefix = None
    with torch.no_grad():
        b, t, _ = h.shape
        hd, heads = attn.head_dim, attn.config.num_attention_heads
        q = attn.q_proj(h).view(b, t, heads, hd).transpose(1, 2)
        k = attn.k_proj(prefix[1]).view(b, -1, attn.config.num_key_value_heads, hd).transpose(1, 2).repeat_interleave(2, dim=1)
        v = attn.v_proj(prefix[1]).view(b, -1, attn.config.num_key_value_heads, hd).transpose(1, 2).repeat_interleave(2, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, scale=attn.scaling).transpose(1, 2).reshape(b, t, -1)
        expected = plain + torch.tanh(model.prompts.gate[1]) * attn.o_proj(a)
    torch.testing.assert_close(prompted, expected, rtol=1e-5, atol=1e-6)


def test_training_steps_reduce_loss_and_leave_lm_frozen(model, tiny_lm):
    before = {k: v.clone() for k, v in tiny_lm.model.state_dict().items()}
    batch = [example(0), example(1)]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05
    assert all(p.grad is None for p in tiny_lm.model.parameters())
    assert all(torch.equal(before[k], v) for k, v in tiny_lm.model.state_dict().items())
    assert model.prompts.gate.abs().sum() > 0  # the gates opened


def test_checkpoint_round_trip_and_mismatch(model, tiny_lm, tmp_path):
    with torch.no_grad():
        model.prompts.gate.fill_(0.5)
    model.save(tmp_path / "adapter")
    assert (tmp_path / "adapter.safetensors").stat().st_size < 20 * 1024 * 1024
    e1, _, _ = model.build(example())
    model.remove_hooks()
    again = ModICT.load(tmp_path / "adapter", tiny_lm, "enc:test")
    try:
        e2, _, _ = again.build(example())
        # saved in fp16 (small enough for git), loaded back as fp32
        assert torch.allclose(e1, e2, atol=2e-3) and torch.equal(again.prompts.gate, model.prompts.gate)
        assert all(p.dtype == torch.float32 for p in again.parameters())
        with pytest.raises(BackboneError, match="image encoder"):
            ModICT.load(tmp_path / "adapter", tiny_lm, "another-encoder")
    finally:
        again.remove_hooks()


def test_generate_n_drafts(model):
    drafts, logprob = model.generate(example(target=None), n=3, max_new_tokens=8)
    assert len(drafts) == 3 and all(isinstance(d, str) for d in drafts) and logprob.shape == (3,)
    assert len(model.generate(example(target=None), do_sample=False, max_new_tokens=8)[0]) == 1


def test_generate_with_cached_prefill_matches_full_recompute(model, tiny_lm):
    """The fast path (one prefill, KV cache copied per draft, prefix keys/values memoised) writes exactly
    what recomputing the whole sequence at every step writes."""
    with torch.no_grad():
        model.prompts.gate.fill_(0.7)  # the prefixes must matter for this to test them
        for p in model.prompts.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ex = example(target=None)
    texts, logprob = model.generate(ex, do_sample=False, max_new_tokens=12)
    e, _, s = model.build(ex)
    emb = tiny_lm.model.get_input_embeddings()
    ids: list[int] = []
    lps: list[float] = []
    with torch.no_grad():
        model._prefix = model.prompts(s[None])
        for _ in range(12):
            seq = torch.cat([e, emb(torch.tensor(ids, dtype=torch.long))]) if ids else e
            scores = tiny_lm.model(inputs_embeds=seq[None], use_cache=False).logits[0, -1].float().log_softmax(-1)
            ids.append(int(scores.argmax()))
            lps.append(float(scores.max()))
        model._prefix = None
    stop = set(stop_ids(tiny_lm.tokenizer).tolist())
    cut = next((i + 1 for i, t in enumerate(ids) if t in stop), len(ids))
    assert texts[0] == tiny_lm.tokenizer.decode(ids[:cut], skip_special_tokens=True)
    # the ranking's fluency: the mean log-probability of the draft's tokens, its end included
    assert logprob[0].item() == pytest.approx(sum(lps[:cut]) / cut, abs=1e-4)
