"""Sample tokens for the demo's three parties (三方): a contractor proposes, a supervisor checks, an owner decides.

``yima demo --tokens`` prints one token per party, acting for the demo organization of that kind
(``catalog/demo_data/organizations.csv``). A secret is shown once and only its hash is kept, so a re-run
cannot show the old ones again: it revokes them and creates a fresh set (``demo-contractor-2`` …), so that
exactly one set of sample tokens works at any time.
"""

from __future__ import annotations

from sqlalchemy import select

from catalog.models import Organization
from registry.db import Database
from registry.tokens import Token, revoke_token
from review import parties

#: (party, organization kind, preferred demo organization, role, token name)
PARTIES = (
    ("施工单位 contractor", "contractor", "CSCEC3B", "contributor", "demo-contractor"),
    ("监理单位 supervisor", "supervisor", "SUP-DEMO", "contributor", "demo-supervisor"),
    ("建设单位 owner", "owner", "SZGWS-GCGL", "steward", "demo-owner"),
)


def _organization(session, kind: str, preferred: str) -> str:
    codes = list(
        session.scalars(
            select(Organization.code).where(Organization.kind == kind).order_by(Organization.code)
        )
    )
    if not codes:
        raise RuntimeError(f"the demo has no {kind} organization: run yima demo first")
    return preferred if preferred in codes else codes[0]


def _free_name(session, base: str) -> str:
    taken = set(session.scalars(select(Token.name).where(Token.name.startswith(base))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def sample_tokens(database: Database, actor: str) -> list[dict]:
    """Revoke the live sample tokens, create one per party and return them with their secrets (shown once)."""
    out = []
    for party, kind, preferred, role, base in PARTIES:
        with database.writer() as s:
            org = _organization(s, kind, preferred)
            for old in s.scalars(
                select(Token).where(Token.name.startswith(base), Token.revoked.is_(False))
            ).all():
                revoke_token(s, old.name, actor=actor)
            name = _free_name(s, base)
            _token, secret = parties.create_token(s, name, role, actor=actor, organization=org)
        out.append({"party": party, "organization": org, "role": role, "name": name, "secret": secret})
    return out
