"""Dynamic prompts inside the LM's own attention: every layer also attends to its prefix, gated (ModICT).

Hooks on each self-attention's q_proj and o_proj, so the LM's code is untouched and any decoder of the
Llama / Qwen / Gemma families works, int8-quantised or not, with or without LoRA branches.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
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
        if isinstance(prefix, PrefixRows):
            a = prefix.attend(self, q)
        else:
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
        shared = p.shape[0] == 1  # one prefix for all the drafts: projected once, then repeated
        if p.shape[0] not in (1, b):
            p = p.repeat_interleave(b // p.shape[0], dim=0)
        hd = attn.head_dim
        k = attn.k_proj(p).view(p.shape[0], p.shape[1], -1, hd).transpose(1, 2)  # (B or 1, nKV, P, hd)
        v = attn.v_proj(p).view(p.shape[0], p.shape[1], -1, hd).transpose(1, 2)
        if hasattr(attn, "k_norm"):
            k = attn.k_norm(k)
        rep = heads // k.shape[1]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if shared:
            k, v = k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)
        if memo is not None:
            memo[self.index, b] = (k, v)
        return k, v


@dataclass(eq=False)
class Prefix:
    """One request's dynamic prompts, (L, 1, P, H): shared by its drafts, kept apart from other requests'."""

    owner: "ModICT"
    prompts: torch.Tensor
    kv: dict = field(default_factory=dict)  # layer -> its (1, nH, P, hd) keys and values, made once per request

    @contextmanager
    def alone(self):
        """The prefix of every row while one request is decoded by itself."""
        self.owner._set_prefix(self.prompts)
        try:
            yield
        finally:
            self.owner._set_prefix(None)

    def layer_kv(self, layer: PrefixAttention, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
        if layer.index not in self.kv:
            self.kv[layer.index] = layer.prefix_kv(layer.attn, self.prompts[layer.index], 1, heads)
        return self.kv[layer.index]


@dataclass
class PrefixRows:
    """The prefixes of a batch of several requests' rows, in row order: (its Prefix, or None for the plain
    prompt's rows, which then attend to zero keys and values and so gain nothing; its row count)."""

    segments: list[tuple[Prefix | None, int]]

    def attend(self, layer: PrefixAttention, q: torch.Tensor) -> torch.Tensor:
        """(B, nH, T, hd) queries -> each request's rows' attention over its own prefix (zeros for none), as
        one request alone computes it: its prefix projected once, repeated over its rows without a copy."""
        out = []
        for (p, rows), part in zip(self.segments, q.split([rows for _, rows in self.segments])):
            if p is None:
                out.append(torch.zeros_like(part))
                continue
            k, v = p.layer_kv(layer, q.shape[1])  # (1, nH, P, hd)
            out.append(F.scaled_dot_product_attention(part, k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1), scale=layer.attn.scaling))
        return torch.cat(out) if len(out) > 1 else out[0]

    @contextmanager
    def applied(self):
        owners = {id(p.owner): p.owner for p, _ in self.segments if p is not None}
        for owner in owners.values():
            owner._set_prefix(self)
        try:
            yield
        finally:
            for owner in owners.values():
                owner._set_prefix(None)
