"""The host stage: string layers run on the host, before the compiled step.

Strings cannot enter an XLA computation, so a model that reads raw text splits in two:

- **Graph models** (and a Sequential that starts with a string `jnet.Input`): each
  `jnet.Input(shape=(), dtype="string")` (or shape `(1,)`) feeds exactly one string layer —
  `TextVectorization`, `StringLookup`, or `Hashing` (any layer with `_host_stage` or
  `_string_inputs`). That call is a *host node*: `run_host_stage` runs it eagerly on the raw
  strings (vectorised, with numpy), and the compiled graph is fed its numeric output in place of
  the input (`Graph.feeds`), skipping the node. A string tensor reaching any other layer is an
  error when the model is built, naming the layer and the input.
- **A deferred Sequential** (no `Input`) whose first layers are string layers: those leading
  layers run on the raw batch; the model is then built from their numeric output and, inside
  the compiled graph, they pass it through unchanged.

`fit`, `evaluate`, `predict`, the on-batch methods and `model(x)` pass raw inputs through
`run_host_stage`. It is idempotent (already-processed inputs pass unchanged), so nested calls
of those methods cost nothing more.
"""

from __future__ import annotations

import jax
import numpy as np

from jnet.core import symbolic
from jnet.core.symbolic import STRING, is_symbolic
from jnet.layers.preprocessing._common import dense_outputs

__all__ = ["host_stage_layers", "run_host_stage", "is_raw_strings", "takes_strings", "string_feeds"]

_SCALARS = (int, float, str, bytes, np.generic)
_STRING_LAYERS = "a string layer (TextVectorization, StringLookup or Hashing)"


