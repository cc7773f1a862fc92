import numpy as np
import pytest
import torch
from PIL import Image

from ecomcopy.encoders import create_image_encoder
from ecomcopy.errors import BackboneError

from conftest import SHARED, needs_shared


@needs_shared
def test_efficientnet_real_weights_shapes(image_encoder):
    img = Image.open(SHARED / "hm" / "images" / "0111565001.jpg").convert("RGB")
    feats = image_encoder.encode([img, img.rotate(90)])
    assert feats.tokens.shape == (2, 49, 1280)
    assert feats.pooled.shape == (2, 1280)
    assert not any(p.requires_grad for p in image_encoder.parameters())
    # pretrained, not random: a real photo and a flat grey image land far apart
    grey = image_encoder.encode([Image.new("RGB", (256, 256), (128, 128, 128))]).pooled
    cos = torch.nn.functional.cosine_similarity(feats.pooled[:1], grey).item()
    assert cos < 0.9


def test_minilm_real_weights(text_encoder):
    v = text_encoder.encode(["black denim jeans", "blue denim trousers", "white ceramic bowl"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # trained embedding: related phrases are closer


def test_open_clip_backend_random_weights():
    enc = create_image_encoder("open_clip:ViT-S-32")
    feats = enc.encode([Image.new("RGB", (300, 200), (10, 120, 30))] * 2)
    assert feats.tokens.shape == (2, enc.num_tokens, enc.token_dim) == (2, 49, 384)
    assert feats.pooled.shape == (2, enc.pooled_dim)
    assert enc.fingerprint.endswith("random-init")


def test_unknown_encoder():
    with pytest.raises(BackboneError, match="Unknown image encoder"):
        create_image_encoder("resnet-9000")
