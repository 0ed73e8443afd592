"""Every audited entity type and the module that registers it: the one list ``audit verify`` relies on.

Importing a module is what registers its entity types with ``registry.audit`` (``register_entity``),
so the imports below are the declaration: one line per entity type, aliased by what it holds. When a
registration moves to another module, change that entity's import line. ``check()`` fails loudly if
a listed entity type is not registered, and ``tests/registry/test_audited_entities.py`` fails when a
table is neither covered by a registered entity nor listed there as not audited.
"""

from __future__ import annotations

from types import ModuleType

from catalog import organizations, resources, systems
from lineage import snapshots as lineage_events
from lineage import snapshots as lineage_flows
from registry import audit, tokens
from review import workflow as change_requests
from standards import crosswalks, releases
from traceability import deliveries, events, items, products
from webhooks import service as webhooks

#: entity type (as in the audit entries) → the module whose import registers it
AUDITED_ENTITIES: dict[str, ModuleType] = {
    "token": tokens,
    "organization": organizations,
    "system": systems,
    "resource": resources,
    "release": releases,
    "crosswalk": crosswalks,
    "lineage_event": lineage_events,
    "lineage_flow": lineage_flows,
    "trace_product": products,
    "trace_delivery": deliveries,
    "trace_item": items,
    "trace_event": events,
    "webhook": webhooks,
    "change_request": change_requests,
}


def check() -> None:
    """Raise RuntimeError unless every entity type listed above is registered with ``registry.audit``."""
    missing = sorted(set(AUDITED_ENTITIES) - set(audit.registered_entities()))
    if missing:
        raise RuntimeError(
            f"audited entity types not registered by their modules: {', '.join(missing)} "
            "(web/domains.py names the module that must call audit.register_entity for each)"
        )
