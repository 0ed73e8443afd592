"""A layered left-to-right layout for lineage graphs: longest-path layers, crossing reduction, SVG geometry.

Small and deterministic on purpose: the same graph always draws the same picture, every node has
its own slot in its layer (so nodes never overlap), and edges spanning several layers are routed
through placeholder slots so they pass between nodes rather than through them.

Ordering (crossing reduction) is the classic Sugiyama heuristic: a few sweeps down and up that sort
each layer by the median (then barycentre) of its neighbours' positions in the layer just fixed,
each followed by a transpose pass that swaps neighbours while that removes crossings; the ordering
with the fewest crossings seen is kept. Labels are never shortened: long names wrap onto more lines
(Chinese between any two characters, Latin after ``_ . - : /`` or a space) and the box grows to fit.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

FONT_PX = 13
SUB_PX = 10.5
LINE_H = 16
SUB_LINE_H = 13
PAD_Y = 6
V_GAP = 16
H_GAP = 64
PAD_X = 12
MARGIN = 20
#: a label line wider than this wraps (about 11 Chinese characters)
WRAP_PX = 150.0
#: Latin runs break after these characters (identifiers like ``attest_contractor_grade``)
_BREAK_AFTER = re.compile(r"[^_.\-:/ ·]*[_.\-:/ ·]?")


@functools.lru_cache(maxsize=65536)  # pure: the same text always has the same estimate
def text_width(text: str, size: float = FONT_PX) -> float:
    """Estimated rendered width, on the generous side so text never overflows its box: CJK and
    full-width characters one em, capitals 0.72 em, other Latin 0.62 em."""
    width = 0.0
    for ch in text:
        if ord(ch) >= 0x2E80:
            width += size
        elif ch.isupper() or ch in "mwMW@%":
            width += size * 0.72
        else:
            width += size * 0.62
    return width


def _tokens(text: str) -> list[str]:
    """The pieces a line may break between: each CJK character, and Latin runs cut after separators."""
    out: list[str] = []
    for run in re.findall(r"[\u2e80-\uffff]|[^\u2e80-\uffff]+", text):
        if ord(run[0]) >= 0x2E80:
            out.append(run)
        else:
            out.extend(piece for piece in _BREAK_AFTER.findall(run) if piece)
    return out


@functools.lru_cache(maxsize=16384)
def _wrapped(text: str, size: float, limit: float) -> tuple[str, ...]:
    return tuple(_wrap(text, size, limit))


def wrap(text: str, size: float = FONT_PX, limit: float = WRAP_PX) -> list[str]:
    """``text`` in lines no wider than ``limit`` (see ``_wrap``; memoised, labels repeat on every page)."""
    return list(_wrapped(text, size, limit))


def _wrap(text: str, size: float, limit: float) -> list[str]:
    """``text`` in lines no wider than ``limit``, balanced (数字资产交付与竣工移交系统 wraps 7 + 6, not
    11 + 2); nothing is dropped: ``"".join(wrap(t)) == t`` up to spaces at line ends."""
    lines = _greedy(text, size, limit)
    if len(lines) < 2:
        return lines
    widest_piece = max(text_width(t.rstrip(), size) for t in _tokens(text))
    narrow = min(limit, max(text_width(text, size) / len(lines), widest_piece))
    while narrow <= limit:
        balanced = _greedy(text, size, narrow)
        if len(balanced) <= len(lines):
            return balanced
        narrow += size / 2
    return lines


def _greedy(text: str, size: float, limit: float) -> list[str]:
    """First-fit line filling; a single unbreakable piece wider than ``limit`` is cut by characters."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if line and text_width(line + token.rstrip(), size) > limit:
            lines.append(line.rstrip())
            line = ""
        while text_width(token.rstrip(), size) > limit:
            cut = max(1, next(i for i in range(len(token), 0, -1) if text_width(token[:i], size) <= limit))
            lines.append(token[:cut])
            token = token[cut:]
        line += token
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


@dataclass
class Box:
    id: str
    label: str
    sub: str
    kind: str
    layer: int = 0
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0
    dummy: bool = False
    #: the layer column the box sits in (left edge, width): edges run straight to its edge, then curve
    col_x: float = 0
    col_w: float = 0
    lines: list[str] = field(default_factory=list)
    sub_lines: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass
