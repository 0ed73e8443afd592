"""The lineage page: the graph drawn as SVG (layered left to right), a node picker that finds nodes by
Chinese name or pinyin, as_of/direction/depth/level/jobs controls kept on every link, exports.

See docs/lineage.md "The lineage page" for what a steward sees and why.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L

from catalog.search import pinyin_full, pinyin_initials
from lineage import queries, timeline
from lineage.columns import queries as column_queries
from lineage.columns.facet import split_field_id
from lineage.ids import iso, parse_time
from lineage.sql import dialect_choices
from lineage.sql.record import lineage_from_sql
from registry.cache import VersionedCache
from registry.errors import Invalid, NotFound
from web.browse import zone
from web.browse.access import steward_required
from web.browse.graph_layout import layout
from web.browse.pages import bp, twin
from web.context import actor, db, session

DIRECTIONS = ("both", "downstream", "upstream")
LEVELS = ("system", "dataset", "column")
#: how jobs are drawn: folded onto the edge from their inputs to their outputs (the default), or as nodes
JOB_MODES = ("fold", "nodes")
#: OpenLineage column-lineage transformation types and subtypes, as the pages say them
TRANSFORMATION_LABELS = {
    "DIRECT": L("直接"),
    "INDIRECT": L("间接"),
    "IDENTITY": L("原样"),
    "TRANSFORMATION": L("转换"),
    "AGGREGATION": L("聚合"),
    "JOIN": L("关联"),
    "FILTER": L("筛选"),
    "GROUP_BY": L("分组"),
    "SORT": L("排序"),
    "WINDOW": L("窗口"),
    "CONDITIONAL": L("条件"),
}
#: the SQL box's dialects first in the list (the bureau's databases), then sqlglot's others
SQL_DIALECTS = ("oracle", "dm", "mysql", "kingbase", "postgres", "tsql", "gbase", "oceanbase")
#: a bigger graph is not drawn (pick a node and a depth); the exports still hold all of it
MAX_DRAWN = 400
MAX_CHOICES = 2000
#: how many matches a name that is not unique lists for the steward to choose from
MAX_MATCHES = 20
EXPORT_FORMATS = (
    ("graphml", "GraphML"),
    ("json", "JSON"),
    ("prov", "PROV-JSON"),
    ("csv", "CSV"),
    ("dot", "DOT"),
)
_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: the picker's entries and the laid-out drawings, per database and as_of bucket, valid for one audit
#: head (every write is audited, so a new head is the only thing that changes them)
_ENTRIES: VersionedCache[list] = VersionedCache(size=32)
_DRAWINGS: VersionedCache[tuple] = VersionedCache(size=64)


def query_graph(s, *, node=None, direction="both", depth=None, level="dataset", as_of=None) -> dict:
    """The contract's graph document (``{"nodes", "edges"}``) from the lineage service."""
    return queries.subgraph(s, node=node, direction=direction, depth=depth, level=level, as_of=as_of)


def uncatalogued(s) -> list:
    """Datasets seen in lineage that no catalog resource describes."""
    return queries.uncatalogued(s)


def display_zone() -> ZoneInfo:
    """The zone a date on the page is read in: ``YIMA_TIMEZONE`` (``web.browse.zone``, default Asia/Shanghai)."""
    return zone.zone()


