import pytest

from ecomcopy.errors import InputError
from ecomcopy.config import SamplingConfig
from ecomcopy.review import drop_near_duplicates
from ecomcopy.text import clean_draft, clean_partial, dedupe, first_sentences
from ecomcopy.prompt import icl_prompt


def test_clean_draft_keeps_first_line_and_whole_sentences():
    assert clean_draft(" Soft top in jersey.\nKeywords: x") == "Soft top in jersey."
    assert clean_draft("Soft top in jersey. Short sleeves and a wide") == "Soft top in jersey."
    assert clean_draft("No full stop anywhere") == "No full stop anywhere"
    assert clean_draft("Nice dress. Keywords: black") == "Nice dress."
    assert clean_draft("Black <b>dress</b> <script>alert(1)</script>with a <img src=x onerror=alert(1)> bow.") == \
        "Black dress alert(1) with a bow."
    assert clean_partial("A dress, alert('x')</scri") == "A dress, alert('x')"  # a tag cut off by the length limit


def test_first_sentences_keep_whole_sentences_within_the_limit():
    text = "Socks in soft cotton with a foldover shaft. Soft terry inside. Anti-slip protectors at the toe and heel."
    assert first_sentences(text, 12) == "Socks in soft cotton with a foldover shaft. Soft terry inside."
    assert first_sentences(text, 3) == "Socks in soft cotton with a foldover shaft."  # the first sentence always stays
    assert first_sentences(text, 0) == text and first_sentences(text, 200) == text


def test_dedupe_ignores_case_and_spacing():
    assert dedupe(["A top.", "a  top.", "", "Another."]) == ["A top.", "Another."]


@pytest.mark.parametrize("kw", [dict(n=0), dict(n=9), dict(temperature=0), dict(top_p=0.01), dict(max_new_tokens=500), dict(max_words=3), dict(max_words=201)])
def test_sampling_bounds(kw):
    with pytest.raises(InputError):
        SamplingConfig(**kw).validate()


def test_prompt_order_reference_then_product():
    p = icl_prompt(["Bowl", "White"], "A deep bowl.", ["Plate", "Blue"])
    assert p.index("Bowl") < p.index("A deep bowl.") < p.index("Plate")
    assert p.endswith("Keywords: Plate, Blue\nDescription:")


def test_pipeline_suggest_real_models(pipeline):
    from conftest import SHARED

    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    if not photo.is_file():
        pytest.skip("../shared/data is not beside the checkout")
    s = pipeline.suggest(photo, "Leggings, Black, Solid", SamplingConfig(n=4, max_new_tokens=40, seed=1))
    assert s.reference.product.description and len(s.references) == 3
    # sample-and-rank: 12 candidates in one decode, the 4 best distinct ones shown, best first
    assert len(s.drafts) == 4 and len(drop_near_duplicates(s.drafts)) == 4
    # cut to whole sentences within the word limit; within it first, then clean by the checker
    keys = [r.rank(SamplingConfig.max_words) for r in s.reviews]
    assert keys[0] >= max(keys[1:]) and all(k[0] or first_sentences(d, 1) == d for k, d in zip(keys, s.drafts))
    with pytest.raises(InputError, match="photo or type"):
        pipeline.suggest(None, " , ;")


def test_catalog_photo_is_not_its_own_reference(pipeline):
    product = pipeline.catalog.products(limit=1)[0]
    hits = pipeline.references(pipeline_image(product), product.keywords, k=3)
    assert len(hits) == 3 and all(h.product.id != product.id for h in hits)


def pipeline_image(product):
    from ecomcopy.images import load_image

    return load_image(product.image_path)


