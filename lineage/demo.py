"""Demo lineage between the bureau's systems: OpenLineage events over 2025–2026 and two declared flows."""

from __future__ import annotations

import uuid

from lineage import flows, intake
from registry.db import Database
from registry.errors import Conflict

PRODUCER = "https://szgws.example/yima/demo-lineage"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET_URL = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
LINEAGE_URL = (
    "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
)

#: namespaces as in catalog/demo.py (the systems' OpenLineage namespaces)
GCPT, GCJS, BIMSC, GJK, CBSCZ = "szgws.gcpt", "szgws.gcjs", "szgws.bimsc", "szgws.gjk", "szgws.cbscz"
LYPJ, BLXW, ZLPG, CLBM, EWM = "szgws.lypj", "szgws.blxw", "szgws.zlpg", "szgws.clbm", "szgws.ewm"
CGGL, JCYS, SZJF = "szgws.cggl", "szgws.jcys", "szgws.szjf"

#: output schemas (schema facet) of some datasets: (name, type, description)
SCHEMAS = {
    (GCJS, "tender_award"): [
        ("project_no", "string", "项目编号"),
        ("winner_credit_code", "string", "中标单位信用代码"),
    ],
    (GCJS, "contract"): [
        ("contract_no", "string", "合同编号"),
        ("contractor_credit_code", "string", "承包商信用代码"),
    ],
    (LYPJ, "perf_score_monthly"): [
        ("contract_no", "string", "合同编号"),
        ("credit_code", "string", "统一社会信用代码"),
        ("period", "string", "评价周期"),
        ("score", "number", "评价得分"),
    ],
    (BLXW, "bad_conduct"): [
        ("credit_code", "string", "统一社会信用代码"),
        ("behaviour", "string", "不良行为"),
    ],
    (JCYS, "delivery_inspection"): [
        ("material_code", "string", "材料设备编码"),
        ("result", "string", "验收结论"),
    ],
    **{
        (EWM, name): [
            ("item_key", "string", "物品键（GS1 数字链接路径：GTIN、批号、序列号）"),
            ("material_code", "string", "材料设备编码（szgws-me）"),
            ("organization", "string", "记录单位"),
            ("at", "datetime", "事件时间"),
            *([("result", "string", "检验结果 pass/fail")] if name == "item_inspected" else []),
        ]
        for name in ("item_delivered", "item_inspected", "item_installed", "item_handed_over")
    },
}

#: column lineage (columnLineage facet) of some outputs: output column → [(namespace, name, input column)]
COLUMNS = {
    (LYPJ, "perf_score_monthly"): {
        "contract_no": [(GCJS, "contract", "contract_no")],
        "credit_code": [(GCJS, "contract", "contractor_credit_code")],
    },
    (BLXW, "bad_conduct"): {"credit_code": [(LYPJ, "perf_score_quarterly", "credit_code")]},
}

#: (job namespace, job name, inputs, outputs, runs as (start, complete) times); datasets are (namespace, name)
JOBS = (
    # tenders → contracts → performance evaluation → bad-conduct records → future tender eligibility
    (GCJS, "publish_tender_award", [(GCJS, "tender_notice")], [(GCJS, "tender_award")], ["2025-02-10T09:00"]),
    (GCJS, "register_contract", [(GCJS, "tender_award")], [(GCJS, "contract")], ["2025-02-20T10:00"]),
    (
        GCPT,
        "sync_project_library",
        [(GCJS, "contract"), (GCJS, "progress_monthly")],
        [(GCPT, "project")],
        ["2025-03-01T02:00"],
    ),
    (
        LYPJ,
        "evaluate_monthly",
        [(GCJS, "contract"), (GCJS, "inspection_record"), (GCJS, "progress_monthly")],
        [(LYPJ, "perf_score_monthly")],
        ["2025-03-05T01:00", "2025-04-05T01:00"],
    ),
    (
        LYPJ,
        "evaluate_quarterly",
        [(LYPJ, "perf_score_monthly")],
        [(LYPJ, "perf_score_quarterly")],
        ["2025-04-10T01:00"],
    ),
    (
        BLXW,
        "record_bad_conduct",
        [(LYPJ, "perf_score_quarterly"), (GCJS, "inspection_record")],
        [(BLXW, "bad_conduct")],
        ["2025-04-15T03:00"],
    ),
    (BLXW, "compile_negative_list", [(BLXW, "bad_conduct")], [(BLXW, "negative_list")], ["2025-04-16T03:00"]),
    (
        LYPJ,
        "evaluate_yearly",
        [(LYPJ, "perf_score_quarterly")],
        [(LYPJ, "perf_score_yearly")],
        ["2026-01-15T01:00"],
    ),
    (
        CBSCZ,
        "attest_contractor_grade",
        [(LYPJ, "perf_score_yearly"), (BLXW, "bad_conduct")],
        [(CBSCZ, "contractor_grade_attestation")],
        ["2026-01-20T08:00"],
    ),
    (
        GCJS,
        "check_tender_eligibility",
        [(BLXW, "negative_list"), (CBSCZ, "contractor_grade_attestation")],
        [(GCJS, "tender_eligibility")],
        ["2026-02-01T09:00"],
    ),
    # BIM models → review → component library
    (
        BIMSC,
        "review_bim_model",
        [(BIMSC, "bim_model")],
        [(BIMSC, "bim_review_opinion")],
        ["2025-05-12T14:00"],
    ),
    (
        GJK,
        "ingest_components",
        [(BIMSC, "bim_model"), (BIMSC, "bim_review_opinion")],
        [(GJK, "component")],
        ["2025-05-20T16:00"],
    ),
    # material codes → procurement → delivery inspection → installation → handover
    (
        CGGL,
        "enter_purchase_order",
        [(CLBM, "material_code")],
        [(CGGL, "purchase_order")],
        ["2025-06-02T09:30"],
    ),
    (
        JCYS,
        "inspect_delivery",
        [(CGGL, "purchase_order"), (CLBM, "material_code")],
        [(JCYS, "delivery_inspection")],
        ["2025-06-18T10:00"],
    ),
    (EWM, "assign_qr_codes", [(JCYS, "delivery_inspection")], [(EWM, "qr_trace")], ["2025-06-19T11:00"]),
    (EWM, "record_installation", [(EWM, "qr_trace")], [(EWM, "installation_record")], ["2025-09-08T15:00"]),
    (
        SZJF,
        "compile_handover_list",
        [(EWM, "installation_record"), (EWM, "qr_trace"), (GJK, "component")],
        [(SZJF, "handover_list")],
        ["2026-03-30T17:00"],
    ),
    # the item flow of Yima's traceability (二维码溯源, docs/traceability.md): each delivered item's trail, one
    # audited event a step: procurement → delivery → supervisor's inspection → installation → handover
    (
        EWM,
        "register_delivery_items",
        [(CGGL, "purchase_order")],
        [(EWM, "item_delivered")],
        ["2025-06-18T08:30"],
    ),
    (
        JCYS,
        "record_item_inspection",
        [(EWM, "item_delivered"), (JCYS, "delivery_inspection")],
        [(EWM, "item_inspected")],
        ["2025-06-18T11:30"],
    ),
    (
        EWM,
        "record_item_installation",
        [(EWM, "item_inspected")],
        [(EWM, "item_installed")],
        ["2025-09-08T16:00"],
    ),
    (
        SZJF,
        "record_item_handover",
        [(EWM, "item_installed"), (SZJF, "handover_list")],
        [(EWM, "item_handed_over")],
        ["2026-03-30T18:00"],
    ),
    # third-party quality assessment feeds the evaluation; from 2026 the monthly evaluation uses it
    # instead of the bureau's own inspection records (that edge ends on 2026-01-05)
    (
        ZLPG,
        "assess_quality",
        [(GCJS, "inspection_record")],
        [(ZLPG, "quality_assessment")],
        ["2025-11-20T09:00"],
    ),
    (
        LYPJ,
        "evaluate_monthly",
        [(GCJS, "contract"), (ZLPG, "quality_assessment"), (GCJS, "progress_monthly")],
        [(LYPJ, "perf_score_monthly")],
        ["2026-01-05T01:00", "2026-02-05T01:00"],
    ),
)

