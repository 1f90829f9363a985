"""The layer protocol: a layer is config plus a pair of pure functions.

```
variables      = layer.init(key, *input_specs)   # {"params": {...}, "state": {...}}
outputs, state = layer.apply(variables, *inputs, training=False, rng=None)
```

A layer object holds hyperparameters only. Every subclass of `Layer` is turned into a
dataclass automatically (unless it writes its own `__init__`), so its annotated fields are its
config: `get_config()` / `from_config()` come for free and `repr` shows the config.
Equality stays identity (`eq=False`) because a layer object *is* its node identity in a graph:
one layer called twice shares its params.

A subclass writes at most four small methods:

- `build(key, *specs) -> params`         parameters from input specs (default: none)
- `build_state(*specs) -> state`          non-trained carried arrays (default: none)
- `call(params, *inputs, ...) -> outputs` the forward pass; it may accept any of the keyword
  arguments `training`, `rng`, `mask`, `state` and only those it names are passed. A layer
  that takes `state` returns `(outputs, new_state)`.
- `check_config()` / `check_inputs(*specs)` for clear build-time errors.

Output shapes are never written by hand: `output_spec` runs `jax.eval_shape` over
`init` + `apply`.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet import dtypes as jdtypes

from jnet.serialization import _REGISTRY, deserialize, serialize  # noqa: F401  (re-exported)


# --------------------------------------------------------------------------- naming


def to_snake_case(name: str) -> str:
    """`Conv2DTranspose` -> `conv2d_transpose`, `SimpleRNN` -> `simple_rnn` (Keras's rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def name_key(key, name: str):
    """A per-layer key derived from the layer's *name*, so adding a layer elsewhere in a
    model does not change how the others initialise."""
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


# --------------------------------------------------------------------------- specs


def as_spec(x) -> jax.ShapeDtypeStruct:
    """A `ShapeDtypeStruct` from an array, a spec, or a symbolic tensor (None axes kept)."""
    if isinstance(x, jax.ShapeDtypeStruct):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return jax.ShapeDtypeStruct(tuple(x.shape), jnp.dtype(x.dtype))
    raise TypeError(f"Expected an array or a jax.ShapeDtypeStruct, got {type(x).__name__}")


def is_spec_leaf(x) -> bool:
    return isinstance(x, jax.ShapeDtypeStruct) or (hasattr(x, "shape") and hasattr(x, "dtype"))


def concrete_spec(shape, dtype, fill: int = 1) -> jax.ShapeDtypeStruct:
    """Replace unknown (None) axes by `fill` so a layer can be initialised or traced."""
    return jax.ShapeDtypeStruct(tuple(fill if d is None else int(d) for d in shape), jnp.dtype(dtype))


def expand_to(v, ndim: int):
    """`v` with leading unit axes up to `ndim`, so `x + expand_to(bias, x.ndim)` broadcasts
    explicitly (jnet runs clean under `jax_numpy_rank_promotion="raise"`)."""
    return jnp.reshape(v, (1,) * (ndim - v.ndim) + tuple(v.shape))


# --------------------------------------------------------------------------- the Layer


def check_axes(layer) -> None:
    """Check `layer.axis` is an int or a non-empty list of ints (a tuple becomes a list, so the
    config stays JSON), for layers that reduce over several axes (Softmax, LayerNormalization)."""
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"{layer._label}: axis must be an int or a list of ints, got {layer.axis!r}")
    if isinstance(layer.axis, (list, tuple)):
        layer.axis = list(layer.axis)


# `<prefix>_constraint` argument -> the weight it constrains, where the names differ.
_CONSTRAINED = {"recurrent": "recurrent_kernel", "depthwise": "depthwise_kernel", "pointwise": "pointwise_kernel"}


def _accepted_keywords(fn) -> frozenset:
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return frozenset({"training", "rng", "mask", "state"})
    return frozenset(k for k in ("training", "rng", "mask", "state") if k in params)


