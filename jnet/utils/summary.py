"""`model.summary()`: a Keras-like table of layers, output shapes and parameter counts."""

from __future__ import annotations

import jax
import numpy as np


def _shape_str(tensors) -> str:
    shapes = [t.shape for t in jax.tree_util.tree_leaves(tensors, is_leaf=lambda t: hasattr(t, "shape"))]
    text = [str(tuple(s)).replace(",)", ")") if len(s) != 1 else f"({s[0]},)" for s in shapes]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


def _fmt_bytes(n: int) -> str:
    # Keras's format: "640.00 B", "1.23 KB".
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024


def _n_params(layer) -> int:
    return int(sum(v.size for v in layer.weights)) if layer.built else 0


def summary_rows(model, expand_nested=False, prefix=""):
    """Rows `(name_and_type, output_shape, params, connected_to, built)` for the table. A model without
    a graph yet (a deferred Sequential, a subclassed model) lists its layers with "?" shapes."""
    from jnet.core.symbolic import is_symbolic
    from jnet.layers.input_layer import InputLayer

    graph = model._graph
    rows = []
    show_inputs = not getattr(model, "_is_sequential", False)
    for layer in model.layers:
        if isinstance(layer, InputLayer) and not show_inputs:
            continue
        nodes = [n for n in graph.nodes if n.layer is layer] if graph is not None else []
        out = _shape_str(nodes[0].outputs) if nodes else "?"
        connected = []
        for node in nodes:
            for t in node.inbound():
                if is_symbolic(t):
                    k = [n for n in graph.nodes if n.layer is t.node.layer].index(t.node)
                    connected.append(f"{t.node.layer.name}[{k}][{t.index}]")
        rows.append(
            (
                f"{prefix}{layer.name} ({type(layer).__name__})",
                out,
                _n_params(layer),
                ", ".join(connected) or "-",
                layer.built,
            )
        )
        if expand_nested and hasattr(layer, "_graph") and hasattr(layer, "layers"):
            rows.extend(summary_rows(layer, True, prefix + "  "))
    return rows


def print_summary(model, line_length=None, expand_nested=False, print_fn=None):
    print_fn = print_fn or print
    sequential = getattr(model, "_is_sequential", False)
    rows = summary_rows(model, expand_nested)
    functional = not sequential and model._graph is not None
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    # Keras marks layers without weights yet "0 (unbuilt)".
    cells = [[r[0], r[1], f"{r[2]:,}" if r[4] else "0 (unbuilt)"] + ([r[3]] if functional else []) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - 3 * len(widths))
    total_width = sum(widths) + 3 * (len(widths) - 1)

    def line(values):
        parts = []
        for i, (v, w) in enumerate(zip(values, widths)):
            parts.append(v.rjust(w) if i == 2 else v.ljust(w))
        return " | ".join(parts).rstrip()

    weights = model.weights if model.built else []
    trainable = sum(v.size for v in model.trainable_weights) if model.built else 0
    total = sum(v.size for v in weights)
    nbytes = sum(int(np.dtype(v.dtype).itemsize) * v.size for v in weights)
    trainable_ids = {id(v) for v in model.trainable_weights} if model.built else set()
    trainable_bytes = sum(int(np.dtype(v.dtype).itemsize) * v.size for v in weights if id(v) in trainable_ids)
    name = model.name or ("sequential" if sequential else "model")
    print_fn(f'Model: "{name}"')
    print_fn("=" * total_width)
    print_fn(line(headers))
    print_fn("=" * total_width)
    for i, c in enumerate(cells):
        print_fn(line(c))
        print_fn(("-" if i < len(cells) - 1 else "=") * total_width)
    print_fn(f" Total params: {total:,} ({_fmt_bytes(nbytes)})")
    print_fn(f" Trainable params: {trainable:,} ({_fmt_bytes(trainable_bytes)})")
    print_fn(f" Non-trainable params: {total - trainable:,} ({_fmt_bytes(nbytes - trainable_bytes)})")