def parse_as_of(value: str | None, zone: dt.tzinfo | None = None) -> dt.datetime | None:
    """The date picker's date read in the page's zone (``2025-04-01`` is 00:00 that day in Shanghai,
    i.e. 2025-03-31T16:00Z), as naive UTC like ``lineage.ids.parse_time``; an ISO 8601 date-time
    without a zone is read in that zone too, one with a zone as it says. None when empty; Invalid (in
    the page's language) otherwise."""
    if not value:
        return None
    zone = zone or display_zone()
    raw = value.strip()
    try:
        moment = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise Invalid(_("日期格式应为 YYYY-MM-DD"), {"as_of": [value]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return parse_time(moment.astimezone(dt.UTC).replace(tzinfo=None))
    except Invalid:  # pragma: no cover - parse_time takes any datetime
        raise Invalid(_("日期格式应为 YYYY-MM-DD"), {"as_of": [value]}) from None


def resource_names(s) -> dict[str, str]:
    """Catalog resource code → name, from the lineage service's cached view of the catalog."""
    return {r["code"]: r["name"] for r in timeline.timeline(s).resources.values()}


def system_names(s) -> dict[str, str]:
    """Catalog system code → name, from the same cached view."""
    return {code: info["name"] for code, info in timeline.timeline(s).systems.items()}


def fold_jobs(graph: dict, keep: str | None = None) -> dict:
    """The graph with each job that only links datasets drawn as an edge from each of its inputs to each
    of its outputs, labelled with the job's name (kind ``job``); a job next to another job, without
    inputs or outputs, or ``keep`` (the focus) stays a node. Edges already there are kept as they are."""
    kinds = {n["id"]: n.get("type") for n in graph["nodes"]}
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for e in graph["edges"]:
        succs.setdefault(e["source"], []).append(e["target"])
        preds.setdefault(e["target"], []).append(e["source"])

    def foldable(n):
        near = preds.get(n, []) + succs.get(n, [])
        return preds.get(n) and succs.get(n) and n != keep and all(kinds.get(x) != "job" for x in near)

    folded = {n for n, kind in kinds.items() if kind == "job" and foldable(n)}
    names = {n["id"]: n.get("name") or n["id"] for n in graph["nodes"]}
    edges = [e for e in graph["edges"] if e["source"] not in folded and e["target"] not in folded]
    through: dict[tuple[str, str], list[str]] = {}
    for job in sorted(folded):
        for a in preds[job]:
            for b in succs[job]:
                if a != b:
                    through.setdefault((a, b), []).append(names[job])
    direct = {(e["source"], e["target"]) for e in edges}
    for (a, b), jobs in sorted(through.items()):
        if (a, b) not in direct:
            edges.append({"source": a, "target": b, "kind": "job", "label": "、".join(jobs), "jobs": jobs})
    nodes = [n for n in graph["nodes"] if n["id"] not in folded]
    return {**graph, "nodes": nodes, "edges": edges, "folded": len(folded)}


def drawing(graph: dict, focus: str | None = None, names: dict[str, str] | None = None):
    """Lay out a graph document for the SVG template; catalogued datasets carry their resource's name."""
    names = names or {}
    nodes = []
    for n in graph["nodes"]:
        kind = n.get("type", "")
        label, sub = n.get("name") or n["id"], n.get("system") or ""
        if kind == "system":
            sub = n["id"].removeprefix("system:")
        elif kind == "field":
            label, sub = n.get("field") or label, n.get("dataset_name") or ""
        elif kind == "dataset" and n.get("resource") in names:
            label, sub = names[n["resource"]], f"{n.get('name')} · {sub}" if sub else n.get("name")
        nodes.append(
            {
                "id": n["id"],
                "label": label,
                "sub": sub,
                "kind": kind,
                "uncatalogued": kind == "dataset" and not n.get("resource"),
                "resource": n.get("resource"),
                "focus": n["id"] == focus,
            }
        )
    return layout(nodes, graph["edges"])


# --- the node picker ------------------------------------------------------------------------


def normalise(text: str | None) -> str:
    """What names are compared as: NFKC, lower case, without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "").lower())


def picker_entries(
    dataset_nodes: list[dict], systems: list[dict], names: dict, sys_names: dict
) -> list[dict]:
    """What the node picker searches: every system and dataset/job node, each with its Chinese label,
    a detail line, and the keys it is found by (label, id, system code and name, pinyin of both)."""
    entries = []
    for n in systems:
        code = n["id"].removeprefix("system:")
        label = n.get("name") or sys_names.get(code) or code
        entries.append(_entry(n["id"], "system", label, code, [code], [label]))
    for n in dataset_nodes:
        code = n.get("system") or ""
        label = names.get(n.get("resource")) or n.get("name") or n["id"]
        sys_name = sys_names.get(code, "")
        detail = " · ".join(
            x for x in (n.get("name") if label != n.get("name") else "", sys_name or code) if x
        )
        extra, han = [n.get("name"), code, sys_name], [label, sys_name]
        entries.append(_entry(n["id"], n.get("type", "dataset"), label, detail, extra, han))
    entries.sort(key=lambda e: ({"system": 0, "dataset": 1}.get(e["kind"], 2), e["label"], e["id"]))
    return entries[:MAX_CHOICES]


def _entry(node_id: str, kind: str, label: str, detail: str, extra: list, han: list) -> dict:
    """One picker entry; ``han`` are the names whose pinyin (initials and full) it is found by too."""
    han = [w for w in han if w]
    keys = [label, node_id, *[x for x in extra if x]] + [pinyin_initials(w) for w in han]
    keys += [pinyin_full(w) for w in han]
    lead = [normalise(x) for x in (label, pinyin_full(label), pinyin_initials(label)) if x]
    return {
        "id": node_id,
        "kind": kind,
        "label": label,
        "detail": detail,
        "keys": "\n".join(normalise(k) for k in keys),
        "lead": [x for x in lead if x],
    }


def find_nodes(text: str, entries: list[dict]) -> list[dict]:
    """Entries matching ``text`` (every space-separated term in a key), best first: an exact label or id,
    then labels (or their pinyin) starting with it, then any other match; shorter labels first."""
    terms = [normalise(t) for t in (text or "").split() if normalise(t)]
    if not terms:
        return []
    whole = normalise(text)
    found = [e for e in entries if all(t in e["keys"] for t in terms)]

    def rank(e):
        exact = whole in (normalise(e["label"]), normalise(e["id"]))
        leading = any(x.startswith(whole) for x in e["lead"])
        return (0 if exact else 1 if leading else 2, len(e["label"]), e["id"])

    return sorted(found, key=rank)


def resolve_find(text: str, entries: list[dict]) -> tuple[dict | None, list[dict]]:
    """The one entry ``text`` names (an exact label or id, or the only match), else (None, the matches)."""
    matches = find_nodes(text, entries)
    whole = normalise(text)
    exact = [e for e in matches if whole in (normalise(e["label"]), normalise(e["id"]))]
    if len(exact) == 1:
        return exact[0], []
    if len(matches) == 1:
        return matches[0], []
    return None, (exact or matches)[:MAX_MATCHES]


def explain(exc: NotFound | Invalid, node: str) -> str:
    """The lineage service's (English) refusal, said in the page's language."""
    errors = exc.errors if isinstance(exc.errors, dict) else {}
    reasons = " ".join(str(r) for v in errors.values() for r in (v if isinstance(v, list) else [v]))
    if isinstance(exc, NotFound):
        return _("血缘中没有节点“%(node)s”。", node=node)
    if "level=system" in reasons:
        return _("“%(node)s”是系统节点：请把层级改为“系统级”。", node=node)
    if "uncatalogued" in reasons:
        return _("“%(node)s”不属于任何已编目的系统，系统级图中没有它：请把层级改为“数据集级”。", node=node)
    if "depth" in errors:
        return _("深度应为 1 或更大的整数。")
    return _("无法识别节点“%(node)s”：请从列表中选择，或输入名称、拼音。", node=node)


# --- the page -------------------------------------------------------------------------------


def _controls(args) -> dict:
    """The page's controls from the query string, each checked (a wrong value falls back to the default)."""
    node = args.get("node") or None
    level = args.get("level") or ("dataset" if node and not node.startswith("system:") else "system")
    if node and node.startswith("datasetField:"):
        level = "column"
    depth_raw = args.get("depth", "")
    as_of_raw = (args.get("as_of") or "").strip()
    return {
        "node": node,
        "find": args.get("find"),
        "level": level if level in LEVELS else "system",
        "direction": args.get("direction") if args.get("direction") in DIRECTIONS else "both",
        "depth": int(depth_raw) if depth_raw.isdigit() and int(depth_raw) > 0 else None,
        "jobs": args.get("jobs") if args.get("jobs") in JOB_MODES else "fold",
        "as_of_raw": as_of_raw,
        "as_of": parse_as_of(as_of_raw),
    }


def _pick(c: dict, entries: list[dict]) -> tuple[str | None, list[dict]]:
    """Resolve the picker's text: ``find`` absent → ``node`` as given (links); empty → the whole graph;
    the label of ``node`` → ``node``; anything else → the entry it names (the level follows its kind),
    or an error and the candidates."""
    find, node = c["find"], c["node"]
    if find is None:
        return None, []
    text = find.strip()
    if not text:
        c["node"] = None
        return None, []
    by_id = {e["id"]: e for e in entries}
    if node in by_id and normalise(text) in (normalise(by_id[node]["label"]), normalise(node)):
        return None, []
    entry, matches = resolve_find(text, entries)
    if entry:
        c["node"] = entry["id"]
        # a dataset chosen at column level draws its fields
        keep_columns = c["level"] == "column" and entry["kind"] != "system"
        c["level"] = "system" if entry["kind"] == "system" else ("column" if keep_columns else "dataset")
        return None, []
    c["node"] = None
    if matches:
        return _("有 %(n)s 个节点与“%(q)s”相符，请选择一个：", n=len(matches), q=text), matches
    if c["as_of_raw"]:  # it may only appear later
        return _("截至 %(d)s，找不到名称、编号或拼音与“%(q)s”相符的节点。", d=c["as_of_raw"], q=text), []
    return _("找不到名称、编号或拼音与“%(q)s”相符的节点。", q=text), []


@bp.route("/lineage")
def lineage():
    c = _controls(request.args)
    s = session()
    tl = timeline.timeline(s)
    where = (str(s.get_bind().url), tl.bucket(parse_time(c["as_of"])))
    names = resource_names(s)

    def build_entries():
        datasets = query_graph(s, level="dataset", as_of=c["as_of"])
        systems = query_graph(s, level="system", as_of=c["as_of"])
        return picker_entries(datasets["nodes"], systems["nodes"], names, system_names(s))

    entries = _ENTRIES.get(where, tl.head, build_entries)
    error, matches = _pick(c, entries)
    node, level = c["node"], c["level"]
    graph = {"nodes": [], "edges": []}
    if not error:
        try:
            graph = query_graph(
                s, node=node, direction=c["direction"], depth=c["depth"], level=level, as_of=c["as_of"]
            )
        except (NotFound, Invalid) as exc:  # shown beside the controls, so the steward can fix the choice
            error = explain(exc, node)

    def build_drawing():
        shown = fold_jobs(graph, keep=node) if c["jobs"] == "fold" else graph
        drawn = drawing(shown, node, names) if len(shown["nodes"]) <= MAX_DRAWN else None
        return shown, drawn

    key = (*where, node, c["direction"], c["depth"], level, c["jobs"])
    shown, drawn = _DRAWINGS.get(key, tl.head, build_drawing) if not error else build_drawing()
    return render_template("lineage.html", **_page_values(c, graph, shown, drawn, entries, error, matches))


def _page_values(c, graph, shown, drawn, entries, error, matches) -> dict:
    node, level, as_of = c["node"], c["level"], c["as_of"]
    #: what every link of the page carries, so a click keeps the date and the job mode
    keep = {"as_of": c["as_of_raw"] or None, "jobs": None if c["jobs"] == "fold" else c["jobs"]}
    params = {
        "node": node,
        "direction": c["direction"] if node else None,
        "depth": c["depth"],
        "level": level,
    }
    params["as_of"] = iso(as_of)
    labels = {e["id"]: e["label"] for e in entries}
    return {
        "graph": graph,
        "drawn": drawn,
        "folded": shown.get("folded", 0),
        "choices": entries,
        "too_big": len(shown["nodes"]) > MAX_DRAWN,
        "node": node,
        "node_label": labels.get(node, node or "") if c["find"] is None or not error else c["find"],
        "level": level,
        "direction": c["direction"],
        "depth": c["depth"],
        "jobs": c["jobs"],
        "as_of": c["as_of_raw"][:10] if _BARE_DATE.match(c["as_of_raw"]) else "",
        "as_of_shown": c["as_of_raw"],
        "zone": str(display_zone()),
        "keep": keep,
        "error": error,
        "matches": matches,
        "labels": labels,
        "exports": [
            (fmt, label, twin("/api/v1/lineage/export", format=fmt, **params))
            for fmt, label in EXPORT_FORMATS
        ],
        "json_twin": twin("/api/v1/lineage/graph", **params),
    }


# --- column lineage on a resource's page ----------------------------------------------------


def transformation_text(transformations: list[dict]) -> str:
    """``直接 · 聚合``, several joined by ``；``, masking said (``脱敏``)."""
    parts = []
    for t in transformations:
        words = [str(TRANSFORMATION_LABELS.get(t.get("type"), t.get("type") or ""))]
        if t.get("subtype"):
            words.append(str(TRANSFORMATION_LABELS.get(t["subtype"], t["subtype"])))
        if t.get("masking"):
            words.append(_("脱敏"))
        parts.append(" · ".join(w for w in words if w))
    return "；".join(parts)


def _other(node: str) -> dict:
    if node.startswith("datasetField:"):
        dataset, field = split_field_id(node)
        return {"id": node, "label": f"{dataset.rpartition(':')[2]}.{field}"}
    return {"id": node, "label": node.rpartition(":")[2]}


def field_lineage_rows(s, resource: dict) -> dict | None:
    """The resource's fields (the catalog's first, then any only lineage knows) with their upstream
    and downstream fields and how; ``dataset`` lists the inputs that shape the whole dataset. None
    when the resource has no lineage identity or no column lineage."""
    identity = resource.get("lineage")
    if not identity:
        return None
    node = f"dataset:{identity['namespace']}:{identity['name']}"
    try:
        found = column_queries.field_lineage(s, node)
    except (NotFound, Invalid):
        return None
    if not found:
        return None

    def side(edges: list[dict]) -> list[dict]:
        return [_other(e["other"]) | {"how": transformation_text(e["transformations"])} for e in edges]

    titles = {f["name"]: f.get("title") for f in resource.get("fields", [])}
    names = [n for n in titles if n in found] + sorted(n for n in found if n is not None and n not in titles)
    rows = [
        {
            "name": n,
            "title": titles.get(n),
            "id": f"datasetField:{identity['namespace']}:{identity['name']}:{n}",
            "upstream": side(found[n]["upstream"]),
            "downstream": side(found[n]["downstream"]),
        }
        for n in names
    ]
    wide = found.get(None, {"upstream": []})
    return {"node": node, "rows": rows, "dataset": side(wide["upstream"])}


# --- the SQL box: lineage from SQL, previewed then recorded ----------------------------------


@bp.route("/lineage/sql", methods=["GET", "POST"])
@steward_required
def lineage_sql():
    form = request.form if request.method == "POST" else request.args
    values = {
        "sql": form.get("sql") or "",
        "dialect": form.get("dialect") or "oracle",
        "namespace": (form.get("namespace") or "").strip(),
        "job": (form.get("job") or "").strip() or None,
    }
    result, error, recorded = None, None, False
    if request.method == "POST":
        recorded = form.get("action") == "record"
        try:
            with db().writer() as w:
                result = lineage_from_sql(
                    w,
                    [(None, values["sql"])],
                    dialect=values["dialect"],
                    namespace=values["namespace"],
                    job=values["job"],
                    record=recorded,
                    actor=actor(),
                )
        except Invalid as exc:
            error, recorded = exc.message, False
    for st in (result or {}).get("statements", []):
        for c in st["columns"]:
            c["how"] = transformation_text([c["transformation"]])
        for c in st["indirect"]:
            c["how"] = transformation_text([c["transformation"]])
    dialects = list(SQL_DIALECTS) + [d for d in dialect_choices() if d not in SQL_DIALECTS]
    return render_template(
        "lineage_sql.html",
        values=values,
        dialects=dialects,
        result=result,
        error=error,
        recorded=recorded and bool(result and result["events"]),
    ), (422 if error else 200)
