"""Roles at the HTTP level (sign-in on): a program that calls a named API endpoint without the role it needs gets
HTTP 401 (not signed in) or 403 (signed in, role too low) with the reason, before Gradio queues anything. The
handlers check the role again (the page's own events, and a user removed since), so this is the API's answer,
not the only guard.

Gradio takes calls at `POST .../queue/join` (the endpoint named by `fn_index` in the JSON body: what
gradio_client and the page send) and `POST .../call/<api_name>` (curl); both are checked.
"""

from __future__ import annotations

import json
from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

MAX_BODY = 16 * 1024**2  # a call's JSON (files travel apart, by upload); a larger one is refused (413): it cannot be checked


def user_of(scope) -> str | None:
    """The signed-in user of a request, from Gradio's own session cookie (None: not signed in)."""
    app = scope.get("app")
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if not tokens or cookie_id is None:
        return None
    cookies = Request(scope).cookies
    return tokens.get(cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}"))


def endpoint_of(scope, body: bytes) -> str | None:
    """The API name a POST calls, or None (a page event without one, or not a call)."""
    path = scope.get("path", "")
    if "/call/" in path:  # .../call/<name>, .../call/v2/<name>
        parts = [p for p in path.split("/call/", 1)[-1].split("/") if p]
        return (parts[1] if parts[:1] == ["v2"] and len(parts) > 1 else parts[0]) if parts else None
    if not path.rstrip("/").endswith("/queue/join"):
        return None
    try:
        fn_index = json.loads(body or b"{}").get("fn_index")
        fn = scope["app"].get_blocks().fns[int(fn_index)]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None  # Gradio answers a malformed call itself
    return fn.api_name or None


class ApiRoleGuard:
    """ASGI middleware; `refusal(user, api_name)` is (status, message) for a call the user may not make, else None."""

    def __init__(self, app, refusal: Callable[[str | None, str], tuple[int, str] | None]) -> None:
        self.app, self.refusal = app, refusal

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not _is_call(scope.get("path", "")):
            return await self.app(scope, receive, send)
        body, more = await _read(receive)
        name = endpoint_of(scope, body) if not more else None
        refused = (413, "A call's JSON is limited to 16 MB; send files as uploads.") if more else (
            self.refusal(user_of(scope), name) if name else None)
        if refused is not None:
            return await JSONResponse({"error": refused[1]}, status_code=refused[0])(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


def _is_call(path: str) -> bool:
    return "/call/" in path or path.rstrip("/").endswith("/queue/join")


async def _read(receive) -> tuple[bytes, bool]:
    """The request body, up to a little over MAX_BODY (`more`: there was more, unread)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if not message.get("more_body") or size > MAX_BODY:
            return b"".join(chunks), bool(message.get("more_body"))
