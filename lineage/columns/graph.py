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
from json.encoder import encode_basestring as _encode

from sqlalchemy import text
from sqlalchemy.orm import Session

from lineage.columns.facet import FIELD_PREFIX, canonical
from lineage.columns.store import load_packed
from lineage.ids import iso
from lineage.timeline import Timeline, timeline
from registry.cache import VersionedCache, gc_paused

_COLUMN_TIMELINES: VersionedCache[ColumnTimeline] = VersionedCache(size=2)
#: only what the graph needs (a flow's rows are nobody's job: their dataset edge is the flow's own)
_LOAD = text(
    "SELECT target_dataset, CASE WHEN flow_id IS NULL THEN job END, valid_from, valid_to, edges "
    "FROM lineage_column_edge"
)
#: rows per fetch (each holds an event's edges on one output)
_FETCH = 1024


def column_timeline(session: Session) -> ColumnTimeline:
    """The column timeline at the current audit head (built on the first column-level question)."""
    tl = timeline(session)
    return _COLUMN_TIMELINES.get(
        str(session.get_bind().url), tl.head, lambda: _built(ColumnTimeline, session, tl)
    )


def _built(cls, *args):
    with gc_paused():  # millions of small objects: see ``gc_paused``
        return cls(*args)


def _split_dataset(node: str) -> tuple[str, str]:
    namespace, _, name = node[len("dataset:") :].rpartition(":")
    return namespace, name


