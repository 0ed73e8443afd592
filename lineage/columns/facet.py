"""Reading a ``columnLineage`` facet (1-0-x to 1-2-0) into column edges, and field node ids."""

from __future__ import annotations

import json
import operator
from typing import NamedTuple

from lineage.ids import dataset_id
from lineage.models import NODE_ID
from registry.errors import Invalid

FIELD_PREFIX = "datasetField:"
TYPES = ("DIRECT", "INDIRECT")
#: how long a transformation's description may be (a whole SQL statement is cut, not refused)
DESCRIPTION_MAX = 2000


def field_id(namespace: str, name: str, field: str) -> str:
    return f"{FIELD_PREFIX}{namespace}:{name}:{field}"


def split_field_id(node: str, *, what: str = "node") -> tuple[str, str]:
    """``datasetField:{namespace}:{name}:{field}`` → (dataset id, field): the field is what follows the
    last colon, the name what follows the one before. Raises Invalid."""
    rest = node[len(FIELD_PREFIX) :] if (node or "").startswith(FIELD_PREFIX) else ""
    dataset, sep, field = rest.rpartition(":")
    namespace, sep2, name = dataset.rpartition(":")
    if not (sep and sep2 and namespace and name and field) or len(node) > NODE_ID:
        raise Invalid(
            f"{what} must be a field id: datasetField:{{namespace}}:{{name}}:{{field}} (got {node!r})",
            {what: ["not a field id"]},
        )
    return dataset_id(namespace, name), field


def is_field_id(node: str | None) -> bool:
    return bool(node) and node.startswith(FIELD_PREFIX)


def _text(value, limit: int = DESCRIPTION_MAX) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


_NORMALISED: dict[tuple, dict] = {}


def transformation(raw: dict) -> dict:
    """One transformation as stored: ``type`` DIRECT or INDIRECT (anything else is read as DIRECT),
    ``subtype``, ``description``, ``masking`` (memoised: events repeat a few of them)."""
    key = (raw.get("type"), raw.get("subtype"), raw.get("description"), raw.get("masking"))
    try:
        found = _NORMALISED.get(key)
    except TypeError:  # an unhashable value (a list where a string belongs): not memoised
        found, key = None, None
    if found is None:
        kind = str(raw.get("type") or "DIRECT").upper()
        found = {
            "type": kind if kind in TYPES else "DIRECT",
            "subtype": _text(raw.get("subtype"), 64),
            "description": _text(raw.get("description")),
            "masking": bool(raw.get("masking")),
        }
        if key is not None:
            if len(_NORMALISED) > 10_000:
                _NORMALISED.clear()
            _NORMALISED[key] = found
    return found


def _legacy(spec: dict) -> dict:
    """The 1-0 form (``transformationType`` IDENTITY or MASKED, ``transformationDescription``)."""
    kind = str(spec.get("transformationType") or "").upper()
    return {
        "type": "DIRECT",
        "subtype": "IDENTITY" if kind == "IDENTITY" else "TRANSFORMATION" if kind == "MASKED" else None,
        "description": _text(spec.get("transformationDescription")),
        "masking": kind == "MASKED",
    }


def _sort_key(t: dict) -> tuple:
    return (t["type"] != "DIRECT", t["subtype"] or "", t["description"] or "", t["masking"])


_CANONICAL: dict[tuple, str] = {}


