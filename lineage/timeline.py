"""The graph as of any date: every node and edge interval at one audit head (the timeline, cached per
process), and the dataset- or system-level graphs cut from it."""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

import networkx as nx
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import DataResource, System
from lineage.ids import check_level, iso, parse_time
from lineage.models import LineageAlias
from registry import audit
from registry.cache import VersionedCache, gc_paused

#: timelines by database, each valid for one audit head: every write anywhere is audited, so the head
#: says whether anything changed, across ``yima serve`` worker processes too
_TIMELINES: VersionedCache[Timeline] = VersionedCache(size=2)


def timeline(session: Session) -> Timeline:
    """The timeline at the current audit head (one indexed query to know whether the cache is current)."""
    head = audit.head(session)
    return _TIMELINES.get(str(session.get_bind().url), head, lambda: _built(session, head))


def _built(session: Session, head: str) -> Timeline:
    with gc_paused():  # many small objects at once: see ``gc_paused``
        return Timeline(session, head)


_NODES = "SELECT node_id, type, namespace, name, first_seen, parent FROM lineage_node"
_EDGES = "SELECT source, target, kind, valid_from, valid_to FROM lineage_edge"


def _raw(session: Session, sql: str) -> list[tuple]:
    """Rows of a whole-table read on the driver's cursor (tens of thousands: SQLAlchemy's per-row work
    would be half the time); datetimes as the driver gives them (``moments``)."""
    cur = session.connection().connection.dbapi_connection.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


def moments() -> Callable[[Any], dt.datetime]:
    """A reader of the driver's (non-null) datetimes (SQLite: SQLAlchemy's text, PostgreSQL: datetimes)
    that parses each distinct one once: a table's rows repeat a few thousand moments."""
    parsed: dict = {}
    get = parsed.get

    def parse(value) -> dt.datetime:
        found = parsed[value] = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        return found

    return lambda value: get(value) or parse(value)


def graph_at(session: Session, as_of=None, level: str = "dataset") -> Graph:
    """The dataset- or system-level graph as it stood at ``as_of`` (default now). Raises Invalid."""
    check_level(level)
    return timeline(session).graph(parse_time(as_of), level)


def _catalog(session: Session) -> tuple[dict, dict, dict]:
    """Systems ({code: {name, namespaces}}), namespace → system code, (namespace, name) → resource."""
    systems, by_namespace, resources = {}, {}, {}
    for code, name, namespaces in session.execute(select(System.code, System.name, System.namespaces)):
        systems[code] = {"name": name, "namespaces": list(namespaces or [])}
        for ns in namespaces or []:
            by_namespace.setdefault(ns, code)
    rows = session.execute(
        select(
            DataResource.code,
            DataResource.name,
            DataResource.system,
            DataResource.lineage_namespace,
            DataResource.lineage_name,
        ).where(DataResource.lineage_namespace.is_not(None))
    )
    for code, name, system, ns, lname in rows:
        resources[(ns, lname)] = {"code": code, "name": name, "system": system}
    return systems, by_namespace, resources


