"""Symbolic tensors and the layer graph behind `jnet.Input` -> layer calls -> `jnet.Model`.

Calling a layer on symbolic tensors records a `Node` (the layer, its argument tree, its output
tree) and infers the output specs with `jax.eval_shape`. A `Graph` walks the nodes reachable
from the outputs in topological order, names the layers (unique within the graph,
deterministic), and runs them as one pure function.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.base import Layer, name_key, to_snake_case

# --------------------------------------------------------------------------- symbolic tensors


class SymbolicTensor:
    """A placeholder for an array in a model under construction: a shape (None for unknown
    axes), a dtype, and the node that produces it."""

    __slots__ = ("shape", "dtype", "node", "index", "__weakref__")

    def __init__(self, shape, dtype, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = jnp.dtype(dtype)
        self.node = node
        self.index = index

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def name(self):
        return self.node.layer.name if self.node is not None else None

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype.name} from={self.name!r}>"

    def __jax_array__(self):
        raise TypeError(
            "A symbolic tensor (from jnet.Input) cannot be used as an array. Wrap jnp operations "
            "in a jnet.layers.Lambda layer, or call layers on it."
        )


def is_symbolic(x) -> bool:
    return isinstance(x, SymbolicTensor)


def spec_of(x):
    if isinstance(x, SymbolicTensor):
        return jax.ShapeDtypeStruct(x.shape, x.dtype)
    return x


@dataclasses.dataclass(eq=False)
class Node:
    """One call of `layer` on `args`/`kwargs` (pytrees whose leaves may be symbolic)."""

    layer: Layer
    args: tuple
    kwargs: dict
    outputs: Any = None

    def inbound(self) -> list[SymbolicTensor]:
        return [t for t in jax.tree_util.tree_leaves((self.args, self.kwargs), is_leaf=is_symbolic) if is_symbolic(t)]


class InputLayer(Layer):
    """The layer behind `jnet.Input`: it has no params and passes its input through.

    Args:
        shape: shape of one sample, without the batch axis; `None` marks a variable axis.
        batch_size: optional fixed batch size.
        input_dtype: dtype of the input (float32 unless given: use "int32" for token ids).
    """

    shape: tuple = ()
    batch_size: Any = None
    input_dtype: Any = "float32"

    def check_config(self):
        if not isinstance(self.shape, (tuple, list)):
            raise TypeError(f"Input: shape must be a tuple, got {self.shape!r}")
        self.shape = tuple(None if d is None else int(d) for d in self.shape)
        for d in self.shape:
            if d is not None and d <= 0:
                raise ValueError(f"Input {self.name or ''}: axes must be positive or None, got shape {self.shape}")

    @property
    def batch_shape(self):
        return (self.batch_size,) + self.shape

    def call(self, params, x):
        return x


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):  # noqa: N802 - Keras name
    """A symbolic input for a graph model.

    Args:
        shape: shape of one sample, e.g. `(784,)`; `(None,)` is a variable-length sequence.
        batch_size: optional fixed batch size.
        dtype: dtype of the data fed here (default float32; `"int32"` for token ids).
        name: the input's name, used to feed it from a dict (`{"title": ...}`).
        batch_shape: the full shape including the batch axis (instead of shape/batch_size).

    Example:
    ```python
    title = jnet.Input(shape=(None,), dtype="int32", name="title")
    ```
    """
    if batch_shape is not None:
        batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
    if shape is None:
        raise ValueError("Input: pass shape= (one sample, without the batch axis)")
    if isinstance(shape, int):
        shape = (shape,)
    layer = InputLayer(shape=tuple(shape), batch_size=batch_size, input_dtype=jnp.dtype(dtype or "float32").name, name=name)
    node = Node(layer, (), {})
    tensor = SymbolicTensor(layer.batch_shape, layer.input_dtype, node, 0)
    node.outputs = tensor
    return tensor


@functools.lru_cache(maxsize=None)
def _call_signature(cls) -> tuple[tuple, frozenset]:
    """(positional argument names after `params`, all argument names) of `cls.call`."""
    call = getattr(cls, "call", None)
    if call is None:
        return (), frozenset()
    params = list(inspect.signature(call).parameters.values())[2:]  # self, params
    positional = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return positional, frozenset(p.name for p in params)


def _tensors_to_positional(layer, args, kwargs):
    """`mha(q, v, key=k)` -> `mha(q, v, k)`: tensors given by keyword for the next positional
    slot become positional, so `init`/`build` see every input spec."""
    positional, _ = _call_signature(type(layer))
    args, kwargs = list(args), dict(kwargs)
    while len(args) < len(positional) and is_symbolic(kwargs.get(positional[len(args)])):
        args.append(kwargs.pop(positional[len(args)]))
    return tuple(args), kwargs


def call_symbolic(layer: Layer, args: tuple, kwargs: dict):
    """Record `layer(*args, **kwargs)` on symbolic tensors; return symbolic outputs."""
    args, kwargs = _tensors_to_positional(layer, args, kwargs)
    arg_specs = jax.tree_util.tree_map(spec_of, args, is_leaf=is_symbolic)
    tensor_kwargs = {k: v for k, v in kwargs.items() if k not in ("training", "mask")}
    kw_specs = jax.tree_util.tree_map(spec_of, tensor_kwargs, is_leaf=is_symbolic)
    out_specs = layer.output_spec(*arg_specs, **kw_specs)
    node = Node(layer, tuple(args), dict(kwargs))
    leaves, treedef = jax.tree_util.tree_flatten(out_specs)
    outputs = [SymbolicTensor(s.shape, s.dtype, node, i) for i, s in enumerate(leaves)]
    node.outputs = jax.tree_util.tree_unflatten(treedef, outputs)
    return node.outputs


# --------------------------------------------------------------------------- the graph


def _flatten_io(structure, what: str):
    """Normalise model inputs/outputs to (list of tensors, keys or None, kind)."""
    if is_symbolic(structure):
        return [structure], None, "single"
    if isinstance(structure, dict):
        for k, v in structure.items():
            if not is_symbolic(v):
                raise TypeError(f"Model {what}['{k}'] must be a symbolic tensor (from jnet.Input or a layer call), got {type(v).__name__}")
        return list(structure.values()), list(structure.keys()), "dict"
    if isinstance(structure, (list, tuple)):
        for i, v in enumerate(structure):
            if not is_symbolic(v):
                raise TypeError(f"Model {what}[{i}] must be a symbolic tensor (from jnet.Input or a layer call), got {type(v).__name__}")
        return list(structure), None, "list"
    raise TypeError(f"Model {what} must be a symbolic tensor, a list or a dict of them, got {type(structure).__name__}")


def assign_names(layers, owner_label="Model"):
    """Give each unnamed layer a name unique among `layers` (`dense`, `dense_1`, ...) in order;
    two layers with the same explicit name are an error."""
    taken = {}
    for layer in layers:
        if layer.name is not None:
            if layer.name in taken and taken[layer.name] is not layer:
                raise ValueError(
                    f"{owner_label}: duplicate layer name {layer.name!r} "
                    f"({taken[layer.name]._label} and {type(layer).__name__}); layer names must be unique within a model"
                )
            taken[layer.name] = layer
    for layer in layers:
        if layer.name is None:
            base = "input_layer" if isinstance(layer, InputLayer) else to_snake_case(type(layer).__name__)
            name = next(n for n in itertools.chain([base], (f"{base}_{i}" for i in itertools.count(1))) if n not in taken)
            layer.name = name
            taken[name] = layer


class Graph:
    """The nodes between `inputs` and `outputs`, sorted, named and runnable."""

    def __init__(self, inputs, outputs, owner_label="Model"):
        self.owner_label = owner_label
        self.inputs, self.input_keys, self.input_kind = _flatten_io(inputs, "inputs")
        self.outputs, self.output_keys, self.output_kind = _flatten_io(outputs, "outputs")
        for i, t in enumerate(self.inputs):
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"{owner_label}: inputs[{i}] must come from jnet.Input, got the output of {t.node.layer._label}")
        self.nodes = self._sort()
        self.layers = self._unique_layers()
        self._assign_names()
        # The k-th call of a shared layer gets its own rng stream.
        counter = {}
        self.call_index = {}
        for node in self.nodes:
            k = counter.get(id(node.layer), 0)
            self.call_index[id(node)] = k
            counter[id(node.layer)] = k + 1

    def _sort(self):
        input_nodes = {id(t.node) for t in self.inputs}
        order, done, visiting = [], set(), set()

        def visit(node, path):
            if id(node) in done:
                return
            if id(node) in visiting:
                raise ValueError(f"{self.owner_label}: the graph has a cycle through {node.layer._label}")
            if isinstance(node.layer, InputLayer) and id(node) not in input_nodes:
                raise ValueError(
                    f"{self.owner_label}: output {path} depends on Input '{node.layer.name or 'unnamed'}' "
                    f"{node.outputs.shape}, which is not among the model's inputs"
                )
            visiting.add(id(node))
            for t in node.inbound():
                visit(t.node, path)
            visiting.discard(id(node))
            done.add(id(node))
            order.append(node)

        for t in self.inputs:
            visit(t.node, "input")
        for i, t in enumerate(self.outputs):
            label = repr(self.output_keys[i]) if self.output_keys else f"[{i}]"
            visit(t.node, label)
        return order

    def _unique_layers(self):
        seen, layers = set(), []
        for node in self.nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                layers.append(node.layer)
        return layers

    def _assign_names(self):
        assign_names(self.layers, self.owner_label)

    @property
    def input_names(self):
        return [t.node.layer.name for t in self.inputs]

    @property
    def output_names(self):
        if self.output_keys:
            return list(self.output_keys)
        return [t.node.layer.name for t in self.outputs]

    def input_specs(self, fill=None):
        """Specs of the inputs; `fill` replaces unknown axes (None keeps them)."""
        return [jax.ShapeDtypeStruct(tuple(fill if (d is None and fill is not None) else d for d in t.shape), t.dtype) for t in self.inputs]

    # ------------------------------------------------------------------ running

    def init(self, key):
        """Variables of every layer, keyed by layer name. Params depend only on known axes, so
        each layer is built on the specs recorded when the graph was made."""
        params, state = {}, {}
        for node in self.nodes:
            layer = node.layer
            if isinstance(layer, InputLayer) or layer.name in params or layer.name in state:
                continue
            args = jax.tree_util.tree_map(spec_of, node.args, is_leaf=is_symbolic)
            variables = layer.init(name_key(key, layer.name), *args)
            if variables["params"]:
                params[layer.name] = variables["params"]
            if variables["state"]:
                state[layer.name] = variables["state"]
        return {"params": params, "state": state}

    def run(self, variables, inputs, training=False, rng=None, input_masks=None):
        """`(outputs, output_masks, new_state)` for concrete `inputs` (a list, one per input)."""
        params = variables.get("params", {})
        old_state = variables.get("state", {})
        new_state = dict(old_state)
        values, masks = {}, {}
        for i, (t, x) in enumerate(zip(self.inputs, inputs)):
            values[id(t)] = x
            masks[id(t)] = None if input_masks is None else input_masks[i]
        for node in self.nodes:
            layer = node.layer
            if isinstance(layer, InputLayer):
                continue
            args, kwargs = self._gather(node, values)
            node_training = kwargs.pop("training", training)
            explicit_mask = kwargs.pop("mask", None)
            mask = explicit_mask if explicit_mask is not None else self._gather_mask(node, masks)
            kwargs.update(self._argument_masks(node, masks, kwargs))
            layer_rng = None
            if rng is not None:
                layer_rng = jax.random.fold_in(name_key(rng, layer.name), self.call_index[id(node)])
            layer_vars = {"params": params.get(layer.name, {}), "state": new_state.get(layer.name, {})}
            out, out_mask, st = layer.apply_with_mask(layer_vars, args, kwargs, mask, training=node_training, rng=layer_rng)
            if layer.name in old_state:
                new_state[layer.name] = st
            self._store(node, out, values)
            self._store_mask(node, out, out_mask, masks)
        outputs = [values[id(t)] for t in self.outputs]
        out_masks = [masks.get(id(t)) for t in self.outputs]
        return outputs, out_masks, new_state

    @staticmethod
    def _gather(node, values):
        def get(x):
            return values[id(x)] if is_symbolic(x) else x

        args = jax.tree_util.tree_map(get, node.args, is_leaf=is_symbolic)
        kwargs = jax.tree_util.tree_map(get, node.kwargs, is_leaf=is_symbolic)
        return args, kwargs

    @staticmethod
    def _gather_mask(node, masks):
        """The mask tree matching the node's first argument (None when nothing is masked)."""
        if not node.args:
            return None
        tree = jax.tree_util.tree_map(lambda x: masks.get(id(x)) if is_symbolic(x) else None, node.args[0], is_leaf=is_symbolic)
        if all(m is None for m in jax.tree_util.tree_leaves(tree, is_leaf=lambda m: m is None)):
            return None
        return tree

    @staticmethod
    def _argument_masks(node, masks, kwargs) -> dict:
        """Masks of the 2nd, 3rd, ... positional tensors, passed as `<name>_mask` where the
        layer's `call` takes one (Keras: MHA's `value_mask`, `key_mask`)."""
        positional, names = _call_signature(type(node.layer))
        extra = {}
        for name, arg in zip(positional[1:], node.args[1:]):
            key = f"{name}_mask"
            if key in names and kwargs.get(key) is None and is_symbolic(arg) and masks.get(id(arg)) is not None:
                extra[key] = masks[id(arg)]
        return extra

    @staticmethod
    def _store(node, out, values):
        for t, v in zip(jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic), jax.tree_util.tree_leaves(out)):
            values[id(t)] = v

    @staticmethod
    def _store_mask(node, out, out_mask, masks):
        tensors = jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic)
        if out_mask is None:
            return
        if len(tensors) == 1:
            masks[id(tensors[0])] = out_mask
            return
        mask_leaves = jax.tree_util.tree_leaves(out_mask, is_leaf=lambda m: m is None)
        if len(mask_leaves) == len(tensors):
            for t, m in zip(tensors, mask_leaves):
                masks[id(t)] = m

    # ------------------------------------------------------------------ config

    def get_config(self):
        """Keras-like functional config: layers with their inbound node references."""
        from jnet.serialization import serialize

        node_index = {}
        counts = {}
        for node in self.nodes:
            node_index[id(node)] = counts.get(id(node.layer), 0)
            counts[id(node.layer)] = node_index[id(node)] + 1

        def ref(t):
            if is_symbolic(t):
                return {"__tensor__": [t.node.layer.name, node_index[id(t.node)], t.index]}
            return t

        layers = []
        for layer in self.layers:
            calls = [
                {"args": jax.tree_util.tree_map(ref, list(n.args), is_leaf=is_symbolic),
                 "kwargs": jax.tree_util.tree_map(ref, n.kwargs, is_leaf=is_symbolic)}
                for n in self.nodes if n.layer is layer and not isinstance(layer, InputLayer)
            ]
            layers.append({**serialize(layer), "name": layer.name, "inbound_nodes": calls})

        def io(tensors, keys):
            refs = [ref(t)["__tensor__"] for t in tensors]
            return dict(zip(keys, refs)) if keys else refs

        return {
            "layers": layers,
            "input_layers": io(self.inputs, self.input_keys) if self.input_kind != "single" else io(self.inputs, None)[0],
            "output_layers": io(self.outputs, self.output_keys) if self.output_kind != "single" else io(self.outputs, None)[0],
            "input_kind": self.input_kind,
            "output_kind": self.output_kind,
        }

    @staticmethod
    def from_config(config, custom_objects=None, safe_mode=True):
        """Rebuild `(inputs, outputs)` structures from `get_config()`'s output."""
        from jnet.serialization import deserialize

        created = {}  # layer name -> (layer, list of node outputs)
        for entry in config["layers"]:
            layer = deserialize({"class_name": entry["class_name"], "config": entry["config"]}, custom_objects, safe_mode)
            layer.name = entry["name"]
            created[entry["name"]] = (layer, [], entry)
        for name, (layer, outs, _) in created.items():
            if isinstance(layer, InputLayer):
                node = Node(layer, (), {})
                node.outputs = SymbolicTensor(layer.batch_shape, layer.input_dtype, node, 0)
                outs.append(node.outputs)

        def tensor(ref):
            lname, k, i = ref
            _, outs, _ = created[lname]
            return jax.tree_util.tree_leaves(outs[k], is_leaf=is_symbolic)[i]

        def resolve(x):
            if isinstance(x, dict) and set(x) == {"__tensor__"}:
                return tensor(x["__tensor__"])
            if isinstance(x, dict):
                return {k: resolve(v) for k, v in x.items()}
            if isinstance(x, list):
                return [resolve(v) for v in x]
            return x

        # Replay calls until every node is made; a call waits for the tensors it reads, and a
        # shared layer's calls replay in their original order (node indices depend on it).
        pending = {name: list(entry["inbound_nodes"]) for name, (_, _, entry) in created.items()}
        while any(pending.values()):
            progress = False
            for name, calls in pending.items():
                while calls:
                    try:
                        args, kwargs = resolve(calls[0]["args"]), resolve(calls[0]["kwargs"])
                    except IndexError:
                        break
                    layer, outs, _ = created[name]
                    outs.append(layer(*args, **kwargs))
                    calls.pop(0)
                    progress = True
            if not progress:
                raise ValueError("Model config is inconsistent: some layer calls read tensors that are never made")

        def io(spec, kind):
            if kind == "single":
                return tensor(spec)
            if isinstance(spec, dict):
                return {k: tensor(v) for k, v in spec.items()}
            return [tensor(v) for v in spec]

        return io(config["input_layers"], config["input_kind"]), io(config["output_layers"], config["output_kind"])