def is_raw_strings(x) -> bool:
    """Whether `x` is text data: a numpy array of strings/bytes, or a (nested) list of str."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "US" or (x.dtype.kind == "O" and x.size > 0 and isinstance(x.flat[0], (str, bytes)))
    if isinstance(x, (list, tuple)) and x:
        return is_raw_strings(x[0]) if isinstance(x[0], (list, tuple)) else isinstance(x[0], (str, bytes))
    return False


def takes_strings(layer) -> bool:
    """Whether `layer` may be called on a string tensor (it runs on the host)."""
    return bool(getattr(layer, "_host_stage", False) or getattr(layer, "_string_inputs", False))


def _host_call(layer, x):
    """`layer(x)` on the host, dense: what the host stage feeds the compiled model is dense
    even from a layer built with `sparse=True` (e.g. `Hashing` on strings)."""
    with dense_outputs():
        return layer(x)


def _input_name(t) -> str:
    return t.node.layer.name if t.node is not None else "?"


# --------------------------------------------------------------------------- building


def _string_call_spec(layer, args, kwargs):
    """Output specs of `layer` called on a string tensor (registered with jnet.core.symbolic)."""
    leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
    strings = [t for t in leaves if is_symbolic(t) and t.dtype == STRING]
    name = _input_name(strings[0])
    if not takes_strings(layer):
        raise ValueError(
            f"{layer._label}: input '{name}' holds strings (dtype string), which cannot enter the "
            f"compiled model; pass it through {_STRING_LAYERS} first: those run on the host"
        )
    others = [t for t in leaves if is_symbolic(t) and t is not args[0]] if args else leaves
    if len(args) != 1 or not is_symbolic(args[0]) or others:
        raise ValueError(
            f"{layer._label}: called on string input '{name}' with other tensors; a string layer "
            "inside a model takes exactly one string input"
        )
    spec = args[0]  # its shape per sample is the layer's to check (TextVectorization: () or (1,))
    own = getattr(layer, "_string_output_spec", None)
    out = own(tuple(spec.shape)) if own is not None else _probe_spec(layer, tuple(spec.shape))
    layer.built = True  # string layers have no weights: called on an input, they are ready
    return out


def _probe_spec(layer, shape):
    """The output spec of a string layer, found by running it on two small dummy batches (axes
    that differ between them are unknown)."""

    def run(n, fill):
        return np.asarray(
            _host_call(layer, np.full((n,) + tuple(fill if d is None else d for d in shape[1:]), "a", dtype=object))
        )

    a, b = run(2, 1), run(3, 2)
    if a.ndim != b.ndim:
        raise ValueError(f"{layer._label}: its output rank depends on the batch; it cannot feed a compiled model")
    out_shape = tuple(None if (i == 0 or x != y) else x for i, (x, y) in enumerate(zip(a.shape, b.shape)))
    return jax.ShapeDtypeStruct(out_shape, a.dtype)


symbolic._STRING_HANDLER[:] = [_string_call_spec]


def string_feeds(inputs, nodes, owner_label="Model"):
    """`(feeds, host_node_ids)` of a graph: per input, the tensor the compiled graph is fed (a
    string input's host-node output, otherwise the input itself), and the ids of the host nodes
    (run on the host, skipped by the compiled graph).

    Raises:
        ValueError: a string input that feeds no layer, or more than one.
    """
    feeds, host = [], set()
    for t in inputs:
        if t.dtype != STRING:
            feeds.append(t)
            continue
        users = [n for n in nodes if any(u is t for u in n.inbound())]
        if len(users) != 1:
            what = "no layer" if not users else f"{len(users)} layers ({', '.join(n.layer._label for n in users)})"
            raise ValueError(
                f"{owner_label}: string input '{_input_name(t)}' feeds {what}; it must feed "
                f"exactly one {_STRING_LAYERS[2:]} (use one Input per string layer)"
            )
        node = users[0]
        if not is_symbolic(node.outputs):
            raise ValueError(
                f"{owner_label}: {node.layer._label} on string input '{_input_name(t)}' must return one tensor"
            )
        feeds.append(node.outputs)
        host.add(id(node))
    return feeds, host


# --------------------------------------------------------------------------- running


def host_stage_layers(model) -> list:
    """The leading host-stage layers of a deferred `Sequential` model (empty for other models)."""
    layers = model.__dict__.get("_layers")
    if not isinstance(layers, list):
        return []
    out = []
    for layer in layers:
        if not getattr(layer, "_host_stage", False):
            break
        out.append(layer)
    return out


def _host_nodes(graph):
    """Per input of `graph`: the host node reading it, or None."""
    if graph is None or not getattr(graph, "host_nodes", None):
        return None
    by_output = {id(n.outputs): n for n in graph.nodes if id(n) in graph.host_nodes}
    return [by_output.get(id(f)) if f is not t else None for t, f in zip(graph.inputs, graph.feeds)]


def run_host_stage(model, x):
    """`x` through the model's host stage: raw strings become the numbers the compiled step
    takes; anything else passes unchanged (so the call is idempotent).

    Raises:
        ValueError: naming the input, when strings reach a numeric input, a string input gets
            numbers it cannot have come from its string layer, or a model without a string
            layer gets text.
    """
    graph = model.__dict__.get("_graph")
    if graph is not None:
        x = _adjust_ranks(graph, x)
    nodes = _host_nodes(graph)
    if nodes is not None:
        return _run_graph_stage(model, graph, nodes, x)
    if not is_raw_strings(x):
        if isinstance(x, dict) and any(is_raw_strings(v) for v in x.values()):
            bad = [k for k, v in x.items() if is_raw_strings(v)]
            raise ValueError(
                f"{model._label}: inputs {bad} are strings, but the model has no string input "
                "(declare one with jnet.Input(shape=(), dtype='string', name=...))"
            )
        return x
    stage = host_stage_layers(model)
    if not stage:
        raise ValueError(
            f"{model._label}: got strings, but the model does not start with a string layer "
            "(TextVectorization or StringLookup) to turn them into numbers"
        )
    for layer in stage:
        x = _host_call(layer, x)
    return np.asarray(x)


def _adjusted(value, shape):
    """`value` with Keras's one-axis rank fix for an input of `shape`: a trailing unit axis
    added (`(n,)` for `(None, 1)`) or dropped (`(n, 1)` for `(None,)`)."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, _SCALARS) for v in value):
        value = np.asarray(value)  # a batch of Python scalars, e.g. `[60]` for one sample
    if not hasattr(value, "shape") or not hasattr(value, "reshape"):
        return value
    rank = len(value.shape)
    if rank == len(shape) - 1 and shape[-1] == 1:
        return value.reshape(tuple(value.shape) + (1,))
    if rank == len(shape) + 1 and rank > 1 and value.shape[-1] == 1:
        return value.reshape(tuple(value.shape[:-1]))
    return value


def _adjust_ranks(graph, x):
    """Inputs one axis short of (or over) their `Input`'s rank by a unit axis, fixed as Keras's
    functional models do (`Functional._adjust_input_rank`): a batch of scalars `(n,)` feeds an
    `Input(shape=(1,))`."""
    if isinstance(x, dict):
        keys = graph.input_keys or graph.input_names
        shapes = dict(zip(keys, (t.shape for t in graph.inputs)))
        return {k: _adjusted(v, shapes[k]) if k in shapes else v for k, v in x.items()}
    n = len(graph.inputs)
    if n > 1 and isinstance(x, (list, tuple)) and len(x) == n:
        return type(x)(_adjusted(v, t.shape) for v, t in zip(x, graph.inputs))
    if n == 1:
        return _adjusted(x, graph.inputs[0].shape)
    return x


def _split(model, graph, x):
    """`(flat list per input, rebuild)`: `x` as the model accepts it (one value, a list, or a dict
    by input name), and a function putting a flat list back in the same form."""
    n = len(graph.inputs)
    if isinstance(x, dict):
        keys = graph.input_keys or graph.input_names
        if not all(k in x for k in keys):
            model._flat_inputs((x,))  # raises, naming the missing inputs
        return [x[k] for k in keys], lambda flat: {**x, **dict(zip(keys, flat))}
    if n > 1:
        if isinstance(x, (list, tuple)) and len(x) == n:
            return list(x), lambda flat: type(x)(flat) if isinstance(x, tuple) else list(flat)
        return None, None
    if isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], (np.ndarray, list, tuple)):
        return [x[0]], lambda flat: [flat[0]]
    return [x], lambda flat: flat[0]


def _run_graph_stage(model, graph, nodes, x):
    flat, rebuild = _split(model, graph, x)
    if flat is None:
        return x
    out = list(flat)
    for i, (t, node, value) in enumerate(zip(graph.inputs, nodes, flat)):
        name = _input_name(t)
        if node is None:
            if is_raw_strings(value):
                raise ValueError(
                    f"{model._label}: input '{name}' takes {t.dtype.name} values of shape {t.shape[1:]}, got strings"
                )
            continue
        if isinstance(value, str):
            raise ValueError(
                f"{model._label}: input '{name}' takes a batch of strings, got one string {value!r} (wrap it in a list)"
            )
        if is_raw_strings(value):
            out[i] = np.asarray(_host_call(node.layer, value))
            continue
        arr = np.asarray(value) if not hasattr(value, "shape") else value
        feed = graph.feeds[i]
        fits = len(arr.shape) == len(feed.shape) and all(d is None or d == s for d, s in zip(feed.shape, arr.shape))
        if not fits or np.dtype(arr.dtype).kind != np.dtype(feed.dtype).kind:
            raise ValueError(
                f"{model._label}: input '{name}' takes strings (dtype string), got an array of dtype "
                f"{arr.dtype} and shape {tuple(arr.shape)}"
            )
    return rebuild(out)
