"""The app's pipeline driving a ModICT adapter on the real (int8) LM: hooks, visual tokens, reference ban."""

import pytest

from conftest import SHARED


@pytest.fixture(scope="module")
def modict_pipeline(tmp_path_factory, image_encoder):
    from ecomcopy.lm import load_lm
    from ecomcopy.model import ModICT
    from ecomcopy.pipeline import Pipeline, PipelineConfig

    lm = load_lm("smollm2-135m", quantize=False)
    adapter = tmp_path_factory.mktemp("adapter") / "adapter"
    model = ModICT.for_lm(lm, image_encoder.fingerprint, image_encoder.token_dim)  # untrained: gates closed
    model.save(adapter)
    model.remove_hooks()
    return Pipeline(PipelineConfig(adapter=adapter))


def test_suggest_with_adapter(modict_pipeline):
    from ecomcopy.config import SamplingConfig
    from ecomcopy.metrics import copies

    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    if not photo.is_file():
        pytest.skip("../shared/data is not beside the checkout")
    assert modict_pipeline.modict is not None and modict_pipeline.lm.name == "smollm2-135m"
    s = modict_pipeline.suggest(photo, "Leggings, Black, Solid", SamplingConfig(n=3, max_new_tokens=30, seed=0))
    assert 1 <= len(s.drafts) <= 3
    assert not any(copies(s.reference.product.description, d) for d in s.drafts)  # the copy guard: no 8-word run
    assert str(s.reference.product.image_path) in modict_pipeline._ref_tokens  # reference visual tokens cached, by photo


def test_reference_ngram_ban_lists_every_run(modict_pipeline):
    from ecomcopy.constraints import reference_ngram_ban

    tok = modict_pipeline.lm.tokenizer
    ban = reference_ngram_ban(tok, "Soft top in cotton jersey with a round neckline and short sleeves.", n=8)
    ids = tok(" Soft top in cotton jersey with a round neckline and short sleeves.", add_special_tokens=False).input_ids
    assert all(len(b) == 8 for b in ban) and ids[:8] in ban and ids[-8:] in ban


def test_stream_reference_first_then_growing_drafts(modict_pipeline):
    from ecomcopy.config import SamplingConfig
    from ecomcopy.pipeline import Progress, Suggestion

    steps = list(modict_pipeline.suggest_stream(None, "Mug, White, Ceramic", SamplingConfig(n=2, max_new_tokens=40, seed=1)))
    assert isinstance(steps[0], Progress) and steps[0].partial == [] and len(steps[0].references) == 3
    final = steps[-1]
    assert isinstance(final, Suggestion) and len(final.reviews) == len(final.drafts)
    assert all(len(s.partial) <= 2 for s in steps[:-1])  # the extra candidates are ranked, not streamed
    assert all(isinstance(s, Progress) for s in steps[:-1])
    # picking another similar product conditions on it
    alt = final.references[2].product.id
    s = modict_pipeline.suggest(None, "Mug, White, Ceramic", SamplingConfig(n=1, max_new_tokens=10, seed=1), reference_id=alt)
    assert s.reference.product.id == alt and s.to_dict()["reference"]["id"] == alt
    with pytest.raises(Exception, match="not among"):
        modict_pipeline.suggest(None, "Mug, White, Ceramic", reference_id="no-such-product")


def test_abandoned_stream_stops_and_frees_the_model(modict_pipeline):
    import threading
    import time

    from ecomcopy.config import SamplingConfig

    stream = modict_pipeline.suggest_stream(None, "Dress, Black", SamplingConfig(n=4, max_new_tokens=200, seed=2))
    next(stream)  # references shown
    next(stream)  # drafts being written
    t = time.time()
    stream.close()  # the browser went away: generation stops at the next token
    assert time.time() - t < 5
    assert not [th for th in threading.enumerate() if th.name == "ecomcopy-drafts"]
    deadline = time.time() + 1
    while not modict_pipeline.scheduler.idle() and time.time() < deadline:
        time.sleep(0.05)
    assert modict_pipeline.scheduler.idle()