def canonical(transformations: list[dict]) -> str:
    """The stored form of an edge's transformations: sorted (DIRECT first), deduplicated, as JSON
    (memoised: an event repeats a few transformations many times)."""
    key = tuple((t["type"], t["subtype"], t["description"], t["masking"]) for t in transformations)
    found = _CANONICAL.get(key)
    if found is None:
        unique = {json.dumps(t, sort_keys=True, ensure_ascii=False): t for t in transformations}
        ordered = sorted(unique.values(), key=_sort_key)
        found = json.dumps(ordered, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        if len(_CANONICAL) > 10_000:
            _CANONICAL.clear()
        _CANONICAL[key] = found
    return found


class ColumnEdge(NamedTuple):
    """One column edge to store: ``target_field`` None for a dataset-wide entry (then ``target`` is
    the dataset's id). A tuple: an event makes dozens of them, a frozen dataclass costs more to build."""

    source_dataset: str
    source_field: str
    target_dataset: str
    target_field: str | None
    transformations: str  # ``canonical(...)``
    source: str = ""
    target: str = ""

    @classmethod
    def of(
        cls, source_dataset: str, source_field: str, target_dataset: str, target_field, transformations: str
    ):
        source = FIELD_PREFIX + source_dataset[8:] + ":" + source_field  # 8: len("dataset:")
        target = (
            target_dataset if target_field is None else FIELD_PREFIX + target_dataset[8:] + ":" + target_field
        )
        return _new_edge(
            cls, (source_dataset, source_field, target_dataset, target_field, transformations, source, target)
        )

    def key(self) -> tuple[str, str, str]:
        return (self.source, self.target, self.transformations)


_new_edge = tuple.__new__
_EDGE_ORDER = operator.itemgetter(5, 6, 4)  # ColumnEdge.key: (source, target, transformations)


def _inputs(items, default: dict | None) -> tuple[dict[tuple, list[dict]], bool]:
    """(namespace, name, field) → its transformations, for a list of input fields (entries without a
    namespace, name or field are skipped), and whether an INDIRECT transformation was read."""
    out: dict[tuple, list[dict]] = {}
    indirect = False
    if not isinstance(items, list):
        return out, indirect
    normalised = _NORMALISED
    for item in items:
        if not isinstance(item, dict):
            continue
        get = item.get
        parts = (get("namespace"), get("name"), get("field"))
        ns, name, field = parts
        if not (
            ns and name and field and isinstance(ns, str) and isinstance(name, str) and isinstance(field, str)
        ):
            continue
        raw = get("transformations")
        found = None
        if raw.__class__ is list:
            found = []
            for t in raw:
                if isinstance(t, dict):
                    try:  # ``transformation(t)``, its memo read here (dozens per event)
                        n = normalised[
                            (t.get("type"), t.get("subtype"), t.get("description"), t.get("masking"))
                        ]
                    except (KeyError, TypeError):
                        n = transformation(t)
                    found.append(n)
                    if n["type"] == "INDIRECT":
                        indirect = True
        if not found:
            found = [default or transformation({})]
        known = out.get(parts)
        if known is None:
            out[parts] = found
        else:
            known.extend(found)
    return out, indirect


def _hoist_copied(per_field: dict[str, dict[tuple, list[dict]]]) -> dict[tuple, list[dict]]:
    """Spark's older mode copies the dataset-wide INDIRECT inputs (filters, joins, grouping) into
    every output field: an INDIRECT transformation of an input that every one of several output
    fields lists is taken out of each and returned once, as a dataset-wide entry (what 1-2-0's
    ``dataset`` says). DIRECT transformations always stay with their field."""
    if len(per_field) < 2:
        return {}
    counts: dict[tuple, int] = {}
    for inputs in per_field.values():
        for parts, trans in inputs.items():
            for t in {canonical([t]) for t in trans if t["type"] == "INDIRECT"}:
                counts[(parts, t)] = counts.get((parts, t), 0) + 1
    hoisted: dict[tuple, list[dict]] = {}
    for (parts, t), n in counts.items():
        if n < len(per_field):
            continue
        moved = json.loads(t)[0]
        hoisted.setdefault(parts, []).append(moved)
        for inputs in per_field.values():
            left = [x for x in inputs[parts] if x != moved]
            if left:
                inputs[parts] = left
            else:
                del inputs[parts]
    return hoisted


def _direct_edges(fields: dict, target_dataset: str) -> list[ColumnEdge] | None:
    """``facet_edges``' field edges, unsorted, for the shape nearly every producer sends: each input
    field well formed, with one DIRECT transformation, named once per output field. None at the first
    thing outside it (a legacy spec, an INDIRECT transformation to hoist, a repeated input, a
    malformed entry…): the general reading then reads the whole facet."""
    normalised = _NORMALISED
    #: a transformation's id → (it, its stored list): held here, its id is not reused during the call
    stored: dict[int, tuple[dict, str]] = {}
    prefix = FIELD_PREFIX + target_dataset[8:] + ":"  # 8: len("dataset:")
    make = _new_edge
    edges: list[ColumnEdge] = []
    append = edges.append
    for out_field, spec in fields.items():
        if spec.__class__ is not dict or out_field.__class__ is not str or not out_field:
            return None
        items = spec.get("inputFields")
        if items.__class__ is not list or "transformationType" in spec or "transformationDescription" in spec:
            return None
        if len(items) > 1 and len({_parts(item) for item in items}) < len(items):
            return None  # an input named twice: its transformations are merged
        target = prefix + out_field
        for item in items:
            if item.__class__ is not dict:
                return None
            get = item.get
            ns, name, field = get("namespace"), get("name"), get("field")
            if not (
                ns.__class__ is str
                and name.__class__ is str
                and field.__class__ is str
                and ns
                and name
                and field
            ):
                return None
            raw = get("transformations")
            if raw.__class__ is not list or len(raw) != 1 or raw[0].__class__ is not dict:
                return None
            t = raw[0]
            try:
                n = normalised[(t.get("type"), t.get("subtype"), t.get("description"), t.get("masking"))]
            except (KeyError, TypeError):
                n = transformation(t)
            if n["type"] != "DIRECT":
                return None
            held = stored.get(id(n))
            if held is None:
                held = stored[id(n)] = (n, canonical([n]))
            source_dataset = f"dataset:{ns}:{name}"
            append(
                make(
                    ColumnEdge,
                    (
                        source_dataset,
                        field,
                        target_dataset,
                        out_field,
                        held[1],
                        f"{FIELD_PREFIX}{ns}:{name}:{field}",
                        target,
                    ),
                )
            )
    return edges


def _parts(item) -> tuple | int:
    if item.__class__ is dict:
        return (item.get("namespace"), item.get("name"), item.get("field"))
    return id(item)


def facet_edges(facet, target_dataset: str) -> list[ColumnEdge]:
    """The column edges a ``columnLineage`` facet on ``target_dataset`` states, sorted: one per
    (input field, output field) with all its transformations, and one per dataset-wide input
    field (1-2-0 ``dataset``, or the copies of it Spark puts into every field). Malformed entries
    (an input field without namespace, name or field) are skipped."""
    if not isinstance(facet, dict) or not isinstance(facet.get("fields"), dict | type(None)):
        return []
    if facet.get("fields"):
        edges = _direct_edges(facet["fields"], target_dataset)
        if edges is not None:  # the common shape, read in one pass
            for parts, trans in _inputs(facet.get("dataset"), None)[0].items():
                source_dataset = dataset_id(parts[0], parts[1])
                edges.append(ColumnEdge.of(source_dataset, parts[2], target_dataset, None, canonical(trans)))
            edges.sort(key=_EDGE_ORDER)
            return edges
    per_field: dict[str, dict[tuple, list[dict]]] = {}
    indirect = False  # any INDIRECT transformation in a field: else there is nothing to hoist
    for out_field, spec in (facet.get("fields") or {}).items():
        if not isinstance(spec, dict) or not isinstance(out_field, str) or not out_field:
            continue
        legacy = (
            _legacy(spec) if ("transformationType" in spec or "transformationDescription" in spec) else None
        )
        per_field[out_field], found = _inputs(spec.get("inputFields"), legacy)
        indirect = indirect or found
    dataset_wide = _hoist_copied(per_field) if indirect else {}
    for parts, trans in _inputs(facet.get("dataset"), None)[0].items():
        dataset_wide.setdefault(parts, []).extend(trans)
    #: an input field's (source dataset, source field id), by its (namespace, name, field)
    sources: dict[tuple, tuple[str, str]] = {}
    #: the stored form of each list of transformations, by the ids of the (memoised) dicts it holds:
    #: they stay alive during this call, held by ``per_field``
    stored: dict = {}

    def source_of(parts: tuple) -> tuple[str, str]:
        source_dataset = dataset_id(parts[0], parts[1])
        found = sources[parts] = (source_dataset, FIELD_PREFIX + source_dataset[8:] + ":" + parts[2])
        return found

    edges = []
    append = edges.append
    make = _new_edge
    prefix = FIELD_PREFIX + target_dataset[8:] + ":"  # 8: len("dataset:")
    for out_field, inputs in per_field.items():
        target = prefix + out_field
        for parts, trans in inputs.items():
            source_dataset, source = sources.get(parts) or source_of(parts)
            key = id(trans[0]) if len(trans) == 1 else tuple(map(id, trans))
            text = stored.get(key)
            if text is None:
                text = stored[key] = canonical(trans)
            append(
                make(ColumnEdge, (source_dataset, parts[2], target_dataset, out_field, text, source, target))
            )
    for parts, trans in dataset_wide.items():
        source_dataset = dataset_id(parts[0], parts[1])
        edges.append(ColumnEdge.of(source_dataset, parts[2], target_dataset, None, canonical(trans)))
    edges.sort(key=_EDGE_ORDER)
    return edges
