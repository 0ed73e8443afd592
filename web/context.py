"""Per-app and per-request access to Yima's config, database and the caller (the one place views reach them)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import current_app, g

from registry.actors import Actor
from registry.config import Config
from registry.db import Database
from registry.tokens import require_role


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name, role and organization (API) or a logged-in user's (browse pages)."""

    name: str
    role: str
    organization: str | None = None


@dataclass
class Yima:
    config: Config
    db: Database


def yima() -> Yima:
    return current_app.extensions["yima"]


def config() -> Config:
    return yima().config


def db() -> Database:
    return yima().db


def session():
    """The request's read session, closed when the request ends."""
    if "db_session" not in g:
        g.db_session = db().session()
    return g.db_session


def principal() -> Principal | None:
    return g.get("principal")


def require(role: str) -> Principal:
    """The caller, if their role is at least ``role``; raises Unauthorized / Forbidden otherwise."""
    who = principal()
    require_role(who, role)
    return who


def actor() -> str:
    """Who the request's changes are attributed to: an ``Actor`` carrying the caller's organization, so
    every audit entry a service writes for this request names it (the services' ``actor: str`` is unchanged)."""
    who = principal()
    return Actor(who.name, who.organization) if who else "anonymous"


def needs(role: str):
    """Decorate a view method so the caller's role is checked before its body is even parsed."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            require(role)
            return fn(*args, **kwargs)

        wrapper._yima_role = role
        return wrapper

    return decorate
