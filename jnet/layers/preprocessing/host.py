"""The host stage: string layers run on the host, before the compiled step.

Strings cannot enter an XLA computation, so a model that reads raw text splits in two:

- **Graph models** (and a Sequential that starts with a string `jnet.Input`): the *host part*
  is every node that reads a string tensor: string layers (`TextVectorization`, `StringLookup`,
  `Hashing`: any layer with `_host_stage` or `_string_inputs`) and the shape ops before them
  (`ops.expand_dims`, `reshape`, `squeeze`, `concatenate`, `stack`, indexing, ...; see
  `jnet.ops._strings`). `run_host_stage` runs those nodes eagerly on the raw strings (vectorised,
  with numpy), and the compiled graph is fed their numeric outputs in place of the string inputs
  (`Graph.feeds`, from `HostPlan`), skipping them. A string input with one numeric host output
  is fed that tensor; with several (one input into two lookups) they travel packed side by side
  in one `(batch, width)` array (`PackedFeed`), so the engine still sees one array per input. A
  string tensor reaching any other layer or op is an error when the model is built, naming the
  layer and the input.
- **A deferred Sequential** (no `Input`) whose first layers are string layers: those leading
  layers run on the raw batch; the model is then built from their numeric output and, inside
  the compiled graph, they pass it through unchanged.

`fit`, `evaluate`, `predict`, the on-batch methods and `model(x)` pass raw inputs through
`run_host_stage`. It is idempotent (already-processed inputs pass unchanged), so nested calls
of those methods cost nothing more.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet.core import symbolic
from jnet.core.symbolic import STRING, is_symbolic
from jnet.layers.preprocessing._common import dense_outputs
from jnet.ops._strings import STRING_OPS

__all__ = ["host_stage_layers", "run_host_stage", "is_raw_strings", "takes_strings", "host_plan", "PackedFeed"]

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
    """The name of the `Input` a string tensor comes from (through ops before it)."""
    while t.node is not None and t.node.inbound():
        t = next((u for u in t.node.inbound() if u.dtype == STRING), t.node.inbound()[0])
    return t.node.layer.name if t.node is not None else "?"


# --------------------------------------------------------------------------- building


def _is_op(layer) -> bool:
    from jnet.layers.op_layer import OpLayer

    return isinstance(layer, OpLayer)


def _string_call_spec(layer, args, kwargs):
    """Output specs of `layer` called on a string tensor (registered with jnet.core.symbolic)."""
    leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
    strings = [t for t in leaves if is_symbolic(t) and t.dtype == STRING]
    name = _input_name(strings[0])
    if _is_op(layer) and (layer.op == "getitem" or layer.op.rsplit(".", 1)[-1] in STRING_OPS):
        return _op_spec(layer, args, kwargs, leaves, name)
    if not takes_strings(layer):
        raise ValueError(
            f"{layer._label}: input '{name}' holds strings (dtype string), which cannot enter the "
            f"compiled model; pass it through {_STRING_LAYERS} first: those run on the host "
            f"(of jnet.ops, only {', '.join(sorted(STRING_OPS))} and indexing take strings)"
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


def _dummy(t, n, fill):
    return np.full((n,) + tuple(fill if d is None else d for d in t.shape[1:]), "a", dtype=object)


def _op_spec(layer, args, kwargs, leaves, name):
    """The string output spec of a shape op on string tensors, found by running it with numpy
    on two small dummy batches (axes that differ between them are unknown)."""
    if any(is_symbolic(t) and t.dtype != STRING for t in leaves):
        raise ValueError(
            f"{layer._label}: mixes string input '{name}' with numeric tensors; an op on strings "
            "runs on the host and takes only strings"
        )

    def run(n, fill):
        a, k = jax.tree_util.tree_map(
            lambda t: _dummy(t, n, fill) if is_symbolic(t) else t, (args, kwargs), is_leaf=is_symbolic
        )
        try:
            return np.asarray(layer.call(*a, **k))
        except (ValueError, TypeError, IndexError) as e:
            raise ValueError(f"{layer._label} on string input '{name}': {e}") from None

    a, b = run(2, 1), run(3, 2)
    if a.ndim != b.ndim:
        raise ValueError(f"{layer._label}: its output rank depends on the batch; it cannot run in a model")
    layer.built = True
    return jax.ShapeDtypeStruct(_merged_shape(a.shape, b.shape), STRING)


def _merged_shape(a, b):
    return tuple(None if (i == 0 or x != y) else x for i, (x, y) in enumerate(zip(a, b)))


def _probe_spec(layer, shape):
    """The output spec of a string layer, found by running it on two small dummy batches (axes
    that differ between them are unknown)."""

    value = _probe_value(layer)

    def run(n, fill):
        return np.asarray(
            _host_call(layer, np.full((n,) + tuple(fill if d is None else d for d in shape[1:]), value, dtype=object))
        )

    a, b = run(2, 1), run(3, 2)
    if a.ndim != b.ndim:
        raise ValueError(f"{layer._label}: its output rank depends on the batch; it cannot feed a compiled model")
    return jax.ShapeDtypeStruct(_merged_shape(a.shape, b.shape), a.dtype)


def _probe_value(layer) -> str:
    """A string the layer accepts: a vocabulary term where it has one (a lookup without OOV
    indices rejects anything else)."""
    vocabulary = layer.get_vocabulary() if hasattr(layer, "get_vocabulary") else None
    if vocabulary:
        term = vocabulary[-1]
        return term.decode() if isinstance(term, bytes) else str(term)
    return "a"


symbolic._STRING_HANDLER[:] = [_string_call_spec]


def _carrier(dtype):
    """The 32-bit type a host output travels in when packed: float32 for floats, else int32."""
    return np.dtype(np.float32) if jnp.issubdtype(dtype, jnp.floating) else np.dtype(np.int32)


class PackedFeed:
    """What the compiled graph is fed for a string input whose host part yields several numeric
    tensors (or none, when its strings join another input's first): each one flattened per
    sample, side by side in one `(batch, width)` array. Floats and integers share it as 32-bit
    words (floats bit-cast to int32 when both occur), so each value arrives exactly.

    Attributes:
        parts: the host nodes' numeric outputs it carries (symbolic tensors, fixed shape per sample).
        shape, dtype: the packed array's, as the engine sees it (like a symbolic tensor's).
    """

    def __init__(self, parts):
        self.parts = list(parts)
        self.sizes = [int(np.prod(t.shape[1:], dtype=np.int64)) for t in self.parts]
        carriers = [_carrier(t.dtype) for t in self.parts]
        self.carriers = carriers
        self.dtype = np.dtype(np.float32) if carriers and all(c == np.float32 for c in carriers) else np.dtype(np.int32)
        self.shape = (None, sum(self.sizes))

    def pack(self, values, n) -> np.ndarray:
        """The `(n, width)` array holding `values` (one numpy array per part)."""
        cols = []
        for t, v, carrier in zip(self.parts, values, self.carriers):
            v = np.asarray(v)
            if tuple(v.shape[1:]) != tuple(t.shape[1:]) or len(v) != n:
                raise ValueError(
                    f"{t.node.layer._label}: gave shape {v.shape} on the host, expected {(n,) + tuple(t.shape[1:])}"
                )
            v = v.reshape(n, -1).astype(carrier)
            cols.append(v.view(np.int32) if carrier != self.dtype else v)
        return np.concatenate(cols, axis=1) if cols else np.zeros((n, 0), self.dtype)

    def unpack(self, x) -> list:
        """The parts back from a packed (jax) array, each with its tensor's shape and dtype."""
        out, start = [], 0
        for t, size, carrier in zip(self.parts, self.sizes, self.carriers):
            v = x[:, start : start + size]
            start += size
            if carrier != self.dtype:
                v = jax.lax.bitcast_convert_type(v, carrier)
            v = v.reshape((x.shape[0],) + tuple(t.shape[1:]))
            target = jax.dtypes.canonicalize_dtype(t.dtype)
            out.append(v if v.dtype == target else v.astype(target))
        return out


