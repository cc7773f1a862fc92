"""The server log names errors, never user text: keywords, descriptions and a malformed call's inputs end up
in exception messages, so failures are logged by their type and stack only."""

from __future__ import annotations

import logging
import sys
import traceback
from types import SimpleNamespace

log = logging.getLogger("ecomcopy.server")
WITHHELD = "(message withheld: it may hold user text)"


def failure_text(exc: BaseException) -> str:
    """'ValueError (message withheld...)' and the stack where it was raised."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    return f"{type(exc).__name__} {WITHHELD}\n{stack}".rstrip()


def log_failure(what: str, exc: BaseException | None = None) -> None:
    exc = exc or sys.exc_info()[1]
    if exc is not None:
        log.error("%s failed: %s", what, failure_text(exc))


def _print_exc(*_args, **_kwargs) -> None:
    log_failure("a request")


def quiet_gradio_tracebacks() -> None:
    """Gradio prints each failed request's full traceback (the message included: for a call with the wrong
    inputs it lists them all); its queue and routes print through this instead."""
    import gradio.queueing
    import gradio.routes

    shim = SimpleNamespace(**{name: getattr(traceback, name) for name in dir(traceback) if not name.startswith("_")})
    shim.print_exc = _print_exc
    gradio.queueing.traceback = shim
    gradio.routes.traceback = shim
