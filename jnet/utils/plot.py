"""Pictures: `plot_model` (the layer graph, drawn with matplotlib: no Graphviz, no pydot),
`model_to_dot` (DOT text for those who have Graphviz) and `plot_history` (training curves).

The graph layout is a small Sugiyama-style one: longest-path layering (every layer sits one
rank below its deepest input), then a few barycenter sweeps to order each rank so that edges
cross less, then boxes sized to their text.
"""

from __future__ import annotations

import dataclasses
import os

_FONT = 10.0  # points
_CHAR_W = 0.6 * _FONT  # a fair average glyph width for DejaVu Sans, in points
_LINE_H = 1.45 * _FONT


# --------------------------------------------------------------------------- the graph


@dataclasses.dataclass
class _Box:
    id: str
    lines: list
    cluster: tuple = ()  # names of the nested models this box sits in, outermost first
    rank: int = 0
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0
    dummy: bool = False  # a bend point of an edge that spans several ranks


def _shape_text(tensors):
    import jax

    from jnet.core.symbolic import is_symbolic

    leaves = [t for t in jax.tree_util.tree_leaves(tensors, is_leaf=is_symbolic) if hasattr(t, "shape")]
    text = [str(tuple(t.shape)).replace(",)", ")") if len(t.shape) != 1 else f"({t.shape[0]},)" for t in leaves]
    if not text:
        return "?"
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


def _dtype_text(tensors):
    import jax

    from jnet.core.symbolic import is_symbolic

    names = [t.dtype.name for t in jax.tree_util.tree_leaves(tensors, is_leaf=is_symbolic) if hasattr(t, "dtype")]
    return names[0] if len(set(names)) == 1 else "[" + ", ".join(names) + "]"


def _build(model, show_shapes, show_dtype, show_layer_names, expand_nested, show_trainable=False):
    """`(boxes, edges)`: one box per layer (nested models expanded or not), edges as id pairs."""
    import jax

    from jnet.core.symbolic import is_symbolic
    from jnet.layers.input_layer import InputLayer

    boxes: dict[str, _Box] = {}
    edges: list[tuple[str, str]] = []

    def label(layer, nodes):
        kind = type(layer).__name__
        lines = [f"{layer.name} ({kind})" if show_layer_names else kind]
        if show_shapes and nodes:
            if not isinstance(layer, InputLayer):
                lines.append(
                    "in: " + _shape_text([n.args for n in nodes][0] if len(nodes) == 1 else [n.args for n in nodes])
                )
            lines.append("out: " + _shape_text(nodes[0].outputs if len(nodes) == 1 else [n.outputs for n in nodes]))
        if show_dtype and nodes:
            lines.append("dtype: " + _dtype_text(nodes[0].outputs))
        if show_trainable:
            lines.append(f"trainable: {bool(layer.trainable)}")
        return lines

    def add(m, prefix, cluster):
        """Add `m`'s layers; return (entry, exit): for the k-th input / output tensor of `m`,
        the box id that receives / produces it."""
        graph = m._require_graph()
        producers = {}  # id(symbolic tensor) -> box id that produces it
        for layer in graph.layers:
            nodes = [n for n in graph.nodes if n.layer is layer]
            bid = prefix + layer.name
            if expand_nested and getattr(layer, "_graph", None) is not None:
                entry, exit_ = add(layer, bid + "/", cluster + (layer.name,))
                for node in nodes:
                    # The k-th tensor the nested model receives feeds its k-th input box.
                    args = [
                        t
                        for t in jax.tree_util.tree_leaves((node.args, node.kwargs), is_leaf=is_symbolic)
                        if is_symbolic(t)
                    ]
                    for k, t in enumerate(args):
                        if id(t) in producers and k < len(entry):
                            edges.append((producers[id(t)], entry[k]))
                    outs = [t for t in jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic)]
                    for k, t in enumerate(outs):
                        producers[id(t)] = exit_[min(k, len(exit_) - 1)]
                continue
            boxes[bid] = _Box(bid, label(layer, nodes), cluster)
            for node in nodes:
                for t in node.inbound():
                    if id(t) in producers and (producers[id(t)], bid) not in edges:
                        edges.append((producers[id(t)], bid))
                for t in jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic):
                    producers[id(t)] = bid
        entry = [prefix + t.node.layer.name for t in graph.inputs]
        exit_ = [producers[id(t)] for t in graph.outputs]
        return entry, exit_

    add(model, "", ())
    return boxes, edges


