"""The Layer: Keras 3's object model over jnet's pure core.

Writing a layer is Keras's way:

```python
class Linear(jnet.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return inputs @ self.w + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}
```

A layer object holds its variables (declared once with `add_weight`; sublayers assigned as
attributes are tracked), so one object is one set of weights wherever it is used. The pure core
is unchanged:

```
variables      = layer.init(key, *input_specs)   # {"params": {...}, "state": {...}}
outputs, state = layer.apply(variables, *inputs, training=False, rng=None)
```

`apply` binds the given arrays to the layer's variables for the duration of the call (a
`VariableScope`), so the same `call` reads them and stays pure under `jax.jit` / `grad` / `vmap`;
`variable.assign` inside it becomes the returned state. `layer(x)` on arrays runs eagerly on the
variables' current values; on symbolic tensors (`jnet.Input`) it records a graph node.

jnet's built-in layers declare their config as annotated fields: a subclass that writes no
`__init__` becomes a dataclass, whose fields are its config (`get_config` for free). Output
shapes are never written by hand: `output_spec` runs `jax.eval_shape` over `apply`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import re
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet import dtypes as jdtypes
from jnet.core.symbolic import call_symbolic, is_symbolic
from jnet.core.trees import bind_pairs as _bind_pairs  # noqa: F401  (re-exported)
from jnet.core.variables import Variable, VariableScope, call_scope, current_scope  # noqa: F401
from jnet.layers.building import BuildingMixin
from jnet.layers.config_values import deserialize_value, serialize_value
from jnet.layers.keras_attributes import LayerAttributesMixin, building_scope
from jnet.layers.specs import as_spec, concrete_spec, infer_output_spec, is_spec_leaf, shape_tree, specs_of  # noqa: F401
from jnet.layers.specs import fill_specs as _fill_specs  # noqa: F401  (re-exported)
from jnet.layers.weights import WeightsMixin, _name_sublayers, _unique_key  # noqa: F401
from jnet.serialization import _REGISTRY, deserialize, serialize  # noqa: F401  (re-exported)

# --------------------------------------------------------------------------- naming

_CREATION_ORDER = itertools.count()


def to_snake_case(name: str) -> str:
    """`Conv2DTranspose` -> `conv2d_transpose`, `SimpleRNN` -> `simple_rnn` (Keras's rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def name_key(key, name: str):
    """A key derived from a name (per-layer dropout streams in a graph)."""
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def expand_to(v, ndim: int):
    """`v` with leading unit axes up to `ndim`, so `x + expand_to(bias, x.ndim)` broadcasts
    explicitly (jnet runs clean under `jax_numpy_rank_promotion="raise"`)."""
    return jnp.reshape(v, (1,) * (ndim - v.ndim) + tuple(v.shape))


def check_axes(layer) -> None:
    """Check `layer.axis` is an int or a non-empty list of ints (a tuple becomes a list, so the
    config stays JSON), for layers that reduce over several axes (Softmax, LayerNormalization)."""
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"{layer._label}: axis must be an int or a list of ints, got {layer.axis!r}")
    if isinstance(layer.axis, (list, tuple)):
        layer.axis = list(layer.axis)


_CALL_KEYWORDS = ("training", "rng", "mask")


def _accepted_keywords(fn) -> frozenset:
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return frozenset(_CALL_KEYWORDS)
    return frozenset(k for k in _CALL_KEYWORDS if k in params)


