"""Several requests' rows in one decode step: each request is prefilled alone, its KV cache left-padded into one
batch cache, with a mask over the pads and each row's own positions (the core of batching concurrent requests,
issue 21).

Left padding keeps every row's newest token in the last column, so one step appends one column for all rows. The
cached keys already carry their rotary positions from the prefill, so the pads change nothing but the mask;
measured exact in fp32 (`bench/batch_step.py`; the int8 layers are not, see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AttentionInterface, DynamicCache
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask


@dataclass
class Rows:
    """The rows in flight: the shared cache, (B, T) mask of real positions (1) and pads (0), (B,) next positions."""

    cache: DynamicCache
    mask: torch.Tensor
    positions: torch.Tensor


def merge(caches: list[DynamicCache], lengths: list[int]) -> Rows:
    """One batch of the requests' caches (one or more rows each; `lengths`: their prompt lengths), each
    left-padded to the longest. The first cache's layers take the merged tensors."""
    rows = None
    for cache, length in zip(caches, lengths):
        rows = join(rows, cache, length)
    return rows


def join(rows: Rows | None, cache: DynamicCache, length: int) -> Rows:
    """`rows` with a newly prefilled request's cache (its rows all `length` long) added after them: the
    shorter side is left-padded. This is how a request joins a batch already decoding."""
    count = cache.layers[0].keys.shape[0]
    new = Rows(cache, torch.ones(count, length, dtype=torch.long), torch.full((count,), length))
    if rows is None:
        return new
    have = rows.mask.shape[1]
    longest = max(have, length)
    for mine, theirs in zip(rows.cache.layers, cache.layers):
        mine.keys = torch.cat([F.pad(mine.keys, (0, 0, longest - have, 0)), F.pad(theirs.keys, (0, 0, longest - length, 0))])
        mine.values = torch.cat([F.pad(mine.values, (0, 0, longest - have, 0)), F.pad(theirs.values, (0, 0, longest - length, 0))])
    rows.mask = torch.cat([F.pad(rows.mask, (longest - have, 0)), F.pad(new.mask, (longest - length, 0))])
    rows.positions = torch.cat([rows.positions, new.positions])
    return rows


def trim(rows: Rows) -> None:
    """Drop the leading columns that are padding in every row (after rows left): without it the batch would stay as
    wide as its longest-ever row plus every step since it began, for as long as requests keep it busy."""
    cut = int((rows.mask == 0).sum(1).min())
    if cut:
        for layer in rows.cache.layers:
            layer.keys, layer.values = layer.keys[:, :, cut:].contiguous(), layer.values[:, :, cut:].contiguous()
        rows.mask = rows.mask[:, cut:]


def batchable(cache: DynamicCache) -> bool:
    """Only full-attention layers can be left-padded and joined; a sliding-window layer (Gemma 3) drops its
    oldest positions by count, pads included, so such an LM decodes one request at a time."""
    return all(type(layer).__name__ == "DynamicLayer" for layer in cache.layers)


@torch.inference_mode()
def step(model, rows: Rows, tokens: torch.Tensor) -> torch.Tensor:
    """(B,) next tokens, one per row -> (B, V) logits; the rows' cache, mask and positions move one column on."""
    rows.mask = torch.cat([rows.mask, torch.ones(len(tokens), 1, dtype=rows.mask.dtype)], dim=1)
    out = model(input_ids=tokens[:, None], attention_mask=rows.mask, position_ids=rows.positions[:, None],
                past_key_values=rows.cache, use_cache=True).logits[:, -1]
    rows.positions = rows.positions + 1
    return out


def keep(rows: Rows, index: torch.Tensor) -> None:
    """Only the rows at `index` stay in flight (the others ended or were cancelled)."""
    rows.cache.batch_select_indices(index)
    rows.mask, rows.positions = rows.mask[index], rows.positions[index]


_GROUPS = threading.local()
ROWS_ATTENTION = "ecomcopy_rows"


def exact_rows(model: nn.Module) -> None:
    """Make a batch's rows compute exactly what each request would alone, while `groups` is open:

    - the int8 Linear layers take each request's rows as their own call: PyTorch's dynamic int8 Linear quantises
      its whole input with one scale, so batched rows would change each other's rounding (greedy drafts diverged
      after 6-16 tokens on the 1.5B writer). Past 4 rows the layer's time grows with its rows
      (`bench/int8_linear.py`), so the split costs little;
    - attention runs per request over its own keys, without the pads: a padded, masked attention sums in another
      order (a different kernel), which is enough to flip a near-tie between two tokens.
    Outside `groups` both behave exactly as before. Idempotent."""
    for module in model.modules():
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear) and not hasattr(module, "_whole_forward"):
            module._whole_forward = module.forward
            module.forward = _per_group(module._whole_forward)
    if model.config._attn_implementation == "sdpa":
        AttentionInterface.register(ROWS_ATTENTION, _rows_attention)
        AttentionMaskInterface.register(ROWS_ATTENTION, sdpa_mask)
        model.set_attn_implementation(ROWS_ATTENTION)


def _per_group(forward):
    def run(x: torch.Tensor) -> torch.Tensor:
        sizes = getattr(_GROUPS, "sizes", None)
        if sizes is None or len(sizes) == 1 or x.shape[0] != sum(sizes):
            return forward(x)
        return torch.cat([forward(part) for part in x.split(sizes)])

    return run


def _rows_attention(module, query, key, value, attention_mask, **kwargs):
    """(B, nH, 1, hd) queries of a batched step: each request's rows attend to their own keys, pads cut off."""
    sizes, pads = getattr(_GROUPS, "sizes", None), getattr(_GROUPS, "pads", None)
    if sizes is None or query.shape[0] != sum(sizes) or query.shape[2] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    out, start = [], 0
    for size, pad in zip(sizes, pads):
        rows = slice(start, start + size)
        out.append(sdpa_attention_forward(module, query[rows], key[rows, :, pad:], value[rows, :, pad:], None, **kwargs)[0])
        start += size
    return torch.cat(out), None


@contextmanager
def groups(sizes: list[int], pads: list[int]):
    """While it is open, the batch's rows are computed `sizes` at a time (each request's), their first `pads`
    key positions (left padding) left out of attention."""
    _GROUPS.sizes, _GROUPS.pads = sizes, pads
    try:
        yield
    finally:
        _GROUPS.sizes = _GROUPS.pads = None
