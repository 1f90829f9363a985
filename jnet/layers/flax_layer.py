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

from jnet.layers.base import Layer, _fill_specs, as_spec, is_spec_leaf, serialize_value
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
            raise ValueError(f"{self._label}: module must be a flax.linen.Module or flax.nnx.Module, got {self.module!r}")
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
    def init(self, key, *input_specs):
        specs = jax.tree_util.tree_map(as_spec, input_specs, is_leaf=is_spec_leaf)
        self.check_inputs(*specs)
        return self._init_unchecked(key, *_fill_specs(specs, 1))

    def _init_unchecked(self, key, *specs):
        # Flax builds params and state in one `module.init`, so this replaces build/build_state
        # (shape inference calls `_init_unchecked` directly).
        if _is_nnx(self.module):
            from flax import nnx

            _, params, rest = nnx.split(self.module, nnx.Param, ...)
            return {"params": nnx.to_pure_dict(params), "state": nnx.to_pure_dict(rest)}
        dummies = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), specs, is_leaf=is_spec_leaf)
        k_params, k_dropout = jax.random.split(key)
        variables = self.module.init({"params": k_params, "dropout": k_dropout}, *dummies,
                                     method=self.method, **self._train_kwargs(False))
        variables = jax.tree_util.tree_map(lambda a: a, dict(variables))  # plain dicts
        params = variables.pop("params", {})
        return {"params": params, "state": variables}

    def call(self, params, *inputs, training=False, rng=None, state=None):
        state = state or {}
        if _is_nnx(self.module):
            return self._call_nnx(params, state, inputs, training, rng)
        rngs = {"dropout": rng} if rng is not None else {}
        mutable = list(state) if (training and state) else False
        result = self.module.apply({"params": params, **state}, *inputs, rngs=rngs, mutable=mutable,
                                   method=self.method, **self._train_kwargs(training))
        if mutable:
            out, updates = result
            return out, {**state, **dict(updates)}
        return result, state

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
            for f in dataclasses.fields(module) if f.name not in ("parent", "name") and f.init
        }
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype, "method": self.method,
                "module": {"flax_module": name, "fields": fields}}

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