def _layout(boxes, edges, rankdir):
    """Assign ranks (longest path), orders (barycenter sweeps) and coordinates in points.

    Returns `{edge: [bend box ids]}`: an edge spanning several ranks passes through one dummy
    box per rank in between, so it is routed around the boxes instead of through them.
    """
    preds = {b: [] for b in boxes}
    for a, b in edges:
        preds[b].append(a)
    # Longest-path layering in insertion order (boxes are added in topological order).
    for bid, box in boxes.items():
        box.rank = max((boxes[p].rank + 1 for p in preds[bid]), default=0)
    routes = {}
    real = list(boxes)
    for a, b in edges:
        chain = []
        same = boxes[a].cluster if boxes[a].cluster == boxes[b].cluster else ()
        for r in range(boxes[a].rank + 1, boxes[b].rank):
            did = f"\0{a}->{b}#{r}"
            boxes[did] = _Box(did, [], same, rank=r, dummy=True)
            chain.append(did)
        routes[(a, b)] = chain
    preds = {b: [] for b in boxes}
    succs = {b: [] for b in boxes}
    for (a, b), chain in routes.items():
        path = [a, *chain, b]
        for u, v in zip(path, path[1:]):
            preds[v].append(u)
            succs[u].append(v)
    ranks: dict[int, list[str]] = {}
    for bid in real + [b for b in boxes if boxes[b].dummy]:
        ranks.setdefault(boxes[bid].rank, []).append(bid)
    for r in ranks.values():
        for i, bid in enumerate(r):
            boxes[bid].order = float(i)
    # Barycenter sweeps, down then up: each box moves towards the mean position of its
    # neighbours. Boxes of one nested model stay together (sorted by their group's mean).
    levels = sorted(ranks)

    def sort_key(bid, bary, row):
        key = []
        for depth in range(1, len(boxes[bid].cluster) + 1):
            group = [b for b in row if boxes[b].cluster[:depth] == boxes[bid].cluster[:depth]]
            key.append(sum(bary[b] for b in group) / len(group))
        return tuple(key) + (bary[bid], boxes[bid].order)

    for _ in range(4):
        for seq, nbrs in ((levels[1:], preds), (levels[-2::-1], succs)):
            for r in seq:
                row = ranks[r]
                bary = {}
                for bid in row:
                    ns = nbrs[bid]
                    bary[bid] = sum(boxes[n].order for n in ns) / len(ns) if ns else boxes[bid].order
                keys = {bid: sort_key(bid, bary, row) for bid in row}
                row.sort(key=keys.get)
                for i, bid in enumerate(row):
                    boxes[bid].order = float(i)
    # Sizes from the text.
    pad = 8.0
    for box in boxes.values():
        if box.dummy:
            box.w = box.h = 2.0
            continue
        # The first line is bold (wider glyphs); the others are set at 0.9 size.
        box.w = max([len(box.lines[0]) * _CHAR_W * 1.12] + [len(l) * _CHAR_W * 0.92 for l in box.lines[1:]]) + 2 * pad
        box.h = len(box.lines) * _LINE_H + 2 * pad * 0.6
    gap_across, gap_along = 24.0, 40.0
    vertical = rankdir in ("TB", "BT")

    def size(bid):
        return boxes[bid].w if vertical else boxes[bid].h

    def gap(a, b):
        # Extra room between boxes of different nested models, for the dashed frames.
        return gap_across + (24.0 if boxes[a].cluster != boxes[b].cluster else 0.0)

    # Across the flow: pack each rank centred, then let boxes drift towards the mean of their
    # neighbours (down and up sweeps), keeping the order and a minimum gap.
    across = {}
    for r in levels:
        row = ranks[r]
        pos = 0.0
        for i, bid in enumerate(row):
            across[bid] = pos + size(bid) / 2
            pos += size(bid) + (gap(bid, row[i + 1]) if i + 1 < len(row) else 0.0)
        for bid in row:
            across[bid] -= pos / 2
    for _ in range(6):
        for seq, nbrs in ((levels[1:], preds), (levels[-2::-1], succs)):
            for r in seq:
                row = ranks[r]
                want = [sum(across[n] for n in nbrs[b]) / len(nbrs[b]) if nbrs[b] else across[b] for b in row]
                placed = []
                for i, bid in enumerate(row):
                    x = want[i]
                    if i:
                        x = max(x, placed[-1] + (size(row[i - 1]) + size(bid)) / 2 + gap(row[i - 1], bid))
                    placed.append(x)
                shift = sum(w - p for w, p in zip(want, placed)) / len(row)
                for bid, x in zip(row, placed):
                    across[bid] = x + shift
    along = 0.0
    for r in levels:
        row = ranks[r]
        depth = max((boxes[b].h if vertical else boxes[b].w) for b in row)
        c_along = along + depth / 2
        for bid in row:
            if vertical:
                boxes[bid].x, boxes[bid].y = across[bid], -c_along if rankdir == "TB" else c_along
            else:
                boxes[bid].x, boxes[bid].y = c_along if rankdir == "LR" else -c_along, -across[bid]
        along += depth + gap_along
    return routes


