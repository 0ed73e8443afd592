"""Questions asked of the graph as of a date: neighbourhoods, impact, paths, cycles, orphans, the
uncatalogued datasets and one node's detail."""

from __future__ import annotations

import collections
import json

import networkx as nx
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineage.columns import queries as column_queries
from lineage.columns.facet import is_field_id
from lineage.ids import check_direction, iso, parse_time, split_node_id
from lineage.models import LineageNode
from lineage.timeline import Graph, graph_at, timeline
from registry.errors import Invalid, NotFound
from registry.messages import msg as message
from registry.paging import DEFAULT_PER_PAGE, Page, page_of

#: ``cycles`` lists at most this many (a tangled graph has exponentially many)
MAX_CYCLES = 1000


def _resolve(graph: Graph, node: str, *, what: str = "node") -> str | None:
    """The graph's node for ``node`` (a dataset or job maps to its system at system level), or None
    when it exists but not at this date. Raises Invalid (malformed) or NotFound (never seen)."""
    kind, namespace, name = split_node_id(node, what=what)
    tl = graph.timeline
    node = tl.aliases.get(node, node)  # another identifier of a dataset (symlinks): its one node
    if kind == "system":
        if name not in tl.systems and node not in graph.g:
            raise NotFound(f"no system with code {name!r}")
        if graph.level == "dataset":
            raise Invalid(
                f"{what} is a system: ask with level=system (dataset-level graphs hold datasets and jobs)",
                {what: ["a system node needs level=system"]},
            )
        return node if node in graph.g else None
    if node not in tl.nodes:
        raise NotFound(message("lineage.unseen", "no lineage node {node!r} has been seen", node=node))
    if graph.level == "system":
        code = tl.nodes[node]["system"]
        if code is None:
            raise Invalid(f"{node!r} belongs to no catalogued system", {what: ["uncatalogued namespace"]})
        return f"system:{code}" if f"system:{code}" in graph.g else None
    return node if node in graph.g else None


def neighbourhood(
    graph: Graph, node: str | None, direction: str | None = "both", depth: int | None = None
) -> list[str]:
    """The node ids of the query: the whole graph without ``node``, else the node and what lies
    upstream/downstream of it within ``depth`` edges (unbounded without). Raises Invalid, NotFound."""
    if depth is not None and depth < 0:
        raise Invalid("depth must be 0 or more", {"depth": ["negative"]})
    direction = check_direction(direction)
    if not node:
        return sorted(graph.g.nodes)
    start = _resolve(graph, node)
    if start is None:
        return []
    found = {start}
    if direction in ("downstream", "both"):
        found |= set(nx.single_source_shortest_path_length(graph.g, start, cutoff=depth))
    if direction in ("upstream", "both"):
        found |= set(nx.single_source_shortest_path_length(graph.g.reverse(copy=False), start, cutoff=depth))
    return sorted(found)


def subgraph(
    session: Session,
    *,
    node: str | None = None,
    direction: str | None = "both",
    depth: int | None = None,
    level: str = "dataset",
    as_of=None,
) -> dict:
    """The contract's ``{"nodes", "edges"}`` for a graph query (sorted, so the same query gives the same
    answer), plus ``as_of`` and ``level``; ``level="column"``: fields and column edges
    (``lineage.columns.queries.subgraph``). Raises Invalid, NotFound."""
    if level == column_queries.LEVEL:
        return column_queries.subgraph(session, node=node, direction=direction, depth=depth, as_of=as_of)
    if is_field_id(node):
        raise Invalid("node is a field: ask with level=column", {"node": ["a field node needs level=column"]})
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    ids = neighbourhood(graph, node, direction, depth)
    keep = set(ids)
    if node:
        succ = graph.g._succ
        edges = sorted((s, t) for s in keep for t in succ[s] if t in keep)
    else:
        edges = sorted(graph.g.edges)
    return {
        "as_of": iso(moment),
        "level": level,
        "audit_head": graph.timeline.head,
        "nodes": [graph.node_dict(n) for n in ids],
        "edges": [graph.edge_dict(s, t) for s, t in edges],
    }


def _impact_parts(graph: Graph, sources: list[str]) -> dict:
    """The impact of ``sources`` on this graph, as JSON fragments (memoised per graph)."""
    return graph.impacts.get(tuple(sources), None, lambda: _impact_of(graph, sources))


