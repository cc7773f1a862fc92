"""Errors that carry a message meant for the person in front of the app or the CLI."""


class EcomcopyError(Exception):
    """Base class: its message is safe and useful to show to a user as-is."""


class InputError(EcomcopyError):
    """The user's input (photo, keywords, file) cannot be used; the message says why and what to do."""


class BackboneError(EcomcopyError):
    """A pretrained backbone or its cache is missing or broken; the message names the fix."""


class CatalogError(EcomcopyError):
    """The catalog database or a product file is missing, malformed or inconsistent."""