#: flows that emit no events: (source, target, job or None, description, valid_from)
FLOWS = (
    (
        f"dataset:{BLXW}:negative_list",
        f"dataset:{GCPT}:negative_list_public",
        None,
        "每日文件同步：不良行为负面清单推送至政府工程管理平台公示",
        "2025-04-20T00:00:00Z",
    ),
    (
        f"dataset:{CLBM}:material_code",
        f"dataset:{EWM}:material_code_replica",
        f"job:{EWM}:sync_material_codes",
        "数据库同步：材料设备编码表每晚同步至二维码溯源系统",
        "2025-05-30T00:00:00Z",
    ),
)


def _dataset(namespace: str, name: str, *, output: bool) -> dict:
    ds: dict = {"namespace": namespace, "name": name}
    facets = {}
    if output and (namespace, name) in SCHEMAS:
        facets["schema"] = {
            "_producer": PRODUCER,
            "_schemaURL": FACET_URL,
            "fields": [{"name": n, "type": t, "description": d} for n, t, d in SCHEMAS[(namespace, name)]],
        }
    if output and (namespace, name) in COLUMNS:
        facets["columnLineage"] = {
            "_producer": PRODUCER,
            "_schemaURL": LINEAGE_URL,
            "fields": {
                column: {
                    "inputFields": [{"namespace": ns, "name": n, "field": f} for ns, n, f in sources],
                }
                for column, sources in COLUMNS[(namespace, name)].items()
            },
        }
    if facets:
        ds["facets"] = facets
    return ds


def events() -> list[dict]:
    """The demo's OpenLineage RunEvents (START then COMPLETE per run), in time order, with stable run ids."""
    out = []
    for namespace, name, inputs, outputs, runs in JOBS:
        for started in runs:
            run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PRODUCER}/{namespace}/{name}/{started}"))
            for state, time in (("START", f"{started}:00Z"), ("COMPLETE", f"{started[:-2]}45:00Z")):
                out.append(
                    {
                        "eventType": state,
                        "eventTime": time,
                        "producer": PRODUCER,
                        "schemaURL": SCHEMA_URL,
                        "run": {"runId": run_id},
                        "job": {"namespace": namespace, "name": name},
                        "inputs": [_dataset(ns, n, output=False) for ns, n in inputs],
                        "outputs": [_dataset(ns, n, output=state == "COMPLETE") for ns, n in outputs],
                    }
                )
    out.sort(key=lambda e: e["eventTime"])
    return out


def load(database: Database, actor: str) -> int:
    """Send the demo events through the intake service and declare the flows; idempotent (events
    already received and flows already declared are skipped). Returns how many were created."""
    with database.writer() as s:  # a loaded demo's events again: each batch redone one by one, skipped
        created = sum(new for _, new in intake.ingest_many(s, events(), actor=actor))
    for source, target, job, description, since in FLOWS:
        values = {
            "source": source,
            "target": target,
            "job": job,
            "description": description,
            "valid_from": since,
        }
        try:
            with database.writer() as s:
                flows.declare_flow(s, values, actor=actor)
            created += 1
        except Conflict:
            pass
    return created