def test_pick_next_greedy_top_p_and_top_k():
    import torch

    from ecomcopy.config import TOP_K
    from ecomcopy.sampler import pick_next

    torch.manual_seed(0)
    scores = torch.randn(3, 1000)
    best = scores.argmax(-1)
    assert torch.equal(pick_next(scores, 1.0, 0.9, greedy=True), best)
    peaked = scores.clone()
    peaked[torch.arange(3), best] += 50  # one token holds all the mass: the nucleus is that token
    for _ in range(5):
        assert torch.equal(pick_next(peaked, 1.0, 0.5, greedy=False), best)
    top = set(scores[0].topk(TOP_K).indices.tolist())
    draws = {int(pick_next(scores[:1], 2.0, 1.0, greedy=False)) for _ in range(300)}
    assert draws <= top and len(draws) > 10  # sampled, but only among the top-k candidates


def test_keyword_boost_nudges_each_unwritten_keyword_then_lets_go(pipeline):
    import torch

    from ecomcopy.constraints import KeywordBoost

    tok = pipeline.lm.tokenizer
    ids = lambda text: tok(text, add_special_tokens=False).input_ids  # noqa: E731
    tie_belt, satin = ids(" tie belt"), ids(" satin")
    assert len(tie_belt) >= 2
    boost = KeywordBoost(tok, ["tie belt", "satin"], 3.0)
    v = len(tok)
    assert boost(torch.empty(2, 0, dtype=torch.long), torch.zeros(2, v)).eq(0).all()  # the model opens the draft
    opened = torch.tensor([[0], [0]])  # any first token that begins no keyword
    second = boost(opened, torch.zeros(2, v))
    starts = {s[0] for spellings in boost.spellings for s in spellings}
    assert {tie_belt[0], satin[0]} <= starts
    assert second[:, sorted(starts)].eq(3.0).all() and second.sum(-1).eq(3.0 * len(starts)).all()  # nothing else moved
    written = _same_length(tie_belt[:-1], satin)  # draft 0 has begun "tie belt"; draft 1 has written "satin"
    nxt = boost(written, torch.zeros(2, v))
    assert nxt[0, tie_belt[-1]] == 3.0  # the begun keyword's next token, not its first one again
    assert nxt[0, tie_belt[0]] == 0.0
    assert nxt[1, satin[0]] == 0.0 and nxt[1, tie_belt[0]] == 3.0  # satin is written: only tie belt still pulls


def test_keyword_modes_let_a_half_written_keyword_go(pipeline):
    """After "khaki" of "khaki green": "phrase" pushes on to "green"; "word" counts the keyword as written and
    lets it go; "once" also pushes its first tokens away."""
    import torch

    from ecomcopy.constraints import KeywordBoost

    tok = pipeline.lm.tokenizer
    khaki = tok(" khaki", add_special_tokens=False).input_ids
    seq = torch.tensor([[0] + khaki])
    for mode, on_green, on_starts in (("phrase", 3.0, None), ("word", 0.0, 0.0), ("once", 0.0, -3.0)):
        boost = KeywordBoost(tok, ["khaki green"], 3.0, mode)
        boost(torch.empty(1, 0, dtype=torch.long), torch.zeros(1, len(tok)))
        scores = boost(seq, torch.zeros(1, len(tok)))
        green = next(sp[len(khaki)] for sp in boost.spellings[0] if list(sp[: len(khaki)]) == khaki)
        assert scores[0, green] == on_green, mode
        if on_starts is not None:
            assert scores[0, sorted({sp[0] for sp in boost.spellings[0]})].eq(on_starts).all(), mode


def _same_length(a: list[int], b: list[int]):
    import torch

    pad = 0  # any token that starts no keyword spelling
    width = max(len(a), len(b))
    return torch.tensor([[pad] * (width - len(a)) + a, [pad] * (width - len(b)) + b])


