"""`FlaxLayer`: a Flax module (Linen or NNX) as a jnet layer, so it sits in a graph and trains.

Linen: `module.init` builds the variables; the `"params"` collection becomes the layer's params
and every other collection (`"batch_stats"`, ...) its state, updated in training (the mutable
collections of `module.apply`). NNX: the module is split with `nnx.split`; `nnx.Param`s are
the params, every other variable the state; it is merged back for each call.

`training` is passed to the module as its `deterministic` (inverted), `train` or `training`
keyword when its `__call__` takes one; the jnet `rng` feeds the module's `"dropout"` stream.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import Layer, _fill_specs, is_spec_leaf, serialize_value
from jnet.serialization import get_registered, registered_name
from jnet.utils import rng as jrng

__all__ = ["FlaxLayer"]

_TRAIN_KWARGS = ("deterministic", "train", "training")


def _is_nnx(module) -> bool:
    try:
        from flax import nnx
    except ImportError:  # pragma: no cover - flax is a dependency of the venv
        return False
    return isinstance(module, nnx.Module)


def _is_linen(module) -> bool:
    from flax import linen

    return isinstance(module, linen.Module)


class FlaxLayer(Layer):
    """Wraps a Flax module as a jnet layer.

    Args:
        module: a `flax.linen.Module` (params created by `init` from the input specs), or a
            `flax.nnx.Module` (already holding its params; `init` returns them as they are).
        method: name of the module method to call (Linen only; default `__call__`).

    Params are the module's `"params"` collection (Linen) or its `nnx.Param`s (NNX), as
    nested dicts; other collections / variables are the layer's state, updated when training.

    Config: a Linen module whose class is registered (`@jnet.register_serializable()`) and
    whose fields are JSON values can be saved; anything else raises a `TypeError` in
    `get_config` (the architecture cannot be rebuilt from JSON). NNX modules cannot be saved
    as config.

    Example:
    ```python
    class MLP(flax.linen.Module):
        @flax.linen.compact
        def __call__(self, x, deterministic=True):
            x = flax.linen.Dense(32)(x)
            return flax.linen.Dropout(0.1, deterministic=deterministic)(x)

    x = jnet.Input((16,))
    y = jnet.layers.Dense(1)(jnet.layers.FlaxLayer(MLP())(x))
    ```
    """

    module: Any
    method: Any = None

    def check_config(self):
        if not (_is_linen(self.module) or _is_nnx(self.module)):
            raise ValueError(
                f"{self._label}: module must be a flax.linen.Module or flax.nnx.Module, got {self.module!r}"
            )
        if self.method is not None and _is_nnx(self.module):
            raise ValueError(f"{self._label}: method= is supported for Linen modules only")

    # ------------------------------------------------------------------ helpers
    def _fn(self):
        if _is_nnx(self.module):
            return type(self.module).__call__
        return getattr(type(self.module), self.method or "__call__")

    def _train_kwargs(self, training):
        params = inspect.signature(self._fn()).parameters
        for name in _TRAIN_KWARGS:
            if name in params:
                return {name: (not training) if name == "deterministic" else bool(training)}
        return {}

    # ------------------------------------------------------------------ protocol
    def build(self, *input_shapes):
        # Flax makes params and state in one `module.init`: each of the module's arrays becomes
        # a variable (path "Dense_0/kernel") whose initializer runs that init and takes its leaf.
        specs = _fill_specs(self.__dict__["_build_specs"], 1)
        if _is_nnx(self.module):
            from flax import nnx

            _, params, rest = nnx.split(self.module, nnx.Param, ...)
            trees = {"params": nnx.to_pure_dict(params), "state": nnx.to_pure_dict(rest)}
            for part, tree in trees.items():
                for path, leaf in _flat(tree):
                    self.add_weight(np.shape(leaf), leaf, dtype=leaf.dtype, trainable=part == "params", name=path)
            return
        module, method, kwargs = self.module, self.method, self._train_kwargs(False)

        def linen_init(key):
            dummies = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), specs, is_leaf=is_spec_leaf)
            k_params, k_dropout = jax.random.split(key)
            return dict(module.init({"params": k_params, "dropout": k_dropout}, *dummies, method=method, **kwargs))

        shapes = jax.eval_shape(linen_init, jax.random.key(0))
        for collection, tree in shapes.items():
            for path, leaf in _flat(tree):
                full = f"{collection}/{path}"

                def init(key, shape, dtype, full=full):
                    return _lookup(linen_init(key), full).astype(dtype)

                self.add_weight(
                    leaf.shape,
                    init,
                    dtype=leaf.dtype,
                    trainable=collection == "params",
                    name=path if collection == "params" else full,
                )

    def _variable_tree(self):
        # Nested like the module's own collections (`{"Dense_0": {"kernel": ...}}`).
        tree = {"params": {}, "state": {}}
        for v in self._own_variables():
            node = tree["params" if v.trainable else "state"]
            *parents, leaf = v.name.split("/")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = v
        return tree

    def _trees(self):
        tree = self._variable_tree()
        return jax.tree_util.tree_map(lambda v: v.value, tree, is_leaf=lambda v: hasattr(v, "assign"))

    def call(self, *inputs, training=False, rng=None):
        trees = self._trees()
        params, state = trees["params"], trees["state"]
        if _is_nnx(self.module):
            out, new_state = self._call_nnx(params, state, inputs, training, rng)
        else:
            rngs = {"dropout": rng} if rng is not None else {}
            mutable = list(state) if (training and state) else False
            result = self.module.apply(
                {"params": params, **state},
                *inputs,
                rngs=rngs,
                mutable=mutable,
                method=self.method,
                **self._train_kwargs(training),
            )
            out, new_state = result if mutable else (result, state)
            new_state = {**state, **dict(new_state)}
        if new_state is not state:
            variables = self._variable_tree()["state"]
            for (_, var), (_, value) in zip(_flat(variables), _flat(new_state)):
                var.assign(value)
        return out

    def _call_nnx(self, params, state, inputs, training, rng):
        from flax import nnx

        graphdef, abs_params, abs_rest = nnx.split(self.module, nnx.Param, ...)
        if rng is not None:
            state = _reseed(state, rng)
        nnx.replace_by_pure_dict(abs_params, params)
        nnx.replace_by_pure_dict(abs_rest, state)
        model = nnx.merge(graphdef, abs_params, abs_rest)
        model.train() if training else model.eval()
        out = model(*inputs)
        _, new_rest = nnx.split(model, nnx.Param, ...)[1:]
        new_state = nnx.to_pure_dict(new_rest) if training else state
        return out, new_state

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        module = self.module
        name = registered_name(type(module))
        if _is_nnx(module) or _registered_or_none(name) is not type(module):
            raise TypeError(
                f"{self._label}: the Flax module {type(module).__name__} cannot be saved as config. "
                "Register its class with @jnet.register_serializable() (Linen modules only), or save "
                "the weights (save_weights) and rebuild the model in code."
            )
        fields = {
            f.name: serialize_value(getattr(module, f.name), f"{self._label}.module.{f.name}")
            for f in dataclasses.fields(module)
            if f.name not in ("parent", "name") and f.init
        }
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "method": self.method,
            "module": {"flax_module": name, "fields": fields},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = dict(config)
        spec = config.pop("module")
        module_cls = get_registered(spec["flax_module"], custom_objects)
        return cls(module_cls(**_tuples(spec["fields"])), **config)


def _reseed(state, rng):
    """Every rng stream key of an NNX module's state, replaced by a key derived from the jnet
    `rng` (streams are tagged by the user, "default", "dropout", ...: reseed them all)."""
    if not jnp.issubdtype(rng.dtype, jax.dtypes.prng_key):
        rng = jrng.wrap(rng)
    leaves, treedef = jax.tree_util.tree_flatten(state)
    fresh = [
        jax.random.fold_in(rng, i) if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf
        for i, leaf in enumerate(leaves)
    ]
    return jax.tree_util.tree_unflatten(treedef, fresh)


def _registered_or_none(name):
    try:
        return get_registered(name)
    except ValueError:
        return None


def _tuples(value):
    """JSON turned the module's tuples into lists; Linen fields want hashable tuples back."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _flat(tree, prefix=""):
    """`[(path, leaf)]` of nested dicts, paths joined with "/" (dict order: sorted keys)."""
    if isinstance(tree, dict) or hasattr(tree, "items"):
        out = []
        for k in sorted(tree):
            out.extend(_flat(tree[k], f"{prefix}/{k}" if prefix else str(k)))
        return out
    return [(prefix, tree)]


def _lookup(tree, path):
    for part in path.split("/"):
        tree = tree[part]
    return tree
