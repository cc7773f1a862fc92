"""ModICT over a frozen decoder-only LM: a feature transformer and dynamic prompts are all that train.

The LM reads [reference visual][reference keywords + description][product visual][product keywords] and writes
the product's description. Visual tokens enter as K embeddings made by the feature transformer (shared by product
and reference). Dynamic prompts are per-layer prefixes, conditioned on the product's visual summary, that every
attention layer also attends to through its own frozen projections, gated by a per-layer scalar that starts at
zero (LLaMA-Adapter style): at step 0 the model is exactly the frozen LM.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import BackboneError
from .config import DEFAULT_IMAGE_ENCODER, DEFAULT_LM
from .constraints import LogitRules
from . import lora
from .lm import LoadedLM, text_config
from .prefix import Prefix, PrefixAttention, PrefixRows, decoder_layers
from .prompt import INSTRUCTION, Example, format_example
from .sampler import decode, stop_ids


@dataclass
class ModICTConfig:
    lm: str = DEFAULT_LM
    image_encoder: str = DEFAULT_IMAGE_ENCODER
    visual_dim: int = 1280  # D of the encoder's visual tokens
    lm_hidden: int = 896  # H of the LM (Qwen2.5-0.5B's; `ModICT.for_lm` reads H and the layers from the LM)
    lm_layers: int = 24
    num_queries: int = 8  # K visual embeddings per image
    ft_dim: int = 256  # width of the feature transformer
    ft_heads: int = 4
    prefix_len: int = 8  # P dynamic-prompt positions per layer
    prefix_rank: int = 64  # bottleneck of the visual -> prompt generator
    backbones: dict = field(default_factory=dict)  # fingerprints of the frozen encoder and LM
    template: int = 0  # 1: the plain prompt's text (instruction + "Keywords/Description"), read well at step 0; 0: none
    lora: dict = field(default_factory=dict)  # `lora.LoraSpec` of LoRA branches on the LM; empty: the LM stays frozen


class FeatureTransformer(nn.Module):
    """K learnable queries cross-attend over the visual tokens and land in the LM's embedding space."""

    def __init__(self, cfg: ModICTConfig, embed_rms: float = 1.0) -> None:
        super().__init__()
        d = cfg.ft_dim
        self.inp = nn.Sequential(nn.LayerNorm(cfg.visual_dim), nn.Linear(cfg.visual_dim, d))
        self.queries = nn.Parameter(torch.randn(cfg.num_queries, d) * 0.02)
        self.attn = nn.MultiheadAttention(d, cfg.ft_heads, batch_first=True)
        self.ffn = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.out = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, cfg.lm_hidden))
        self.scale = nn.Parameter(torch.tensor(float(embed_rms)))  # outputs start at the size of token embeddings

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, K, H)
        x = self.inp(tokens)  # (B, N, d)
        q = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)  # (B, K, d)
        h = q + self.attn(q, x, x, need_weights=False)[0]
        h = h + self.ffn(h)
        o = self.out(h)  # (B, K, H)
        return o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + 1e-6) * self.scale