class HostPlan:
    """The host part of a graph: every node that reads a string tensor (string layers and the
    shape ops before them), run in order on the host, and per input what the compiled graph
    is fed instead (`feeds`).

    A string input's feed is the numeric output of its host part: that tensor itself when there
    is one, else a `PackedFeed` of them all. A numeric output that depends on several string
    inputs (their strings joined first) travels with the first of them.

    Raises:
        ValueError: a string input that feeds no layer, a string tensor among the model's
            outputs, or a packed output of unknown size per sample.
    """

    def __init__(self, inputs, nodes, outputs, owner_label="Model"):
        position = {id(t): i for i, t in enumerate(inputs) if t.dtype == STRING}
        self.strings = sorted(position.values())
        self.nodes, roots = [], {}
        for node in nodes:
            inbound = node.inbound()
            if not any(t.dtype == STRING for t in inbound):
                continue
            r = set()
            for t in inbound:
                r |= {position[id(t)]} if id(t) in position else roots.get(id(t.node), set())
            roots[id(node)] = r
            self.nodes.append(node)
        self.node_ids = {id(n) for n in self.nodes}
        out_ids = {id(t) for t in outputs}
        parts = {i: [] for i in self.strings}
        for node in self.nodes:
            for t in jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic):
                if t.dtype == STRING:
                    if id(t) in out_ids:
                        raise ValueError(
                            f"{owner_label}: output {node.layer._label} holds strings; a model's outputs are "
                            f"numbers (pass them through {_STRING_LAYERS[2:]} first)"
                        )
                    continue
                parts[min(roots[id(node)])].append(t)
        self.feeds = list(inputs)
        for i in self.strings:
            t, name = inputs[i], _input_name(inputs[i])
            if id(t) in out_ids or not any(i in r for r in roots.values()):
                raise ValueError(
                    f"{owner_label}: string input '{name}' feeds no layer; pass it through {_STRING_LAYERS[2:]} "
                    "(strings cannot be a model's output)"
                )
            if len(parts[i]) == 1:
                self.feeds[i] = parts[i][0]
                continue
            for p in parts[i]:
                if any(d is None for d in p.shape[1:]):
                    raise ValueError(
                        f"{owner_label}: string input '{name}' feeds several string layers, and "
                        f"{p.node.layer._label} gives shape {p.shape} (an axis of unknown size), so its output "
                        "cannot travel with the others; give it a fixed size (e.g. output_sequence_length) "
                        "or read these strings from their own Input"
                    )
            self.feeds[i] = PackedFeed(parts[i])


