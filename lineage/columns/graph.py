"""The column-level graph as of any date: every column edge interval at one audit head (cached per
process beside the dataset timeline), and the field graphs cut from it.

A column edge of a job's run is in the graph only while its dataset edge (job → output) is: column
edges keep the dataset edges' validity intervals, whatever ended the dataset edge. A dataset-wide
entry is an edge field → dataset; the dataset stands for each of its fields (``field`` edges,
dataset → field, at no distance), so the entry is stored and drawn once, not once per field.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import json
import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

from lineage.columns.facet import canonical
from lineage.ids import iso
from lineage.timeline import Timeline, timeline
from registry.cache import VersionedCache

_COLUMN_TIMELINES: VersionedCache[ColumnTimeline] = VersionedCache(size=2)
_LOAD = text(
    "SELECT source, target, source_dataset, source_field, target_dataset, target_field, "
    "transformations, job, valid_from, valid_to, flow_id FROM lineage_column_edge"
)


def column_timeline(session: Session) -> ColumnTimeline:
    """The column timeline at the current audit head (built on the first column-level question)."""
    tl = timeline(session)
    return _COLUMN_TIMELINES.get(str(session.get_bind().url), tl.head, lambda: ColumnTimeline(session, tl))


def _split_dataset(node: str) -> tuple[str, str]:
    namespace, _, name = node[len("dataset:") :].rpartition(":")
    return namespace, name


class ColumnTimeline:
    """Every column edge interval at one audit head; field graphs as of a date are cut from it."""

    MAX_GRAPHS = 4  # a graph of 400,000 column edges is ~100 MB: a few dates, not every one asked

    def __init__(self, session: Session, tl: Timeline):
        self.tl = tl
        self.head = tl.head
        #: field id → [dataset id, field name, first seen]
        self.fields: dict[str, list] = {}
        self.fields_of: dict[str, list[str]] = {}  # dataset id → its field ids
        self.rows: list[tuple] = []
        times = self._load(session)
        self.boundaries = sorted(times | set(tl.boundaries))
        self._graphs: VersionedCache[ColumnGraph] = VersionedCache(size=self.MAX_GRAPHS)

    def _load(self, session: Session) -> set[dt.datetime]:
        parsed: dict = {}

        def when(value):  # SQLite gives text: each distinct moment parsed once
            if value is None or isinstance(value, dt.datetime):
                return value
            found = parsed.get(value)
            if found is None:
                found = parsed[value] = dt.datetime.fromisoformat(value)
            return found

        fields, fields_of = self.fields, self.fields_of
        rows = self.rows
        for s, t, sds, sf, tds, tf, trans, job, vf, vt, flow in session.execute(_LOAD):
            vf, vt = when(vf), when(vt)
            rows.append((s, t, tds, trans, job, vf, vt, flow))
            for fid, ds, name in ((s, sds, sf), (t, tds, tf)):
                if name is None:
                    continue
                entry = fields.get(fid)
                if entry is None:
                    fields[fid] = [ds, name, vf]
                    fields_of.setdefault(ds, []).append(fid)
                elif vf < entry[2]:
                    entry[2] = vf
        times = set(parsed.values()) if parsed else set()
        if not parsed:  # PostgreSQL: datetimes already
            times = {r[5] for r in rows} | {r[6] for r in rows if r[6] is not None}
        return times

    def bucket(self, as_of: dt.datetime) -> int:
        return bisect.bisect_right(self.boundaries, as_of)

    def graph(self, as_of: dt.datetime) -> ColumnGraph:
        return self._graphs.get(self.bucket(as_of), None, lambda: ColumnGraph(self, as_of))

    def dataset_info(self, dataset: str) -> tuple[str, str, str | None, str | None]:
        """(namespace, name, system, resource) of a dataset id, known to lineage or not."""
        node = self.tl.nodes.get(dataset)
        if node is not None:
            return node["namespace"], node["name"], node["system"], node["resource"]
        ns, name = _split_dataset(dataset)
        resource = self.tl.resources.get((ns, name))
        return ns, name, self.tl.by_namespace.get(ns), resource["code"] if resource else None


class ColumnGraph:
    """The field graph at one date, as integer adjacency lists (400,000 edges are too many for
    networkx's dicts of dicts to build in the time a first query has)."""

    MAX_IMPACTS = 64

    def __init__(self, ctl: ColumnTimeline, as_of: dt.datetime):
        self.ctl = ctl
        self.as_of = as_of
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.succ: list[list[int]] = []
        self.pred: list[list[int]] = []
        #: hubs: a dataset node standing for its fields (dataset-wide entries); hub → its field positions
        self.hub_fields: dict[int, list[int]] = {}
        self.field_hub: dict[int, int] = {}
        self.edges: dict[tuple[int, int], list] = {}  # (s, t) → [transformations JSON, valid_from, valid_to]
        self.impacts: VersionedCache[str] = VersionedCache(size=self.MAX_IMPACTS)
        self._frags: dict[int, str] = {}
        self._lock = threading.Lock()
        self._build(as_of)

    def _add(self, node: str) -> int:
        i = self.pos.get(node)
        if i is None:
            i = self.pos[node] = len(self.ids)
            self.ids.append(node)
            self.succ.append([])
            self.pred.append([])
        return i

    def _build(self, as_of: dt.datetime) -> None:
        ctl = self.ctl
        dg = ctl.tl.graph(as_of, "dataset").g._succ
        writes: dict[tuple, bool] = {}
        for fid, (_, _, first) in ctl.fields.items():
            if first <= as_of:
                self._add(fid)
        edges, pos, add = self.edges, self.pos, self._add
        for s, t, tds, trans, job, vf, vt, flow in ctl.rows:
            if vf > as_of or (vt is not None and as_of >= vt):
                continue
            if job is not None and flow is None:  # only while the job writes the dataset
                key = (job, tds)
                ok = writes.get(key)
                if ok is None:
                    ok = writes[key] = tds in dg.get(job, ())
                if not ok:
                    continue
            a, b = pos[s], pos.get(t)
            if b is None:
                b = add(t)  # a dataset-wide entry's dataset
                self._hub(b, tds)
            found = edges.get((a, b))
            if found is None:
                edges[(a, b)] = [trans, vf, vt]
                self.succ[a].append(b)
                self.pred[b].append(a)
            else:
                _merge(found, trans, vf, vt)

    def _hub(self, i: int, dataset: str) -> None:
        members = [self.pos[f] for f in self.ctl.fields_of.get(dataset, ()) if f in self.pos]
        self.hub_fields[i] = members
        for m in members:
            self.field_hub[m] = i

    # --- reading ----------------------------------------------------------------------------

    def is_hub(self, i: int) -> bool:
        return i in self.hub_fields

    def distances(self, starts: list[int], *, downstream: bool, cutoff: int | None = None) -> dict[int, int]:
        """Each reached node's distance in column edges from ``starts`` (a dataset standing for its
        fields adds none), the starts at 0; within ``cutoff`` when given."""
        dist = {s: 0 for s in starts}
        queue = collections.deque(starts)
        step = self.succ if downstream else self.pred
        hub_fields, field_hub = self.hub_fields, self.field_hub
        while queue:
            here = queue.popleft()
            d = dist[here]
            free = hub_fields.get(here, ()) if downstream else _one(field_hub.get(here))
            for nxt in free:
                if nxt not in dist or d < dist[nxt]:
                    dist[nxt] = d
                    queue.appendleft(nxt)
            if cutoff is not None and d >= cutoff:
                continue
            nd = d + 1
            for nxt in step[here]:
                if nxt not in dist or nd < dist[nxt]:
                    dist[nxt] = nd
                    queue.append(nxt)
        return dist

    def node_dict(self, i: int) -> dict:
        node = self.ids[i]
        if i in self.hub_fields:
            ns, name, system, resource = self.ctl.dataset_info(node)
            return {
                "id": node,
                "type": "dataset",
                "name": name,
                "namespace": ns,
                "system": system,
                "resource": resource,
            }
        dataset, field, _ = self.ctl.fields[node]
        ns, name, system, resource = self.ctl.dataset_info(dataset)
        return {
            "id": node,
            "type": "field",
            "dataset": dataset,
            "field": field,
            "name": field,
            "dataset_name": name,
            "namespace": ns,
            "system": system,
            "resource": resource,
        }

    def edge_dicts(self, keep: set[int] | None = None) -> list[dict]:
        """Column edges (and the ``field`` edges of datasets standing for their fields), sorted."""
        ids = self.ids
        out = []
        for (a, b), (trans, vf, vt) in self.edges.items():
            if keep is not None and (a not in keep or b not in keep):
                continue
            transformations = json.loads(trans)
            out.append(
                {
                    "source": ids[a],
                    "target": ids[b],
                    "kind": "column",
                    "transformation": transformations[0] if transformations else None,
                    "transformations": transformations,
                    "scope": "dataset" if b in self.hub_fields else "field",
                    "valid_from": iso(vf),
                    "valid_to": iso(vt),
                }
            )
        for hub, members in self.hub_fields.items():
            if keep is not None and hub not in keep:
                continue
            for m in members:
                if keep is None or m in keep:
                    out.append(
                        {"source": ids[hub], "target": ids[m], "kind": "field", "transformation": None}
                    )
        out.sort(key=lambda e: (e["source"], e["target"]))
        return out

    def fragment(self, i: int) -> str:
        """A reached field's impact item as JSON text, up to its distance (built once per node)."""
        frag = self._frags.get(i)
        if frag is None:
            node = self.ids[i]
            dataset, field, _ = self.ctl.fields[node]
            _, _, system, resource = self.ctl.dataset_info(dataset)
            item = {"id": node, "dataset": dataset, "field": field, "system": system, "resource": resource}
            frag = self._frags[i] = json.dumps(item, ensure_ascii=False)[:-1] + ',"distance":'
        return frag


def _one(value):
    return () if value is None else (value,)


def _merge(found: list, trans: str, vf, vt) -> None:
    """Two rows of one (source, target): every transformation of both, the earliest start, open if
    either is."""
    if trans != found[0]:
        found[0] = canonical(json.loads(found[0]) + json.loads(trans))
    if vf < found[1]:
        found[1] = vf
    if found[2] is not None and (vt is None or vt > found[2]):
        found[2] = vt