class ColumnTimeline:
    """Every column edge interval at one audit head; field graphs as of a date are cut from it."""

    MAX_GRAPHS = 4  # a graph of 400,000 column edges is ~100 MB: a few dates, not every one asked

    def __init__(self, session: Session, tl: Timeline):
        self.tl = tl
        self.head = tl.head
        #: field id → its position in ``field_ids``, ``field_dataset`` and ``field_first``: built on
        #: first use (``fields``); until then ``position`` finds a field by dataset, then by name
        self._fields: dict[str, int] | None = None
        #: dataset id → {field name → position}
        self._by_dataset: dict[str, dict[str, int]] = {}
        self.field_ids: list[str] = []  # in the order first read
        self.field_dataset: list[str] = []  # each field's dataset id
        self.field_first: list[dt.datetime] = []  # when each field was first seen
        #: dataset id → its field ids (``get``)
        self.fields_of: _FieldsOf | dict[str, list[str]] = _FieldsOf(self)
        #: (job, target dataset) or None → rows, each a stored row's edges (those between fields,
        #: by position, then its dataset-wide entries): (source positions, target positions,
        #: transformation indexes, the transformations they index, valid_from, valid_to, dataset-wide
        #: entries as (source position, dataset id, transformations) or None)
        self.groups: dict[tuple | None, list[tuple]] = {}
        times = self._load(session)
        self.latest_field = max(self.field_first, default=None)
        self.boundaries = sorted(times | set(tl.boundaries))
        self._graphs: VersionedCache[ColumnGraph] = VersionedCache(size=self.MAX_GRAPHS)

    @property
    def fields(self) -> dict[str, int]:
        """Field id → position, every field (a 400,000-entry dict costs a tenth of the first question:
        made when a caller needs it all, e.g. an export)."""
        fields = self._fields
        if fields is None:
            fields = self._fields = dict(zip(self.field_ids, range(len(self.field_ids)), strict=True))
        return fields

    def position(self, node: str) -> int | None:
        """A field id's position, or None for one not seen."""
        fields = self._fields
        if fields is not None:
            return fields.get(node)
        # no field name holds a colon (else ``_fields`` is built): the name follows the last one
        cut = node.rfind(":")
        if cut < 13 or not node.startswith(FIELD_PREFIX):  # 13: len("datasetField:")
            return None
        names = self._by_dataset.get("dataset:" + node[13:cut])
        return None if names is None else names.get(node[cut + 1 :])

    def field(self, node: str) -> tuple[str, str]:
        """(dataset id, field name) of a field id seen."""
        dataset = self.field_dataset[self.fields[node]]
        return dataset, field_name(node, dataset)

    def _load(self, session: Session) -> set[dt.datetime]:
        """Every stored row, on the driver's cursor (SQLAlchemy's per-row work would be much of the
        time), its packed edges read by orjson; each distinct moment parsed once, each field's id made
        once. Fields are found by dataset, then by name (short strings, small dicts): the full ids are
        made for new fields only and indexed at the end in one go."""
        parsed: dict = {}
        moment = parsed.get

        def when(value):  # SQLite gives text; PostgreSQL datetimes: each distinct one parsed once
            found = parsed[value] = (
                value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
            )
            return found

        field_ids, field_dataset, first = self.field_ids, self.field_dataset, self.field_first
        add_id, add_dataset, add_first = field_ids.append, field_dataset.append, first.append
        by_dataset = self._by_dataset
        groups = self.groups
        distinct: dict[str, str] = {}  # a few distinct transformation lists, one string each
        writers: dict[tuple, tuple] = {}
        latest = None  # the latest valid_from read: a row not earlier moves no field's first sighting
        loads = load_packed
        prefix = FIELD_PREFIX

        cur = session.connection().connection.dbapi_connection.cursor()
        try:
            cur.execute(_LOAD.text)
            while data := cur.fetchmany(_FETCH):
                for tds, job, vf, vt, packed in data:  # job: None for a flow's row
                    vf = moment(vf) or when(vf)
                    if vt is not None:
                        vt = moment(vt) or when(vt)
                    if latest is None or vf > latest:
                        latest, early = vf, False
                    else:
                        early = vf < latest
                    if job is None:
                        writer = None
                    else:
                        key = (job, tds)
                        writer = writers.get(key)
                        if writer is None:
                            writer = writers[key] = key
                    rows = groups.get(writer)
                    if rows is None:
                        rows = groups[writer] = []
                    transformations, runs = loads(packed)
                    transformations = [distinct.setdefault(t, t) for t in transformations]
                    targets = by_dataset.get(tds)
                    if targets is None:
                        targets = by_dataset[tds] = {}
                    target_of = targets.get
                    target_head = None
                    sources: list[int] = []
                    positions: list[int] = []
                    indexes: list[int] = []
                    wide = None
                    for sds, names, target_names, trans in runs:
                        known = by_dataset.get(sds)
                        if known is None:
                            known = by_dataset[sds] = {}
                        source_of = known.get
                        head = None
                        for name, target, t in zip(names, target_names, trans, strict=True):
                            a = source_of(name)
                            if a is None:  # a new field (inline: a call per field is much of the loop)
                                a = known[name] = len(field_ids)
                                if head is None:
                                    head = prefix + sds[8:] + ":"  # 8: len("dataset:")
                                add_id(head + name)
                                add_dataset(sds)
                                add_first(vf)
                            elif early and vf < first[a]:
                                first[a] = vf
                            if target is None:  # a dataset-wide entry: its target is the dataset's id
                                if wide is None:
                                    wide = []
                                wide.append((a, tds, transformations[t]))
                                continue
                            b = target_of(target)
                            if b is None:
                                b = targets[target] = len(field_ids)
                                if target_head is None:
                                    target_head = prefix + tds[8:] + ":"
                                add_id(target_head + target)
                                add_dataset(tds)
                                add_first(vf)
                            elif early and vf < first[b]:
                                first[b] = vf
                            sources.append(a)
                            positions.append(b)
                            indexes.append(t)
                    rows.append((sources, positions, indexes, transformations, vf, vt, wide))
        finally:
            cur.close()
        if any(":" in "".join(names) for names in by_dataset.values()):
            # a field name holds a colon: an id may then have been read as two fields
            # (``datasetField:ns:a:b:c``: field ``b:c`` of ``ns:a``, field ``c`` of ``ns:a:b``)
            if len(self.fields) < len(field_ids):
                self._merge_fields()
        return set(parsed.values())

    def _merge_fields(self) -> None:
        """One position per field id: ``datasetField:ns:a:b:c`` is field ``b:c`` of ``ns:a`` and field
        ``c`` of ``ns:a:b``; the first read keeps its dataset, the earliest sighting counts."""
        ids, first = self.field_ids, self.field_first
        canonical: dict[str, int] = {}
        new_of = []
        for f in ids:
            p = canonical.get(f)
            if p is None:
                p = canonical[f] = len(canonical)
            new_of.append(p)
        merged_first: list = [None] * len(canonical)
        for old, new in enumerate(new_of):
            if merged_first[new] is None or first[old] < merged_first[new]:
                merged_first[new] = first[old]
        datasets = [None] * len(canonical)
        for old, new in enumerate(new_of):
            if datasets[new] is None:
                datasets[new] = self.field_dataset[old]
        self.field_ids = list(canonical)
        self.field_dataset = datasets
        self.field_first = merged_first
        self._fields = canonical
        for names in self._by_dataset.values():
            for name, old in names.items():
                names[name] = new_of[old]
        fields_of: dict[str, list[str]] = {}
        for f, dataset in zip(self.field_ids, datasets, strict=True):
            fields_of.setdefault(dataset, []).append(f)
        self.fields_of = fields_of
        for rows in self.groups.values():
            for i, (sources, positions, indexes, trans, vf, vt, wide) in enumerate(rows):
                rows[i] = (
                    [new_of[a] for a in sources],
                    [new_of[b] for b in positions],
                    indexes,
                    trans,
                    vf,
                    vt,
                    None if wide is None else [(new_of[a], d, t) for a, d, t in wide],
                )

    def bucket(self, as_of: dt.datetime) -> int:
        return bisect.bisect_right(self.boundaries, as_of)

    def graph(self, as_of: dt.datetime) -> ColumnGraph:
        return self._graphs.get(self.bucket(as_of), None, lambda: _built(ColumnGraph, self, as_of))

    def dataset_info(self, dataset: str) -> tuple[str, str, str | None, str | None]:
        """(namespace, name, system, resource) of a dataset id, known to lineage or not."""
        node = self.tl.nodes.get(dataset)
        if node is not None:
            return node["namespace"], node["name"], node["system"], node["resource"]
        ns, name = _split_dataset(dataset)
        resource = self.tl.resources.get((ns, name))
        return ns, name, self.tl.by_namespace.get(ns), resource["code"] if resource else None