def host_plan(inputs, nodes, outputs, owner_label="Model") -> HostPlan:
    """The `HostPlan` of a graph (see there)."""
    return HostPlan(inputs, nodes, outputs, owner_label)


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
    plan = getattr(graph, "host_plan", None)
    if plan is not None and plan.nodes:
        return _run_graph_stage(model, graph, plan, x)
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


def _run_graph_stage(model, graph, plan, x):
    flat, rebuild = _split(model, graph, x)
    if flat is None:
        return x
    raw = []
    for i, (t, value) in enumerate(zip(graph.inputs, flat)):
        name = _input_name(t)
        if t.dtype != STRING:
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
            raw.append(i)
            continue
        arr = np.asarray(value) if not hasattr(value, "shape") else value
        feed = graph.feeds[i]
        fits = len(arr.shape) == len(feed.shape) and all(d is None or d == s for d, s in zip(feed.shape, arr.shape))
        if not fits or np.dtype(arr.dtype).kind != np.dtype(feed.dtype).kind:
            raise ValueError(
                f"{model._label}: input '{name}' takes strings (dtype string), got an array of dtype "
                f"{arr.dtype} and shape {tuple(arr.shape)}"
            )
    if not raw:
        return x
    if len(raw) != len(plan.strings):
        given = [graph.input_names[i] for i in raw]
        processed = [graph.input_names[i] for i in plan.strings if i not in raw]
        raise ValueError(
            f"{model._label}: string inputs {given} got strings but {processed} got numbers; give every "
            "string input its raw strings"
        )
    values = {id(graph.inputs[i]): flat[i] for i in raw}
    for node in plan.nodes:
        args, kwargs = jax.tree_util.tree_map(
            lambda t: values[id(t)] if is_symbolic(t) else t, (node.args, node.kwargs), is_leaf=is_symbolic
        )
        out = node.layer.call(*args, **kwargs) if _is_op(node.layer) else _host_call(node.layer, args[0])
        for t, v in zip(jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic), jax.tree_util.tree_leaves(out)):
            values[id(t)] = v
    out = list(flat)
    for i in raw:
        feed = graph.feeds[i]
        if isinstance(feed, PackedFeed):
            out[i] = feed.pack([values[id(p)] for p in feed.parts], len(flat[i]))
        else:
            out[i] = np.asarray(values[id(feed)])
    return rebuild(out)
