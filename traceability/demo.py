"""Demo traceability data for ``yima demo``: three products carrying bureau codes, a delivery of rebar with its
labels, two bolts registered one by one, and trails at every stage (handed over, installed, a failed and a
passed inspection, just delivered). Idempotent: nothing is written when the demo's first product exists.

Needs the demo organizations and the published szgws-me release (``yima demo`` loads them first). The GTINs are
the demo's own (695… with valid check digits), never the conformance check's 09521234543213.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from registry.db import Database
from traceability import deliveries, events, items, products
from traceability.models import Product

#: (GTIN, code, name, manufacturer)
PRODUCTS = (
    ("06951234000011", "40-10.10.30", "HRB400E 抗震热轧带肋钢筋 Φ25", "示例钢铁集团有限公司"),
    ("06951234000028", "40-10.60.10", "10.9S 大六角头高强度螺栓 M24", "示例紧固件有限公司"),
    ("06951234000035", "40-20.10.20", "P·O 42.5 普通硅酸盐水泥", "示例水泥股份有限公司"),
)
DELIVERY = "DEMO-SH-2025-0618"
PROJECT = "光明科学城启动区（示例）"
REBAR, BOLT = PRODUCTS[0][0], PRODUCTS[1][0]
LOT = "25A0618"
CONTRACTOR, SUPERVISOR, OWNER = "CSCEC3B", "SUP-DEMO", "SZGWS-GCGL"
T0 = dt.datetime(2025, 6, 18, 9, 0)


def _trail(serial: int) -> list[tuple]:
    """(type, organization, days after delivery, result, note) of a rebar bundle by its serial."""
    delivered = [("delivered", CONTRACTOR, 0, None, "随车质量证明书齐全")]
    passed = [("inspected", SUPERVISOR, 0.1, "pass", "外观、尺寸、重量偏差合格；见证取样送检合格")]
    if serial <= 3:
        return [
            *delivered,
            *passed,
            ("installed", CONTRACTOR, 82, None, "3 号楼 5 层框架柱"),
            ("handed_over", OWNER, 285, None, "随竣工资料移交"),
        ]
    if serial <= 5:
        return [*delivered, *passed, ("installed", CONTRACTOR, 82, None, "3 号楼 6 层框架梁")]
    if serial == 6:
        return [*delivered, ("inspected", SUPERVISOR, 0.1, "fail", "重量偏差超标，退场")]
    if serial <= 8:
        return [*delivered, *passed]
    if serial <= 10:
        return delivered
    return []


def load(database: Database, actor: str) -> int:
    """Load the demo's products, delivery, items and trails; returns how many objects were created."""
    with database.session() as s:
        if s.scalar(select(Product.id).where(Product.gtin == PRODUCTS[0][0])) is not None:
            return 0
    created = 0
    for gtin, code, name, manufacturer in PRODUCTS:
        with database.writer() as s:
            products.register(
                s, gtin, code, name, manufacturer=manufacturer, actor=actor, organization="SZGWS"
            )
        created += 1
    rows = [{"gtin": REBAR, "lot": LOT, "serial": f"{n:04d}", "expiry": "2027-06-30"} for n in range(1, 13)]
    with database.writer() as s:
        report = deliveries.register_list(
            s, DELIVERY, rows, project=PROJECT, actor=actor, organization=CONTRACTOR
        )
    created += 1 + report.added
    for serial in ("B0001", "B0002"):
        with database.writer() as s:
            items.register(
                s,
                link=f"https://id.gs1.org/01/{BOLT}/10/25B07/21/{serial}",
                project=PROJECT,
                actor=actor,
                organization=CONTRACTOR,
            )
        created += 1
    for n in range(1, 13):
        key = f"01/{REBAR}/10/{LOT}/21/{n:04d}"
        for kind, org, days, result, note in _trail(n):
            with database.writer() as s:
                events.record(
                    s,
                    key,
                    kind,
                    T0 + dt.timedelta(days=days),
                    result=result,
                    note=note,
                    actor=actor,
                    organization=org,
                )
            created += 1
    return created
