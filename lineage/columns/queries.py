"""Column-level questions: a field's (or a dataset's fields') neighbourhood, and everything downstream
of a field — fields, datasets and systems with their distance."""

from __future__ import annotations

import json
import threading

from sqlalchemy.orm import Session

from lineage.columns.facet import is_field_id, split_field_id
from lineage.columns.graph import ColumnGraph, column_timeline, field_name
from lineage.ids import check_direction, iso, parse_time, split_node_id
from registry.cache import gc_paused
from registry.errors import Invalid, NotFound

LEVEL = "column"


def graph_at(session: Session, as_of=None) -> ColumnGraph:
    return column_timeline(session).graph(parse_time(as_of))


def _starts(graph: ColumnGraph, node: str) -> list[int]:
    """The positions a query of ``node`` starts from: the field, or every field of a dataset (and the
    dataset itself when it stands for its fields). Raises Invalid, NotFound."""
    ctl = graph.ctl
    if is_field_id(node):
        split_field_id(node)
        if ctl.position(node) is None:
            raise NotFound(f"no lineage field {node!r} has been seen")
        return [graph.pos[node]] if node in graph.pos else []
    kind, _, _ = split_node_id(node, types=("dataset",))
    members = ctl.fields_of.get(node)
    if members is None and node not in ctl.tl.nodes:
        raise NotFound(f"no lineage node {node!r} has been seen")
    found = [graph.pos[f] for f in members or () if f in graph.pos]
    if node in graph.pos:
        found.append(graph.pos[node])
    return found


def selection(
    session: Session,
    *,
    node: str | None = None,
    direction: str | None = "both",
    depth: int | None = None,
    as_of=None,
) -> tuple[ColumnGraph, object, set[int] | None]:
    """(graph, as_of, positions) of a column-level graph query: the positions of the field's (or a
    dataset's fields') upstream/downstream within ``depth``, or None (the whole graph) without ``node``.
    Raises Invalid, NotFound."""
    if depth is not None and depth < 0:
        raise Invalid("depth must be 0 or more", {"depth": ["negative"]})
    direction = check_direction(direction)
    moment = parse_time(as_of)
    graph = graph_at(session, moment)
    if not node:
        return graph, moment, None
    starts = _starts(graph, node)
    keep = set(starts)
    if direction in ("downstream", "both"):
        keep |= set(graph.distances(starts, downstream=True, cutoff=depth))
    if direction in ("upstream", "both"):
        keep |= set(graph.distances(starts, downstream=False, cutoff=depth))
    return graph, moment, keep


def subgraph(
    session: Session,
    *,
    node: str | None = None,
    direction: str | None = "both",
    depth: int | None = None,
    as_of=None,
) -> dict:
    """The column-level graph query: field nodes ``{"id", "type": "field", "dataset", "field", "name", …}``
    and edges ``{"source", "target", "kind": "column", "transformation", …}``, sorted; the whole graph
    without ``node``, else the field's (or a dataset's fields') upstream/downstream within ``depth``.
    Raises Invalid, NotFound."""
    graph, moment, chosen = selection(session, node=node, direction=direction, depth=depth, as_of=as_of)
    order = sorted(range(len(graph.ids)) if chosen is None else chosen, key=graph.ids.__getitem__)
    return {
        "as_of": iso(moment),
        "level": LEVEL,
        "audit_head": graph.ctl.head,
        "nodes": [graph.node_dict(i) for i in order],
        "edges": graph.edge_dicts(chosen),
    }


def impact_json(session: Session, node: str, *, as_of=None) -> str:
    """Everything downstream of a field as of a date, as JSON text: ``fields``, ``datasets`` and
    ``systems``, each with its distance in column edges (a dataset's and a system's is their nearest
    field's; a dataset-wide entry reaches every field of its dataset). Raises Invalid, NotFound."""
    moment = parse_time(as_of)
    found = _impact(session, node, moment)
    head = json.dumps({"node": node, "as_of": iso(moment), "level": LEVEL}, ensure_ascii=False)
    return head[:-1] + "," + found.body() + "}"


def impact_fields_json(session: Session, node: str, *, as_of=None, page: int = 1, per_page: int = 50) -> str:
    """One page of ``impact_json``'s ``fields`` (the same items, in the same order), in the list
    envelope ``{"items", "total", "page", "per_page"}``: a root field of a large graph reaches hundreds
    of thousands of fields, whose whole list is tens of MB. ``node`` must be a field id. Raises
    Invalid, NotFound."""
    if not is_field_id(node):
        raise Invalid("node must be a field id (datasetField:…)", {"node": ["a field id"]})
    found = _impact(session, node, parse_time(as_of))
    return found.page(page, per_page)


def _impact(session: Session, node: str, moment) -> _Impact:
    graph = graph_at(session, moment)
    starts = _starts(graph, node)
    return graph.impacts.get(tuple(starts), None, lambda: _impact_of(graph, starts))