class Layer(WeightsMixin, LayerAttributesMixin, BuildingMixin):
    """Base class of every layer (Keras's `keras.layers.Layer`).

    Args (keyword-only, shared by every layer):
        name: unique within a model; by default the class name in snake case, made unique
            (`dense`, `dense_1`, ...) when the layer joins a model.
        trainable: `False` freezes the layer's weights (and its sublayers').
        dtype: variable dtype or a mixed-precision policy name (default float32).
        input_shape: the shape of one sample, used when this is the first layer of a
            `Sequential` (Keras's `input_shape=`).
        input_dim: shorthand for `input_shape=(input_dim,)`.
        activity_regularizer: a regularizer applied to the layer's output; its penalty joins
            the training loss.

    A subclass writes `build(input_shape)` (weights via `add_weight`), `call(inputs, ...)`
    (which may take `training`, `mask` and, jnet's addition, `rng`), and `get_config()` for
    arguments of its own `__init__`.
    """

    name: str | None = dataclasses.field(default=None, kw_only=True)
    trainable: bool = dataclasses.field(default=True, kw_only=True)
    dtype: Any = dataclasses.field(default=None, kw_only=True)
    input_shape: Any = dataclasses.field(default=None, kw_only=True, repr=False)
    input_dim: Any = dataclasses.field(default=None, kw_only=True, repr=False)
    activity_regularizer: Any = dataclasses.field(default=None, kw_only=True, repr=False)

    # Whether an input mask passes through this layer unchanged (Keras `supports_masking`).
    supports_masking = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__ and not getattr(cls.__dict__["build"], "__jnet_build__", False):
            cls.build = _marks_built(cls.__dict__["build"])
        if "__init__" not in cls.__dict__ and not _is_keras_style(cls) and getattr(cls, "_dataclass_config", True):
            dataclasses.dataclass(eq=False)(cls)
            cls.__init__.__jnet_dataclass_init__ = True
        if cls.__module__.startswith("jnet."):
            _REGISTRY.setdefault(cls.__name__, cls)

    def __post_init__(self):
        self._init_tracking()
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
        if self.name is None:
            self.name = to_snake_case(type(self).__name__)
        if self.activity_regularizer is not None:
            from jnet import regularizers

            regularizers.get(self.activity_regularizer)
        self._check_constraints()
        self.check_config()

    def _init_tracking(self):
        d = self.__dict__
        if "_creation_index" not in d:
            # Default names are numbered in creation order within a model, as Keras numbers them
            # in creation order within a process (DESIGN §2 keeps the numbering per model).
            d["_creation_index"] = next(_CREATION_ORDER)
        d.setdefault("_own_vars", [])
        d.setdefault("built", False)
        d.setdefault("_name_fixed", False)
        d.setdefault("_inbound_nodes", [])
        d.setdefault("_build_shapes", None)

    def __setattr__(self, name, value):
        # Keras: freezing a layer freezes its sublayers.
        if name == "trainable" and "_own_vars" in self.__dict__:
            for sub in self._sublayers():
                sub.trainable = value
        object.__setattr__(self, name, value)

    def _check_constraints(self):
        from jnet import constraints

        if not dataclasses.is_dataclass(self):
            return
        for f in dataclasses.fields(self):
            if f.name.endswith("_constraint"):
                try:
                    constraints.get(getattr(self, f.name))
                except (ValueError, TypeError) as err:
                    raise ValueError(f"{self._label}: {f.name}: {err}") from None

    # ------------------------------------------------------------------ hooks

    def check_config(self) -> None:
        """Validate hyperparameters; raise a `ValueError` naming the argument."""

    def check_inputs(self, *specs) -> None:
        """Validate input specs at build time; raise a `ValueError` naming the layer."""

    def build(self, input_shape):
        """Create the weights with `add_weight` (Keras's `build`; default: none)."""

    def call(self, inputs, *args, **kwargs):
        raise TypeError(f"{self._label}: a layer must define call(self, inputs, ...)")

    def compute_mask(self, inputs, mask=None):
        """The output mask: passed through when `supports_masking`, else dropped."""
        return mask if self.supports_masking else None

    # ------------------------------------------------------------------ saving hooks (Keras's)

    def _saved_variables(self) -> list:
        """The variables `save_own_variables` writes: trainable ones, then non-trainable, each
        in creation order (Keras's order). A layer whose Keras twin also tracks another
        object's variable as its own (SpectralNormalization's kernel) lists Keras's set itself."""
        hook = getattr(self, "_keras_own_variables", None)
        own = hook() if hook is not None else self._own_variables()
        return [v for v in own if v.trainable] + [v for v in own if not v.trainable]

    def save_own_variables(self, store):
        """Write this layer's own variables into `store` (Keras's hook, called by `model.save`
        and `save_weights`).

        Override it to take control of what the weights file holds for this layer (then
        override `load_own_variables` to read it back).

        Args:
            store: a dict-like written as `store["0"] = variable_or_array`; by default the
                layer's variables go under `"0"`, `"1"`, ... (trainable first, then
                non-trainable, each in creation order).

        Example:

        ```python
        def save_own_variables(self, store):
            super().save_own_variables(store)
            store["extra"] = self.extra_array
        ```
        """
        for i, v in enumerate(self._saved_variables()):
            store[str(i)] = v

    def load_own_variables(self, store):
        """Read this layer's own variables back from `store` (Keras's hook, called by
        `load_model` and `load_weights`): the counterpart of `save_own_variables`.

        Args:
            store: a dict-like of arrays (`store.keys()`, `store["0"]`).

        Raises:
            ValueError: the store holds another number of arrays than the layer has variables.
        """
        own = self._saved_variables()
        if len(store.keys()) != len(own):
            raise ValueError(
                f"{self._label}.load_own_variables: the layer has {len(own)} variable(s) "
                f"({[v.name for v in own]}), the file lists {len(store.keys())}"
            )
        for i, v in enumerate(own):
            v.assign(store[str(i)])

    # ------------------------------------------------------------------ the pure core

    @property
    def _label(self) -> str:
        return f"{type(self).__name__} '{self.__dict__.get('name') or to_snake_case(type(self).__name__)}'"

    @property
    def param_dtype(self):
        return jdtypes.variable_dtype(self.dtype)

    @property
    def compute_dtype(self):
        return jdtypes.compute_dtype(self.dtype)

    @property
    def variable_dtype(self):
        return self.param_dtype

    # ---- dtype policy and quantization (Keras's names; jnet.layers.quantization implements
    # quantize() for Dense, EinsumDense and Embedding)

    @property
    def dtype_policy(self):
        """The layer's `DTypePolicy` (a `QuantizedDTypePolicy` once quantized)."""
        from jnet.quantizers import policy_of

        return policy_of(self.dtype)

    @dtype_policy.setter
    def dtype_policy(self, value):
        from jnet.quantizers import policy_of

        policy = policy_of(value)
        mode = getattr(policy, "quantization_mode", None)
        if mode is not None and self.built and not self.__dict__.get("_is_quantized"):
            if not hasattr(self, "quantize"):
                raise ValueError(f"{self._label}: this layer cannot be quantized (dtype_policy={policy.name!r})")
            self.quantize(mode)  # as Keras: setting a quantized policy on a built layer quantizes it
            return
        self.dtype = policy.name

    @property
    def quantization_mode(self):
        """`"int8"` for a quantized layer, else None (Keras's property)."""
        return jdtypes.quantization_mode(jdtypes._resolve(self.dtype))

    def init(self, key, *input_specs) -> dict:
        """Fresh `{"params": ..., "state": ...}` for inputs shaped like `input_specs` (builds the
        layer first if needed). Pure in `key`: the layer's own values are not touched."""
        if input_specs:
            specs = jax.tree_util.tree_map(as_spec, input_specs, is_leaf=is_spec_leaf)
            if self.built:
                self.check_inputs(*specs)
            self._maybe_build(specs, {})
        elif not self.built:
            raise ValueError(f"{self._label}.init: give input specs to build the layer")
        return self.initial_variables(key)

    def apply(self, variables, *inputs, training=False, rng=None, mask=None, **kwargs):
        """`(outputs, new_state)`. Pure: usable under `jax.jit`, `jax.grad`, `jax.vmap`."""
        if not self.built:
            self._maybe_build(specs_of(inputs), kwargs)
        outputs, state, _ = self._bound_run(
            variables, lambda: self._invoke(inputs, kwargs, training, mask, rng), training, rng
        )
        return outputs, state

    def _bound_run(self, variables, run, training, rng):
        """`(run(), new state, added losses)` with `variables` (`{"params", "state"}`) bound to
        this layer's variables for the call: the one place `apply` and the models' pure calls
        bind arrays and collect the state `assign` wrote."""
        tree = self._variable_tree()
        bindings = {id(v): a for v, a in _bind_pairs(tree, variables, self._label)}
        with call_scope(bindings, training=training, rng=rng) as scope:
            result = run()
            state = jax.tree_util.tree_map(lambda v: v.value, tree["state"], is_leaf=lambda v: isinstance(v, Variable))
            losses = list(scope.losses)
        return result, state, losses

    def stateless_call(self, trainable_variables, non_trainable_variables, *args, return_losses=False, **kwargs):
        """Keras's `stateless_call`: `(outputs, non_trainable_variables)` with the given arrays
        (lists in `trainable_variables` / `non_trainable_variables` order) bound."""
        bindings = {}
        for group, arrays in (
            (self.trainable_variables, trainable_variables),
            (self.non_trainable_variables, non_trainable_variables),
        ):
            if len(group) != len(arrays):
                raise ValueError(f"{self._label}.stateless_call: expected {len(group)} arrays, got {len(arrays)}")
            bindings.update({id(v): a for v, a in zip(group, arrays)})
        training = kwargs.pop("training", False)
        rng = kwargs.pop("rng", None)
        mask = kwargs.pop("mask", None)
        outer = current_scope()
        if rng is None and outer is not None:  # e.g. the per-step key fit gives a custom train_step
            rng = outer.next_rng()
        with call_scope(bindings, training=training, rng=rng) as scope:
            outputs = self._invoke(args, kwargs, training, mask, rng)
            new_nt = [v.value for v in self.non_trainable_variables]
            losses = list(scope.losses)
        if return_losses:
            return outputs, new_nt, losses
        return outputs, new_nt

    def _invoke(self, args, kwargs, training, mask, rng):
        """Run `call` with the keywords it accepts (inside an active scope)."""
        accepted = self._call_keywords()
        kwargs = dict(kwargs)
        if "training" in accepted:
            kwargs["training"] = bool(training) if training is not None else False
        if "rng" in accepted:
            kwargs["rng"] = rng
        if "mask" in accepted and mask is not None:
            kwargs["mask"] = mask
        outputs = self.call(*args, **kwargs)
        if self.activity_regularizer is not None:
            scope = current_scope()
            if scope is not None:
                from jnet import regularizers

                reg = regularizers.get(self.activity_regularizer)
                for out in jax.tree_util.tree_leaves(outputs):
                    scope.losses.append(_activity_penalty(reg, out))
        return outputs

    def _call_with_mask(self, args, kwargs, mask, training=False, rng=None):
        """Inside a scope: `(outputs, output_mask)`. Graphs run every node through this; models
        override it so masks flow through nested models."""
        outputs = self._invoke(args, kwargs, training, mask, rng)
        return outputs, self.compute_mask(args[0] if args else None, mask)

    @classmethod
    def _call_keywords(cls) -> frozenset:
        cache = cls.__dict__.get("_call_keywords_cache")
        if cache is None:
            cache = _accepted_keywords(cls.call)
            cls._call_keywords_cache = cache
        return cache

    @property
    def losses(self) -> list:
        """Keras's `layer.losses`: what `add_loss` and activity regularizers added during the
        last eager call, plus the weight regularizers' penalties on the current weights."""
        penalties = [v.regularizer(v.value) for v in self.weights if v.regularizer is not None]
        return list(self.__dict__.get("_call_losses", [])) + penalties

    def add_loss(self, loss):
        """Add a scalar to the training loss from inside `call` (Keras's `add_loss`)."""
        scope = current_scope()
        if scope is None:
            raise RuntimeError(f"{self._label}.add_loss: call it from inside call()")
        self.__dict__["_adds_losses"] = True
        scope.losses.append(jnp.asarray(loss, jnp.float32))

    # ------------------------------------------------------------------ calling

    @classmethod
    def _first_call_arg(cls):
        """The name of `call`'s first argument (the inputs), or None."""
        if "_first_call_arg_cache" not in cls.__dict__:
            params = list(inspect.signature(cls.call).parameters.values())[1:]
            first = params[0] if params else None
            ok = first is not None and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD)
            cls._first_call_arg_cache = first.name if ok else None
        return cls._first_call_arg_cache

    def __call__(self, *args, **kwargs):
        if not args:
            # Keras takes the inputs by keyword too: `attention(query=x, value=x, key=x)`, and
            # `dense(inputs=x)` (Keras's name for them) where jnet's `call` names them otherwise.
            first = self._first_call_arg()
            if first in kwargs:
                args = (kwargs.pop(first),)
            elif first is not None and "inputs" in kwargs:
                args = (kwargs.pop("inputs"),)
        leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
        if any(is_symbolic(leaf) for leaf in leaves):
            return call_symbolic(self, args, kwargs)
        if not args:
            raise TypeError(f"{self._label} was called without inputs")
        args = jax.tree_util.tree_map(_to_array, args)
        training = kwargs.pop("training", None)
        mask = kwargs.pop("mask", None)
        rng = kwargs.pop("rng", None)
        self._maybe_build(specs_of(args), {k: v for k, v in kwargs.items() if is_spec_leaf(v)})
        outer = current_scope()
        if outer is None:
            self._materialize()
            training = bool(training) if training is not None else False
            # A key for this call when it or a nested layer (a Dropout inside a custom block whose
            # call() takes no rng) may draw random numbers.
            if rng is None and training and ("rng" in self._call_keywords() or self._sublayers()):
                from jnet.utils import rng as jrng

                rng = jrng.next_key()
            with call_scope(training=training, rng=rng) as scope:
                out = self._invoke(args, kwargs, training, mask, rng)
            self.__dict__["_call_losses"] = list(scope.losses)
            return out
        training = outer.training if training is None else training
        rng = outer.next_rng() if rng is None else rng
        with VariableScope(training=training, rng=rng, abstract=outer.abstract) as inner:
            out = self._invoke(args, kwargs, training, mask, rng)
        outer.losses.extend(inner.losses)
        for vid, value in inner.assigned.items():
            outer.record(inner._variables[vid], value)
        return out

    # ------------------------------------------------------------------ config

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable."""
        # A Keras-style subclass of a built-in (`class L(Dense)` with its own `__init__`) gets
        # the built-in's config, as Keras's `Dense.get_config` gives it.
        keras_style = _is_keras_style(type(self)) and not _builtin_parent_has_config(type(self))
        if not dataclasses.is_dataclass(self) or keras_style:
            config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
            if type(self).get_config is Layer.get_config and _init_takes_more(type(self)):
                raise TypeError(
                    f"{type(self).__name__} writes its own __init__ with arguments of its own and must define "
                    "get_config() returning them (merged with super().get_config()) to be saved or cloned"
                )
            return config
        config = {}
        for f in dataclasses.fields(self):
            if f.name == "input_dim" or (f.name == "activity_regularizer" and self.activity_regularizer is None):
                continue
            value = getattr(self, f.name)
            config[f.name] = serialize_value(value, f"{self._label}.{f.name}")
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None, safe_mode=True):
        config = {k: deserialize_value(v, custom_objects, safe_mode) for k, v in config.items()}
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)


dataclasses.dataclass(eq=False)(Layer)
Layer.__init__.__jnet_dataclass_init__ = True


def _activity_penalty(reg, out):
    """Keras's activity penalty: `reg(output) / batch size`. In the engine's padded last batch
    only the real rows count (zeroed padding adds nothing to L1/L2 sums), divided by their number."""
    if not out.ndim:
        return reg(out)
    from jnet.layers import batch_rows

    rows = batch_rows.current()
    if rows is None or rows.shape != out.shape[:1]:
        return reg(out) / out.shape[0]
    keep = jnp.reshape(rows, rows.shape + (1,) * (out.ndim - 1))
    return reg(jnp.where(keep, out, jnp.zeros((), out.dtype))) / jnp.maximum(jnp.sum(rows), 1).astype(jnp.float32)


def _marks_built(build):
    """Wrap a subclass's `build` so that calling it directly (`Dense(3).build((None, 4))`, as
    Keras users do) leaves the layer built, once."""

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("built") and not self.__dict__.get("_building"):
            return None
        outer = self.__dict__.get("_building", False)
        self.__dict__["_building"] = True
        try:
            with building_scope(self):
                result = build(self, *args, **kwargs)
        finally:
            self.__dict__["_building"] = outer
        if not outer:
            self.__dict__["built"] = True
            if self.__dict__.get("_build_shapes") is None and args:
                self.__dict__["_build_shapes"] = [args[0]] if len(args) == 1 else list(args)
            elif self.__dict__.get("_build_shapes") is None and kwargs.get("input_shape") is not None:
                self.__dict__["_build_shapes"] = [kwargs["input_shape"]]  # `build(input_shape=...)`
        return result

    wrapper.__jnet_build__ = True
    return wrapper


def _is_keras_style(cls) -> bool:
    """A user class that writes its own `__init__` somewhere below Layer (Keras style): its
    config is what its `get_config` says, not dataclass fields."""
    for klass in cls.__mro__:
        if klass is Layer:
            return False
        if (
            "__init__" in klass.__dict__
            and not getattr(klass.__init__, "__jnet_dataclass_init__", False)
            and not klass.__module__.startswith("jnet.")
        ):
            return True
    return False


def _builtin_parent_has_config(cls) -> bool:
    """Whether a jnet built-in below Layer in `cls`'s ancestry declares config fields."""
    base = {f.name for f in dataclasses.fields(Layer)}
    for klass in cls.__mro__:
        if klass is Layer:
            return False
        if klass.__module__.startswith("jnet.") and dataclasses.is_dataclass(klass):
            return any(f.name not in base for f in dataclasses.fields(klass))
    return False


def _init_takes_more(cls) -> bool:
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    own = [p for p in list(params.values())[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return any(
        p.name not in ("name", "trainable", "dtype", "input_shape", "input_dim", "activity_regularizer") for p in own
    )


def _to_array(x):
    if isinstance(x, np.ndarray):
        return jnp.asarray(x.astype(np.float32) if x.dtype == np.float64 else x)
    if isinstance(x, Variable):
        return x.value
    return x
