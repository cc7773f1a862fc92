"""Several requests' rows in one decode step (`batched_cache`): on an fp32 LM a request's greedy tokens are the same
alone and batched with requests of other lengths, also when rows leave the batch."""

import torch
from transformers import DynamicCache

from ecomcopy.batched_cache import keep, merge, step, trim


def _prefill(model, ids, rows=1):
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        logits = model(input_ids=ids[None], past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
    cache.batch_repeat_interleave(rows)
    return cache, logits.expand(rows, -1)


def _greedy(model, prompts, tokens=12, rows=None, leave=None):
    """Greedy tokens per row of the prompts decoded together; `leave`: (step, row index) that leaves the batch."""
    rows = rows or [1] * len(prompts)
    pairs = [_prefill(model, p, r) for p, r in zip(prompts, rows)]
    batch = merge([c for c, _ in pairs], [len(p) for p in prompts])
    logits = torch.cat([lg for _, lg in pairs])
    alive = list(range(sum(rows)))
    out = {i: [] for i in alive}
    for t in range(tokens):
        nxt = logits.argmax(-1)
        for i, tok in zip(alive, nxt.tolist()):
            out[i].append(tok)
        if leave and t == leave[0]:
            index = torch.tensor([k for k in range(len(alive)) if alive[k] != leave[1]])
            keep(batch, index)
            alive = [alive[k] for k in index.tolist()]
            nxt = nxt[index]
        logits = step(model, batch, nxt)
    return out


def _prompts(tok):
    texts = ["Keywords: dress, black, jersey\nDescription:", "Keywords: mug\nDescription:",
             "Keywords: sofa, grey, three-seat, washable cover, solid pine legs\nDescription:"]
    return [tok(t, return_tensors="pt").input_ids[0] for t in texts]


def test_a_requests_greedy_tokens_are_the_same_alone_and_batched(tiny_lm):
    model, prompts = tiny_lm.model, _prompts(tiny_lm.tokenizer)
    assert len({len(p) for p in prompts}) == 3  # three lengths: the shorter ones are padded
    alone = [_greedy(model, [p])[0] for p in prompts]
    together = _greedy(model, prompts)
    assert [together[i] for i in range(3)] == alone


def test_rows_that_leave_and_requests_of_several_rows_keep_the_others_exact(tiny_lm):
    model, prompts = tiny_lm.model, _prompts(tiny_lm.tokenizer)
    alone = [_greedy(model, [p])[0] for p in prompts]
    together = _greedy(model, prompts, rows=[2, 1, 1], leave=(4, 2))  # request 0 has two rows; request 1 ends at step 4
    assert together[0] == together[1] == alone[0] and together[3] == alone[2]
    assert together[2] == alone[1][:5]


def test_columns_that_are_padding_in_every_row_are_dropped(tiny_lm):
    """When the longer requests leave, the batch narrows to its rows' own length (it would otherwise keep growing)."""
    model, prompts = tiny_lm.model, _prompts(tiny_lm.tokenizer)
    batch = merge([_prefill(model, p)[0] for p in prompts], [len(p) for p in prompts])
    shortest = min(range(3), key=lambda i: len(prompts[i]))
    keep(batch, torch.tensor([shortest]))
    trim(batch)
    assert batch.mask.shape[1] == batch.cache.layers[0].keys.shape[2] == len(prompts[shortest])
    assert bool(batch.mask.all())