def test_keyword_boost_steers_decoding_into_the_keyword(tiny_lm):
    from ecomcopy.constraints import KeywordBoost, LogitRules
    from ecomcopy.sampler import decode, stop_ids

    tok = tiny_lm.tokenizer
    prompt = {"input_ids": tok("Keywords: dress, red\nDescription:", return_tensors="pt").input_ids}
    plain, _ = decode(tiny_lm.model, prompt, 1, 6, stop_ids(tok), greedy=True)
    steered, _ = decode(tiny_lm.model, prompt, 1, 6, stop_ids(tok), greedy=True, rules=LogitRules(KeywordBoost(tok, ["tie belt"], 10.0), []))
    text = tok.decode(steered[0])
    assert "tie belt" in text.lower() and "tie belt" not in tok.decode(plain[0]).lower()
    assert text.lower().count("tie belt") == 1  # once written, the keyword is no longer pushed


def test_stop_ids_are_saved_beside_our_converted_tokenizer(pipeline, tmp_path):
    import json

    from transformers import AutoTokenizer

    from ecomcopy.sampler import stop_ids

    pipeline.lm.tokenizer.save_pretrained(tmp_path)
    fresh = lambda: AutoTokenizer.from_pretrained(str(tmp_path))  # noqa: E731  (no ids attached yet)
    assert stop_ids(fresh()) is not None and not (tmp_path / "ecomcopy_stop_ids.json").exists()  # not our cache folder
    (tmp_path / "ecomcopy.json").write_text("{}")
    scanned = stop_ids(fresh())
    saved = json.loads((tmp_path / "ecomcopy_stop_ids.json").read_text())
    assert saved["ids"] == scanned.tolist() and saved["vocabulary"] == len(pipeline.lm.tokenizer)
    tok = pipeline.lm.tokenizer
    assert all("\n" in tok.decode([i]) or i == tok.eos_token_id for i in scanned.tolist())
    assert tok.encode("\n")[0] in scanned.tolist()
    (tmp_path / "ecomcopy_stop_ids.json").write_text(json.dumps({**saved, "ids": [1, 2, 3]}))
    assert stop_ids(fresh()).tolist() == [1, 2, 3]  # read back, not scanned again
    (tmp_path / "ecomcopy_stop_ids.json").write_text(json.dumps({**saved, "vocabulary": 5}))  # another vocabulary
    assert stop_ids(fresh()).tolist() == scanned.tolist()
    (tmp_path / "ecomcopy_stop_ids.json").write_text("{not json")
    assert stop_ids(fresh()).tolist() == scanned.tolist()


def test_nothing_alike_writes_without_a_reference(pipeline, monkeypatch):
    """Under the threshold the drafts get no reference (the app says so and still shows the similar products);
    a reference the user picks is used whatever its score."""
    from ecomcopy import handlers, write_view

    monkeypatch.setattr(pipeline.cfg, "min_reference_score", 1.01)  # no catalog product is alike enough
    kw = ["Laptop battery", "Lithium-ion", "Black"]
    found = pipeline.retrieve(None, kw)
    assert not found.use_reference and found.draft_input().reference is None and len(found.references) == 3
    picked = found.references[1].product.id
    assert pipeline.retrieve(None, kw, reference_id=picked).draft_input().reference.id == picked
    steps = list(handlers.write(None, ", ".join(kw), 2, 0.8, 0.9, 30))
    page = dict(zip(write_view.WriteView.names(), steps[-1]))
    assert page["result"]["reference_used"] is False and page["result"]["drafts"]
    assert write_view.NO_REFERENCE in page["ref_title"] and page["ref_choice"]["value"] is None
    assert "from your photo and keywords only" in page["status"]


