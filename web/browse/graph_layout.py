"""A layered left-to-right layout for lineage graphs: longest-path layers, barycentre ordering, SVG geometry.

Small and deterministic on purpose: the same graph always draws the same picture, every node has
its own slot in its layer (so nodes never overlap), and edges spanning several layers are routed
through placeholder slots so they pass between nodes rather than through them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FONT_PX = 13
NODE_H = 42
V_GAP = 16
H_GAP = 90
PAD_X = 14
MARGIN = 20
MAX_LABEL = 22  # characters; longer labels are shortened with "…" (the full name is in the tooltip)


def text_width(text: str, size: float = FONT_PX) -> float:
    """Estimated rendered width: CJK and full-width characters are about one em, Latin about 0.58 em."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return wide * size + (len(text) - wide) * size * 0.6


def shorten(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    h: float = NODE_H
    dummy: bool = False
    data: dict = field(default_factory=dict)


@dataclass
class Route:
    source: str
    target: str
    kind: str
    path: str
    back: bool = False


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


def layout(nodes: list[dict], edges: list[dict], sweeps: int = 6) -> Layout:
    """Place ``nodes`` (dicts with ``id``, ``label``, ``sub``, ``kind``) and route ``edges`` (``source``, ``target``)."""
    ids = [n["id"] for n in nodes]
    pairs = _edge_pairs(ids, edges)
    succ: dict[str, list[str]] = {i: [] for i in ids}
    for (s, t), _ in pairs:
        succ[s].append(t)
    back = _break_cycles(ids, succ)
    dag = [((t, s) if (s, t) in back else (s, t)) for (s, t), _ in pairs]
    layer = _longest_path_layers(ids, dag)
    boxes = {
        n["id"]: Box(
            n["id"],
            shorten(n.get("label") or n["id"]),
            shorten(n.get("sub") or "", 30),
            n.get("kind", ""),
            layer[n["id"]],
            data=n,
        )
        for n in nodes
    }
    chains, adj_up, adj_down = _chains(ids, pairs, dag, back, layer, boxes)
    order, depth = _order_layers(boxes, adj_up, adj_down, sweeps)
    width, height = _place(boxes, order, depth)
    routes = [
        Route(s, t, kind, _path(chain, boxes, is_back), is_back) for chain, kind, is_back, (s, t) in chains
    ]
    real = [b for b in boxes.values() if not b.dummy]
    return Layout(real, routes, width, height)


def _edge_pairs(ids: list[str], edges: list[dict]) -> list[tuple[tuple[str, str], str]]:
    """Each edge between two drawn nodes once, as ((source, target), kind); self-loops left out."""
    known = set(ids)
    pairs, seen = [], set()
    for e in edges:
        key = (e["source"], e["target"])
        if key[0] in known and key[1] in known and key[0] != key[1] and key not in seen:
            seen.add(key)
            pairs.append((key, e.get("kind", "")))
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
    chains: list[tuple[list[str], str, bool, tuple[str, str]]] = []
    adj_up: dict[str, list[str]] = {i: [] for i in ids}
    adj_down: dict[str, list[str]] = {i: [] for i in ids}
    for ((s, t), kind), (a, b) in zip(pairs, dag, strict=True):
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
        chains.append((chain, kind, (s, t) in back, (s, t)))
    return chains, adj_up, adj_down


def _order_layers(boxes, adj_up, adj_down, sweeps: int) -> tuple[dict[int, list[str]], int]:
    """Each layer's boxes top to bottom, by barycentre sweeps down and up (input order first: stable)."""
    layers: dict[int, list[str]] = {}
    for box in boxes.values():
        layers.setdefault(box.layer, []).append(box.id)
    depth = max(layers) + 1 if layers else 0
    order = {k: list(v) for k, v in layers.items()}

    def position():
        return {bid: idx for lay in order.values() for idx, bid in enumerate(lay)}

    for sweep in range(sweeps):
        down = sweep % 2 == 0
        rng = range(1, depth) if down else range(depth - 2, -1, -1)
        for lay in rng:
            pos = position()
            neighbours = adj_up if down else adj_down

            def bary(bid, pos=pos, neighbours=neighbours):
                ns = neighbours.get(bid) or []
                return sum(pos[n] for n in ns) / len(ns) if ns else pos[bid]

            order[lay].sort(key=lambda bid, bary=bary, pos=pos: (bary(bid), pos[bid]))
    return order, depth


def _place(boxes, order: dict[int, list[str]], depth: int) -> tuple[float, float]:
    """Coordinates: each layer a column as wide as its widest label, each node its own slot. Returns
    the drawing's (width, height)."""
    widths = {}
    for lay, members in order.items():
        for bid in members:
            box = boxes[bid]
            if not box.dummy:
                box.w = max(text_width(box.label), text_width(box.sub, 10.5)) + 2 * PAD_X
        widths[lay] = max([boxes[b].w for b in members] + [40])
    heights = {lay: sum(boxes[b].h + V_GAP for b in members) - V_GAP for lay, members in order.items()}
    total_h = max(heights.values(), default=0)
    x = MARGIN
    for lay in range(depth):
        y = MARGIN + (total_h - heights.get(lay, 0)) / 2
        for bid in order.get(lay, []):
            box = boxes[bid]
            box.x = x + (widths[lay] - box.w) / 2 if not box.dummy else x
            if box.dummy:
                box.w = widths[lay]
            box.y = y
            y += box.h + V_GAP
        x += widths.get(lay, 0) + H_GAP
    return (x - H_GAP + MARGIN if depth else 2 * MARGIN), total_h + 2 * MARGIN


def _path(chain: list[str], boxes, is_back: bool) -> str:
    """The SVG path of one edge through its chain: straight along a placeholder, curved between layers."""
    pts = []
    for i, bid in enumerate(chain):
        box = boxes[bid]
        cy = box.y + box.h / 2
        if box.dummy:
            pts += [(box.x, cy), (box.x + box.w, cy)]
        elif i == 0:
            pts.append((box.x + box.w, cy))
        else:
            pts.append((box.x, cy))
    if is_back:
        pts.reverse()
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
