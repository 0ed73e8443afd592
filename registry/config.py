"""Configuration read once from ``YIMA_*`` environment variables (overridable by tests)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

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
    #: areas (``codes``, ``resources``) whose changes go through change requests only (YIMA_REQUIRE_REVIEW)
    require_review: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> Config:
        env = os.environ if environ is None else environ
        cfg = cls(
            database_url=env.get("YIMA_DATABASE_URL") or "sqlite:///yima.db",
            secret_key=env.get("YIMA_SECRET_KEY", ""),
            read_requires_token=env.get("YIMA_READ_REQUIRES_TOKEN", "0").strip().lower() in _TRUE,
            max_batch=_int(env, "YIMA_MAX_BATCH", 100_000),
            max_content_length=_int(env, "YIMA_MAX_CONTENT_LENGTH", 64 * 1024 * 1024),
            instance_path=env.get("YIMA_INSTANCE_PATH") or str(Path.cwd() / "instance"),
            scheme_paths=tuple(p for p in env.get("YIMA_SCHEME_PATH", "").split(os.pathsep) if p),
            uniclass_dir=env.get("YIMA_UNICLASS_DIR") or None,
            require_review=_areas(env.get("YIMA_REQUIRE_REVIEW", "")),
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
