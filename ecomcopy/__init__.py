"""ecomcopy: product descriptions from a photo and keywords, written by a ModICT model with an in-context reference."""

import os

# Weights come from pip packages only; never let a library reach for a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
