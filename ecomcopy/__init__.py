"""ecomcopy: product descriptions from a photo and keywords, written by a ModICT model with an in-context reference."""

from . import config  # noqa: F401  first: it keeps every library off the model hubs before any of them loads

__version__ = "0.1.0"