class Timeline:
    """Every node and edge interval at one audit head; graphs as of a date are cut from it and cached."""

    MAX_GRAPHS = 8  # a graph of 60,000 edges is tens of MB: keep a few dates, not every one asked

    def __init__(self, session: Session, head: str | None):
        self.head = head
        self.systems, self.by_namespace, self.resources = _catalog(session)
        self.nodes: dict[str, dict] = {}
        self.edges: list[tuple] = []
        self._moment = moments()
        times = self._load_nodes(session)
        #: another identifier of a dataset (``symlinks``) → the one node that stands for both
        self.aliases = self._load_aliases(session)
        times |= self._load_edges(session)
        self.boundaries = sorted(times)
        del self._moment
        self._graphs: VersionedCache[Graph] = VersionedCache(size=self.MAX_GRAPHS)

    def _load_nodes(self, session: Session) -> set[dt.datetime]:
        times = set()
        nodes, resources, by_namespace = self.nodes, self.resources, self.by_namespace
        when = self._moment
        for node, kind, ns, name, first_seen, parent in _raw(session, _NODES):
            first_seen = when(first_seen)
            resource = resources.get((ns, name)) if kind == "dataset" else None
            nodes[node] = attrs = {
                "id": node,
                "type": kind,
                "name": name,
                "namespace": ns,
                "system": by_namespace.get(ns),
                "resource": resource["code"] if resource else None,
                "first_seen": first_seen,
            }
            if kind == "job":
                attrs["parent"] = parent
            times.add(first_seen)
        return times

    def _load_aliases(self, session: Session) -> dict[str, str]:
        """Merge each group of identifiers linked by ``symlinks`` into one node: the one seen first
        (ties: the smallest id). Returns alias → that node; the aliases leave ``nodes``."""
        pairs = session.execute(select(LineageAlias.alias, LineageAlias.node_id)).all()
        if not pairs:
            return {}
        canonical = merge_aliases(pairs, {n: a["first_seen"] for n, a in self.nodes.items()})
        for alias, node in canonical.items():
            merged, kept = self.nodes.pop(alias, None), self.nodes[node]
            if merged and merged["first_seen"] < kept["first_seen"]:
                kept["first_seen"] = merged["first_seen"]
            # a resource (or system) that names the dataset by its other identifier describes it too
            namespace, _, name = alias.removeprefix("dataset:").rpartition(":")
            if kept["resource"] is None and (namespace, name) in self.resources:
                kept["resource"] = self.resources[(namespace, name)]["code"]
            if kept["system"] is None:
                kept["system"] = self.by_namespace.get(namespace)
        return canonical

    def _load_edges(self, session: Session) -> set[dt.datetime]:
        times = set()
        aliases = self.aliases
        when = self._moment
        append = self.edges.append
        for s, t, k, vf, vt in _raw(session, _EDGES):
            if aliases:
                s, t = aliases.get(s, s), aliases.get(t, t)
                if s == t:
                    continue
            vf = when(vf)
            times.add(vf)
            if vt is not None:
                vt = when(vt)
                times.add(vt)
            append((s, t, k, vf, vt))
        return times

    def bucket(self, as_of: dt.datetime) -> int:
        """Every ``as_of`` between two consecutive interval boundaries sees the same graph."""
        return bisect.bisect_right(self.boundaries, as_of)

    def graph(self, as_of: dt.datetime, level: str = "dataset") -> Graph:
        """The graph at ``as_of`` (naive UTC), built once per bucket and level."""

        def build() -> Graph:
            with gc_paused():
                if level == "dataset":
                    return self._build(as_of)
                return self._system_level(self.graph(as_of, "dataset"))

        return self._graphs.get((self.bucket(as_of), level), None, build)

    def pairs_at(self, as_of: dt.datetime) -> set[tuple[str, str]]:
        """(source, target) of every edge the graph at ``as_of`` holds, without building it (what the
        column graph needs of it: which jobs write which datasets then)."""
        nodes = self.nodes
        pairs = set()
        for s, t, _, vf, vt in self.edges:
            if vf <= as_of and (vt is None or as_of < vt):
                a, b = nodes.get(s), nodes.get(t)
                if a is not None and b is not None and a["first_seen"] <= as_of and b["first_seen"] <= as_of:
                    pairs.add((s, t))
        return pairs

    def _build(self, as_of: dt.datetime) -> Graph:
        g = nx.DiGraph()
        g.add_nodes_from((n, attrs) for n, attrs in self.nodes.items() if attrs["first_seen"] <= as_of)
        intervals = {}
        for s, t, k, vf, vt in self.edges:
            if vf <= as_of and (vt is None or as_of < vt) and s in g and t in g and not g.has_edge(s, t):
                g.add_edge(s, t, kind=k)
                intervals[(s, t)] = (vf, vt)
        nx.set_edge_attributes(g, {key: v[0] for key, v in intervals.items()}, "valid_from")
        nx.set_edge_attributes(g, {key: v[1] for key, v in intervals.items()}, "valid_to")
        return Graph(g, "dataset", self)

    def _system_level(self, dataset_graph: Graph) -> Graph:
        g0 = dataset_graph.g
        g = nx.DiGraph()
        for code in sorted({a["system"] for _, a in g0.nodes(data=True) if a["system"]}):
            info = self.systems.get(code, {"name": code})
            g.add_node(
                f"system:{code}",
                id=f"system:{code}",
                type="system",
                name=info["name"],
                system=code,
                resource=None,
            )
        for (a, b), count in _system_feeds(g0).items():
            g.add_edge(f"system:{a}", f"system:{b}", kind="feeds", datasets=count)
        return Graph(g, "system", self)


