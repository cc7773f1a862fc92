"""Low-rank adapters (peft's LoRA) on the LM's projections, trained together with ModICT's modules.

The paper's variant keeps the LM frozen (`ModICTConfig.lora` empty). With LoRA, peft adds a trainable low-rank
update beside each named projection. For training it stays a separate branch over the frozen weights; for
serving it is added into the weights block by block just before that block is quantised to int8, so a LoRA
writer decodes exactly as fast as a frozen one and memory never holds a second fp32 copy of the LM.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from .errors import BackboneError

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
PREFIX = "lora."  # of the LoRA tensors in a ModICT state dict / adapter file
TRAINING = "training"  # `LoadedLM.lora` of an LM whose LoRA branches are being trained (no fixed digest)


@dataclass(frozen=True)
class LoraSpec:
    rank: int = 16
    alpha: float = 32.0  # update scale = alpha / rank
    # none: a run sees each product less than once, and on 2 cores dropout's fp32 copies of every projection's input
    # took ~3 GB of the 22 GB peak of Qwen2.5-1.5B at batch 8
    dropout: float = 0.0
    targets: tuple[str, ...] = ATTENTION + MLP
    last_layers: int = 0  # adapt only the last N decoder layers; 0: all

    @classmethod
    def from_dict(cls, d: dict) -> "LoraSpec":
        return cls(**{**d, "targets": tuple(d.get("targets", ATTENTION + MLP))})

    def to_dict(self) -> dict:
        return {**asdict(self), "targets": list(self.targets)}

    def peft_config(self, num_layers: int):
        from peft import LoraConfig

        layers = list(range(num_layers - self.last_layers, num_layers)) if self.last_layers else None
        return LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=list(self.targets),
                          layers_to_transform=layers, layers_pattern="layers" if layers else None, bias="none")


@dataclass
class LoraWeights:
    """An adapter file's LoRA part: what `lm.load_lm` attaches to the LM before quantising it."""

    spec: LoraSpec
    state: dict[str, torch.Tensor]  # PREFIX + module key + ".A.weight" / ".B.weight"
    digest: str


def _layers(model: nn.Module):
    from peft.tuners.lora import LoraLayer

    return [(name, m) for name, m in model.named_modules() if isinstance(m, LoraLayer)]


def has_lora(model: nn.Module) -> bool:
    return bool(_layers(model))


def modules(model: nn.Module) -> nn.ModuleDict:
    """The LM's LoRA branches under stable names, so ModICT can own them: its parameters, state dict, optimizer."""
    return nn.ModuleDict({
        name.replace(".", "_"): nn.ModuleDict({"A": m.lora_A["default"], "B": m.lora_B["default"], "drop": m.lora_dropout["default"]})
        for name, m in _layers(model)
    })  # "drop" has no weights: it is here so that ModICT.train() / .eval() switch the LoRA dropout too


def inject(model: nn.Module, spec: LoraSpec, num_layers: int) -> nn.ModuleDict:
    """Add fresh LoRA branches (B = 0: the LM is unchanged until they train); the base weights stay frozen."""
    from peft import inject_adapter_in_model

    inject_adapter_in_model(spec.peft_config(num_layers), model)
    model.train(model.training)  # new modules start in training mode; follow the LM's (eval: no dropout)
    found = modules(model)
    if not found:
        raise BackboneError(f"None of the LoRA targets {list(spec.targets)} is a module of {type(model).__name__}.")
    return found


def digest(state: dict[str, torch.Tensor]) -> str:
    """Identifies a LoRA's weights (those of `state` under PREFIX), so an LM is only paired with its own LoRA."""
    h = hashlib.sha256()
    for key in sorted(k for k in state if k.startswith(PREFIX)):
        h.update(key.encode())
        h.update(state[key].to(torch.float16).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def weights_of(adapter: str | Path) -> LoraWeights | None:
    """The LoRA part of an adapter (path stem), or None for a frozen-LM adapter."""
    path = Path(adapter)
    try:
        spec = json.loads(path.with_suffix(".json").read_text()).get("lora") or {}
        if not spec:
            return None
        with safe_open(str(path.with_suffix(".safetensors")), framework="pt") as f:
            state = {k: f.get_tensor(k).float() for k in f.keys() if k.startswith(PREFIX)}
    except (OSError, ValueError, TypeError) as e:
        raise BackboneError(f"The ModICT adapter at {path} is missing or unreadable ({e}).") from e
    if not state:
        raise BackboneError(f"The adapter {path.name} names a LoRA but carries no LoRA weights.")
    return LoraWeights(LoraSpec.from_dict(spec), state, digest(state))


def attach(model: nn.Module, weights: LoraWeights, num_layers: int) -> None:
    """Add `weights`' LoRA branches to the LM (unmerged: they can train further, or be merged by `merge`)."""
    found = inject(model, weights.spec, num_layers)
    want = {k[len(PREFIX):] for k in weights.state}
    have = set(found.state_dict())
    if want != have:
        raise BackboneError("The adapter's LoRA weights do not fit this LM's projections (another backbone or targets).")
    found.load_state_dict({k[len(PREFIX):]: v for k, v in weights.state.items()})


def merge(module: nn.Module) -> None:
    """Add every LoRA branch inside `module` into its base weight and put the plain base layer back."""
    for name, layer in _layers(module):
        layer.merge()
        parent, _, attr = name.rpartition(".")
        setattr(module.get_submodule(parent) if parent else module, attr, layer.get_base_layer())