class Layer:
    """Base class of every layer: hyperparameters plus `init` / `apply`.

    Args (keyword-only, shared by every layer):
        name: unique within a model; `None` gets a deterministic name when the layer joins a
            model (`dense`, `dense_1`, ...).
        trainable: `False` freezes the layer's params (the optimizer leaves them alone).
        dtype: parameter dtype or a mixed-precision policy name (default float32).
        input_shape: the shape of one sample, used when this is the first layer of a
            `Sequential` (Keras's `input_shape=`).
        input_dim: shorthand for `input_shape=(input_dim,)`.
    """

    name: str | None = dataclasses.field(default=None, kw_only=True)
    trainable: bool = dataclasses.field(default=True, kw_only=True)
    dtype: Any = dataclasses.field(default=None, kw_only=True)
    input_shape: Any = dataclasses.field(default=None, kw_only=True, repr=False)
    input_dim: Any = dataclasses.field(default=None, kw_only=True, repr=False)

    # Whether an input mask passes through this layer unchanged (Keras `supports_masking`).
    supports_masking = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            dataclasses.dataclass(eq=False)(cls)
        if cls.__module__.startswith("jnet."):
            _REGISTRY.setdefault(cls.__name__, cls)

    def __post_init__(self):
        if hasattr(self.dtype, "compute_dtype") and hasattr(self.dtype, "name"):
            self.dtype = self.dtype.name  # a DTypePolicy: keep its name, so configs stay JSON
        if self.input_dim is not None:
            if self.input_shape is not None:
                raise ValueError(f"{self._label}: pass input_shape or input_dim, not both")
            self.input_shape = (int(self.input_dim),)
            self.input_dim = None
        if self.input_shape is not None:
            if isinstance(self.input_shape, int):
                self.input_shape = (self.input_shape,)
            self.input_shape = tuple(None if d is None else int(d) for d in self.input_shape)
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {self.name!r}")
        self._auto_named = self.name is None
        self._check_constraints()
        self.check_config()

    def _constraint_args(self):
        """`(argument name, value)` of every `<weight>_constraint` field."""
        if not dataclasses.is_dataclass(self):
            return []
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.name.endswith("_constraint")]

    def _check_constraints(self):
        from jnet import constraints

        for arg, value in self._constraint_args():
            try:
                constraints.get(value)
            except (ValueError, TypeError) as err:
                raise ValueError(f"{self._label}: {arg}: {err}") from None

    # ------------------------------------------------------------------ hooks

    def check_config(self) -> None:
        """Validate hyperparameters; raise a `ValueError` naming the argument."""

    def check_inputs(self, *specs) -> None:
        """Validate input specs at build time; raise a `ValueError` naming the layer."""

    def build(self, key, *specs) -> dict:
        """Create the params for inputs of the given specs (default: no params)."""
        return {}

    def build_state(self, *specs) -> dict:
        """Create the carried non-trained state (default: none)."""
        return {}

    def compute_mask(self, inputs, mask):
        """The output mask: passed through when `supports_masking`, else dropped."""
        return mask if self.supports_masking else None

    def penalty(self, params) -> jax.Array | float:
        """Weight-regularization penalty of this layer's params, added to the training loss."""
        return 0.0

    def constrain(self, params):
        """`params` with the layer's weight constraints applied (its `<weight>_constraint`
        arguments, Keras's names); the trainer calls it after every optimizer step."""
        from jnet import constraints

        out = None
        for arg, value in self._constraint_args():
            if value is None:
                continue
            prefix = arg[: -len("_constraint")]
            pname = _CONSTRAINED.get(prefix, prefix)
            if pname in params:
                out = dict(params) if out is None else out
                out[pname] = constraints.get(value)(params[pname])
        return params if out is None else out

    # ------------------------------------------------------------------ protocol

    @property
    def _label(self) -> str:
        return f"{type(self).__name__} '{self.name or to_snake_case(type(self).__name__)}'"

    @property
    def param_dtype(self):
        return jdtypes.variable_dtype(self.dtype)

    @property
    def compute_dtype(self):
        return jdtypes.compute_dtype(self.dtype)

    def init(self, key, *input_specs) -> dict:
        """`{"params": ..., "state": ...}` for inputs shaped like `input_specs`."""
        specs = jax.tree_util.tree_map(as_spec, input_specs, is_leaf=is_spec_leaf)
        self.check_inputs(*specs)
        # Unknown (None) axes are built as length 1: params never depend on them.
        return self._init_unchecked(key, *_fill_specs(specs, 1))

    def _init_unchecked(self, key, *specs):
        """`init` without `check_inputs`: shape inference checks the specs as given (None
        axes kept) once, then traces with the unknown axes filled in."""
        return {"params": self.build(key, *specs), "state": self.build_state(*specs)}

    def apply(self, variables, *inputs, training=False, rng=None, mask=None, **kwargs):
        """`(outputs, new_state)`. Pure: usable under `jax.jit`, `jax.grad`, `jax.vmap`."""
        accepted = self._call_keywords()
        extra = {"training": training, "rng": rng, "mask": mask}
        extra = {k: v for k, v in extra.items() if k in accepted}
        state = variables.get("state", {})
        if "state" in accepted:
            return self.call(variables.get("params", {}), *inputs, state=state, **extra, **kwargs)
        return self.call(variables.get("params", {}), *inputs, **extra, **kwargs), state

    def apply_with_mask(self, variables, args, kwargs, mask, training=False, rng=None):
        """Internal to graphs: `(outputs, output_mask, state)`. Models override it so masks
        flow through nested models."""
        outputs, state = self.apply(variables, *args, training=training, rng=rng, mask=mask, **kwargs)
        return outputs, self.compute_mask(args[0] if args else None, mask), state

    @classmethod
    def _call_keywords(cls) -> frozenset:
        cache = cls.__dict__.get("_call_keywords_cache")
        if cache is None:
            cache = _accepted_keywords(cls.call)
            cls._call_keywords_cache = cache
        return cache

    def output_spec(self, *input_specs, **kwargs):
        """Output spec(s) for inputs of the given specs, from `jax.eval_shape`.

        Axes given as `None` (unknown batch or sequence length) stay `None` in the result:
        the shape is evaluated with two far-apart prime fillers (1021 and 2039, so strided or windowed axes still differ) and the axes that move are unknown.
        """
        return infer_output_spec(self, input_specs, kwargs)

    # ------------------------------------------------------------------ config

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__name__} writes its own __init__ and must define get_config()")
        config = {}
        for f in dataclasses.fields(self):
            if f.name == "input_dim":
                continue
            value = getattr(self, f.name)
            config[f.name] = serialize_value(value, f"{self._label}.{f.name}")
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None, safe_mode=True):
        config = {k: deserialize_value(v, custom_objects) for k, v in config.items()}
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)

    # ------------------------------------------------------------------ symbolic call

    def __call__(self, *args, **kwargs):
        from jnet.models.functional import call_symbolic, is_symbolic

        leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
        if any(is_symbolic(leaf) for leaf in leaves):
            return call_symbolic(self, args, kwargs)
        raise TypeError(
            f"{self._label} holds no arrays: call it on symbolic tensors (jnet.Input) to build a "
            "model, or use layer.init(key, *specs) and layer.apply(variables, *inputs)."
        )

    def count_params(self, variables) -> int:
        return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(variables.get("params", {}))))