# --------------------------------------------------------------------------- public API


def model_to_dot(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    subgraph=False,
    show_trainable=False,
    **kwargs,
):
    """The model graph as DOT text (a `str`; render it with Graphviz's `dot -Tpng`).

    jnet does not depend on pydot: where Keras returns a `pydot.Dot`, this returns its text.
    Arguments as in `plot_model`.
    """
    _check_rankdir(rankdir)
    boxes, edges = _build(model, show_shapes, show_dtype, show_layer_names, expand_nested, show_trainable)

    def q(s):
        return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = [
        f"digraph {q(model.name or 'model')} {{",
        f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
        '  node [shape=box, style="rounded", fontname="Helvetica"];',
    ]
    clusters: dict[tuple, list[str]] = {}
    for box in boxes.values():
        clusters.setdefault(box.cluster, []).append(box.id)

    def emit(path, indent):
        for bid in clusters.get(path, []):
            out.append(f"{indent}{q(bid)} [label={q(chr(10).join(boxes[bid].lines))}];")
        children = sorted({c[: len(path) + 1] for c in clusters if len(c) > len(path) and c[: len(path)] == path})
        for child in children:
            out.append(f"{indent}subgraph {q('cluster_' + '/'.join(child))} {{")
            out.append(f"{indent}  label={q(child[-1])}; style=dashed;")
            emit(child, indent + "  ")
            out.append(f"{indent}}}")

    emit((), "  ")
    for a, b in edges:
        out.append(f"  {q(a)} -> {q(b)};")
    out.append("}")
    return "\n".join(out) + "\n"