class _FieldsOf:
    """Dataset id → its field ids in the order first read, made when asked (``dict.get``'s way)."""

    __slots__ = ("ctl",)

    def __init__(self, ctl: ColumnTimeline):
        self.ctl = ctl

    def get(self, dataset: str, default=None):
        names = self.ctl._by_dataset.get(dataset)
        if not names:
            return default
        ids = self.ctl.field_ids
        return [ids[p] for p in names.values()]


class _Positions:
    """A graph's positions (``dict``'s ways the graph's readers use) when they are the timeline's:
    its fields found by ``ColumnTimeline.position``, its hubs (datasets standing for their fields)
    held here."""

    __slots__ = ("find", "extra")

    def __init__(self, find, extra: dict[str, int] | None = None):
        self.find = find
        self.extra = {} if extra is None else extra

    def get(self, node: str, default=None):
        found = self.extra.get(node)
        if found is None:
            found = self.find(node)
        return default if found is None else found

    def __getitem__(self, node: str) -> int:
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def __contains__(self, node) -> bool:
        return node.__class__ is str and self.get(node) is not None

    def __setitem__(self, node: str, position: int) -> None:
        self.extra[node] = position


class ColumnGraph:
    """The field graph at one date, as integer adjacency lists (400,000 edges are too many for
    networkx's dicts of dicts to build in the time a first query has)."""

    MAX_IMPACTS = 64

    def __init__(self, ctl: ColumnTimeline, as_of: dt.datetime):
        self.ctl = ctl
        self.as_of = as_of
        self.ids: list[str] = []
        #: node id → position (a field's or a hub's)
        self.pos: dict[str, int] | _Positions = {}
        #: each field position's dataset id (hubs' positions come after)
        self.field_dataset: list[str] = []
        #: each node's successors: a list, or the empty tuple for none (most fields of the last datasets)
        self.succ: list[list[int] | tuple] = []
        self._pred: list[list[int]] | None = None  # built on the first upstream question
        #: hubs: a dataset node standing for its fields (dataset-wide entries); hub → its field positions
        self.hub_fields: dict[int, list[int]] = {}
        self.field_hub: dict[int, int] = {}
        #: (s << 32 | t) → (s, t, transformations JSON, valid_from, valid_to)
        self.edges: dict[int, tuple] = {}
        #: starts → their impact (``lineage.columns.queries._Impact``)
        self.impacts: VersionedCache[object] = VersionedCache(size=self.MAX_IMPACTS)
        self._frags: dict[int, str] = {}
        self._dataset_frags: dict[str, str] = {}
        self._lock = threading.Lock()
        self._build(as_of)

    def _add(self, node: str) -> int:
        i = self.pos[node] = len(self.ids)
        self.ids.append(node)
        self.succ.append(())
        return i

    def _build(self, as_of: dt.datetime) -> None:
        ctl = self.ctl
        writes = ctl.tl.pairs_at(as_of)  # the dataset graph's edges then (building it costs more)
        if ctl.latest_field is None or ctl.latest_field <= as_of:
            remap = None  # every field seen by then: positions are the timeline's
            self.ids = ids = list(ctl.field_ids)
            self.pos = pos = _Positions(ctl.position)  # the timeline's positions, and hubs
            self.field_dataset = ctl.field_dataset
        else:
            first = ctl.field_first
            self.ids = ids = [f for i, f in enumerate(ctl.field_ids) if first[i] <= as_of]
            self.pos = pos = {f: i for i, f in enumerate(ids)}
            remap = [pos.get(f, -1) for f in ctl.field_ids]
            self.field_dataset = [d for i, d in enumerate(ctl.field_dataset) if first[i] <= as_of]
        self.succ = succ = [()] * len(ids)
        edges = self.edges
        keep = edges.setdefault
        hubs: dict[str, int] = {}

        def hub_of(dataset: str) -> int:
            hub = hubs[dataset] = self._add(dataset)
            self._hub(hub, dataset)
            return hub

        for writer, rows in ctl.groups.items():
            if writer is not None and writer not in writes:
                continue  # the job no longer writes the dataset at as_of: nor its columns
            for sources, targets, indexes, trans, vf, vt, wide in rows:
                if vf > as_of or (vt is not None and as_of >= vt):
                    continue
                if remap is not None:  # valid by then: its fields were all seen by then
                    sources = [remap[a] for a in sources]
                    targets = [remap[b] for b in targets]
                for a, b, t in zip(sources, targets, indexes, strict=True):
                    row = (a, b, trans[t], vf, vt)
                    key = a << 32 | b
                    found = keep(key, row)
                    if found is row:
                        outs = succ[a]
                        if outs:
                            outs.append(b)
                        else:
                            succ[a] = [b]
                    else:
                        edges[key] = _merge(found, trans[t], vf, vt)
                if wide is None:
                    continue
                for a, dataset, t in wide:  # the dataset stands for its fields (a hub)
                    if remap is not None:
                        a = remap[a]
                    hub = hubs.get(dataset)
                    b = hub_of(dataset) if hub is None else hub
                    row = (a, b, t, vf, vt)
                    key = a << 32 | b
                    found = keep(key, row)
                    if found is row:
                        outs = succ[a]
                        if outs:
                            outs.append(b)
                        else:
                            succ[a] = [b]
                    else:
                        edges[key] = _merge(found, t, vf, vt)

    @property
    def pred(self) -> list[list[int]]:
        """Each node's predecessors (built from ``succ`` on the first upstream question)."""
        pred = self._pred
        if pred is None:
            with self._lock:
                pred = self._pred
                if pred is None:
                    with gc_paused():
                        pred = [[] for _ in self.ids]
                        for a, outs in enumerate(self.succ):
                            for b in outs:
                                pred[b].append(a)
                    self._pred = pred
        return pred

    def edge(self, a: int, b: int) -> tuple:
        """(transformations JSON, valid_from, valid_to) of the edge a → b."""
        return self.edges[a << 32 | b][2:]

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

    def downstream_levels(self, starts: list[int]) -> list[list[int]]:
        """Everything downstream of ``starts`` (not themselves), grouped by distance (index 0 is
        distance 1), by a 0-1 breadth-first search over a flat distance list (the impact's hot path)."""
        dist = [-1] * len(self.ids)
        for s in starts:
            dist[s] = 0
        queue = collections.deque(starts)
        reached: list[int] = []  # what the search touched: a narrow impact never scans the whole list
        succ, hub_fields = self.succ, self.hub_fields
        while queue:
            here = queue.popleft()
            d = dist[here]
            members = hub_fields.get(here)
            if members:
                for nxt in members:
                    if dist[nxt] < 0 or d < dist[nxt]:
                        if dist[nxt] < 0:
                            reached.append(nxt)
                        dist[nxt] = d
                        queue.appendleft(nxt)
            nd = d + 1
            for nxt in succ[here]:
                if dist[nxt] < 0:
                    dist[nxt] = nd
                    reached.append(nxt)
                    queue.append(nxt)
        for s in starts:
            dist[s] = -1
        levels: list[list[int]] = []
        for i in reached:
            d = dist[i]
            if d > 0:
                while len(levels) < d:
                    levels.append([])
                levels[d - 1].append(i)
            elif d == 0:  # a start's own fields through its dataset: as near as the start
                if not levels:
                    levels.append([])
                levels[0].append(i)
        ids = self.ids
        for level in levels:
            level.sort(key=ids.__getitem__)
        return levels

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
        dataset = self.field_dataset[i]
        field = field_name(node, dataset)
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
        loaded: dict[str, list] = {}  # a few distinct transformation lists, read once each
        moments: dict = {None: None}

        def iso_of(moment):
            text = moments.get(moment, "")
            if text == "":
                text = moments[moment] = iso(moment)
            return text

        for a, b, trans, vf, vt in self.edges.values():
            if keep is not None and (a not in keep or b not in keep):
                continue
            transformations = loaded.get(trans)
            if transformations is None:
                transformations = loaded[trans] = json.loads(trans)
            out.append(
                {
                    "source": ids[a],
                    "target": ids[b],
                    "kind": "column",
                    "transformation": transformations[0] if transformations else None,
                    "transformations": transformations,
                    "scope": "dataset" if b in self.hub_fields else "field",
                    "valid_from": iso_of(vf),
                    "valid_to": iso_of(vt),
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
            dataset = self.field_dataset[i]
            field = field_name(node, dataset)
            tail = self._dataset_frags.get(dataset)
            if tail is None:
                _, _, system, resource = self.ctl.dataset_info(dataset)
                tail = self._dataset_frags[dataset] = (
                    f',"dataset":{_json(dataset)},"system":{_json(system)},"resource":{_json(resource)},"distance":'
                )
            frag = self._frags[i] = '{"id":' + _json(node) + ',"field":' + _json(field) + tail
        return frag


def field_name(node: str, dataset: str) -> str:
    """The field name of a field id of ``dataset``: what follows ``datasetField:{namespace}:{name}:``
    (``facet.field_id``; a name may hold colons)."""
    return node[len(dataset) + 6 :]  # len("datasetField:") - len("dataset:") + len(":")


def _json(value: str | None) -> str:
    return "null" if value is None else _encode(value)


def _one(value):
    return () if value is None else (value,)


def _merge(found: tuple, trans: str, vf, vt) -> tuple:
    """Two rows of one (source, target): every transformation of both, the earliest start, open if
    either is."""
    a, b, old, start, end = found
    if trans != old:
        old = canonical(json.loads(old) + json.loads(trans))
    if end is not None and (vt is None or vt > end):
        end = vt
    return (a, b, old, min(start, vf), end)
