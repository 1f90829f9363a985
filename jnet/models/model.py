"""`jnet.Model`: a graph of layers that is itself a layer, plus the Keras facade.

The pure core is `init` / `apply` (a model is a layer, so models nest). The facade binds one set
of variables to the model so Keras code runs unchanged: `summary()`, `get_weights()`,
`model(x)`, and the training methods (`compile`, `fit`, ...) from `jnet.models.training`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import Layer, as_spec, is_spec_leaf
from jnet.models.functional import Graph, InputLayer, is_symbolic
from jnet.models.saving import SavingMixin
from jnet.models.training import TrainingMixin
from jnet.utils import rng as jrng

# Keras's weight order inside a layer (creation order there); dict keys lose order under jit.
WEIGHT_ORDER = (
    "kernel", "depthwise_kernel", "pointwise_kernel", "recurrent_kernel", "bias", "embeddings",
    "gamma", "beta", "moving_mean", "moving_variance", "alpha",
)


def ordered_keys(d: dict, order=WEIGHT_ORDER):
    """Keys of `d` in a layer's own `weight_order`, then Keras's usual order, then by name."""
    rank = {}
    for k in tuple(order) + WEIGHT_ORDER:
        rank.setdefault(k, len(rank))
    return sorted(d, key=lambda k: (rank.get(k, len(rank)), k))


def _ordered_leaves(tree, order=WEIGHT_ORDER) -> list:
    """Leaves in Keras order at every dict level (sublayers like MHA's `query` nest dicts)."""
    if isinstance(tree, dict):
        return [leaf for k in ordered_keys(tree, order) for leaf in _ordered_leaves(tree[k], order)]
    return jax.tree_util.tree_leaves(tree)


def _ordered_unflatten(tree, leaves: list, order=WEIGHT_ORDER):
    """Inverse of `_ordered_leaves`: consume `leaves` from the front into `tree`'s structure."""
    if isinstance(tree, dict):
        return {k: _ordered_unflatten(tree[k], leaves, order) for k in ordered_keys(tree, order)}
    flat, treedef = jax.tree_util.tree_flatten(tree)
    return jax.tree_util.tree_unflatten(treedef, [leaves.pop(0) for _ in flat])


def layer_weights(layer: Layer, variables: dict) -> list:
    """Keras-ordered list of a layer's arrays: params, then state."""
    if isinstance(layer, Model):
        return layer.weights_list(variables)
    order = getattr(layer, "weight_order", WEIGHT_ORDER)
    return _ordered_leaves(variables.get("params", {}), order) + _ordered_leaves(variables.get("state", {}), order)


def with_layer_weights(layer: Layer, variables: dict, weights: list) -> tuple[dict, list]:
    """Variables with arrays taken from the front of `weights` (Keras order); returns the rest."""
    if isinstance(layer, Model):
        return layer.with_weights(variables, weights, _partial=True)
    order = getattr(layer, "weight_order", WEIGHT_ORDER)
    new, weights = {}, list(weights)
    for part in ("params", "state"):
        tree = variables.get(part, {})
        old = _ordered_leaves(tree, order)
        taken, weights = weights[: len(old)], weights[len(old):]
        if len(taken) < len(old):
            raise ValueError(f"{layer._label}: too few weights given ({len(taken)} for {len(old)} {part} arrays)")
        for i, (o, w) in enumerate(zip(old, taken)):
            if tuple(np.shape(w)) != tuple(o.shape):
                raise ValueError(f"{layer._label}: {part} weight {i} expects shape {tuple(o.shape)}, got {tuple(np.shape(w))}")
        new[part] = _ordered_unflatten(tree, [jnp.asarray(w, o.dtype) for w, o in zip(taken, old)], order)
    return new, weights


class Model(TrainingMixin, SavingMixin, Layer):
    """A graph model: `jnet.Model(inputs, outputs)`.

    Args:
        inputs: a symbolic tensor from `jnet.Input`, or a list or dict of them.
        outputs: symbolic tensors computed from `inputs`: one, a list, or a dict by name.
        name: the model's name (default `"model"`, or `"sequential"` for `Sequential`).

    The model is itself a layer: `model.init(key)` gives `{"params", "state"}` keyed by layer
    name, and `model.apply(variables, *inputs, training=False, rng=None)` runs it purely, inside
    any `jax.jit` / `jax.grad` / `jax.vmap` of your own. Inputs may be given positionally, as a
    list, or as a dict keyed by input name.

    Example:
    ```python
    x = jnet.Input(shape=(784,))
    h = jnet.layers.Dense(32, activation="relu")(x)
    y = jnet.layers.Dense(10, activation="softmax")(h)
    model = jnet.Model(inputs=x, outputs=y)
    model.summary()
    ```
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, dtype=None):
        if inputs is None or outputs is None:
            raise TypeError(
                "jnet.Model needs inputs= and outputs= (symbolic tensors from jnet.Input and layer "
                "calls). Subclassed models with a call() method are not supported yet."
            )
        self._init_base(name, trainable, dtype)
        self._set_graph(Graph(inputs, outputs, owner_label=self._label))

    def _init_base(self, name, trainable, dtype):
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name
        self._auto_named = name is None
        self.trainable = trainable
        self.dtype = dtype
        self.input_shape = None
        self.input_dim = None
        self._graph = None
        self._variables = None

    def _set_graph(self, graph):
        self._graph = graph
        self._variables = None

    # ------------------------------------------------------------------ structure

    def _require_graph(self):
        if self._graph is None:
            raise ValueError(
                f"{self._label} is not built yet: give the first layer input_shape=, start with a "
                "jnet.Input, or call build(input_shape) / fit / predict on data first"
            )
        return self._graph

    @property
    def layers(self) -> list:
        return list(self._require_graph().layers)

    @property
    def inputs(self):
        return list(self._require_graph().inputs)

    @property
    def outputs(self):
        return list(self._require_graph().outputs)

    @property
    def input_names(self) -> list:
        return self._require_graph().input_names

    @property
    def output_names(self) -> list:
        return self._require_graph().output_names

    @property
    def built(self) -> bool:
        return self._graph is not None

    def get_layer(self, name=None, index=None):
        """The layer called `name` (or at position `index` in `layers`)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"{self._label}: layer index {index} out of range (model has {len(layers)} layers)")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self._label}: no layer named {name!r}. Layers: {[l.name for l in layers]}")

    # ------------------------------------------------------------------ layer protocol

    def init(self, key=None, *example_inputs) -> dict:
        """`{"params", "state"}` for the whole model. `key` defaults to the next key of the
        global seed (`jnet.utils.set_random_seed`). Example inputs are optional when the
        input shapes are known, and build a deferred `Sequential` when they are not."""
        if example_inputs:
            self._ensure_graph(example_inputs)
        graph = self._require_graph()
        if key is None:
            key = jrng.next_key()
        return graph.init(key)

    def _init_unchecked(self, key, *specs):
        return self.init(key, *specs)

    def _ensure_graph(self, example_inputs):
        """Check example inputs against the graph (a deferred Sequential builds here)."""
        specs = jax.tree_util.tree_map(as_spec, example_inputs, is_leaf=is_spec_leaf)
        self._check_specs(self._flat_inputs(specs))

    def apply(self, variables, *inputs, training=False, rng=None, mask=None, **kwargs):
        if kwargs:
            raise TypeError(f"{self._label}.apply got unexpected keyword arguments {sorted(kwargs)}")
        outputs, _, state = self._run(variables, inputs, training, rng, mask)
        return outputs, state

    def apply_with_mask(self, variables, args, kwargs, mask, training=False, rng=None):
        outputs, masks, state = self._run(variables, args, training, rng, mask)
        graph = self._graph
        out_mask = masks[0] if graph.output_kind == "single" else self._structure(masks)
        if all(m is None for m in masks):
            out_mask = None
        return outputs, out_mask, state

    def _run(self, variables, inputs, training, rng, mask):
        self._ensure_graph(inputs)
        graph = self._graph
        flat = self._flat_inputs(inputs)
        flat = [jnp.asarray(x) for x in flat]
        flat = [x if x.dtype == t.dtype else x.astype(t.dtype) for x, t in zip(flat, graph.inputs)]
        masks = None
        if mask is not None:
            masks = [mask] if len(graph.inputs) == 1 else list(self._flat_inputs((mask,)))
        outputs, out_masks, state = graph.run(variables, flat, training=training, rng=rng, input_masks=masks)
        return self._structure(outputs), out_masks, state

    def _flat_inputs(self, inputs) -> list:
        """Positional, list or dict-by-name inputs -> a list in the order of `self.inputs`."""
        graph = self._require_graph()
        n = len(graph.inputs)
        if len(inputs) == 1 and isinstance(inputs[0], dict):
            given = inputs[0]
            names = graph.input_keys or graph.input_names
            missing = [k for k in names if k not in given]
            extra = [k for k in given if k not in names]
            if missing or extra:
                raise ValueError(
                    f"{self._label}: input dict keys {sorted(given)} do not match the model's inputs {names}"
                    + (f"; missing {missing}" if missing else "") + (f"; unexpected {extra}" if extra else "")
                )
            return [given[k] for k in names]
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) and n > 1:
            inputs = tuple(inputs[0])
        if len(inputs) != n:
            raise ValueError(f"{self._label} expects {n} input(s) {graph.input_names}, got {len(inputs)}")
        return list(inputs)

    def _check_specs(self, flat):
        graph = self._require_graph()
        for x, t, name in zip(flat, graph.inputs, graph.input_names):
            shape = tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
            ok = len(shape) == len(t.shape) and all(d is None or d == s for d, s in zip(t.shape, shape))
            if not ok:
                raise ValueError(f"{self._label}: input '{name}' expects shape {t.shape}, got {shape}")

    def _structure(self, flat: list):
        graph = self._graph
        if graph.output_kind == "single":
            return flat[0]
        if graph.output_kind == "dict":
            return dict(zip(graph.output_keys, flat))
        return list(flat)

    def output_spec(self, *input_specs, **kwargs):
        if self._graph is None and input_specs:
            self._ensure_graph(input_specs)
        graph = self._require_graph()
        if not input_specs:
            return self._structure([jax.ShapeDtypeStruct(t.shape, t.dtype) for t in graph.outputs])
        return super().output_spec(*input_specs, **kwargs)

    def penalty(self, params):
        total = 0.0
        for layer in self.layers:
            if layer.name in params:
                total = total + layer.penalty(params[layer.name])
        return total

    def constrain(self, params):
        """`params` with every layer's weight constraints applied (`kernel_constraint=`, ...)."""
        out = dict(params)
        for layer in self.layers:
            if layer.name in params:
                out[layer.name] = layer.constrain(params[layer.name])
        return out

    def trainable_mask(self, params):
        """A pytree of bools over `params`: False where a layer (or this model) is frozen."""
        mask = {}
        for layer in self.layers:
            if layer.name not in params:
                continue
            if isinstance(layer, Model):
                sub = layer.trainable_mask(params[layer.name])
            else:
                sub = jax.tree_util.tree_map(lambda _: bool(layer.trainable), params[layer.name])
            mask[layer.name] = jax.tree_util.tree_map(lambda m: m and bool(self.trainable), sub)
        return mask

    # ------------------------------------------------------------------ bound variables

    @property
    def variables(self) -> dict:
        """The model's current `{"params", "state"}` (built on first use). During `fit` these are
        the live training arrays (no copy; the next step donates them)."""
        live = self._live_variables()
        if live is not None:
            return live
        if self._variables is None:
            # One compiled init for the whole model: eager init compiles every initializer
            # separately (seconds for a CNN); `init` itself stays a plain pure function.
            self._variables = jax.jit(self._require_graph().init)(jrng.next_key())
        return self._variables

    @variables.setter
    def variables(self, value):
        if not self._set_live_variables(value):
            self._variables = value

    def build(self, input_shape=None):
        """Create the variables (Keras `build`); `input_shape` includes the batch axis."""
        if input_shape is not None and self._graph is None:
            shapes = input_shape if isinstance(input_shape, list) else [input_shape]
            self._ensure_graph(tuple(jax.ShapeDtypeStruct(tuple(s), jnp.float32) for s in shapes))
        return self.variables

    def weights_list(self, variables=None) -> list:
        variables = self.variables if variables is None else variables
        out = []
        for layer in self.layers:
            if isinstance(layer, InputLayer):
                continue
            sub = {part: variables.get(part, {}).get(layer.name, {}) for part in ("params", "state")}
            out.extend(layer_weights(layer, sub))
        return out

    def with_weights(self, variables, weights, _partial=False):
        new = {"params": dict(variables.get("params", {})), "state": dict(variables.get("state", {}))}
        weights = list(weights)
        for layer in self.layers:
            if isinstance(layer, InputLayer):
                continue
            sub = {part: variables.get(part, {}).get(layer.name, {}) for part in ("params", "state")}
            sub_new, weights = with_layer_weights(layer, sub, weights)
            for part in ("params", "state"):
                if layer.name in new[part]:
                    new[part][layer.name] = sub_new[part]
        if _partial:
            return new, weights
        if weights:
            raise ValueError(f"{self._label}: {len(weights)} more weights given than the model has")
        return new

    def get_weights(self) -> list:
        """All arrays as numpy, in Keras's order (layer by layer; kernel before bias)."""
        return [np.asarray(w) for w in self.weights_list()]

    def set_weights(self, weights):
        """Replace all arrays from a list in `get_weights()` order (shapes are checked)."""
        self.variables = self.with_weights(self.variables, weights)

    def count_params(self) -> int:
        shapes = jax.eval_shape(self.init, jax.random.key(0))
        return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(shapes["params"])))

    def summary(self, line_length=None, expand_nested=False, print_fn=None):
        """Print a Keras-like table of layers, output shapes and param counts."""
        from jnet.utils.summary import print_summary

        print_summary(self, line_length=line_length, expand_nested=expand_nested, print_fn=print_fn)

    def __call__(self, *args, **kwargs):
        leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
        if any(is_symbolic(leaf) for leaf in leaves):
            return super().__call__(*args, **kwargs)
        training = kwargs.pop("training", False)
        if kwargs:
            raise TypeError(f"{self._label}() got unexpected keyword arguments {sorted(kwargs)}")
        self._ensure_graph(args)
        return self.apply(self.variables, *args, training=training)[0]

    # ------------------------------------------------------------------ config

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype, **self._require_graph().get_config()}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        inputs, outputs = Graph.from_config(config, custom_objects, safe_mode)
        return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True), dtype=config.get("dtype"))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"
