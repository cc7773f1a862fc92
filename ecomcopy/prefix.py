"""Dynamic prompts inside the LM's own attention: every layer also attends to its prefix, gated (ModICT).

Hooks on each self-attention's q_proj and o_proj, so the LM's code is untouched and any decoder of the
Llama / Qwen / Gemma families works, int8-quantised or not, with or without LoRA branches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .errors import BackboneError

if TYPE_CHECKING:
    from .model import ModICT


def _bias(linear: nn.Module) -> torch.Tensor | None:
    bias = linear.bias
    return bias() if callable(bias) else bias  # int8 dynamic Linear exposes it as a method


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of decoder layers of a transformers causal LM (Llama, Qwen2, Gemma3 families)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise BackboneError(f"{type(model).__name__} has no model.layers; ModICT supports decoder-only LMs of the Llama/Qwen/Gemma families.")
    return layers


class PrefixAttention:
    """Adds gate * attention over this layer's prefix to one self-attention module, inside its own projections.

    The query is the layer's own q_proj output (kept by a hook), and the prefix attention joins the main
    attention's output just before o_proj: o_proj(main + gate * prefix) = o_proj(main) + gate * o_proj(prefix)
    for a bias-free o_proj, so neither projection runs twice (3-4 ms of a ~40 ms decode step of 4 drafts when they did).
    """

    def __init__(self, owner: "ModICT", index: int, attn: nn.Module) -> None:
        if _bias(attn.o_proj) is not None:
            raise BackboneError(f"{type(attn).__name__}.o_proj has a bias; ModICT's prefix attention supports bias-free output projections.")
        self.owner, self.index, self.attn = owner, index, attn
        self._q: torch.Tensor | None = None  # (B, T, nH * hd) from q_proj, until o_proj of the same forward
        self.handles = [attn.q_proj.register_forward_hook(self.keep_query), attn.o_proj.register_forward_pre_hook(self.add_prefix)]

    def keep_query(self, q_proj: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if self.owner._prefix is not None:
            self._q = output

    def add_prefix(self, o_proj: nn.Module, args: tuple):
        prefix = self.owner._prefix
        if prefix is None:
            return None
        x, attn = args[0], self.attn  # (B, T, nH * hd): the main attention's output, heads concatenated
        b, t, _ = x.shape
        q = self._q.view(b, t, -1, attn.head_dim).transpose(1, 2)  # (B, nH, T, hd)
        self._q = None
        if hasattr(attn, "q_norm"):
            q = attn.q_norm(q)
        k, v = self.prefix_kv(attn, prefix[self.index], b, q.shape[1])
        a = F.scaled_dot_product_attention(q, k, v, scale=attn.scaling)  # (B, nH, T, hd), prompts are position-free
        gate = torch.tanh(self.owner.prompts.gate[self.index])
        return (x + gate * a.transpose(1, 2).reshape(b, t, -1),) + tuple(args[1:])

    def prefix_kv(self, attn: nn.Module, p: torch.Tensor, b: int, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This layer's prefix keys and values, (B, nH, P, hd) each; while generating, the prefix is fixed, so
        they are made once per call rather than at every new token."""
        memo = self.owner._prefix_kv
        if memo is not None and (self.index, b) in memo:
            return memo[self.index, b]
        if p.shape[0] != b:  # one prefix shared by the batch's drafts
            p = p.expand(b, -1, -1) if p.shape[0] == 1 else p.repeat_interleave(b // p.shape[0], dim=0)
        hd = attn.head_dim
        k = attn.k_proj(p).view(b, p.shape[1], -1, hd).transpose(1, 2)  # (B, nKV, P, hd)
        v = attn.v_proj(p).view(b, p.shape[1], -1, hd).transpose(1, 2)
        if hasattr(attn, "k_norm"):
            k = attn.k_norm(k)
        rep = heads // k.shape[1]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if memo is not None:
            memo[self.index, b] = (k, v)
        return k, v
