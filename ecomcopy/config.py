"""Every setting of ecomcopy in one place: the defaults, the paths, and the environment variables that
override them. No other module reads the environment (tests/test_layout.py checks it)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, MutableMapping

from .errors import InputError

# Weights come from pip packages only; never let a library reach for a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Nothing leaves the machine: Gradio's usage analytics and version check call out when a page is built.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

# -- shipped files (read only) ------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"
DEMO_CATALOG_DB = ASSETS_DIR / "catalog" / "catalog.db"
CATALOG_IMAGES = ASSETS_DIR / "catalog" / "images"
CHANNELS_DIR = ASSETS_DIR / "channels"  # a shop's or marketplace's listing rules, one JSON file each (`channels.py`)
EDITOR_SCORE_PATH = ASSETS_DIR / "ranking" / "editor_score.json"  # `editor_score.py`, fitted on blind reads

# -- backbones and retrieval --------------------------------------------------------------------
LM_NAMES = ("smollm2-135m", "gemma3-270m", "qwen2.5-0.5b", "qwen2.5-1.5b")  # the frozen LMs pip packages carry (`lm.LM_SPECS`)
DEFAULT_LM = "qwen2.5-1.5b"  # chosen by measurement (README, "The writer"); an adapter names its own
TRAIN_LM = "qwen2.5-0.5b"  # `train`'s default LM: the frozen-LM recipe's; the default writer's adds --lora-rank 4 on the 1.5B
DEFAULT_IMAGE_ENCODER = "efficientnet-lite0"
DEFAULT_IMAGE_WEIGHT = 0.5  # share of image similarity in the fused search; 1.0 = image-only, as in the paper
# a best catalog match scoring under this (fused cosine) is nothing alike: drafts are written without a reference
# (bench/reference_threshold.py, docs/EVALUATION.md "No reference when nothing is alike")
MIN_REFERENCE_SCORE = 0.475


def shipped_adapter(lm: str | None = None) -> Path | None:
    """The shipped adapter trained on `lm` (default: the default writer's LM): `assets/modict/<lm>/adapter`
    (.safetensors + .json); None when that LM has none (it then writes with the plain prompt)."""
    lm = lm or DEFAULT_LM
    stem = ASSETS_DIR / "modict" / lm / "adapter"
    try:
        trained_on = json.loads(stem.with_suffix(".json").read_text())["lm"]
    except (OSError, ValueError, KeyError):
        return None
    return stem if trained_on == lm else None


DEFAULT_ADAPTER = shipped_adapter()  # the default writer's trained modules


def writer_lm(env: Mapping[str, str] = os.environ) -> str:
    """ECOMCOPY_LM: the writer's LM for the app and the CLI (whose --lm overrides it)."""
    return env.get("ECOMCOPY_LM", DEFAULT_LM)


WRITERS = ("modict", "prompt")  # the trained adapter, or the plain in-context prompt on the frozen LM

# -- decoding -----------------------------------------------------------------------------------
TOP_K = 50  # candidates per step before top-p: transformers' default, so the distribution is the same
COPY_GUARDS = ("tokens", "words")  # how drafts are kept from copying the reference
REPEAT_UNITS = ("words", "tokens")
# How training and evaluation simulate what the merchant typed for a data product (`keywords.product_keywords`):
# "merchant" = attributes + the description's salient phrases as YAKE cuts them; "whole" = the same without
# phrases that have a stop word inside ("top and silicone"); "attributes" = the shopper-facing attributes alone.
DATA_KEYWORDS = ("merchant", "whole", "attributes")
RANKINGS = ("rules", "editor")  # how the drafts shown are chosen among the candidates (`ranking.py`)
KEYWORD_MODES = ("phrase", "word", "once")  # when keyword emphasis lets a keyword go (`constraints.KeywordBoost`)

# -- serving ------------------------------------------------------------------------------------
QUEUE_SIZE = 32  # requests waiting for the model; one more is told the queue is full (HTTP 503)
BATCH_ROWS = 24  # most drafts decoding at once across requests (`scheduler.py`): two default requests; 0 = one request at a time
IN_MODEL = 4  # requests the page lets into the model at once (decoding or waiting there with their place shown)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SPACE_HOSTS = ("*.hf.space",)  # where a Hugging Face Space is served from
DEFAULT_CHANNEL = "shopify"  # the listing a new product gets (assets/channels/): a merchant's own shop
OUTPUTS_MAX_AGE_S = 86_400  # exports and bulk results are deleted a day after they were written (as Gradio's uploads)
UPLOAD_BYTES_PER_HOUR = 1024**3  # per client: two of the largest bulk ZIPs (bulk.MAX_ZIP_BYTES)
# -- public demo mode (`workspace.py`, `rate_limit.py`) ------------------------------------------
DEMO_DRAFTS_PER_10_MIN = 10  # requests for drafts per visitor (page and API) in any 10 minutes
DEMO_BULK_PRODUCTS_PER_HOUR = 20  # products a visitor's bulk jobs may draft in any hour
DEMO_SESSION_TTL_S = 3600  # a visitor's session (approvals, History, photos) is deleted this long after its last use
DEMO_MAX_SESSIONS = 500  # more live sessions than this: the least recently used is deleted first
DEMO_MAX_APPROVALS = 200  # approvals one visitor's session may hold
DEMO_SESSIONS_PER_HOUR = 20  # sessions (workspaces: made at a page's first approval) one visitor may start in any hour
DEMO_CLOSED_GRACE_S = 120  # a closed page's session is deleted this much later (a dropped connection comes back)


@dataclass
class SamplingConfig:
    """How one request's drafts are written. The defaults are the shipped decoding (docs/EVALUATION.md)."""

    n: int = 4  # drafts per request
    temperature: float = 0.8
    top_p: float = 0.9
    max_new_tokens: int = 60
    seed: int | None = None  # same seed, same drafts (on the same machine)
    keyword_boost: float = 4.0  # logit nudge towards the merchant's keywords (`constraints.KeywordBoost`); 0 = off
    keyword_mode: str = "phrase"  # emphasis stops once the whole keyword ("phrase") or any of its words ("word") is
    # written; "once": as "word", and a written keyword is then pushed away (no keyword twice)
    copy_guard: str = "words"  # "words": no 8-word run of the reference (`WordRunGuard`); "tokens": no 8-token run (`NgramBan`)
    no_repeat: int = 4  # a draft may not repeat a run of this many of its own words or tokens (0 = allowed)
    no_repeat_unit: str = "words"  # "words" (`constraints.WordRepeatGuard`) or "tokens" (transformers' processor)
    candidates: int = 3  # drafts sampled per draft shown; the best n by length, the checker and fluency are shown
    spelling: bool = True  # drafts write only words the draft checker knows (`spelling.SpellingGuard`)
    max_words: int = 16  # a shown draft keeps its whole sentences up to this many words (`text.first_sentences`); 0 = all
    ranking: str = "rules"  # "rules": clean, then fewer flags; "editor": clean, then the editor score (read no better)

    def validate(self) -> "SamplingConfig":
        if not 1 <= self.n <= 8:
            raise InputError("Number of drafts must be between 1 and 8.")
        if not 1 <= self.candidates <= 4:
            raise InputError("Candidates per draft must be between 1 (no ranking) and 4.")
        if not (self.max_words == 0 or 5 <= self.max_words <= 200):
            raise InputError("The word limit must be 0 (off) or between 5 and 200 words.")
        if not 0.05 <= self.temperature <= 2.0:
            raise InputError("Creativity (temperature) must be between 0.05 and 2.")
        if not 0.1 <= self.top_p <= 1.0:
            raise InputError("Word choice (top-p) must be between 0.1 and 1.")
        if not 8 <= self.max_new_tokens <= 200:
            raise InputError("Maximum length must be between 8 and 200 word pieces (tokens).")
        if not 0.0 <= self.keyword_boost <= 10.0:
            raise InputError("Use my keywords (keyword emphasis) must be between 0 and 10.")
        if not (self.no_repeat == 0 or 2 <= self.no_repeat <= 20):
            raise InputError("The repetition limit must be 0 (off) or between 2 and 20.")
        if self.no_repeat_unit not in REPEAT_UNITS:
            raise InputError("The repetition limit counts words or tokens.")
        if self.keyword_mode not in KEYWORD_MODES:
            raise InputError(f"Keyword mode must be one of: {', '.join(KEYWORD_MODES)}.")
        if self.ranking not in RANKINGS:
            raise InputError(f"Ranking must be one of: {', '.join(RANKINGS)}.")
        if self.copy_guard not in COPY_GUARDS:
            raise InputError(f"Copy guard must be one of: {', '.join(COPY_GUARDS)}.")
        return self


SAMPLING = SamplingConfig()  # the shipped defaults, for the UI's sliders and the CLI's options
# the decoding rules of SamplingConfig (options of every command that writes drafts)
DECODING_FIELDS = ("temperature", "top_p", "candidates", "max_words", "keyword_boost", "keyword_mode", "copy_guard", "no_repeat",
                   "no_repeat_unit", "spelling", "ranking")


ON_WORDS, OFF_WORDS = ("on", "1", "true", "yes"), ("off", "0", "false", "no")  # how a setting is turned on or off


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Converted LMs and other derived files: `ECOMCOPY_CACHE`, else `~/.cache/ecomcopy`."""
    root = Path(env.get("ECOMCOPY_CACHE") or Path.home() / ".cache" / "ecomcopy").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def int8_cache_dir(env: Mapping[str, str] = os.environ) -> Path | None:
    """The writer's packed int8 weights (`int8_cache`): `ECOMCOPY_INT8_CACHE` ("off": none), else `<cache>/int8`."""
    value = env.get("ECOMCOPY_INT8_CACHE", "")
    if value.lower() in OFF_WORDS:
        return None
    return Path(value).expanduser() if value else cache_dir(env) / "int8"


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    """What users create (approvals, their photos, the working catalog): `ECOMCOPY_DATA`; on a Hugging Face
    Space with persistent storage `/data/ecomcopy` (everything else there is wiped on restart); else
    `~/.local/share/ecomcopy`."""
    if env.get("ECOMCOPY_DATA"):
        root = Path(env["ECOMCOPY_DATA"]).expanduser()
    elif env.get("SPACE_ID") and os.access("/data", os.W_OK):
        root = Path("/data/ecomcopy")
    else:
        root = Path.home() / ".local" / "share" / "ecomcopy"
    root.mkdir(parents=True, exist_ok=True)
    return root


def allowed_hosts(env: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The names a browser may use to reach the app: `ECOMCOPY_ALLOWED_HOSTS` (comma-separated, `*.` for a
    domain's subdomains, `*` for any) and the Space's own names on a Space, always with this machine's loopback
    names (Gradio calls itself on one while it starts)."""
    named = tuple(h.strip().lower() for h in env.get("ECOMCOPY_ALLOWED_HOSTS", "").split(",") if h.strip())
    space = ((env["SPACE_HOST"].lower(),) if env.get("SPACE_HOST") else ()) + SPACE_HOSTS if env.get("SPACE_ID") else ()
    return LOOPBACK + named + space


def demo_mode(env: Mapping[str, str], auth: bool) -> bool:
    """ECOMCOPY_DEMO: "on", "off", or "auto" (the default): on on a Hugging Face Space without sign-in, where anyone
    may open the page. Sign-in names who may see what, so it and the demo's private sessions do not go together."""
    value = env.get("ECOMCOPY_DEMO", "auto").strip().lower()
    if value not in ("auto", *ON_WORDS, *OFF_WORDS):
        raise InputError("ECOMCOPY_DEMO must be on, off or auto.")
    on = bool(env.get("SPACE_ID")) and not auth if value == "auto" else value in ON_WORDS
    if on and auth:
        raise InputError("ECOMCOPY_DEMO=on and ECOMCOPY_AUTH=on do not go together: a public demo keeps each visitor's work in "
                         "their own session; sign-in shares one History among a team. Turn one of them off.")
    if on and env.get("ECOMCOPY_RAY_ADDRESS"):
        raise InputError("The public demo mode runs its drafts on this machine (each visitor's own approved products are "
                         "references only there): unset ECOMCOPY_RAY_ADDRESS, or set ECOMCOPY_DEMO=off.")
    return on


@dataclass
class AppConfig:
    """What the app, the CLI and the benches take from the environment, resolved once."""

    data: Path  # ECOMCOPY_DATA: the working catalog, approvals and their photos
    catalog: Path  # ECOMCOPY_CATALOG: the catalog searched (default: a working copy in `data`)
    seed: Path | None  # the shipped catalog copied into `catalog` (None when ECOMCOPY_CATALOG names one)
    lm: str  # ECOMCOPY_LM: the writer's LM; its shipped adapter is loaded (`shipped_adapter`), else the plain prompt
    image_weight: float  # ECOMCOPY_IMAGE_WEIGHT: share of image similarity in the search
    host: str  # GRADIO_SERVER_NAME (a Space sets it)
    port: int  # GRADIO_SERVER_PORT
    on_space: bool  # SPACE_ID is set: a Hugging Face Space, whose proxy must reach the app on all interfaces
    allowed_hosts: tuple[str, ...]  # ECOMCOPY_ALLOWED_HOSTS: the host names the app answers to (DNS rebinding)
    batch_rows: int = BATCH_ROWS  # ECOMCOPY_BATCH_ROWS: drafts of concurrent requests decoded in one batch (0 = off)
    ray_address: str = ""  # ECOMCOPY_RAY_ADDRESS: draft on pipeline replicas on this Ray cluster ("local": a Ray on this machine)
    replicas: int = 2  # ECOMCOPY_REPLICAS: how many, with ECOMCOPY_RAY_ADDRESS
    auth: bool = False  # ECOMCOPY_AUTH=on: sign-in with the users of `users_db` (`python -m ecomcopy users add ...`), and roles
    demo: bool = False  # ECOMCOPY_DEMO=on|off|auto (auto: on on a Space without sign-in): each visitor's work private to their session
    demo_drafts: int = DEMO_DRAFTS_PER_10_MIN  # ECOMCOPY_DEMO_DRAFTS: a visitor's requests for drafts in any 10 minutes
    demo_bulk: int = DEMO_BULK_PRODUCTS_PER_HOUR  # ECOMCOPY_DEMO_BULK: products a visitor may bulk-draft in any hour
    demo_ttl: float = DEMO_SESSION_TTL_S  # ECOMCOPY_DEMO_TTL: seconds a visitor's session is kept after its last use

    @property
    def sessions(self) -> Path:
        """Public demo mode: one folder per visitor's session (its approvals, their photos and catalog overlay)."""
        return self.data / "sessions"

    @property
    def users_db(self) -> Path:
        return self.data / "users.db"

    @property
    def photos(self) -> Path:
        return self.data / "photos"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "AppConfig":
        data = data_dir(env)
        custom = env.get("ECOMCOPY_CATALOG")
        try:
            weight, port = float(env.get("ECOMCOPY_IMAGE_WEIGHT", DEFAULT_IMAGE_WEIGHT)), int(env.get("GRADIO_SERVER_PORT", 7860))
            batch_rows, replicas = int(env.get("ECOMCOPY_BATCH_ROWS", BATCH_ROWS)), int(env.get("ECOMCOPY_REPLICAS", 2))
            limits = [int(env.get(f"ECOMCOPY_DEMO_{k}", v)) for k, v in (("DRAFTS", DEMO_DRAFTS_PER_10_MIN), ("BULK", DEMO_BULK_PRODUCTS_PER_HOUR))]
            ttl = float(env.get("ECOMCOPY_DEMO_TTL", DEMO_SESSION_TTL_S))
        except ValueError:
            raise InputError("ECOMCOPY_IMAGE_WEIGHT and ECOMCOPY_DEMO_TTL must be numbers, GRADIO_SERVER_PORT a port number, and "
                             "ECOMCOPY_BATCH_ROWS, ECOMCOPY_REPLICAS and ECOMCOPY_DEMO_DRAFTS/BULK whole numbers.") from None
        auth = env.get("ECOMCOPY_AUTH", "").lower() in ON_WORDS
        return cls(
            data=data, catalog=Path(custom) if custom else data / "catalog.db", seed=None if custom else DEMO_CATALOG_DB,
            lm=writer_lm(env), image_weight=weight, host=env.get("GRADIO_SERVER_NAME", "127.0.0.1"),
            port=port, on_space=bool(env.get("SPACE_ID")), allowed_hosts=allowed_hosts(env), batch_rows=batch_rows,
            ray_address=env.get("ECOMCOPY_RAY_ADDRESS", ""), replicas=max(1, replicas),
            auth=auth, demo=demo_mode(env, auth), demo_drafts=max(1, limits[0]), demo_bulk=max(1, limits[1]), demo_ttl=max(60.0, ttl),
        )

    @staticmethod
    def serve_on_ray(address: str, replicas: int, env: MutableMapping[str, str] = os.environ) -> None:
        """`app.py --ray-address/--replicas`: the settings the app's loader reads (as ECOMCOPY_RAY_ADDRESS would)."""
        env["ECOMCOPY_RAY_ADDRESS"], env["ECOMCOPY_REPLICAS"] = address, str(replicas)

    def listen_host(self, host: str, public: bool) -> str:
        """The address to listen on: this machine only unless the operator said otherwise (`--public`), or the
        app runs on a Hugging Face Space."""
        if host in LOOPBACK or public or self.on_space:
            return host
        raise SystemExit(
            f"Refusing to listen on {host!r}: anyone who can reach this machine could use the app and read its approvals. "
            "Add --public to mean it (and put it behind a login; see docs/SECURITY.md), or leave --host at 127.0.0.1."
        )