class Route:
    source: str
    target: str
    kind: str
    path: str
    back: bool = False
    #: the polyline the path is drawn through (left to right), for tests and labels
    points: list[tuple[float, float]] = field(default_factory=list)
    #: text shown on the edge (the jobs folded onto it)
    label: str = ""


@dataclass
class Layout:
    nodes: list[Box]
    edges: list[Route]
    width: float
    height: float


def _break_cycles(ids: list[str], succ: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges that close a cycle (found by an iterative DFS in a fixed order): drawn reversed for layering."""
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in ids:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return back


def layout(nodes: list[dict], edges: list[dict], sweeps: int = 8) -> Layout:
    """Place ``nodes`` (dicts with ``id``, ``label``, ``sub``, ``kind``) and route ``edges`` (``source``,
    ``target``, optional ``kind`` and ``label``)."""
    ids = [n["id"] for n in nodes]
    pairs = _edge_pairs(ids, edges)
    succ: dict[str, list[str]] = {i: [] for i in ids}
    for (s, t), _ in pairs:
        succ[s].append(t)
    back = _break_cycles(ids, succ)
    dag = [((t, s) if (s, t) in back else (s, t)) for (s, t), _ in pairs]
    layer = _longest_path_layers(ids, dag)
    boxes = {n["id"]: _box(n, layer[n["id"]]) for n in nodes}
    chains, adj_up, adj_down = _chains(ids, pairs, dag, back, layer, boxes)
    order, depth = _order_layers(boxes, adj_up, adj_down, sweeps)
    width, height = _place(boxes, order, depth)
    routes, ports = [], _ports([c[0] for c in chains], boxes)
    for i, (chain, (kind, label), is_back, (s, t)) in enumerate(chains):
        pts = _points(chain, boxes, ports.get((i, 0)), ports.get((i, 1)))
        routes.append(Route(s, t, kind, _path(pts, is_back), is_back, pts, label))
    real = [b for b in boxes.values() if not b.dummy]
    return Layout(real, routes, width, height)


def _box(node: dict, layer: int) -> Box:
    """A node's box, sized to its wrapped label and subtitle."""
    label, sub = node.get("label") or node["id"], node.get("sub") or ""
    lines = wrap(label)
    sub_lines = wrap(sub, SUB_PX, WRAP_PX * 1.15) if sub else []
    text_w = max([text_width(x) for x in lines] + [text_width(x, SUB_PX) for x in sub_lines])
    h = 2 * PAD_Y + len(lines) * LINE_H + len(sub_lines) * SUB_LINE_H + (4 if sub_lines else 0)
    return Box(
        node["id"], label, sub, node.get("kind", ""), layer, w=text_w + 2 * PAD_X, h=max(h, 30),
        lines=lines, sub_lines=sub_lines, data=node,
    )  # fmt: skip


def _edge_pairs(ids: list[str], edges: list[dict]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Each edge between two drawn nodes once, as ((source, target), (kind, label)); self-loops left out."""
    known = set(ids)
    pairs, seen = [], set()
    for e in edges:
        key = (e["source"], e["target"])
        if key[0] in known and key[1] in known and key[0] != key[1] and key not in seen:
            seen.add(key)
            pairs.append((key, (e.get("kind", ""), e.get("label", ""))))
    return pairs


def _longest_path_layers(ids: list[str], dag: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering of the acyclic version (Kahn's order): every edge goes one layer right or more."""
    preds: dict[str, list[str]] = {i: [] for i in ids}
    out: dict[str, list[str]] = {i: [] for i in ids}
    for s, t in dag:
        preds[t].append(s)
        out[s].append(t)
    indeg = {i: len(preds[i]) for i in ids}
    queue = [i for i in ids if indeg[i] == 0]
    layer = dict.fromkeys(ids, 0)
    while queue:
        node = queue.pop(0)
        for t in out[node]:
            layer[t] = max(layer[t], layer[node] + 1)
            indeg[t] -= 1
            if indeg[t] == 0:
                queue.append(t)
    return layer


def _chains(ids, pairs, dag, back, layer, boxes):
    """Long edges get one placeholder box per layer crossed: each edge's chain of boxes, and the
    adjacency (up and down) the ordering sweeps read."""
    chains = []
    adj_up: dict[str, list[str]] = {i: [] for i in ids}
    adj_down: dict[str, list[str]] = {i: [] for i in ids}
    for ((s, t), info), (a, b) in zip(pairs, dag, strict=True):
        chain = [a]
        for lay in range(layer[a] + 1, layer[b]):
            dummy = f"\0{a}\0{b}\0{lay}"
            boxes[dummy] = Box(dummy, "", "", "dummy", lay, h=6, dummy=True)
            adj_up[dummy], adj_down[dummy] = [], []
            chain.append(dummy)
        chain.append(b)
        for u, v in zip(chain, chain[1:], strict=False):
            adj_down[u].append(v)
            adj_up[v].append(u)
        chains.append((chain, info, (s, t) in back, (s, t)))
    return chains, adj_up, adj_down


# --- crossing reduction ----------------------------------------------------------------------


def _crossings_between(upper: list[str], lower: list[str], adj_down) -> int:
    """Crossings of the edges between two neighbouring layers: inversions of the lower ends when the
    edges are sorted by (upper end, lower end), counted with a Fenwick tree."""
    pos = {bid: i for i, bid in enumerate(lower)}
    ends = [pos[v] for u in upper for v in sorted(adj_down[u], key=pos.__getitem__)]
    tree = [0] * (len(lower) + 1)
    count = 0
    for seen, p in enumerate(ends):
        i, below = p + 1, 0  # how many earlier ends are at or left of p
        while i > 0:
            below += tree[i]
            i -= i & -i
        count += seen - below
        i = p + 1
        while i <= len(lower):
            tree[i] += 1
            i += i & -i
    return count


def crossings(order: dict[int, list[str]], adj_down) -> int:
    """Edge crossings of a whole layer ordering."""
    return sum(_crossings_between(order[k], order[k + 1], adj_down) for k in sorted(order) if k + 1 in order)


def _sort_layer(members: list[str], fixed: list[str], neighbours) -> list[str]:
    """``members`` sorted by the median (then barycentre) position of their neighbours in ``fixed``;
    a box with no neighbour there keeps its place."""
    pos = {bid: i for i, bid in enumerate(fixed)}
    keys = {}
    for idx, bid in enumerate(members):
        ps = sorted(pos[n] for n in neighbours.get(bid, ()) if n in pos)
        if not ps:
            keys[bid] = (idx * len(fixed) / max(len(members), 1), idx, idx)
            continue
        mid = len(ps) // 2
        median = ps[mid] if len(ps) % 2 else (ps[mid - 1] + ps[mid]) / 2
        keys[bid] = (median, sum(ps) / len(ps), idx)
    return sorted(members, key=keys.__getitem__)


def _pair_crossings(a: str, b: str, pos: dict[str, int], neighbours) -> int:
    """Crossings between the edges of ``a`` and of ``b`` (a above b) towards one neighbouring layer."""
    return sum(1 for u in neighbours.get(a, ()) for v in neighbours.get(b, ()) if pos[u] > pos[v])


def _transpose(order: dict[int, list[str]], adj_up, adj_down, rounds: int = 4) -> None:
    """Swap neighbours in a layer while that lowers the crossings on both sides of it."""
    for _ in range(rounds):
        improved = False
        for lay, members in order.items():
            sides = [(adj_up, order.get(lay - 1, [])), (adj_down, order.get(lay + 1, []))]
            poss = [(nb, {bid: i for i, bid in enumerate(other)}) for nb, other in sides]
            for i in range(len(members) - 1):
                a, b = members[i], members[i + 1]
                now = sum(_pair_crossings(a, b, pos, nb) for nb, pos in poss)
                swapped = sum(_pair_crossings(b, a, pos, nb) for nb, pos in poss)
                if swapped < now:
                    members[i], members[i + 1] = b, a
                    improved = True
        if not improved:
            return


def _order_layers(boxes, adj_up, adj_down, sweeps: int) -> tuple[dict[int, list[str]], int]:
    """Each layer's boxes top to bottom: median sweeps down and up plus transposes (input order first,
    so the result is stable); the ordering with the fewest crossings wins."""
    order: dict[int, list[str]] = {}
    for box in boxes.values():
        order.setdefault(box.layer, []).append(box.id)
    depth = max(order) + 1 if order else 0
    best, fewest = {k: list(v) for k, v in order.items()}, crossings(order, adj_down)
    for sweep in range(sweeps):
        if fewest == 0:
            break
        down = sweep % 2 == 0
        for lay in range(1, depth) if down else range(depth - 2, -1, -1):
            fixed = order.get(lay - 1 if down else lay + 1, [])
            order[lay] = _sort_layer(order.get(lay, []), fixed, adj_up if down else adj_down)
        _transpose(order, adj_up, adj_down)
        count = crossings(order, adj_down)
        if count < fewest:
            best, fewest = {k: list(v) for k, v in order.items()}, count
    return best, depth


# --- geometry --------------------------------------------------------------------------------


def _place(boxes, order: dict[int, list[str]], depth: int) -> tuple[float, float]:
    """Coordinates: each layer a column as wide as its widest box, each node its own slot. Returns
    the drawing's (width, height)."""
    widths = {
        lay: max([boxes[b].w for b in members if not boxes[b].dummy] + [40]) for lay, members in order.items()
    }
    heights = {lay: sum(boxes[b].h + V_GAP for b in members) - V_GAP for lay, members in order.items()}
    total_h = max(heights.values(), default=0)
    x = MARGIN
    for lay in range(depth):
        y = MARGIN + (total_h - heights.get(lay, 0)) / 2
        for bid in order.get(lay, []):
            box = boxes[bid]
            if box.dummy:
                box.x, box.w = x, widths[lay]
            else:
                box.x = x + (widths[lay] - box.w) / 2
            box.y, box.col_x, box.col_w = y, x, widths[lay]
            y += box.h + V_GAP
        x += widths.get(lay, 0) + H_GAP
    return (x - H_GAP + MARGIN if depth else 2 * MARGIN), total_h + 2 * MARGIN


def _ports(chains: list[list[str]], boxes) -> dict[tuple[int, int], float]:
    """Where each edge leaves and enters its boxes: a box's outgoing edges spread down its right side in
    the order of where they go next, its incoming edges down its left side in the order they come from,
    so edges sharing a box neither coincide nor cross at it. Keyed (chain index, 0 = start / 1 = end)."""
    sides: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for i, chain in enumerate(chains):
        nxt, prev = boxes[chain[1]], boxes[chain[-2]]
        sides.setdefault((chain[0], 0), []).append((nxt.y + nxt.h / 2, i))
        sides.setdefault((chain[-1], 1), []).append((prev.y + prev.h / 2, i))
    ports = {}
    for (bid, end), items in sides.items():
        box = boxes[bid]
        span = min(box.h - 12, 8 * (len(items) - 1))  # 8 px apart, inside the rounded corners
        for k, (_, i) in enumerate(sorted(items)):
            offset = span * (k / (len(items) - 1) - 0.5) if len(items) > 1 else 0
            ports[(i, end)] = box.y + box.h / 2 + offset
    return ports


def _points(chain: list[str], boxes, start_y=None, end_y=None) -> list[tuple[float, float]]:
    """The polyline of one edge through its chain, left to right: out of the right side of the first
    box (at ``start_y``) straight to its column's edge, along each placeholder, and from the last
    column's edge straight into the left side of the last box (at ``end_y``). Every curve thus spans
    exactly the gap between two columns, so the drawing crosses where the ordering says it does."""
    pts = []
    for i, bid in enumerate(chain):
        box = boxes[bid]
        cy = box.y + box.h / 2
        if box.dummy:
            pts += [(box.x, cy), (box.x + box.w, cy)]
        elif i == 0:
            y = cy if start_y is None else start_y
            pts += [(box.x + box.w, y), (box.col_x + box.col_w, y)]
        else:
            y = cy if end_y is None else end_y
            pts += [(box.col_x, y), (box.x, y)]
    return [
        p for k, p in enumerate(pts) if k == 0 or abs(p[0] - pts[k - 1][0]) > 0.05 or p[1] != pts[k - 1][1]
    ]


def _path(pts: list[tuple[float, float]], is_back: bool) -> str:
    """The SVG path through ``pts``: straight along a placeholder, curved between layers; a back edge
    runs the other way (its arrow at the left end)."""
    if is_back:
        pts = pts[::-1]
    d = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
    for (x1, y1), (x2, y2) in zip(pts, pts[1:], strict=False):
        if abs(y2 - y1) < 0.5:
            d += f" L{x2:.1f},{y2:.1f}"
        else:
            mid = (x1 + x2) / 2
            d += f" C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    return d


def overlaps(result: Layout) -> list[tuple[str, str]]:
    """Pairs of nodes whose boxes intersect (always empty; tests and the demo check it)."""
    found = []
    boxes = result.nodes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h:
                found.append((a.id, b.id))
    return found
