"""Continuous batching (`scheduler.py`): a request's drafts are the same alone and batched with others that join
and leave mid-flight (fp32 and the int8 LM, plain prompts and ModICT prefixes), a waiting request is told its
place, and a cancelled request frees its rows at the next step."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from ecomcopy.sampler import DraftStreamer, decode
from ecomcopy.scheduler import Scheduler

PROMPTS = ["Keywords: dress, black, jersey\nDescription:", "Keywords: mug\nDescription:",
           "Keywords: sofa, grey, three-seat, washable cover, solid pine legs\nDescription:"]
NEVER = torch.tensor([-1])  # no stop token: random-weight LMs decode to max_new_tokens


@pytest.fixture()
def model_thread():
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-model")
    yield executor, executor.submit(threading.get_ident).result()
    executor.shutdown()


def _alone(executor, model, prompt, n, tokens, **kw):
    return executor.submit(decode, model, prompt, n, tokens, NEVER, **kw).result()[0]


def _together(scheduler, model, prompts, rows, tokens, stagger=0.0, **kw):
    """Each prompt's decode from its own thread, started `stagger` s apart (later ones join a running batch)."""
    out = [None] * len(prompts)

    def one(i):
        time.sleep(i * stagger)
        out[i] = scheduler.decode(model, prompts[i], rows[i], tokens[i], NEVER, **kw)[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def _ids(tok, text):
    return {"input_ids": tok(text, return_tensors="pt").input_ids}


def test_greedy_tokens_are_the_same_alone_and_batched(tiny_lm, model_thread):
    executor, tid = model_thread
    model, prompts = tiny_lm.model, [_ids(tiny_lm.tokenizer, t) for t in PROMPTS]
    rows, tokens = [1, 2, 1], [20, 12, 16]  # different lengths: rows leave the batch at different steps
    alone = [_alone(executor, model, p, r, t, greedy=True) for p, r, t in zip(prompts, rows, tokens)]
    scheduler = Scheduler(model, executor, tid, max_rows=24)
    together = _together(scheduler, model, prompts, rows, tokens, stagger=0.05, greedy=True)
    assert [a.tolist() for a in alone] == [b.tolist() for b in together]
    assert scheduler.rows_stepped > scheduler.steps  # the requests did share steps
    assert scheduler.idle()


def test_seeded_sampled_drafts_are_the_same_alone_and_batched(tiny_lm, model_thread):
    executor, tid = model_thread
    model, prompts = tiny_lm.model, [_ids(tiny_lm.tokenizer, t) for t in PROMPTS]

    def gen(i):
        return torch.Generator().manual_seed(i)

    alone = [executor.submit(decode, model, p, 3, 10, NEVER, generator=gen(i)).result()[0] for i, p in enumerate(prompts)]
    scheduler = Scheduler(model, executor, tid, max_rows=24)
    out = [None] * 3

    def one(i):
        out[i] = scheduler.decode(model, prompts[i], 3, 10, NEVER, generator=gen(i))[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert [a.tolist() for a in alone] == [b.tolist() for b in out]


def test_the_int8_lm_and_modict_prefixes_stay_exact_when_batched(image_encoder, model_thread):
    """The shipped path: int8 Linear layers (each request's rows scaled as their own call) and ModICT's
    per-request prefixes (gates opened, so the prefix moves the logits)."""
    from ecomcopy.lm import load_lm
    from ecomcopy.model import ModICT
    from ecomcopy.prompt import Example

    executor, tid = model_thread
    lm = executor.submit(load_lm, "smollm2-135m", True).result()
    modict = ModICT.for_lm(lm, image_encoder.fingerprint, image_encoder.token_dim).eval()
    with torch.no_grad():
        modict.prompts.gate.fill_(0.8)
    torch.manual_seed(1)
    examples = [Example(kw.split(", "), torch.randn(4, image_encoder.token_dim), ["mug", "white"], "A white mug.", None)
                for kw in ("dress, black, jersey", "sofa, grey, washable cover", "mug")]
    alone = [executor.submit(modict.generate, ex, 1, max_new_tokens=12, do_sample=False).result()[0] for ex in examples]
    scheduler = Scheduler(lm.model, executor, tid, max_rows=24)
    out = [None] * 3

    def one(i):
        time.sleep(0.05 * i)
        out[i] = modict.generate(examples[i], 1, max_new_tokens=12, do_sample=False, decoder=scheduler.decode)[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert out == alone
    assert scheduler.rows_stepped > scheduler.steps
    modict.remove_hooks()


def test_a_waiting_request_is_told_its_place_and_a_cancelled_one_frees_its_rows(tiny_lm, model_thread):
    executor, tid = model_thread
    model, prompt = tiny_lm.model, _ids(tiny_lm.tokenizer, PROMPTS[0])
    scheduler = Scheduler(model, executor, tid, max_rows=4)
    long, second, third = (DraftStreamer(tiny_lm.tokenizer) for _ in range(3))
    results = {}

    def run(name, streamer, n, tokens):
        results[name] = scheduler.decode(model, prompt, n, tokens, NEVER, greedy=True, streamer=streamer)[0]

    first = threading.Thread(target=run, args=("long", long, 4, 200))
    first.start()
    while not long._tokens:  # decoding: its 4 rows fill the batch
        time.sleep(0.01)
    waiting = [threading.Thread(target=run, args=(name, s, 2, 5)) for name, s in (("second", second), ("third", third))]
    for t in waiting:
        t.start()
        time.sleep(0.1)
    assert (second.place, third.place) == (1, 2)
    long.cancel()  # the page was closed
    for t in [first, *waiting]:
        t.join(30)
    assert results["long"].shape[1] < 200  # stopped at the next step
    assert results["second"].shape == results["third"].shape == (2, 5)
    assert second.place == third.place == 0 and scheduler.idle()


def test_off_decodes_one_request_at_a_time(tiny_lm, model_thread):
    executor, tid = model_thread
    model, prompts = tiny_lm.model, [_ids(tiny_lm.tokenizer, t) for t in PROMPTS]
    scheduler = Scheduler(model, executor, tid, max_rows=0)
    out = _together(scheduler, model, prompts, [1, 1, 1], [8, 8, 8], greedy=True)
    assert [o.shape for o in out] == [(1, 8)] * 3 and scheduler.steps == 0 and scheduler.idle()


def test_a_request_whose_rules_fail_fails_alone(tiny_lm, model_thread):
    """An error in one request's logit rules mid-batch fails that request; the others finish and the scheduler goes on."""
    executor, tid = model_thread
    model, prompt = tiny_lm.model, _ids(tiny_lm.tokenizer, PROMPTS[0])
    scheduler = Scheduler(model, executor, tid, max_rows=24)

    def broken(ids, scores):
        if ids.shape[1] >= 3:
            raise RuntimeError("a broken rule")
        return scores

    out = {}

    def run(name, rules, delay):
        time.sleep(delay)
        try:
            out[name] = scheduler.decode(model, prompt, 2, 16, NEVER, greedy=True, rules=rules)[0]
        except RuntimeError as e:
            out[name] = e

    threads = [threading.Thread(target=run, args=("good", None, 0)), threading.Thread(target=run, args=("broken", broken, 0.05))]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert isinstance(out["broken"], RuntimeError) and out["good"].shape == (2, 16)
    assert scheduler.decode(model, prompt, 1, 4, NEVER, greedy=True)[0].shape == (1, 4) and scheduler.idle()
