"""What the web server refuses before Gradio sees a request: foreign host names, cross-site origins, URL
fetches through its file routes, and a client's uploads past an hourly allowance.

The Host check stops DNS rebinding: a web page on `evil.example` that re-points its name at 127.0.0.1 reaches a
loopback-only app with `Host: evil.example` (and a matching Origin), which no real visitor sends.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

from .config import UPLOAD_BYTES_PER_HOUR
from .rate_limit import RateLimited, RateLimiter

FETCH_ROUTES = ("/file=http:", "/file=https:", "/proxy=")  # Gradio's routes that make the server fetch a URL


def host_name(value: str) -> str:
    """'Example.com:7860' -> 'example.com'; '[::1]:7860' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def host_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    return any(a == "*" or a == name or (a.startswith("*.") and name.endswith(a[1:])) for a in allowed)


def client_address(forwarded_for: str, direct: str | None, behind_proxy: bool) -> str:
    """Who sent a request: behind a Space's proxy the first X-Forwarded-For address, else the connection's peer."""
    first = forwarded_for.split(",")[0].strip() if behind_proxy else ""
    return first or direct or "?"


class UploadAllowance(RateLimiter):
    """Bytes each client may upload in a rolling hour."""

    def __init__(self, per_hour: int = UPLOAD_BYTES_PER_HOUR, window_s: float = 3600.0) -> None:
        super().__init__(per_hour, window_s, "bytes of uploads")

    def allows(self, client: str, size: int, now: float | None = None) -> bool:
        try:
            self.take(client, size, now)
        except RateLimited:
            return False
        return True


class RequestGuard:
    """ASGI middleware (outermost of the app's own): answers refused requests itself, passes the rest on."""

    def __init__(self, app, allowed_hosts: tuple[str, ...], uploads: UploadAllowance | None = None, behind_proxy: bool = False) -> None:
        self.app, self.allowed_hosts = app, allowed_hosts
        self.uploads = uploads or UploadAllowance()
        self.behind_proxy = behind_proxy  # a Space: the client is the first X-Forwarded-For address

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        refusal = self.refusal(scope, Headers(scope=scope))
        if refusal is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        return await PlainTextResponse(refusal[1], status_code=refusal[0])(scope, receive, send)

    def refusal(self, scope, headers: Headers) -> tuple[int, str] | None:
        host = host_name(headers.get("host", ""))
        if not host_allowed(host, self.allowed_hosts):
            return 400, f"This app does not answer to the host name {host!r}; its operator can allow it with ECOMCOPY_ALLOWED_HOSTS."
        origin = headers.get("origin")
        if origin is not None and not host_allowed(host_name(urlsplit(origin).netloc), self.allowed_hosts):
            return 403, "Requests from other web sites are refused."
        path = scope.get("path", "")
        if any(route in path for route in FETCH_ROUTES):
            return 403, "This app serves its own files only; it does not fetch URLs."
        if scope.get("method") == "POST" and path.endswith("/upload"):
            return self._upload_refusal(scope, headers)
        return None

    def _upload_refusal(self, scope, headers: Headers) -> tuple[int, str] | None:
        try:
            size = int(headers["content-length"])
        except (KeyError, ValueError):
            return 411, "Uploads must say their size (Content-Length)."
        client = client_address(headers.get("x-forwarded-for", ""), (scope.get("client") or ("?",))[0], self.behind_proxy)
        if not self.uploads.allows(client, size):
            return 429, f"Upload limit reached ({self.uploads.limit // 1024**2:,} MB an hour); try again later."
        return None