class _Impact:
    """A field impact, memoised per graph: the reached fields in order (position, distance), the
    JSON of ``counts``, ``datasets`` and ``systems``; the whole answer made on the first question for
    it (at a root of a large graph it is tens of MB: a page of its fields needs none of it)."""

    def __init__(self, graph: ColumnGraph, reached: list[tuple[int, int]], rest: str, counts: str):
        self.graph = graph
        self.reached = reached
        self.rest = rest  # ',"datasets":…,"systems":…'
        self.counts = counts
        self._body: str | None = None
        self._lock = threading.Lock()

    def _fields(self, items) -> str:
        frags, fragment = self.graph._frags, self.graph.fragment
        ends: dict[int, str] = {}
        out = []
        for i, d in items:
            frag = frags.get(i) or fragment(i)
            end = ends.get(d)
            if end is None:
                end = ends[d] = str(d) + "}"
            out.append(frag + end)
        return ",".join(out)

    def body(self) -> str:
        with self._lock:
            if self._body is None:
                with gc_paused():
                    self._body = f'"counts":{self.counts},"fields":[{self._fields(self.reached)}]{self.rest}'
            return self._body

    def page(self, page: int, per_page: int) -> str:
        """``{"items", "total", "page", "per_page"}`` of the reached fields (only the page's made)."""
        start = (page - 1) * per_page
        items = self.reached[start : start + per_page]
        return f'{{"items":[{self._fields(items)}],"total":{len(self.reached)},"page":{page},"per_page":{per_page}}}'


def _impact_of(graph: ColumnGraph, starts: list[int]) -> _Impact:
    with gc_paused():
        return _impact_parts(graph, starts)


def _impact_parts(graph: ColumnGraph, starts: list[int]) -> _Impact:
    reached: list[tuple[int, int]] = []
    datasets: dict[str, list[int]] = {}
    systems: dict[str, list[int]] = {}
    ctl = graph.ctl
    ids, hubs = graph.ids, graph.hub_fields
    field_dataset = graph.field_dataset
    add = reached.append
    for distance, level in enumerate(graph.downstream_levels(starts), start=1):
        for i in level:
            if i in hubs:
                datasets.setdefault(ids[i], [distance, 0])
                continue
            add((i, distance))
            dataset = field_dataset[i]
            entry = datasets.get(dataset)
            if entry is None:
                datasets[dataset] = [distance, 1]
            else:
                entry[1] += 1
    dataset_items = []
    for dataset, (d, count) in datasets.items():
        ns, name, system, resource = ctl.dataset_info(dataset)
        dataset_items.append(
            {
                "id": dataset,
                "name": name,
                "system": system,
                "resource": resource,
                "distance": d,
                "fields": count,
            }
        )
        if system:
            entry = systems.setdefault(system, [d, 0])
            entry[0] = min(entry[0], d)
            entry[1] += 1
    dataset_items.sort(key=lambda x: (x["distance"], x["id"]))
    info = ctl.tl.systems
    system_items = sorted(
        (
            {
                "id": f"system:{code}",
                "code": code,
                "name": info.get(code, {}).get("name", code),
                "distance": d,
                "datasets": n,
            }
            for code, (d, n) in systems.items()
        ),
        key=lambda x: (x["distance"], x["id"]),
    )
    counts = {"fields": len(reached), "datasets": len(dataset_items), "systems": len(system_items)}
    rest = (
        f',"datasets":{json.dumps(dataset_items, ensure_ascii=False)},'
        f'"systems":{json.dumps(system_items, ensure_ascii=False)}'
    )
    return _Impact(graph, reached, rest, json.dumps(counts))


def field_lineage(session: Session, dataset: str, *, as_of=None) -> dict[str, dict]:
    """Each field of a dataset → its direct ``upstream`` and ``downstream`` column edges (for the
    resource page): ``{field: {"upstream": [edge], "downstream": [edge]}}``, with the dataset-wide
    entries under the key None."""
    graph = graph_at(session, as_of)
    ctl = graph.ctl
    out: dict = {}
    members = [f for f in ctl.fields_of.get(dataset, ()) if f in graph.pos]
    hub = graph.pos.get(dataset)
    for fid in members + ([dataset] if hub is not None and graph.is_hub(hub) else []):
        i = graph.pos[fid]
        name = None if fid == dataset else field_name(fid, dataset)  # one of its fields: no index
        entry = out.setdefault(name, {"upstream": [], "downstream": []})
        for j in graph.pred[i]:
            entry["upstream"].append(_edge(graph, j, i, graph.ids[j]))
        for j in graph.succ[i]:
            entry["downstream"].append(_edge(graph, i, j, graph.ids[j]))
        for key in ("upstream", "downstream"):
            entry[key].sort(key=lambda e: e["other"])
    return out


def _edge(graph: ColumnGraph, a: int, b: int, other: str) -> dict:
    trans, vf, vt = graph.edge(a, b)
    transformations = json.loads(trans)
    return {
        "source": graph.ids[a],
        "target": graph.ids[b],
        "other": other,
        "transformations": transformations,
        "valid_from": iso(vf),
    }
