"""Every table that holds audited state belongs to a registered entity, so ``audit verify`` never skips one."""

from __future__ import annotations

import pytest

import migrations
from registry import audit
from registry.db import Base
from web import domains

#: tables that are not an audited entity's state, each with the reason
NOT_AUDITED = {
    "audit_entry": "the chain itself",
    "resource_revision": "a resource's saved versions, written beside each audited change of the resource",
    "resource_search": "the search index, derived from data_resource and rebuilt from it",
    "code_scheme": "the row anchoring a scheme declared in files; release entries are keyed by its id",
    "lineage_node": "datasets and jobs upserted from the events and flows that name them (derived)",
    "lineage_column_edge": "column edges derived from the columnLineage facets of stored events (each "
    "ingest entry holds the body's sha256) and from flows' column mappings (in the flow's audit state)",
    "audit_tree": "the Merkle tree over the chain, derived from it (verify recomputes and compares it)",
    "audit_checkpoint": "checkpoints issued over the chain; recording one as an entry would change the size it signs",
    "webhook_delivery": "the delivery log: a record of attempts to send audit entries, not state of its own",
}


def _all_tables() -> set[str]:
    migrations.load_models()
    return set(Base.metadata.tables)


def test_every_table_is_covered_by_a_registered_entity_or_declared_not_audited():
    covered = audit.audited_tables()
    uncovered = sorted(_all_tables() - set(covered) - set(NOT_AUDITED))
    assert not uncovered, (
        f"tables with no audited entity: {uncovered}. Register the entity that owns each "
        "(audit.register_entity(..., tables=...) in a module listed in web/domains.py), "
        "or add it to NOT_AUDITED with the reason"
    )


def test_the_lists_name_only_real_tables_and_do_not_overlap():
    tables = _all_tables()
    covered = audit.audited_tables()
    assert set(covered) <= tables, f"registered for tables that do not exist: {set(covered) - tables}"
    assert set(NOT_AUDITED) <= tables, f"NOT_AUDITED names missing tables: {set(NOT_AUDITED) - tables}"
    assert not set(covered) & set(NOT_AUDITED)


def test_web_domains_lists_exactly_the_registered_entity_types():
    domains.check()
    registered = audit.registered_entities()
    assert set(domains.AUDITED_ENTITIES) == set(registered)
    assert all(spec.tables for spec in registered.values()), "every entity names the tables it covers"


def test_check_names_an_entity_type_whose_module_does_not_register_it(monkeypatch):
    monkeypatch.setitem(domains.AUDITED_ENTITIES, "gadget", domains.AUDITED_ENTITIES["token"])
    with pytest.raises(RuntimeError, match="gadget"):
        domains.check()
