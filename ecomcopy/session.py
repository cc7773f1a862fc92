"""The app's process-wide state and rules: the pipeline (and the Ray replicas that may write its drafts), who is
signed in and what their role allows, whose workspace (approvals, History, audit trail) a request works in, the
public demo's per-visitor limits, and how a handler's failures reach the user: the package's own errors as their
message, anything else as a plain sentence (the details go to the server log)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache

import gradio as gr

from .config import DEMO_MAX_APPROVALS, DEMO_MAX_SESSIONS, DEMO_SESSIONS_PER_HOUR, IN_MODEL, AppConfig
from .errors import EcomcopyError, InputError
from .pipeline import Pipeline, PipelineConfig
from .replicas import Replicas
from .audit import LOCAL_USER
from .rate_limit import RateLimiter
from .users import Refused, UserStore, allows, require
from .server_log import log_failure
from .web_guard import client_address
from .workspace import SessionWorkspaces, Workspace, shared_workspace

log = logging.getLogger("ecomcopy.app")


@lru_cache(maxsize=1)
def pipeline_loading() -> Future:
    """Models load once per process, on their own thread, and are shared by every request; a request sent before
    they are ready waits for them. The catalog searched is a working copy in the data folder, seeded from the
    shipped one, so approvals (which join it) never touch the repo."""
    app = AppConfig.from_env()
    cfg = PipelineConfig.of_writer(app.lm, catalog=app.catalog, seed=app.seed, photos=app.photos, image_weight=app.image_weight,
                                  batch_rows=app.batch_rows)
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecomcopy-load").submit(Pipeline, cfg)


def get_pipeline() -> Pipeline:
    return pipeline_loading().result()


@lru_cache(maxsize=1)
def drafter_loading() -> Future:
    """What writes the page's and the API's drafts: the local pipeline, or with ECOMCOPY_RAY_ADDRESS (`app.py
    --ray-address`) pipeline replicas on Ray, started once the local pipeline has made the working catalog that
    they search and follow."""
    app = AppConfig.from_env()
    if not app.ray_address:
        return pipeline_loading()

    def start() -> Replicas:
        local = get_pipeline()
        cfg = replace(local.cfg, seed=None, photos=None, follow_catalog=True, batch_rows=app.batch_rows)
        return Replicas(cfg, app.replicas, None if app.ray_address == "local" else app.ray_address)

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecomcopy-replicas").submit(start)


def get_drafter() -> Pipeline | Replicas:
    return drafter_loading().result()


def drafting() -> dict:
    """Every event that writes drafts shares one limit: with batching on, that many requests are in the model at
    once (decoding together, or waiting there with their place shown), per replica on Ray; off, one at a time."""
    app = AppConfig.from_env()
    return {"concurrency_id": "drafts", "concurrency_limit": (IN_MODEL if app.batch_rows > 0 else 1) * (app.replicas if app.ray_address else 1)}


@lru_cache(maxsize=1)
def user_store() -> UserStore | None:
    """The users who may sign in (ECOMCOPY_AUTH=on), else None: the app is one person's, at this machine."""
    app = AppConfig.from_env()
    return UserStore(app.users_db) if app.auth else None


def sign_in():
    """Gradio's `auth` hook when sign-in is on (None when off). On with no user to sign in, the app does not start."""
    users = user_store()
    if users is None:
        return None
    if not users.list():
        raise SystemExit(f"Sign-in is on (ECOMCOPY_AUTH) but {users.path} has no users: add one with "
                         "python -m ecomcopy users add NAME --role admin")
    return users.sign_in


@lru_cache(maxsize=1)
def _shared() -> Workspace:
    return shared_workspace(get_pipeline().approvals)


_sessions_lock = threading.Lock()


def demo_sessions() -> SessionWorkspaces | None:
    """Public demo mode (ECOMCOPY_DEMO): each browser session's private workspace; None otherwise. Made once (it
    empties the sessions folder), under a lock: two first requests must not both make it."""
    global _sessions
    with _sessions_lock:
        if _sessions is _UNSET:
            app = AppConfig.from_env()
            p = get_pipeline() if app.demo else None
            _sessions = SessionWorkspaces(app.sessions, (p.image_encoder.fingerprint, p.text_encoder.fingerprint), app.demo_ttl,
                                          DEMO_MAX_SESSIONS, DEMO_MAX_APPROVALS) if app.demo else None
        return _sessions


