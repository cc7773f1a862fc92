"""Several requests' rows in one decode step: each request is prefilled alone, its KV cache left-padded into one
batch cache, with a mask over the pads and each row's own positions (the core of batching concurrent requests,
issue 21).

Left padding keeps every row's newest token in the last column, so one step appends one column for all rows. The
cached keys already carry their rotary positions from the prefill, so the pads change nothing but the mask;
measured exact in fp32 (`bench/batch_step.py`; the int8 layers are not, see docs/PERFORMANCE.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache


@dataclass
class Rows:
    """The rows in flight: the shared cache, (B, T) mask of real positions (1) and pads (0), (B,) next positions."""

    cache: DynamicCache
    mask: torch.Tensor
    positions: torch.Tensor


def merge(caches: list[DynamicCache], lengths: list[int]) -> Rows:
    """One batch of the requests' caches (one or more rows each; `lengths`: their prompt lengths), each
    left-padded to the longest. The first cache's layers take the merged tensors."""
    longest = max(lengths)
    counts = [c.layers[0].keys.shape[0] for c in caches]  # rows per request
    out = caches[0]
    for i, layer in enumerate(out.layers):
        layer.keys = torch.cat([F.pad(c.layers[i].keys, (0, 0, longest - n, 0)) for c, n in zip(caches, lengths)])
        layer.values = torch.cat([F.pad(c.layers[i].values, (0, 0, longest - n, 0)) for c, n in zip(caches, lengths)])
    mask = torch.cat([torch.tensor([[0] * (longest - n) + [1] * n]).expand(r, -1) for n, r in zip(lengths, counts)])
    positions = torch.cat([torch.full((r,), n) for n, r in zip(lengths, counts)])
    return Rows(out, mask, positions)


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
