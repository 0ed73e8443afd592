"""Fixtures of the change request tests: the demo's organizations, codes and catalog, and a token per party."""

from __future__ import annotations

import pytest

from catalog import demo as catalog_demo
from review import parties as review_parties
from standards import demo as standards_demo

#: party → (role, organization): the demo's contractor, a second contractor, the supervisor, an owner, the bureau
PARTIES = {
    "contractor": ("contributor", "CSCEC3B"),
    "contractor2": ("contributor", "MCC20"),
    "supervisor": ("contributor", "SUP-DEMO"),
    "owner": ("steward", "SZGWS-GCGL"),
    "owner2": ("steward", "SZGWS-XXH"),
    "bureau": ("steward", "SZGWS"),
    "assessor": ("steward", "QA-DEMO"),
    "loner": ("admin", None),
}


@pytest.fixture
def demo(db):
    """The bureau's organizations, its code set (no Uniclass: faster) and its catalog."""
    catalog_demo.load_organizations(db, "test")
    standards_demo.load(db, "test", with_uniclass=False)
    catalog_demo.load_catalog(db, "test")
    return db


@pytest.fixture
def party(demo):
    """``party["contractor"]`` → Authorization headers of a token of that party (see PARTIES)."""
    headers = {}
    for name, (role, org) in PARTIES.items():
        with demo.writer() as s:
            _, secret = review_parties.create_token(s, name, role, actor="test", organization=org)
        headers[name] = {"Authorization": f"Bearer {secret}"}
    return headers
