"""The layer graph behind `jnet.Input` -> layer calls -> `jnet.Model`.

A `Graph` walks the nodes reachable from the outputs in topological order, names the layers
(unique within the graph, deterministic), and runs them inside the caller's variable scope.
Symbolic tensors and nodes live in `jnet.core.symbolic`.
"""

from __future__ import annotations

import itertools

import jax

from jnet.core.symbolic import Node, SymbolicTensor, call_signature, is_symbolic, spec_of  # noqa: F401
from jnet.layers.base import name_key, to_snake_case
from jnet.layers.input_layer import Input, InputLayer, make_input_tensor  # noqa: F401
from jnet.layers.preprocessing.host import string_feeds
from jnet.models.graph_inputs import cut_at_inputs, in_call_order

# --------------------------------------------------------------------------- the graph


def _flatten_io(structure, what: str):
    """Normalise model inputs/outputs to (list of tensors, keys or None, kind)."""
    if is_symbolic(structure):
        return [structure], None, "single"
    if isinstance(structure, dict):
        for k, v in structure.items():
            if not is_symbolic(v):
                raise TypeError(
                    f"Model {what}['{k}'] must be a symbolic tensor (from jnet.Input or a layer call), got {type(v).__name__}"
                )
        return list(structure.values()), list(structure.keys()), "dict"
    if isinstance(structure, (list, tuple)):
        for i, v in enumerate(structure):
            if not is_symbolic(v):
                raise TypeError(
                    f"Model {what}[{i}] must be a symbolic tensor (from jnet.Input or a layer call), got {type(v).__name__}"
                )
        return list(structure), None, "list"
    raise TypeError(f"Model {what} must be a symbolic tensor, a list or a dict of them, got {type(structure).__name__}")


def assign_names(layers, owner_label="Model"):
    """Make layer names unique within `layers` (`dense`, `dense_1`, ...), numbered in the order
    the layers were created (Keras's order, counted per model rather than per process). Explicit
    names and names a layer already got in another model stay; a fresh auto-named layer takes
    the next free name; two layers with the same fixed name are an error."""
    taken = {}
    fresh = []
    for layer in layers:
        if layer._auto_named and not layer._name_fixed:
            fresh.append(layer)
            continue
        other = taken.get(layer.name)
        if other is not None and other is not layer:
            if layer._auto_named:
                fresh.append(layer)
                continue
            raise ValueError(
                f"{owner_label}: duplicate layer name {layer.name!r} ({other._label} and "
                f"{type(layer).__name__}); layer names must be unique within a model"
            )
        taken[layer.name] = layer
    fresh.sort(key=lambda layer: layer.__dict__.get("_creation_index", -1))
    for layer in fresh:
        base = (
            "input_layer"
            if isinstance(layer, InputLayer)
            else (layer.__dict__.get("_default_name") or to_snake_case(type(layer).__name__))
        )
        if layer._name_fixed:
            base = layer.name
        name = next(n for n in itertools.chain([base], (f"{base}_{i}" for i in itertools.count(1))) if n not in taken)
        layer.name = name
        taken[name] = layer
    for layer in layers:
        layer._name_fixed = True