def merge_aliases(pairs, first_seen: dict) -> dict[str, str]:
    """Union the (alias, node) pairs into groups; each member but one maps to the group's node: the
    known node seen first (ties, or none known: the smallest id)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for member in {m for pair in pairs for m in pair}:
        groups[find(member)].append(member)
    out = {}
    never = dt.datetime.max
    for members in groups.values():
        head = min(members, key=lambda m: (m not in first_seen, first_seen.get(m, never), m))
        out.update((m, head) for m in members if m != head)
    return out


def _system_feeds(g0: nx.DiGraph) -> collections.Counter:
    """(system A, system B) → how many dataset pairs of A feed B, through jobs and datasets of no system."""
    pairs = collections.Counter()
    for node, attrs in g0.nodes(data=True):
        if attrs["type"] != "dataset" or not attrs["system"]:
            continue
        seen, stack = {node}, list(g0.successors(node))
        while stack:
            nxt = stack.pop()
            if nxt in seen:
                continue
            seen.add(nxt)
            a = g0.nodes[nxt]
            if a["type"] == "dataset" and a["system"]:
                if a["system"] != attrs["system"]:
                    pairs[(attrs["system"], a["system"])] += 1
                continue
            stack.extend(g0.successors(nxt))
    return pairs


class Graph:
    """One cut of the timeline (dataset or system level) with memoised query results."""

    MAX_IMPACTS = 64

    def __init__(self, g: nx.DiGraph, level: str, timeline: Timeline):
        self.g = g
        self.level = level
        self.timeline = timeline
        #: impact answers by their sources (see ``queries.impact_json``)
        self.impacts: VersionedCache[dict] = VersionedCache(size=self.MAX_IMPACTS)
        self._lock = threading.Lock()
        self._index = None

    def index(self) -> tuple:
        """Integer adjacency for fast traversals, built once per graph: (ids sorted, position of each
        id, successor positions, is-job flags, each node's JSON prefix for impact items, systems)."""
        with self._lock:
            if self._index is None:
                order = sorted(self.g.nodes)
                pos = {n: i for i, n in enumerate(order)}
                succ_map, nodes = self.g._succ, self.g._node
                succ = [[pos[t] for t in succ_map[n]] for n in order]
                is_job = [nodes[n]["type"] == "job" for n in order]
                frags = []
                for n in order:
                    a = nodes[n]
                    item = {"id": n, "name": a["name"], "system": a["system"], "resource": a["resource"]}
                    frags.append(json.dumps(item, ensure_ascii=False)[:-1] + ',"distance":')
                systems_of = [nodes[n]["system"] for n in order]
                self._index = (order, pos, succ, is_job, frags, systems_of)
            return self._index

    def node_dict(self, node: str) -> dict:
        a = self.g.nodes[node]
        out = {
            "id": node,
            "type": a["type"],
            "name": a["name"],
            "system": a["system"],
            "resource": a["resource"],
        }
        if a["type"] != "system":
            out["namespace"] = a["namespace"]
        if a["type"] == "job":
            out["parent"] = a.get("parent")  # the parent job (the ``parent`` run facet), or None
        return out

    def edge_dict(self, s: str, t: str) -> dict:
        a = self.g.edges[s, t]
        out = {"source": s, "target": t, "kind": a["kind"]}
        if "valid_from" in a:
            out["valid_from"] = iso(a["valid_from"])
            out["valid_to"] = iso(a["valid_to"])
        if "datasets" in a:
            out["datasets"] = a["datasets"]
        return out