def _check_rankdir(rankdir):
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"plot_model: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
    **kwargs,
):
    """Draw the model's layer graph to an image file, with matplotlib (no Graphviz needed).

    Args:
        model: a built `jnet.Model` or `Sequential`.
        to_file: the output file; the extension picks the format (`.png`, `.svg`, `.pdf`, `.jpg`).
        show_shapes: print each layer's input and output shapes.
        show_dtype: print each layer's output dtype.
        show_layer_names: print layer names (else only the types).
        rankdir: `"TB"` (top to bottom), `"LR"`, `"BT"` or `"RL"`.
        expand_nested: draw the layers inside nested models, framed by a dashed box.
        dpi: resolution of raster formats.
        show_layer_activations: print the activation of layers that have one.
        show_trainable: print whether each layer is trainable.

    Returns:
        An `IPython.display.Image` (or `SVG`) when IPython is installed, as Keras does, else None.

    Example:
    ```python
    jnet.utils.plot_model(model, "multi_input_and_output_model.png", show_shapes=True)
    ```
    """
    _check_rankdir(rankdir)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

    if not getattr(model, "built", True):
        raise ValueError("plot_model: the model is not built yet; give it an input shape or call it on data first")
    boxes, edges = _build(model, show_shapes, show_dtype, show_layer_names, expand_nested, show_trainable)
    if show_layer_activations:
        for bid, box in boxes.items():
            layer = _find_layer(model, bid)
            act = getattr(layer, "activation", None)
            if act is not None:
                box.lines.append(f"activation: {getattr(act, '__name__', act)}")
    routes = _layout(boxes, edges, rankdir)

    # Cluster frames (nested models) around their boxes, innermost drawn last.
    frames = {}
    for box in boxes.values():
        if box.dummy:
            continue
        for depth in range(1, len(box.cluster) + 1):
            key = box.cluster[:depth]
            x0, y0, x1, y1 = box.x - box.w / 2, box.y - box.h / 2, box.x + box.w / 2, box.y + box.h / 2
            f = frames.get(key)
            frames[key] = (
                (x0, y0, x1, y1) if f is None else (min(f[0], x0), min(f[1], y0), max(f[2], x1), max(f[3], y1))
            )
    margin = 10.0
    frames = {
        k: (
            f[0] - margin * (4 - min(len(k), 3)),
            f[1] - margin * (4 - min(len(k), 3)),
            f[2] + margin * (4 - min(len(k), 3)),
            f[3] + margin * (4 - min(len(k), 3)) + _LINE_H,
        )
        for k, f in frames.items()
    }
    xs = [b.x - b.w / 2 for b in boxes.values()] + [f[0] for f in frames.values()]
    xe = [b.x + b.w / 2 for b in boxes.values()] + [f[2] for f in frames.values()]
    ys = [b.y - b.h / 2 for b in boxes.values()] + [f[1] for f in frames.values()]
    ye = [b.y + b.h / 2 for b in boxes.values()] + [f[3] for f in frames.values()]
    border = 12.0
    x0, x1, y0, y1 = min(xs) - border, max(xe) + border, min(ys) - border, max(ye) + border
    fig = Figure(figsize=((x1 - x0) / 72.0, (y1 - y0) / 72.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    for key, (fx0, fy0, fx1, fy1) in sorted(frames.items(), key=lambda kv: len(kv[0])):
        ax.add_patch(
            Rectangle((fx0, fy0), fx1 - fx0, fy1 - fy0, fill=False, linestyle="--", edgecolor="0.45", linewidth=0.8)
        )
        ax.text(fx0 + 4, fy1 - 3, key[-1], ha="left", va="top", fontsize=_FONT * 0.85, color="0.3", style="italic")
    vertical = rankdir in ("TB", "BT")
    sign = (-1 if rankdir == "TB" else 1) if vertical else (1 if rankdir == "LR" else -1)
    for (a, b), chain in routes.items():
        ba, bb = boxes[a], boxes[b]
        if vertical:
            start, end = (ba.x, ba.y + sign * ba.h / 2), (bb.x, bb.y - sign * bb.h / 2)
        else:
            start, end = (ba.x + sign * ba.w / 2, ba.y), (bb.x - sign * bb.w / 2, bb.y)
        points = [start] + [(boxes[d].x, boxes[d].y) for d in chain] + [end]
        if len(points) > 2:  # the bends of a long edge, then an arrow on its last leg
            ax.plot([p[0] for p in points[:-1]], [p[1] for p in points[:-1]], color="0.2", linewidth=0.9)
        ax.add_patch(
            FancyArrowPatch(
                points[-2], end, arrowstyle="-|>", mutation_scale=10, linewidth=0.9, color="0.2", shrinkA=0, shrinkB=1
            )
        )
    for box in (b for b in boxes.values() if not b.dummy):
        ax.add_patch(
            FancyBboxPatch(
                (box.x - box.w / 2, box.y - box.h / 2),
                box.w,
                box.h,
                boxstyle="round,pad=0,rounding_size=4",
                facecolor="#eef3fb",
                edgecolor="#36588c",
                linewidth=1.0,
            )
        )
        n = len(box.lines)
        for i, line in enumerate(box.lines):
            dy = ((n - 1) / 2 - i) * _LINE_H
            ax.text(
                box.x,
                box.y + dy,
                line,
                ha="center",
                va="center",
                fontsize=_FONT if i == 0 else _FONT * 0.9,
                fontweight="bold" if i == 0 else "normal",
                family="DejaVu Sans",
            )
    to_file = os.fspath(to_file)
    parent = os.path.dirname(to_file)
    if parent:
        os.makedirs(parent, exist_ok=True)
    ext = os.path.splitext(to_file)[1].lower().lstrip(".") or "png"
    fig.savefig(to_file, format=ext, dpi=dpi)
    try:
        from IPython import display
    except ImportError:
        return None
    if ext == "svg":
        return display.SVG(filename=to_file)
    if ext in ("png", "jpg", "jpeg"):
        return display.Image(filename=to_file)
    return None


def _find_layer(model, box_id):
    parts = box_id.split("/")
    layer = model
    for p in parts:
        layer = layer.get_layer(p)
    return layer


def plot_history(history, metrics=None, to_file=None, figsize=None, dpi=100):
    """Plot training curves: one panel per metric, the training and validation curves together.

    Args:
        history: the `History` returned by `fit` (or its `.history` dict).
        metrics: names to plot (default: every key without the `val_` prefix, `loss` first;
            `learning_rate` gets its own panel).
        to_file: also save the figure there (format from the extension).
        figsize: matplotlib figure size in inches (default: 4 x 3 per panel).

    Returns:
        The matplotlib `Figure`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError("plot_history: expected a History (from fit) or a non-empty dict of lists")
    epochs = list(getattr(history, "epoch", []) or range(len(next(iter(logs.values())))))
    names = metrics or sorted({k.removeprefix("val_") for k in logs}, key=lambda k: (k != "loss", k))
    unknown = [m for m in names if m not in logs and f"val_{m}" not in logs]
    if unknown:
        raise ValueError(f"plot_history: {unknown} not in the history; available: {sorted(logs)}")
    fig = Figure(figsize=figsize or (4.0 * len(names), 3.0), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "train", "-o"), (f"val_{name}", "validation", "--s")):
            if key in logs:
                values = [float(v) for v in logs[key]]
                xs = (
                    [e + 1 for e in epochs[: len(values)]]
                    if len(epochs) >= len(values)
                    else list(range(1, len(values) + 1))
                )
                ax.plot(xs, values, style, markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if to_file:
        fig.savefig(os.fspath(to_file))
    return fig