def keras_layer_order(layers, outputs):
    """`layers` in the order Keras's `map_graph` gives them: by depth (distance from the
    outputs, a layer taking the largest of its calls'), deepest first; ties in the order a
    depth-first walk from the outputs first reaches them. An input no output reads comes last."""
    post, done, first_seen = [], set(), {}
    for out in outputs:
        stack = [(out.node, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                post.append(node)
                continue
            first_seen.setdefault(id(node.layer), len(first_seen))
            stack.append((node, True))
            stack.extend((t.node, False) for t in reversed(node.inbound()) if id(t.node) not in done)
    node_depth, layer_depth = {}, {}
    for node in reversed(post):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        for t in node.inbound():
            node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    return sorted(layers, key=lambda layer: (-layer_depth.get(id(layer), 0), first_seen.get(id(layer), -1)))


class Graph:
    """The nodes between `inputs` and `outputs`, sorted, named and runnable."""

    def __init__(self, inputs, outputs, owner_label="Model"):
        self.owner_label = owner_label
        # Intermediate tensors as inputs (Keras allows them): a copy of the graph from fresh Inputs.
        inputs, outputs = cut_at_inputs(inputs, outputs)
        self.inputs, self.input_keys, self.input_kind = _flatten_io(inputs, "inputs")
        self.outputs, self.output_keys, self.output_kind = _flatten_io(outputs, "outputs")
        for i, t in enumerate(self.inputs):
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(
                    f"{owner_label}: inputs[{i}] must come from jnet.Input, got the output of {t.node.layer._label}"
                )
        self.nodes = self._sort()
        self.layers = self._unique_layers()
        self._assign_names()
        # Keras's `model.layers` order: deepest first. Legacy HDF5 weights load by this order and
        # Keras 3's weights files number same-class layers by it, so it must be Keras's exactly.
        self.layers = keras_layer_order(self.layers, self.outputs)
        # String inputs: the compiled graph is fed their string layer's output (run on the host).
        self.feeds, self.host_nodes = string_feeds(self.inputs, self.nodes, owner_label)
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
        """Specs of what the compiled graph is fed per input (a string input: its string
        layer's output); `fill` replaces unknown axes (None keeps them)."""
        return [
            jax.ShapeDtypeStruct(tuple(fill if (d is None and fill is not None) else d for d in t.shape), t.dtype)
            for t in self.feeds
        ]

    # ------------------------------------------------------------------ running

    def run(self, inputs, training=False, rng=None, input_masks=None):
        """`(outputs, output_masks)` for `inputs` (a list, one per input), inside the caller's
        variable scope."""
        values, masks = {}, {}
        for i, (t, x) in enumerate(zip(self.feeds, inputs)):
            values[id(t)] = x
            masks[id(t)] = None if input_masks is None else input_masks[i]
        for node in self.nodes:
            layer = node.layer
            if isinstance(layer, InputLayer) or id(node) in self.host_nodes:  # host nodes ran before
                continue
            args, kwargs = self._gather(node, values)
            node_training = kwargs.pop("training", training)
            explicit_mask = kwargs.pop("mask", None)
            mask = explicit_mask if explicit_mask is not None else self._gather_mask(node, masks)
            kwargs.update(self._argument_masks(node, masks, kwargs))
            layer_rng = None
            if rng is not None:
                layer_rng = jax.random.fold_in(name_key(rng, layer.name), self.call_index[id(node)])
            out, out_mask = layer._call_with_mask(args, kwargs, mask, training=node_training, rng=layer_rng)
            self._store(node, out, values)
            self._store_mask(node, out, out_mask, masks)
        outputs = [values[id(t)] for t in self.outputs]
        out_masks = [masks.get(id(t)) for t in self.outputs]
        return outputs, out_masks

    @staticmethod
    def _gather(node, values):
        def get(x):
            return values[id(x)] if is_symbolic(x) else x

        return in_call_order(get, node.args), in_call_order(get, node.kwargs)

    @staticmethod
    def _gather_mask(node, masks):
        """The mask tree matching the node's first argument (None when nothing is masked)."""
        if not node.args:
            return None
        tree = jax.tree_util.tree_map(
            lambda x: masks.get(id(x)) if is_symbolic(x) else None, node.args[0], is_leaf=is_symbolic
        )
        if all(m is None for m in jax.tree_util.tree_leaves(tree, is_leaf=lambda m: m is None)):
            return None
        return tree

    @staticmethod
    def _argument_masks(node, masks, kwargs) -> dict:
        """Masks of the 2nd, 3rd, ... positional tensors, passed as `<name>_mask` where the
        layer's `call` takes one (Keras: MHA's `value_mask`, `key_mask`)."""
        positional, names = call_signature(type(node.layer))
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
                {
                    "args": jax.tree_util.tree_map(ref, list(n.args), is_leaf=is_symbolic),
                    "kwargs": jax.tree_util.tree_map(ref, n.kwargs, is_leaf=is_symbolic),
                }
                for n in self.nodes
                if n.layer is layer and not isinstance(layer, InputLayer)
            ]
            layers.append({**serialize(layer), "name": layer.name, "inbound_nodes": calls})

        def io(tensors, keys):
            refs = [ref(t)["__tensor__"] for t in tensors]
            return dict(zip(keys, refs)) if keys else refs

        return {
            "layers": layers,
            "input_layers": io(self.inputs, self.input_keys)
            if self.input_kind != "single"
            else io(self.inputs, None)[0],
            "output_layers": io(self.outputs, self.output_keys)
            if self.output_kind != "single"
            else io(self.outputs, None)[0],
            "input_kind": self.input_kind,
            "output_kind": self.output_kind,
        }

    @staticmethod
    def from_config(config, custom_objects=None, safe_mode=True):
        """Rebuild `(inputs, outputs)` structures from `get_config()`'s output."""
        from jnet.serialization import deserialize

        created = {}  # layer name -> (layer, list of node outputs)
        for entry in config["layers"]:
            layer = deserialize(
                {"class_name": entry["class_name"], "config": entry["config"]}, custom_objects, safe_mode
            )
            layer.name = entry["name"]
            layer._name_fixed = True
            created[entry["name"]] = (layer, [], entry)
        for layer, outs, _ in created.values():
            if isinstance(layer, InputLayer):
                outs.append(make_input_tensor(layer))

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
