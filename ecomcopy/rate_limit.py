"""Per-visitor limits of the public demo: how many drafts and bulk products one visitor may ask for in a window,
so that one visitor cannot keep the model busy for everyone else. Over the limit, the visitor is told how long
to wait (a message on the page, an error message through the API), and nothing runs."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from .errors import InputError


class RateLimited(InputError):
    """Over a visitor's limit: the message says when to try again."""


class RateLimiter:
    """A sliding window: at most `limit` units in any `window_s` seconds per key."""

    def __init__(self, limit: int, window_s: float, what: str) -> None:
        self.limit, self.window_s, self.what = limit, window_s, what  # what: "requests for drafts", "bulk products"
        self._taken: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, units: int = 1, now: float | None = None) -> None:
        """Count `units` for `key`, or raise RateLimited (counting nothing) when they would pass the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            taken = self._taken.setdefault(key, deque())
            while taken and now - taken[0][0] >= self.window_s:
                taken.popleft()
            used = sum(u for _, u in taken)
            if units > self.limit:
                raise RateLimited(f"This public demo allows {self.limit} {self.what} per visitor every {_span(self.window_s)}, "
                                  f"and this asks for {units}: ask for fewer.")
            if used + units > self.limit:
                wait = self._wait(taken, used + units - self.limit, now)
                raise RateLimited(f"This public demo allows {self.limit} {self.what} per visitor every {_span(self.window_s)}"
                                  + (f" and you have {self.limit - used} left" if used < self.limit else "")
                                  + f": please try again in {_span(wait)}.")
            taken.append((now, units))
            if len(self._taken) > 10_000:  # forget visitors whose window has passed
                self._taken = {k: q for k, q in self._taken.items() if q and now - q[-1][0] < self.window_s}

    def _wait(self, taken: deque, excess: int, now: float) -> float:
        """Seconds until enough of the window's units have aged out."""
        freed = 0
        for at, units in taken:
            freed += units
            if freed >= excess:
                return at + self.window_s - now
        return self.window_s  # not reached: a request is never larger than the limit here


def _span(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