_UNSET = object()
_sessions = _UNSET


def workspace(request, create: bool = True) -> Workspace | None:
    """Where this request's approvals, History and audit trail are: the shared ones, or in public demo mode its
    browser session's own (Gradio's session hash: a page, or one API client). A visitor's workspace is made at
    their first approval, and each visitor may start only so many (`limit`, "session"); `create=False`: None
    for a visitor who has none yet (nothing approved, so nothing to show)."""
    sessions = demo_sessions()
    if sessions is None:
        return _shared()
    key = getattr(request, "session_hash", None) or ""
    found = sessions.get(key, create=False)
    if found is None and create:
        limit(request, "session")
        found = sessions.get(key)
    return found


def own_workspace(request) -> Workspace:
    """The workspace whose approvals a request reads or deletes; a demo visitor without one is told so."""
    found = workspace(request, create=False)
    if found is None:
        raise InputError("You have no approvals in this session yet: approve a description first.")
    return found


def end_session(request: gr.Request) -> None:
    """The page was closed (or its connection dropped): in public demo mode its session's work is deleted a little
    later, unless the page comes back (`SessionWorkspaces.drop`)."""
    sessions = demo_sessions() if pipeline_loading().done() else None
    if sessions is not None:
        sessions.drop(getattr(request, "session_hash", None) or "")


@lru_cache(maxsize=1)
def _limiters() -> dict[str, RateLimiter]:
    app = AppConfig.from_env()
    return {"draft": RateLimiter(app.demo_drafts, 600, "requests for drafts"), "bulk": RateLimiter(app.demo_bulk, 3600, "bulk products"),
            "session": RateLimiter(DEMO_SESSIONS_PER_HOUR, 3600, "new sessions (pages where you approve)")}


def limit(request, what: str, units: int = 1) -> None:
    """In public demo mode, count `units` of `what` ("draft", "bulk") against the visitor's limit, or refuse with
    when to try again. A visitor is their address, so that opening more pages does not give them more."""
    app = AppConfig.from_env()
    if app.demo:
        headers = getattr(request, "headers", None) or {}
        client = getattr(getattr(request, "client", None), "host", None)
        _limiters()[what].take(client_address(headers.get("x-forwarded-for", ""), client, app.on_space), units)


def allowed(request, action: str) -> str:
    """The signed-in user's name if their role allows `action` (`users.NEEDS`), else a `users.Refused` naming the
    role it needs. With sign-in off, the local user may do everything."""
    store = user_store()
    if store is None:
        return LOCAL_USER
    name = getattr(request, "username", None)
    require(store.role_of(name), action, name)
    return name


API_ACTIONS = {"generate": "draft", "bulk": "draft", "submit": "submit", "approve": "approve", "bulk_approve": "approve",
               "review": "approve"}  # each named API endpoint's action (`users.NEEDS`)


def api_refusal(user: str | None, api_name: str) -> tuple[int, str] | None:
    """(HTTP status, reason) for a named API call the user may not make (`api_guard.py`); None when sign-in is off."""
    store, action = user_store(), API_ACTIONS.get(api_name)
    if store is None or action is None:
        return None
    if user is None:
        return 401, "Sign in first (gradio_client: Client(url, auth=(name, password)))."
    try:
        require(store.role_of(user), action, user)
    except Refused as e:
        return 403, str(e)
    return None


def may(request, action: str) -> bool:
    """Whether the signed-in user's role allows `action` (what the page offers them: Approve, or Submit for review)."""
    store = user_store()
    return store is None or allows(store.role_of(getattr(request, "username", None)), action)


@contextmanager
def user_errors(what: str):
    """Package errors become their own message; anything else a plain sentence (the details go to the log)."""
    try:
        yield
    except (gr.Error, GeneratorExit):
        raise
    except EcomcopyError as e:
        raise gr.Error(str(e), print_exception=False) from None
    except Exception as e:  # noqa: BLE001 - log for us, a plain sentence for the user
        log_failure(what, e)
        raise gr.Error(f"Something went wrong while {what}; please try again. The details are in the server log.",
                       print_exception=False) from None


