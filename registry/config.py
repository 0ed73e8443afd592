"""Configuration read once from ``YIMA_*`` environment variables (overridable by tests)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    """Every setting Yima has. ``from_env`` is the only reader of the environment."""

    database_url: str = "sqlite:///yima.db"
    secret_key: str = ""
    read_requires_token: bool = False
    max_batch: int = 100_000
    #: the largest request body accepted, in bytes (a 100,000-code batch is a few MB)
    max_content_length: int = 64 * 1024 * 1024
    instance_path: str = "instance"
    #: extra folders of code scheme definitions (``*.json``) loaded beside the bundled ones
    scheme_paths: tuple[str, ...] = ()
    #: where ``yima demo`` looks for the Uniclass 2015 CSVs first (YIMA_UNICLASS_DIR)
    uniclass_dir: str | None = None
    #: how long a SQLite write waits for another writer's lock before answering 503, in milliseconds
    sqlite_busy_timeout: int = 30_000
    #: evidence (issue 11): path of the Ed25519 key that signs checkpoints (YIMA_SIGNING_KEY; None:
    #: generated into the instance folder) and the log's origin line (YIMA_LOG_ORIGIN; None: the host
    #: name, kept in the instance folder on first use)
    signing_key: str | None = None
    log_origin: str | None = None
    # --- webhooks (issue 16; read by webhooks/settings.py) ---------------------------------------
    #: hosts or CIDRs a webhook may target although private or loopback (YIMA_WEBHOOK_ALLOW)
    webhook_allow: tuple[str, ...] = ()
    #: the key file that encrypts webhook secrets at rest (YIMA_WEBHOOK_KEY; default instance/webhook_key)
    webhook_key_path: str | None = None
    #: whether ``yima serve`` runs the delivery loop in its workers (YIMA_DELIVER)
    deliver: bool = True
    #: seconds one delivery may take in all (YIMA_WEBHOOK_TIMEOUT); connecting gets at most 5 of them
    webhook_timeout: float = 15.0
    #: seconds between retries (YIMA_WEBHOOK_RETRY, comma-separated); empty: the default (~3 days)
    webhook_retry_schedule: tuple[float, ...] = ()
    #: seconds a delivery process holds a webhook before another may take it over (YIMA_WEBHOOK_LEASE)
    webhook_lease: float = 60.0
    #: seconds between checks for new changes when no wake-up arrives (YIMA_WEBHOOK_POLL)
    webhook_poll: float = 0.5
    #: while changes flow, at most this many seconds between two ``audit.checkpoint`` events
    #: (YIMA_CHECKPOINT_EVENT_SECONDS; docs/audit.md, "Witnessing")
    checkpoint_event_seconds: float = 300.0
    # --- end webhooks ---------------------------------------------------------------------------
    #: areas (``codes``, ``resources``) whose changes go through change requests only (YIMA_REQUIRE_REVIEW)
    require_review: tuple[str, ...] = ()
    #: the zone the browse UI shows times in and reads ``as_of`` dates in (YIMA_TIMEZONE, an IANA name)
    timezone: str = "Asia/Shanghai"
    #: traceability: the host (and prefix) of the Digital Links on QR labels (YIMA_DIGITAL_LINK_BASE; None:
    #: this server's own URL)
    digital_link_base: str | None = None

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> Config:
        env = os.environ if environ is None else environ
        cfg = cls(
            database_url=check_database_url(env.get("YIMA_DATABASE_URL") or "sqlite:///yima.db"),
            secret_key=env.get("YIMA_SECRET_KEY", ""),
            read_requires_token=env.get("YIMA_READ_REQUIRES_TOKEN", "0").strip().lower() in _TRUE,
            max_batch=_int(env, "YIMA_MAX_BATCH", 100_000),
            max_content_length=_int(env, "YIMA_MAX_CONTENT_LENGTH", 64 * 1024 * 1024),
            instance_path=env.get("YIMA_INSTANCE_PATH") or str(Path.cwd() / "instance"),
            scheme_paths=tuple(p for p in env.get("YIMA_SCHEME_PATH", "").split(os.pathsep) if p),
            uniclass_dir=env.get("YIMA_UNICLASS_DIR") or None,
            sqlite_busy_timeout=_int(env, "YIMA_SQLITE_BUSY_TIMEOUT", 30_000),
            signing_key=env.get("YIMA_SIGNING_KEY") or None,
            log_origin=env.get("YIMA_LOG_ORIGIN") or None,
            **_webhook_settings(env),
            require_review=_areas(env.get("YIMA_REQUIRE_REVIEW", "")),
            timezone=_timezone(env.get("YIMA_TIMEZONE", "").strip() or "Asia/Shanghai"),
            digital_link_base=_link_base(env.get("YIMA_DIGITAL_LINK_BASE", "")),
        )
        return replace(cfg, **overrides) if overrides else cfg

    def with_secret(self) -> Config:
        """Return a config with a secret key: the configured one, or one kept in the instance folder."""
        if self.secret_key:
            return self
        path = Path(self.instance_path)
        path.mkdir(parents=True, exist_ok=True)
        keyfile = path / "secret_key"
        if not keyfile.exists():
            keyfile.write_text(secrets.token_hex(32))
            keyfile.chmod(0o600)
        return replace(self, secret_key=keyfile.read_text().strip())

    @property
    def dialect(self) -> str:
        return "postgresql" if self.database_url.startswith("postgres") else "sqlite"


#: the databases Yima runs on, and the drivers it ships (``postgresql://`` is read as psycopg 3)
SUPPORTED_DATABASES = {"sqlite": (None, "pysqlite"), "postgresql": (None, "psycopg")}
_URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def check_database_url(url: str) -> str:
    """``url`` if Yima can use it; else SystemExit with one line saying why (the password never shown)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SystemExit(f"YIMA_DATABASE_URL is not a database URL; expected {_URL_FORMS}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres" and not driver:  # the old alias, as make_engine reads it
        backend = "postgresql"
    if backend not in SUPPORTED_DATABASES:
        raise SystemExit(
            f"YIMA_DATABASE_URL names {backend!r}; Yima runs on SQLite and PostgreSQL only ({_URL_FORMS})"
        )
    if (driver or None) not in SUPPORTED_DATABASES[backend]:
        raise SystemExit(
            f"YIMA_DATABASE_URL asks for the {driver!r} driver; use {backend}:// or "
            f"{backend}+{SUPPORTED_DATABASES[backend][1]}:// ({_URL_FORMS})"
        )
    return url


def _webhook_settings(env) -> dict:
    """The webhook variables (issue 16), checked like the others: a bad value stops with one clear line."""
    return {
        "webhook_allow": tuple(p.strip() for p in env.get("YIMA_WEBHOOK_ALLOW", "").split(",") if p.strip()),
        "webhook_key_path": env.get("YIMA_WEBHOOK_KEY") or None,
        "deliver": env.get("YIMA_DELIVER", "1").strip().lower() in _TRUE,
        "webhook_timeout": _seconds("YIMA_WEBHOOK_TIMEOUT", env.get("YIMA_WEBHOOK_TIMEOUT"), 15.0),
        "webhook_retry_schedule": tuple(
            _seconds("YIMA_WEBHOOK_RETRY", part, 0.0)
            for part in env.get("YIMA_WEBHOOK_RETRY", "").split(",")
            if part.strip()
        ),
        "webhook_lease": _seconds("YIMA_WEBHOOK_LEASE", env.get("YIMA_WEBHOOK_LEASE"), 60.0),
        "webhook_poll": _seconds("YIMA_WEBHOOK_POLL", env.get("YIMA_WEBHOOK_POLL"), 0.5),
        "checkpoint_event_seconds": _seconds(
            "YIMA_CHECKPOINT_EVENT_SECONDS", env.get("YIMA_CHECKPOINT_EVENT_SECONDS"), 300.0
        ),
    }


def _seconds(name: str, raw: str | None, default: float) -> float:
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number of seconds, not {raw!r}") from exc
    if not 0 < value < float("inf"):  # also refuses nan
        raise SystemExit(f"{name} must be a positive number of seconds, not {raw}")
    return value


#: what YIMA_REQUIRE_REVIEW may name
REVIEW_AREAS = ("codes", "resources")


def _areas(raw: str) -> tuple[str, ...]:
    areas = tuple(dict.fromkeys(a.strip().lower() for a in raw.split(",") if a.strip()))
    unknown = [a for a in areas if a not in REVIEW_AREAS]
    if unknown:
        raise SystemExit(
            f"YIMA_REQUIRE_REVIEW names {', '.join(unknown)}; use a list of: {', '.join(REVIEW_AREAS)}"
        )
    return areas


def _link_base(raw: str) -> str | None:
    """YIMA_DIGITAL_LINK_BASE: ``https://host[/prefix]`` without a trailing slash, or None when unset."""
    raw = raw.strip()
    if not raw:
        return None
    split = urlsplit(raw)
    if split.scheme not in ("http", "https") or not split.hostname or split.query or split.fragment:
        raise SystemExit(f"YIMA_DIGITAL_LINK_BASE must be https://host[/prefix], not {raw!r}")
    return raw.rstrip("/")


def _int(env, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from exc
    if value <= 0:
        raise SystemExit(f"{name} must be positive, not {value}")
    return value


def _timezone(name: str) -> str:
    """An IANA zone name the system knows (``Asia/Shanghai``, ``UTC``), else a one-line exit."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(
            f"YIMA_TIMEZONE {name!r} is not a time zone; use an IANA name such as Asia/Shanghai"
        ) from None
    return name