dataclasses.dataclass(eq=False)(Layer)


# --------------------------------------------------------------------------- config values


def serialize_value(value, where: str = "value"):
    """JSON-friendly form of a config value: config objects become `{"class_name", "config"}`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [serialize_value(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): serialize_value(v, where) for k, v in value.items()}
    if hasattr(value, "get_config"):
        return serialize(value)
    if isinstance(value, (np.dtype, type)) or hasattr(value, "dtype") and not hasattr(value, "shape"):
        return jnp.dtype(value).name
    if callable(value):
        from jnet import activations

        name = activations.serialize(value)
        if name is not None:
            return name
    raise TypeError(f"{where}: {value!r} cannot be saved as config (use a registered name or class)")


def deserialize_value(value, custom_objects=None):
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        return deserialize(value, custom_objects)
    if isinstance(value, list):
        return [deserialize_value(v, custom_objects) for v in value]
    return value


# --------------------------------------------------------------------------- shape inference


def _fill_specs(specs, fill):
    def one(s):
        return concrete_spec(s.shape, s.dtype, fill) if is_spec_leaf(s) else s

    return jax.tree_util.tree_map(one, specs, is_leaf=is_spec_leaf)


def _has_unknown(specs) -> bool:
    leaves = jax.tree_util.tree_leaves(specs, is_leaf=is_spec_leaf)
    return any(d is None for s in leaves for d in s.shape)


def _eval(layer, specs, kwargs, fill):
    leaves, treedef = jax.tree_util.tree_flatten(_fill_specs((specs, kwargs), fill), is_leaf=is_spec_leaf)
    where = [i for i, leaf in enumerate(leaves) if is_spec_leaf(leaf)]

    def run(key, arrays):
        full = list(leaves)
        for i, a in zip(where, arrays):
            full[i] = a
        args, kw = jax.tree_util.tree_unflatten(treedef, full)
        variables = layer._init_unchecked(key, *args)
        return layer.apply(variables, *args, **kw)[0]

    return jax.eval_shape(run, jax.random.key(0), [leaves[i] for i in where])


def infer_output_spec(layer, specs, kwargs=None):
    """Output spec tree of `layer` on `specs` (which may have None axes)."""
    kwargs = kwargs or {}
    try:
        layer.check_inputs(*jax.tree_util.tree_map(as_spec, specs, is_leaf=is_spec_leaf))
        first = _eval(layer, specs, kwargs, 1021)
        if not _has_unknown((specs, kwargs)):
            return first
        second = _eval(layer, specs, kwargs, 2039)
    except (TypeError, ValueError) as err:
        if getattr(err, "_jnet_named", False) or layer._label in str(err):
            raise
        raise type(err)(f"{layer._label}: {err}") from err

    def merge(a, b):
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        return jax.ShapeDtypeStruct(shape, a.dtype)

    return jax.tree_util.tree_map(merge, first, second)