def _impact_of(graph: Graph, sources: list[str]) -> dict:
    _, pos, succ, is_job, frags, systems_of = graph.index()
    dist = _derivation_distances(succ, is_job, [pos[s] for s in sources])
    datasets: dict[int, list[str]] = collections.defaultdict(list)
    jobs: dict[int, list[str]] = collections.defaultdict(list)
    systems: dict[str, list[int]] = {}  # code → [nearest distance, datasets hit]
    for i, d in enumerate(dist):  # index order is id order, so each distance's bucket is sorted by id
        if d < 0:
            continue
        if is_job[i]:
            jobs[d].append(frags[i] + str(d) + "}")
            continue
        datasets[d].append(frags[i] + str(d) + "}")
        code = systems_of[i]
        if code:
            entry = systems.setdefault(code, [d, 0])
            entry[1] += 1
            entry[0] = min(entry[0], d)
    system_items = _system_items(graph.timeline.systems, systems)
    return {
        "datasets": ",".join(",".join(datasets[d]) for d in sorted(datasets)),
        "jobs": ",".join(",".join(jobs[d]) for d in sorted(jobs)),
        "systems": json.dumps(system_items, ensure_ascii=False),
        "counts": {
            "datasets": sum(map(len, datasets.values())),
            "jobs": sum(map(len, jobs.values())),
            "systems": len(system_items),
        },
    }


def _derivation_distances(succ: list[list[int]], is_job: list[bool], starts: list[int]) -> list[int]:
    """Each node's distance in derivation steps from ``starts`` (-1: not reached, and the starts
    themselves), by a 0-1 breadth-first search: entering a job is a step, its outputs are as far."""
    dist = [-1] * len(succ)
    queue = collections.deque()
    for s in starts:
        dist[s] = 0
        queue.append(s)
    while queue:
        here = queue.popleft()
        d = dist[here]
        if is_job[here]:  # a job's outputs are as far as the job
            for nxt in succ[here]:
                if dist[nxt] < 0 or d < dist[nxt]:
                    dist[nxt] = d
                    queue.appendleft(nxt)
        else:
            nd = d + 1
            for nxt in succ[here]:
                if dist[nxt] < 0 or nd < dist[nxt]:
                    dist[nxt] = nd
                    queue.append(nxt)
    for s in starts:
        dist[s] = -1
    return dist


def _system_items(info: dict, systems: dict[str, list[int]]) -> list[dict]:
    return sorted(
        (
            {
                "id": f"system:{code}",
                "code": code,
                "name": info.get(code, {}).get("name", code),
                "distance": d,
                "datasets": count,
            }
            for code, (d, count) in systems.items()
        ),
        key=lambda x: (x["distance"], x["id"]),
    )


def impact_json(session: Session, node: str, *, as_of=None) -> str:
    """``impact`` as JSON text, assembled from fragments (the hot path: no per-item serialisation); a
    field node's impact is column-level (``lineage.columns.queries.impact_json``)."""
    if is_field_id(node):
        return column_queries.impact_json(session, node, as_of=as_of)
    moment = parse_time(as_of)
    graph = graph_at(session, moment, "dataset")
    kind, _, code = split_node_id(node)
    if kind == "system":
        if code not in graph.timeline.systems:
            raise NotFound(f"no system with code {code!r}")
        sources = sorted(
            n for n, a in graph.g.nodes(data=True) if a["system"] == code and a["type"] == "dataset"
        )
    else:
        start = _resolve(graph, node)
        sources = [] if start is None else [start]
    parts = _impact_parts(graph, sources)
    head = json.dumps({"node": node, "as_of": iso(moment), "counts": parts["counts"]}, ensure_ascii=False)
    return (
        head[:-1]
        + f',"datasets":[{parts["datasets"]}],"jobs":[{parts["jobs"]}],"systems":{parts["systems"]}}}'
    )


def impact(session: Session, node: str, *, as_of=None) -> dict:
    """Everything downstream of ``node`` as of a date: datasets, jobs and systems with their distance
    (derivation steps: a job or a declared flow is one step; a system's distance is its nearest
    dataset's). A system node's impact starts from all of its datasets. Raises Invalid, NotFound."""
    return json.loads(impact_json(session, node, as_of=as_of))


