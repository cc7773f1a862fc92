"""The writer's int8 weights, kept on disk after the first start.

Packing the LM into int8 (and merging a writer's LoRA into it) reads every fp32 weight and costs ~35 s on the
1.5B (`bench/lm_load_phases.py`); a warm start loads the packed result instead. It is kept as a folder of
state dicts, one per piece (a layer, the embedding, the head), so that saving and loading hold one piece's
unpacked copy at a time, not the whole LM's (~1.5 GB more at the peak on the 1.5B). Each file is read with
`torch.load(weights_only=True)` (no pickled code). The folder is named by everything that changes its bytes:
the LM's fingerprint, the LoRA's digest, the torch / transformers versions and the quantisation engine. A folder
that will not load is deleted and packed again: a cache must never stop the app.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from .config import int8_cache_dir
from .file_pages import release_file_pages, trim_heap

log = logging.getLogger(__name__)

FORMAT = 2  # bump when what is saved changes
KEEP = 2  # folders per LM: the writer in use and one other (switching writers does not pack each time)
INDEX = "pieces.json"  # written last: a folder without it is incomplete


def path_for(lm_name: str, fingerprint: str, lora_digest: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Where the int8 weights of this LM (+ this LoRA, merged) are kept; None when the cache is off
    (`config.int8_cache_dir`; env: settings other than the process's)."""
    import transformers

    root = int8_cache_dir() if env is None else int8_cache_dir(env)
    if root is None:
        return None
    key = "|".join([str(FORMAT), fingerprint, lora_digest, torch.__version__, transformers.__version__,
                    torch.backends.quantized.engine])
    return root / lm_name / f"int8-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _pieces(model: nn.Module) -> list[str]:
    """Module names that partition the LM's state dict: each layer of a layer stack, then every other module
    that holds state of its own (the embedding, the final norm, an int8 Linear such as the head)."""
    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    names: list[str] = []
    for name, m in model.named_modules():
        if any(name.startswith(n + ".") for n in names):
            continue
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else None
        own_state = isinstance(m, Int8Linear) or any(True for _ in m.parameters(recurse=False)) or bool(m._buffers)
        if name and (isinstance(parent, nn.ModuleList) or own_state):
            names.append(name)
    return names


def save(model: nn.Module, path: Path) -> None:
    """Write piece by piece into a temporary folder, renamed when complete; then keep the KEEP newest folders."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")  # two processes packing at once do not mix their files
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        names = _pieces(model)
        with warnings.catch_warnings():  # torch's notices about its int8 tensor API, as in `lm.quantize_int8`
            warnings.simplefilter("ignore")
            for i, name in enumerate(names):
                torch.save(model.get_submodule(name).state_dict(), tmp / f"{i:04d}.pt")
        trim_heap()
        (tmp / INDEX).write_text(json.dumps(names))
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    except OSError as e:  # a full or read-only disk: the app runs on, the next start packs again
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("could not keep the int8 weights at %s (%s)", path, e)
        return
    kept = [p for p in path.parent.glob("int8-*") if ".tmp" not in p.name and (p / INDEX).exists()]
    for old in sorted(kept, key=lambda p: (p / INDEX).stat().st_mtime, reverse=True)[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def _int8_skeleton(checkpoint: Path) -> nn.Module:
    """The LM's module tree without weights: parameters on the meta device, every Linear an empty int8 Linear
    (its packed weights come with the state dict). Buffers such as the rotary frequencies are built for real."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig
    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    config = AutoConfig.from_pretrained(str(checkpoint))
    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.Linear):
            q = Int8Linear(1, 1, bias_=m.bias is not None, dtype=torch.qint8)
            q.in_features, q.out_features = m.in_features, m.out_features
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, q)
    try:
        model.generation_config = GenerationConfig.from_pretrained(str(checkpoint))
    except OSError:  # the checkpoint has none: from_config's default stands, as from_pretrained's would
        pass
    return model


def _fill(model: nn.Module, path: Path) -> None:
    """Load each piece (strictly: every name of it) from its memory-mapped file, then give back the file's pages."""
    names = json.loads((path / INDEX).read_text())
    if names != _pieces(model):
        raise ValueError("its pieces are not this LM's")
    for i, name in enumerate(names):
        file = path / f"{i:04d}.pt"
        model.get_submodule(name).load_state_dict(torch.load(file, weights_only=True, mmap=True), strict=True, assign=True)
        release_file_pages(file)  # packing copied the int8 weights; the embedding is read again when used


def load(path: Path | None, checkpoint: Path) -> nn.Module | None:
    """The kept int8 LM (eval mode, frozen), or None when there is none or it is unreadable (then deleted)."""
    if path is None or not (path / INDEX).exists():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _int8_skeleton(checkpoint)
            _fill(model, path)
        if any(p.is_meta for p in model.parameters()) or any(b.is_meta for b in model.buffers()):
            raise ValueError("weights missing")
    except Exception as e:  # noqa: BLE001  (truncated, foreign or stale files: pack again rather than fail)
        log.warning("the int8 weights at %s are unusable (%s: %s); packing them again", path, type(e).__name__, e)
        shutil.rmtree(path, ignore_errors=True)
        return None
    os.utime(path / INDEX)  # most recently used: kept by `save`'s pruning
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
