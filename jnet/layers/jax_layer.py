"""`JaxLayer`: a pure JAX function pair (`init_fn`, `call_fn`) as a layer, Keras 3's
`keras.layers.JaxLayer`. Each leaf of the `params` pytree becomes a trainable weight, each
leaf of `state` a non-trainable one; `call_fn` gets the pytrees back, rebuilt from the
weights' current values."""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import Layer, _fill_specs, is_spec_leaf
from jnet.serialization import registered_name

__all__ = ["JaxLayer"]

_CALL_ARGS = ("params", "state", "rng", "inputs", "training")
_INIT_ARGS = ("rng", "inputs", "training")


def _signature(label, fn, fn_name, allowed):
    if not callable(fn):
        raise ValueError(f"{label}: {fn_name} must be a function, got {fn!r}")
    names = list(inspect.signature(fn).parameters)
    if "inputs" not in names:
        raise ValueError(f"{label}: {fn_name} must take an argument named 'inputs'")
    for n in names:
        if n not in allowed:
            raise ValueError(
                f"{label}: {fn_name} has an unsupported argument {n!r}; its arguments must be named "
                f"from {', '.join(allowed)}"
            )
    return names


def _constant(value):
    """An initializer returning `value` (a leaf of the `params`/`state` given at construction)."""

    def init(key, shape, dtype):
        return jnp.asarray(value, dtype)

    return init


def _function_config(fn):
    if fn is None:
        return None
    name = registered_name(fn)
    return {"module": None, "class_name": "function", "config": name, "registered_name": name}


class JaxLayer(Layer):
    """Wraps a pure JAX model, given as functions, as a layer.

    Args:
        call_fn: `call_fn(params, state, rng, inputs, training)`, taking any subset of these
            argument names (`inputs` required, matched by name as Keras does). Returns the
            outputs, or `(outputs, new_state)` when it takes `state`.
        init_fn: `init_fn(rng, inputs, training)` (`inputs` required): returns the initial
            `params`, or `(params, state)` when `call_fn` takes `state`. Called with ones
            shaped like the inputs (unknown sizes 1) and `training=True`.
        params, state: initial pytrees instead of `init_fn`.
        seed: optional int folded into the key given to `call_fn` (and `init_fn`).

    `rng` is a `jax.random` key while training (from `fit`'s per-step key, or the `rng` given to
    `apply`) and None at inference, as in Keras.

    Config: `call_fn` and `init_fn` are saved by name; register them
    (`@jnet.saving.register_keras_serializable()`) to load the layer back.

    Example:
    ```python
    def init_fn(rng, inputs):
        return {"w": jax.random.normal(rng, (inputs.shape[-1], 4)) * 0.1, "b": jnp.zeros(4)}

    def call_fn(params, inputs):
        return inputs @ params["w"] + params["b"]

    layer = jnet.layers.JaxLayer(call_fn, init_fn)
    ```
    """

    call_fn: Any
    init_fn: Any = None
    params: Any = None
    state: Any = None
    seed: Any = None

    def check_config(self):
        self._call_args = _signature(self._label, self.call_fn, "call_fn", _CALL_ARGS)
        if self.init_fn is not None:
            self._init_args = _signature(self._label, self.init_fn, "init_fn", _INIT_ARGS)
        uses = "params" in self._call_args or "state" in self._call_args
        if uses and self.init_fn is None and self.params is None and self.state is None:
            raise ValueError(f"{self._label}: call_fn takes params or state, so give init_fn, params or state")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"{self._label}: seed must be an int or None, got {self.seed!r}")

    def _key(self, key):
        return key if self.seed is None else jax.random.fold_in(key, self.seed)

    def _init_trees(self, key, specs):
        args = []
        for name in self._init_args:
            if name == "rng":
                args.append(self._key(key))
            elif name == "inputs":
                args.append(
                    jax.tree_util.tree_map(lambda s: jnp.ones(s.shape, jnp.float32), specs, is_leaf=is_spec_leaf)
                )
            else:
                args.append(True)
        result = self.init_fn(*args)
        return tuple(result) if "state" in self._call_args else (result, None)

    def build(self, input_shape):
        given = self.params is not None or self.state is not None
        if given:
            trees = (self.params, self.state)
            shapes = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.asarray(a).dtype), trees)
        elif self.init_fn is not None and ("params" in self._call_args or "state" in self._call_args):
            specs = _fill_specs(self.__dict__["_build_specs"], 1)
            specs = specs[0] if len(specs) == 1 else specs
            shapes = jax.eval_shape(lambda k: self._init_trees(k, specs), jax.random.key(0))
        else:
            shapes = (None, None)
        self._treedefs = []
        for part, tree in zip(("params", "state"), shapes):
            leaves, treedef = jax.tree_util.tree_flatten(tree)
            self._treedefs.append(treedef)
            for i, leaf in enumerate(leaves):
                if given:
                    init = _constant(jax.tree_util.tree_leaves((self.params, self.state)[part == "state"])[i])
                else:

                    def init(key, shape, dtype, part=part, i=i, specs=specs):
                        tree = self._init_trees(key, specs)[part == "state"]
                        return jnp.asarray(jax.tree_util.tree_leaves(tree)[i], dtype)

                dtype = leaf.dtype if not jnp.issubdtype(leaf.dtype, jnp.floating) else None
                self.add_weight(tuple(leaf.shape), init, dtype=dtype, trainable=part == "params", name=f"{part}_{i}")

    def _trees(self):
        own = self._own_variables()
        params = [v.value for v in own if v.trainable]
        state = [v.value for v in own if not v.trainable]
        return (
            jax.tree_util.tree_unflatten(self._treedefs[0], params),
            jax.tree_util.tree_unflatten(self._treedefs[1], state),
        )

    def call(self, inputs, training=False, rng=None):
        params, state = self._trees()
        values = {
            "params": params,
            "state": state,
            "inputs": inputs,
            "training": bool(training),
            "rng": self._key(rng) if (training and rng is not None) else None,
        }
        out = self.call_fn(*(values[name] for name in self._call_args))
        if "state" not in self._call_args:
            return out
        out, new_state = out
        new_leaves, treedef = jax.tree_util.tree_flatten(new_state)
        if treedef != self._treedefs[1]:
            raise ValueError(f"{self._label}: call_fn returned a state shaped {treedef}, expected {self._treedefs[1]}")
        for var, value in zip([v for v in self._own_variables() if not v.trainable], new_leaves):
            var.assign(value)
        return out

    def get_config(self):
        if self.params is not None or self.state is not None:
            raise TypeError(
                f"{self._label}: a JaxLayer made from params/state arrays cannot be saved as config; "
                "give an init_fn, or save the weights and rebuild it in code"
            )
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "seed": self.seed,
            "call_fn": _function_config(self.call_fn),
            "init_fn": _function_config(self.init_fn),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        from jnet.serialization import deserialize

        config = dict(config)
        for key in ("call_fn", "init_fn"):
            if isinstance(config.get(key), dict):
                config[key] = deserialize(config[key], custom_objects)
        config.pop("native_serialization_platforms", None)
        return cls(**config)