def shortest_path(session: Session, source: str, target: str, *, level: str = "dataset", as_of=None) -> dict:
    """The shortest directed path source → target as of a date. Raises Invalid, NotFound (no such node,
    or no path)."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    a, b = _resolve(graph, source, what="source"), _resolve(graph, target, what="target")
    if a is None or b is None:
        raise NotFound(f"as of {iso(moment)} there is no path from {source!r} to {target!r}")
    try:
        path = nx.shortest_path(graph.g, a, b)
    except nx.NetworkXNoPath:
        raise NotFound(f"as of {iso(moment)} there is no path from {source!r} to {target!r}") from None
    return {
        "as_of": iso(moment),
        "level": level,
        "source": source,
        "target": target,
        "length": len(path) - 1,
        "path": [graph.node_dict(n) for n in path],
        "edges": [graph.edge_dict(s, t) for s, t in zip(path, path[1:], strict=False)],
    }


def cycles(
    session: Session,
    *,
    level: str = "dataset",
    as_of=None,
    limit: int = MAX_CYCLES,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page:
    """Directed cycles as of a date (each a list of node ids starting at its smallest; at most ``limit``),
    one page of them; ``extra`` holds ``as_of`` and ``level``."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    found = []
    for cycle in nx.simple_cycles(graph.g):
        i = cycle.index(min(cycle))
        found.append(cycle[i:] + cycle[:i])
        if len(found) >= limit:
            break
    found.sort()
    result = page_of(found, page, per_page)
    result.extra = {"as_of": iso(moment), "level": level}
    return result


def orphans(
    session: Session, *, level: str = "dataset", as_of=None, page: int = 1, per_page: int = DEFAULT_PER_PAGE
) -> Page:
    """Nodes with no edge at all as of a date (a dataset no job reads or writes, a job with no datasets),
    one page of them by id; ``extra`` holds ``as_of`` and ``level``."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    ids = sorted(n for n in graph.g.nodes if graph.g.degree(n) == 0)
    result = page_of(ids, page, per_page)
    result.items = [graph.node_dict(n) for n in result.items]
    result.extra = {"as_of": iso(moment), "level": level}
    return result


def uncatalogued(session: Session, *, as_of=None) -> list[dict]:
    """Datasets seen by ``as_of`` that match no catalog resource: a steward's to-do, by namespace and name.

    ``system`` is the system whose namespaces hold the dataset's namespace (None: no system either).
    """
    moment = parse_time(as_of)
    tl = timeline(session)
    out = [
        {
            "id": n,
            "namespace": a["namespace"],
            "name": a["name"],
            "system": a["system"],
            "first_seen": iso(a["first_seen"]),
        }
        for n, a in tl.nodes.items()
        if a["type"] == "dataset" and a["resource"] is None and a["first_seen"] <= moment
    ]
    return sorted(out, key=lambda x: (x["namespace"], x["name"]))


def node_detail(session: Session, node: str, *, as_of=None) -> dict:
    """One dataset or job: identity, system, resource, its latest facets (schema, columnLineage) and its
    direct neighbours as of a date. Raises Invalid, NotFound."""
    moment = parse_time(as_of)
    split_node_id(node, types=("dataset", "job"))
    tl = timeline(session)
    node = tl.aliases.get(node, node)  # another identifier of a dataset (symlinks): its one node
    row = session.execute(select(LineageNode).where(LineageNode.node_id == node)).scalar_one_or_none()
    if row is None:
        raise NotFound(message("lineage.unseen", "no lineage node {node!r} has been seen", node=node))
    graph = graph_at(session, moment)
    tl = graph.timeline
    attrs = tl.nodes.get(node) or {}
    present = node in graph.g
    resource = tl.resources.get((row.namespace, row.name)) if row.type == "dataset" else None
    return {
        "id": node,
        "type": row.type,
        "namespace": row.namespace,
        "name": row.name,
        "system": attrs.get("system", tl.by_namespace.get(row.namespace)),
        "resource": resource["code"] if resource else None,
        "resource_name": resource["name"] if resource else None,
        "first_seen": iso(row.first_seen),
        "aliases": sorted(a for a, n in tl.aliases.items() if n == node),
        "parent": row.parent,
        "facets": row.facets or {},
        "as_of": iso(moment),
        "upstream": sorted(graph.g.predecessors(node)) if present else [],
        "downstream": sorted(graph.g.successors(node)) if present else [],
    }