class DynamicPrompts(nn.Module):
    """Per-layer prefixes = a learned static part + a part generated from the visual summary."""

    def __init__(self, cfg: ModICTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.static = nn.Parameter(torch.randn(cfg.lm_layers, cfg.prefix_len, cfg.lm_hidden))
        self.down = nn.Linear(cfg.lm_hidden, cfg.prefix_rank)
        self.up = nn.Linear(cfg.prefix_rank, cfg.prefix_len * cfg.lm_hidden)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.gate = nn.Parameter(torch.zeros(cfg.lm_layers))  # zero: no influence at the start

    def forward(self, summary: torch.Tensor) -> torch.Tensor:  # (B, H) -> (L, B, P, H)
        b = summary.shape[0]
        dyn = self.up(F.gelu(self.down(summary))).view(b, self.cfg.prefix_len, self.cfg.lm_hidden)
        return self.static.unsqueeze(1) + dyn.unsqueeze(0)


class ModICT(nn.Module):
    """The trainable modules, bound to a frozen LM (not a submodule: its weights are not ours to save)."""

    def __init__(self, cfg: ModICTConfig, lm: LoadedLM) -> None:
        super().__init__()
        self.cfg = cfg
        object.__setattr__(self, "lm", lm)  # keep the LM out of parameters() and state_dict()
        emb = lm.model.get_input_embeddings()
        with torch.no_grad():
            rms = emb.weight[: min(5000, emb.weight.shape[0])].float().pow(2).mean().sqrt().item()
        self.feature = FeatureTransformer(cfg, embed_rms=rms)
        self.prompts = DynamicPrompts(cfg)
        self.lora = self._lora_branches(cfg, lm)  # before the hooks: LoRA wraps the projections they hook
        self._prefix: torch.Tensor | None = None  # (L, B, P, H) while a forward pass runs
        self._prefix_kv: dict | None = None  # per-layer prefix keys/values, kept while generating
        layers = decoder_layers(lm.model)
        if len(layers) != cfg.lm_layers:
            raise BackboneError(f"The adapter was built for {cfg.lm_layers} LM layers, the LM has {len(layers)}.")
        self._hooks = [h for i, layer in enumerate(layers) for h in PrefixAttention(self, i, layer.self_attn).handles]
        bos = lm.tokenizer("", add_special_tokens=True).input_ids
        self._bos = bos[:1]

    @staticmethod
    def _lora_branches(cfg: ModICTConfig, lm: LoadedLM) -> nn.ModuleDict | None:
        """The LM's LoRA branches, ours to train and save (fresh ones if the LM has none); None when there is no
        LoRA or `load_lm` has merged it into the int8 weights."""
        if not cfg.lora or lm.lora_merged:
            return None
        if lora.has_lora(lm.model):
            if lm.lora in ("", lora.TRAINING):  # not the branches `load` checked: another model's, maybe still training
                raise BackboneError(f"{lm.name} already carries LoRA branches of another model; load it afresh.")
            return lora.modules(lm.model)
        branches = lora.inject(lm.model, lora.LoraSpec.from_dict(cfg.lora), cfg.lm_layers)
        lm.lora = lora.TRAINING
        return branches

    @classmethod
    def for_lm(cls, lm: LoadedLM, image_fingerprint: str, visual_dim: int, **overrides) -> "ModICT":
        conf = text_config(lm.model)
        cfg = ModICTConfig(
            lm=lm.name, visual_dim=visual_dim, lm_hidden=conf.hidden_size, lm_layers=conf.num_hidden_layers,
            backbones={"lm": lm.fingerprint, "image_encoder": image_fingerprint}, **overrides,
        )
        return cls(cfg, lm)

    def _set_prefix(self, prefix: "torch.Tensor | PrefixRows | None") -> None:
        """Fix the prefix for a generation (its keys and values are then computed once per layer); a
        `PrefixRows` when the rows of several requests step together."""
        self._prefix = prefix
        self._prefix_kv = {} if isinstance(prefix, torch.Tensor) else None  # PrefixRows keep theirs per request

    def remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()

    # -- inputs -----------------------------------------------------------------------------
    def _embed_text(self, text: str) -> torch.Tensor:  # -> (T, H)
        ids = self.lm.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids[0]
        return self.lm.model.get_input_embeddings()(ids)

    def build(self, ex: Example, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (embeddings (T, H), labels (T,), visual summary (H,)); labels are -100 except on the target."""
        emb = self.lm.model.get_input_embeddings()
        parts, labels = [], []

        def add(e: torch.Tensor, lab: torch.Tensor | None = None) -> None:
            parts.append(e)
            labels.append(lab if lab is not None else torch.full((e.shape[0],), -100, dtype=torch.long))

        summary = torch.zeros(self.cfg.lm_hidden)
        if self._bos:
            add(emb(torch.tensor(self._bos)))
        if self.cfg.template >= 1:
            add(self._embed_text(INSTRUCTION))
        if ex.ref_description is not None:
            if ex.ref_visual is not None:
                add(self.feature(ex.ref_visual.float().unsqueeze(0))[0])
            add(self._embed_text(format_example(ex.ref_keywords or [], ex.ref_description)))
        if ex.visual is not None:
            vis = self.feature(ex.visual.float().unsqueeze(0))[0]  # (K, H)
            add(vis)
            summary = vis.mean(0)
        add(self._embed_text(format_example(ex.keywords)))
        if ex.target is not None:
            ids = self.lm.tokenizer(" " + ex.target.strip() + "\n", add_special_tokens=False, return_tensors="pt").input_ids[0]
            if self.lm.tokenizer.eos_token_id is not None:
                ids = torch.cat([ids, torch.tensor([self.lm.tokenizer.eos_token_id])])
            add(emb(ids), ids)
        return torch.cat(parts), torch.cat(labels), summary

    # -- training -----------------------------------------------------------------------------
    def loss(self, batch: list[Example]) -> torch.Tensor:
        """Mean next-token loss on the targets of a right-padded batch."""
        built = [self.build(ex) for ex in batch]
        t_max = max(e.shape[0] for e, _, _ in built)
        h = self.cfg.lm_hidden
        embeds = torch.zeros(len(batch), t_max, h)
        labels = torch.full((len(batch), t_max), -100, dtype=torch.long)
        mask = torch.zeros(len(batch), t_max, dtype=torch.long)
        for i, (e, lab, _) in enumerate(built):
            embeds[i, : e.shape[0]], labels[i, : e.shape[0]], mask[i, : e.shape[0]] = e, lab, 1
        self._prefix = self.prompts(torch.stack([s for _, _, s in built]))
        try:
            hidden = self.lm.model.model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state  # (B, T, H)
        finally:
            self._prefix = None
        # logits only where a next token is scored: the vocabulary projection is most of the cost otherwise
        nxt = labels[:, 1:]
        keep = nxt != -100  # (B, T-1)
        logits = self.lm.model.get_output_embeddings()(hidden[:, :-1][keep])  # (M, V)
        return F.cross_entropy(logits.float(), nxt[keep])

    # -- generation ---------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, ex: Example, n: int = 4, temperature: float = 0.8, top_p: float = 0.9, max_new_tokens: int = 60,
                 do_sample: bool = True, rules: LogitRules | None = None, streamer=None, settled=None,
                 generator: torch.Generator | None = None, decoder=decode) -> tuple[list[str], torch.Tensor]:
        """n sampled continuations of one example (1 when greedy), after a single prefill of the prompt, and
        their (n,) mean log-probabilities per token.

        rules: the request's logit rules (`constraints.logit_rules`); settled: `sampler.Settled`, the early end;
        decoder: `sampler.decode`, or a `scheduler.Scheduler`'s, which makes the prompt on the model thread."""
        def prompt() -> tuple[dict, Prefix]:
            e, _, summary = self.build(ex)  # (T, H)
            return {"inputs_embeds": e[None]}, Prefix(self, self.prompts(summary.unsqueeze(0)))  # (L, 1, P, H), shared by every draft

        tok = self.lm.tokenizer
        out, logprob = decoder(self.lm.model, prompt, n if do_sample else 1, max_new_tokens, stop_ids(tok), temperature, top_p,
                               not do_sample, rules, tok.pad_token_id or 0, streamer, settled, generator)  # (n, new)
        return tok.batch_decode(out, skip_special_tokens=True), logprob

    # -- checkpoint ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """`path`.safetensors (trained modules only) + `path`.json (config, backbone fingerprints)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path.with_suffix(".safetensors")))  # fp16: half the size; loaded back as fp32
        path.with_suffix(".json").write_text(json.dumps(asdict(self.cfg), indent=1))

    @staticmethod
    def config_of(path: str | Path) -> ModICTConfig:
        try:
            return ModICTConfig(**json.loads(Path(path).with_suffix(".json").read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise BackboneError(f"The ModICT adapter config {Path(path).with_suffix('.json')} is missing or unreadable ({e}).") from e

    @classmethod
    def load(cls, path: str | Path, lm: LoadedLM, image_fingerprint: str) -> "ModICT":
        path = Path(path)
        cfg = cls.config_of(path)
        try:
            state = load_file(str(path.with_suffix(".safetensors")))
        except (OSError, ValueError, TypeError) as e:
            raise BackboneError(f"The ModICT adapter at {path} is missing or unreadable ({e}).") from e
        want = {"lm": lm.fingerprint, "image_encoder": image_fingerprint}
        for role, have in want.items():
            if cfg.backbones.get(role) != have:
                raise BackboneError(
                    f"The adapter {path.name} was trained with {role.replace('_', ' ')} {cfg.backbones.get(role)!r}, "
                    f"but {have!r} is loaded; use that backbone (e.g. --lm {cfg.lm}) or train an adapter for this one."
                )
        if cfg.lora and lm.lora != lora.digest(state):
            raise BackboneError(f"The adapter {path.name} has LoRA weights for its LM; load the LM with them "
                                f"(lm.load_lm(..., lora=lora.weights_of(adapter))).")
        if not cfg.lora and lm.lora:
            raise BackboneError(f"The adapter {path.name} was trained over the untrained LM, and this {lm.name} carries a LoRA.")
        model = cls(cfg, lm)
        if lm.lora_merged:  # already inside the int8 weights
            state = {k: v for k, v in state.items() if not k.startswith(lora.PREFIX)}
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        return model.eval()