def test_ended_drafts_leave_the_batch_and_keep_their_own_cache(tiny_lm):
    """A draft that has ended is dropped from the batch; the others keep their own cache rows: each draft's
    log-probability is what a full forward pass over that draft alone gives."""
    import torch

    from ecomcopy.sampler import decode

    tok = tiny_lm.tokenizer
    prompt = tok("Keywords: dress, red\nDescription:", return_tensors="pt").input_ids
    stop = torch.arange(0, len(tok), 3)  # a third of the vocabulary ends a draft: drafts end at different steps
    sizes = []
    hook = tiny_lm.model.register_forward_pre_hook(lambda m, a, kw: sizes.append(kw["input_ids"].shape[0]), with_kwargs=True)
    torch.manual_seed(3)
    try:
        out, logprob = decode(tiny_lm.model, {"input_ids": prompt}, 6, 12, stop, temperature=1.0, top_p=1.0, pad_id=-1)
    finally:
        hook.remove()
    steps = sizes[1:]  # after the prefill
    assert steps == sorted(steps, reverse=True) and 0 < steps[-1] < 6  # the batch shrinks as drafts end
    for row, lp in zip(out.tolist(), logprob.tolist()):
        toks = [t for t in row if t != -1]
        with torch.no_grad():
            scores = tiny_lm.model(input_ids=torch.tensor([prompt[0].tolist() + toks])).logits[0].float().log_softmax(-1)
        own = sum(float(scores[prompt.shape[1] - 1 + i, t]) for i, t in enumerate(toks)) / len(toks)
        assert lp == pytest.approx(own, abs=1e-3)


def test_a_settled_draft_ends_with_what_the_whole_draft_would_show():
    """Ending a sampled draft once it is `settled` shows what sampling it to its end would have shown, at
    every point where it settles, on the shop's own dev descriptions (H&M and IKEA)."""
    import json

    from conftest import SHARED
    from ecomcopy.text import settled

    assert settled("Soft top in jersey. Short sleeves and a wide", 6) and not settled("Soft top in jersey. Short", 6)
    assert not settled("A long first sentence that runs well past the limit", 3)  # the first sentence always stays
    assert settled("Soft top. Keywords:", 0) and not settled("Soft top. Short sleeves and a wide neck", 0)
    if not (SHARED / "hm" / "products.jsonl").is_file():
        pytest.skip("../shared/data is not beside the checkout")
    settling = 0
    for domain in ("hm", "ikea"):
        rows = [json.loads(line) for line in (SHARED / domain / "products.jsonl").open()]
        for text in [r["description"] for r in rows if r["split"] == "dev"][:300]:
            for limit in (8, 16):
                shown = first_sentences(clean_draft(text), limit)
                at = next((i for i in range(1, len(text) + 1) if settled(text[:i], limit)), None)
                settling += at is not None
                assert at is None or first_sentences(clean_draft(text[:at]), limit) == shown, text[:at]
    assert settling > 200  # the rule fires on many of them


def test_settled_drafts_leave_the_batch(tiny_lm):
    import torch

    from ecomcopy.sampler import decode

    prompt = tiny_lm.tokenizer("Keywords: dress, red\nDescription:", return_tensors="pt").input_ids
    never = torch.tensor([], dtype=torch.long)
    out, _ = decode(tiny_lm.model, {"input_ids": prompt}, 3, 12, never, settled=lambda tokens: torch.full((tokens.shape[0],), tokens.shape[1] >= 4))
    assert out.shape == (3, 4)


def test_clean_draft_drops_an_unmatched_quote():
    assert clean_draft('"Unleash the 4400 mAh battery. Black.') == "Unleash the 4400 mAh battery. Black."
    assert clean_draft('A "soft" top.') == 'A "soft" top.'


def test_a_rule_that_leaves_a_draft_no_token_ends_it(tiny_lm):
    """Markup the reader never sees can make every continuation break a guard; the draft then ends instead of
    the sampler failing on a row with nothing to draw (seen with HTML typed as keywords)."""
    import torch

    from ecomcopy.sampler import decode, stop_ids

    tok = tiny_lm.tokenizer

    def ban_everything_in_the_first_draft(ids, scores):
        scores[0] = -float("inf")
        return scores

    prompt = {"input_ids": tok("Keywords: dress\nDescription:", return_tensors="pt").input_ids}
    out, _ = decode(tiny_lm.model, prompt, 2, 5, stop_ids(tok), rules=ban_everything_in_the_first_draft)
    assert out[0, 0].item() == stop_ids(tok)[0].item() and torch.isfinite(out).all()
