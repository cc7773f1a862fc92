"""Train ModICT's modules over the frozen encoder and LM: feature cache -> references -> AdamW loop.

Resumable: the run folder holds `last.pt` (modules, optimizer, scheduler, RNG, step) written every
`ckpt_every` steps; re-running the same command continues from it. Deterministic under a seed.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .config import DEFAULT_IMAGE_ENCODER, DEFAULT_IMAGE_WEIGHT, TRAIN_LM
from .encoders import TextEncoder, create_image_encoder
from .errors import InputError
from .features import FolderFeatures, folder_features, keyword_vectors, retrieve_references
from .keywords import product_keywords
from .lm import LoadedLM, attach_lora, load_lm
from .lora import ATTENTION, MLP, TRAINING, LoraSpec
from .lora import weights_of as lora_weights_of
from .metrics import copies
from .model import ModICT
from .prompt import Example

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data: list[str] = field(default_factory=list)  # product folders in the shared format (train split used)
    out: str = "runs/modict"
    lm: str = TRAIN_LM
    image_encoder: str = DEFAULT_IMAGE_ENCODER
    keywords: str = "merchant"  # one of keywords.KEYWORD_MODES
    image_weight: float = DEFAULT_IMAGE_WEIGHT  # fused retrieval of each product's reference
    steps: int = 1200
    batch_size: int = 8
    lr: float = 1e-3
    warmup: int = 50
    clip: float = 1.0
    weight_decay: float = 0.01
    ref_dropout: float = 0.1  # share of examples trained without a reference, so keywords must carry them
    # train on references the target does not copy: decoding forbids 8-word runs of the reference (copy_guard),
    # so a pair whose target repeats its reference teaches a move the model may never make; such a product
    # takes the best of its next retrieved candidates that it does not copy
    no_copy_refs: bool = False
    visual_dropout: float = 0.1  # share trained without visual tokens
    max_target_words: int = 60
    num_queries: int = 8
    prefix_len: int = 8
    template: int = 1  # see ModICTConfig.template
    lora_rank: int = 0  # LoRA branches on the LM's projections (`lora.LoraSpec`); 0: the LM stays frozen (the paper's)
    lora_alpha: float = 0.0  # 0: twice the rank
    lora_targets: str = "attention,mlp"  # "attention", "mlp" or both, or projection names (q_proj,v_proj,...)
    lora_last_layers: int = 0  # adapt only the last N layers; 0: all
    lora_lr: float = 0.0  # learning rate of the LoRA branches; 0: lr
    bf16: bool = False  # bfloat16 autocast for the frozen LM's matmuls (CPUs with AVX512-BF16 / AMX, or a GPU)
    seed: int = 0
    init: str = ""  # adapter (path stem) to start from instead of zero-influence modules, e.g. to train a shipped one further
    ckpt_every: int = 50
    threads: int = 2


@dataclass
class TrainSet:
    feats: list[FolderFeatures]
    index: list[tuple[int, int]]  # (folder, product) of every training example
    keywords: list[list[list[str]]]  # per folder, per product
    refs: list[np.ndarray]  # per folder: index of each product's reference


def prepare(cfg: TrainConfig, image_encoder, text_encoder: TextEncoder) -> TrainSet:
    feats, kws, refs, index = [], [], [], []
    for fi, folder in enumerate(cfg.data):
        f = folder_features(folder, image_encoder, split="train")
        kw = [product_keywords(p, cfg.keywords) for p in f.products]
        tv = keyword_vectors([", ".join(k) for k in kw], text_encoder)
        groups = [p.group for p in f.products]
        if cfg.no_copy_refs:
            r = uncopied_references(f.products, retrieve_references(f.pooled, tv, groups, cfg.image_weight, k=REF_CANDIDATES))
        else:
            r = retrieve_references(f.pooled, tv, groups, cfg.image_weight)
        feats.append(f)
        kws.append(kw)
        refs.append(r)
        index += [(fi, i) for i in range(len(f.products))]
    return TrainSet(feats, index, kws, refs)


REF_CANDIDATES = 8  # retrieved candidates per product that `no_copy_refs` may choose among


def uncopied_references(products: list, candidates: np.ndarray) -> np.ndarray:
    """(N,) per product, the best of its (N, k) candidates whose description its own does not copy (8 words in
    a row, as the copy rate counts); the best candidate when every one is copied."""
    refs = candidates[:, 0].copy()
    moved = kept = 0
    for i, cands in enumerate(candidates):
        target = products[i].description
        if not copies(products[cands[0]].description, target):
            continue
        free = [c for c in cands[1:] if not copies(products[c].description, target)]
        if free:
            refs[i], moved = free[0], moved + 1
        else:
            kept += 1
    log.info("references: %d of %d products copied their nearest; %d took a later candidate, %d kept it",
             moved + kept, len(products), moved, kept)
    return refs


def truncate_words(text: str, n: int) -> str:
    words = text.split()
    return text if len(words) <= n else " ".join(words[:n])


def make_example(ts: TrainSet, fi: int, i: int, cfg: TrainConfig, rng: random.Random) -> Example:
    f, kw = ts.feats[fi], ts.keywords[fi]
    p = f.products[i]
    r = int(ts.refs[fi][i])
    use_ref = rng.random() >= cfg.ref_dropout
    use_vis = rng.random() >= cfg.visual_dropout
    return Example(
        keywords=kw[i],
        visual=f.visual(i) if use_vis else None,
        ref_keywords=kw[r] if use_ref else None,
        ref_description=truncate_words(f.products[r].description, cfg.max_target_words) if use_ref else None,
        ref_visual=f.visual(r) if use_ref and use_vis else None,
        target=truncate_words(p.description, cfg.max_target_words),
    )


def lr_at(step: int, cfg: TrainConfig, base: float | None = None) -> float:
    """Linear warm-up, then cosine decay to 10%, of `base` (default cfg.lr)."""
    base = cfg.lr if base is None else base
    if step < cfg.warmup:
        return base * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def plot_losses(log_path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(log_path.open()))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    loss = [float(r["loss"]) for r in rows]
    k = 20
    smooth = [sum(loss[max(0, i - k + 1) : i + 1]) / len(loss[max(0, i - k + 1) : i + 1]) for i in range(len(loss))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, loss, alpha=0.3, label="loss")
    ax.plot(steps, smooth, label=f"mean of last {k}")
    ax.set_xlabel("step")
    ax.set_ylabel("next-token loss on the description")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def lora_spec(cfg: TrainConfig) -> LoraSpec | None:
    if cfg.lora_rank <= 0:
        return None
    names = {"attention": ATTENTION, "mlp": MLP}
    targets = tuple(t for part in cfg.lora_targets.split(",") if part.strip() for t in names.get(part.strip(), (part.strip(),)))
    if not targets or set(targets) - set(ATTENTION + MLP):  # only these are merged block by block when serving
        raise InputError(f"LoRA targets are attention, mlp or some of {', '.join(ATTENTION + MLP)}; got {cfg.lora_targets!r}.")
    return LoraSpec(rank=cfg.lora_rank, alpha=cfg.lora_alpha or 2.0 * cfg.lora_rank, targets=targets, last_layers=cfg.lora_last_layers)


def _initial_model(cfg: TrainConfig, lm: LoadedLM | None, image_encoder) -> ModICT:
    """`cfg.init`'s adapter (backbones checked; its own shape settings win over cfg's), or zero-influence modules
    (with fresh LoRA branches when cfg asks for them)."""
    if cfg.init:
        weights = lora_weights_of(cfg.init)
        if lm is None:
            lm = load_lm(ModICT.config_of(cfg.init).lm, quantize=False, lora=weights)
        elif weights is not None:
            attach_lora(lm, weights)
        return ModICT.load(cfg.init, lm, image_encoder.fingerprint)
    spec = lora_spec(cfg)
    return ModICT.for_lm(lm or load_lm(cfg.lm, quantize=False), image_encoder.fingerprint, image_encoder.token_dim,
                         num_queries=cfg.num_queries, prefix_len=cfg.prefix_len, template=cfg.template,
                         lora=spec.to_dict() if spec else {})


def frozen_to_bf16(model: torch.nn.Module) -> None:
    """Keep the frozen LM's weights in bfloat16: autocast casts them at every matmul anyway, and the fp32 weights
    plus the bf16 copies autocast holds for the backward pass nearly filled 24 GB with Qwen2.5-1.5B."""
    for p in model.parameters():
        if not p.requires_grad:
            p.data = p.data.to(torch.bfloat16)


def param_groups(model: ModICT, cfg: TrainConfig) -> list[dict]:
    """ModICT's modules at lr, the LoRA branches (if any) at lora_lr: LoRA on a pretrained LM wants a smaller step."""
    lora_ids = {id(p) for p in model.lora.parameters()} if model.lora is not None else set()
    own = [p for p in model.parameters() if p.requires_grad and id(p) not in lora_ids]
    groups = [{"params": own, "base_lr": cfg.lr}]
    if lora_ids:
        groups.append({"params": [p for p in model.lora.parameters() if p.requires_grad], "base_lr": cfg.lora_lr or cfg.lr})
    return groups


def _resume(state_path: Path, model: ModICT, opt: torch.optim.Optimizer, groups: list[dict]) -> tuple[int, random.Random]:
    """Modules, optimizer and RNGs from `last.pt`; -> (step, data RNG)."""
    state = torch.load(state_path, weights_only=False)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    for g, fresh in zip(opt.param_groups, groups):  # the saved groups win on load; this run's rates are cfg's
        g["base_lr"] = fresh["base_lr"]
    torch.set_rng_state(state["torch_rng"])
    log.info("resumed from step %d", state["step"])
    return state["step"], state["rng"]


def train(cfg: TrainConfig, progress: bool = True, lm: LoadedLM | None = None) -> Path:
    """Run (or resume) training; returns the path stem of the final adapter (`.safetensors` + `.json`)."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    image_encoder = create_image_encoder(cfg.image_encoder)
    text_encoder = TextEncoder()
    ts = prepare(cfg, image_encoder, text_encoder)
    model = _initial_model(cfg, lm, image_encoder)
    if cfg.bf16:
        frozen_to_bf16(model.lm.model)
    if model.lora is not None:
        model.lm.lora = TRAINING  # its branches move from here on: no adapter's digest describes them
    groups = param_groups(model, cfg)
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    state_path = out / "last.pt"
    step, rng = _resume(state_path, model, opt, groups) if state_path.exists() else (0, random.Random(cfg.seed))
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    log_path = out / "loss.csv"
    if step == 0 or not log_path.exists():
        log_path.write_text("step,loss,lr,seconds\n")
    else:  # steps logged after the checkpoint it resumed from are run again: keep their lines once
        lines = log_path.read_text().splitlines(keepends=True)
        log_path.write_text("".join(lines[:1] + [ln for ln in lines[1:] if int(ln.split(",")[0]) <= step]))
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, desc="training", unit="step", disable=not progress)
    t_last = time.time()
    while step < cfg.steps:
        order = rng.sample(range(len(ts.index)), cfg.batch_size)
        batch = [make_example(ts, *ts.index[j], cfg, rng) for j in order]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg, g["base_lr"])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        opt.step()
        step += 1
        now = time.time()
        with log_path.open("a") as f:
            f.write(f"{step},{loss.item():.5f},{lr_at(step - 1, cfg):.6f},{now - t_last:.2f}\n")
        t_last = now
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            tmp = state_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "rng": rng, "torch_rng": torch.get_rng_state()}, tmp)
            tmp.replace(state_path)
            model.save(out / "adapter")
            plot_losses(log_path, out / "loss.png")
    bar.close()
    model.save(out / "adapter")
    plot_losses(log_path, out / "loss.png")
    return out / "adapter"
