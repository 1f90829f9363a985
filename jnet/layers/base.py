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
import re
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet import dtypes as jdtypes
from jnet.core.symbolic import call_signature, call_symbolic, is_symbolic
from jnet.core.variables import Variable, VariableScope, current_scope, path_key
from jnet.serialization import _REGISTRY, deserialize, serialize  # noqa: F401  (re-exported)


# --------------------------------------------------------------------------- naming


def to_snake_case(name: str) -> str:
    """`Conv2DTranspose` -> `conv2d_transpose`, `SimpleRNN` -> `simple_rnn` (Keras's rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def name_key(key, name: str):
    """A key derived from a name (per-layer dropout streams in a graph)."""
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


def specs_of(tree):
    """Specs for the arrays in a call's argument tree; other leaves (Python constants) stay."""
    return jax.tree_util.tree_map(lambda a: as_spec(a) if is_spec_leaf(a) else a, tree, is_leaf=is_spec_leaf)


def concrete_spec(shape, dtype, fill: int = 1) -> jax.ShapeDtypeStruct:
    """Replace unknown (None) axes by `fill` so a layer can be traced."""
    return jax.ShapeDtypeStruct(tuple(fill if d is None else int(d) for d in shape), jnp.dtype(dtype))


def expand_to(v, ndim: int):
    """`v` with leading unit axes up to `ndim`, so `x + expand_to(bias, x.ndim)` broadcasts
    explicitly (jnet runs clean under `jax_numpy_rank_promotion="raise"`)."""
    return jnp.reshape(v, (1,) * (ndim - v.ndim) + tuple(v.shape))


def shape_tree(x):
    """Keras's build argument: a shape tuple per array (None axes kept), lists and dicts kept."""
    if isinstance(x, (list, tuple)) and not hasattr(x, "shape"):
        return [shape_tree(v) for v in x]
    if isinstance(x, dict):
        return {k: shape_tree(v) for k, v in x.items()}
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return x


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


def _unique_key(base: str, taken) -> str:
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


class Layer:
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

    # ------------------------------------------------------------------ weights

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False,
                   name=None):
        """Declare a weight (Keras's signature) and return its `Variable`.

        Its init key (from its path), penalty, constraint, place in `weights` (creation order),
        checkpoint path and trainable split all come from this one declaration.
        """
        self._init_tracking()
        shape = () if shape is None else shape
        if isinstance(shape, int):
            shape = (shape,)
        from jnet.core.variables import _is_key

        if dtype is None:
            dtype = jnp.dtype(self.param_dtype)
        elif not _is_key(dtype):
            dtype = jnp.dtype(dtype)
        if initializer is None:
            initializer = "glorot_uniform" if not _is_key(dtype) and jnp.issubdtype(dtype, jnp.floating) else "zeros"
        try:
            var = Variable(initializer, shape, dtype, trainable, name, regularizer, constraint, owner=self)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{self._label}.add_weight(name={name!r}): {err}") from None
        self._own_vars.append(var)
        return var

    add_variable = add_weight

    def _own_variables(self) -> list:
        own = list(self.__dict__.get("_own_vars", []))
        ids = {id(v) for v in own}
        for value in list(self.__dict__.values()):
            if isinstance(value, Variable) and id(value) not in ids:
                if value._owner is None:
                    value._owner = self
                own.append(value)
                ids.add(id(value))
        return own

    def _own_values(self) -> dict:
        """`{weight name: current (or scope-bound) array}` of the layer's own weights."""
        return {v.name: v.value for v in self._own_variables()}

    def _sublayers(self) -> list:
        """Layers held as attributes (also inside lists, tuples and dicts), in assignment order."""
        found, seen = [], {id(self)}

        def visit(value, depth):
            if isinstance(value, Layer):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            elif depth < 3 and isinstance(value, (list, tuple)):
                for v in value:
                    visit(v, depth + 1)
            elif depth < 3 and isinstance(value, dict):
                for v in value.values():
                    visit(v, depth + 1)

        skip = ("_inbound_nodes",) + tuple(getattr(type(self), "_untracked", ()))
        for key, value in list(self.__dict__.items()):
            if key in skip:
                continue
            visit(value, 0)
        return found

    def _variable_tree(self) -> dict:
        """`{"params": ..., "state": ...}` of `Variable`s: own weights by name (trainable ones in
        params), sublayers' trees by sublayer name."""
        params, state = {}, {}
        for v in self._own_variables():
            part = params if v.trainable else state
            part[_unique_key(v.name, set(params) | set(state))] = v
        inline = {id(self.__dict__.get(a)) for a in getattr(type(self), "_inline_sublayers", ())}
        subs = self._sublayers()
        if subs:
            _name_sublayers(self, [s for s in subs if id(s) not in inline], set(params) | set(state))
        for sub in subs:
            tree = sub._variable_tree()
            for part, sub_part in ((params, tree["params"]), (state, tree["state"])):
                if not sub_part:
                    continue
                if id(sub) in inline:  # its weights read as this layer's own (an RNN's cell)
                    clash = set(part) & set(sub_part)
                    if clash:
                        raise ValueError(f"{self._label}: its weights and {sub._label}'s share the names {sorted(clash)}")
                    part.update(sub_part)
                else:
                    part[sub.name] = sub_part
        return {"params": params, "state": state}

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def weights(self) -> list:
        """All weights in Keras's order: own trainable, own non-trainable, then sublayers'."""
        own = self._own_variables()
        out = [v for v in own if v.trainable] + [v for v in own if not v.trainable]
        seen = {id(v) for v in out}
        for sub in self._sublayers():
            for v in sub.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        own = [v for v in self._own_variables() if v.trainable]
        seen = {id(v) for v in own}
        for sub in self._sublayers():
            for v in sub.trainable_weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    own.append(v)
        return own

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        """All weights as numpy arrays, in Keras's order."""
        self._materialize()
        return [np.asarray(v.value) for v in self.weights]

    # ---- derived from the declarations: what the trainer (or your own loop) applies

    def penalty(self, params):
        """The weight regularizers' penalty (`kernel_regularizer=`, ...) on `params`."""
        total = 0.0
        for v, a in _bind_pairs(self._variable_tree(), {"params": params}, self._label):
            if v.regularizer is not None:
                total = total + v.regularizer(a)
        return total

    def constrain(self, params):
        """`params` with every weight's constraint applied (`kernel_constraint=`, ...)."""
        tree = self._variable_tree()["params"]
        return _zip_map(lambda v, a: a if v.constraint is None else v.constraint(a), tree, params)

    def trainable_mask(self, params):
        """A pytree of bools over `params`: False where a weight is frozen (its layer, or a
        model holding it, has `trainable=False`)."""
        frozen = {id(v) for v in self.weights} - {id(v) for v in self.trainable_weights}
        tree = self._variable_tree()["params"]
        return _zip_map(lambda v, a: id(v) not in frozen, tree, params)

    def weights_of(self, variables) -> list:
        """The arrays of a `{"params", "state"}` tree in Keras's weight order (`weights`)."""
        found = {id(v): a for v, a in _bind_pairs(self._variable_tree(), variables, self._label)}
        return [found[id(v)] for v in self.weights if id(v) in found]

    def set_weights(self, weights):
        """Replace every weight from a list in `get_weights()` order (every mismatch listed)."""
        self._materialize()  # as in Keras, the weights exist (and the seed advanced) before they are replaced
        targets = self.weights
        weights = list(weights)
        problems = []
        if len(weights) != len(targets):
            problems.append(f"expected {len(targets)} arrays, got {len(weights)}")
        for i, (v, w) in enumerate(zip(targets, weights)):
            if tuple(np.shape(w)) != v.shape:
                problems.append(f"weight {i} ({v.path}) expects shape {v.shape}, got {tuple(np.shape(w))}")
        if problems:
            raise ValueError(f"{self._label}.set_weights: " + "; ".join(problems))
        for v, w in zip(targets, weights):
            v._value = jnp.asarray(w, v.dtype)

    def count_params(self, variables=None) -> int:
        """Number of scalars in the weights (Keras: no argument; jnet also counts a given tree's
        params)."""
        if variables is not None:
            return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(variables.get("params", {}))))
        if not self.built:
            raise ValueError(f"{self._label} is not built yet: call it on data or build(input_shape) first")
        return int(sum(v.size for v in self.weights))

    def _materialize(self, key=None):
        """Give every weight that has no value yet its initial value (one compiled call)."""
        tree = self._variable_tree()
        todo = [(p, v) for p, v in _paths(tree) if not v.initialized]
        if not todo:
            return
        from jnet.core.variables import no_scope
        from jnet.utils import rng as jrng

        key = jrng.next_key() if key is None else key
        with no_scope(), jax.ensure_compile_time_eval():
            values = jax.jit(lambda k: [v.initial_value(path_key(k, p)) for p, v in todo])(key)
        for (_, v), value in zip(todo, values):
            v._value = value

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

    def initial_variables(self, key) -> dict:
        """Initial values of every weight, each from `key` folded with its path."""
        tree = self._variable_tree()
        return {part: _map_paths(lambda p, v: v.initial_value(path_key(key, p)), tree[part])
                for part in ("params", "state")}

    def current_variables(self) -> dict:
        """The weights' current values as `{"params", "state"}` (initialising any that have none)."""
        self._materialize()
        tree = self._variable_tree()
        return jax.tree_util.tree_map(lambda v: v.value, tree, is_leaf=lambda v: isinstance(v, Variable))

    def assign_variables(self, variables):
        """Store the arrays of a `{"params", "state"}` tree into the layer's variables."""
        tree = self._variable_tree()
        for v, value in _bind_pairs(tree, variables, self._label):
            v._value = value

    def apply(self, variables, *inputs, training=False, rng=None, mask=None, **kwargs):
        """`(outputs, new_state)`. Pure: usable under `jax.jit`, `jax.grad`, `jax.vmap`."""
        if not self.built:
            self._maybe_build(specs_of(inputs), kwargs)
        tree = self._variable_tree()
        bindings = {id(v): a for v, a in _bind_pairs(tree, variables, self._label)}
        with VariableScope(bindings, training=training, rng=rng):
            outputs = self._invoke(inputs, kwargs, training, mask, rng)
            state = jax.tree_util.tree_map(lambda v: v.value, tree["state"], is_leaf=lambda v: isinstance(v, Variable))
        return outputs, state

    def stateless_call(self, trainable_variables, non_trainable_variables, *args, return_losses=False, **kwargs):
        """Keras's `stateless_call`: `(outputs, non_trainable_variables)` with the given arrays
        (lists in `trainable_variables` / `non_trainable_variables` order) bound."""
        bindings = {}
        for group, arrays in ((self.trainable_variables, trainable_variables),
                              (self.non_trainable_variables, non_trainable_variables)):
            if len(group) != len(arrays):
                raise ValueError(f"{self._label}.stateless_call: expected {len(group)} arrays, got {len(arrays)}")
            bindings.update({id(v): a for v, a in zip(group, arrays)})
        training = kwargs.pop("training", False)
        rng = kwargs.pop("rng", None)
        mask = kwargs.pop("mask", None)
        outer = current_scope()
        if rng is None and outer is not None:  # e.g. the per-step key fit gives a custom train_step
            rng = outer.next_rng()
        with VariableScope(bindings, training=training, rng=rng) as scope:
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
                    scope.losses.append(reg(out) / out.shape[0] if out.ndim else reg(out))
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
        scope.losses.append(jnp.asarray(loss, jnp.float32))

    # ------------------------------------------------------------------ building

    def _maybe_build(self, arg_specs, kw_specs):
        """Build from the specs of the call's arguments (Keras's `_maybe_build`), once."""
        if self.built:
            return
        specs = specs_of(tuple(arg_specs))
        try:
            self.check_inputs(*specs)
            self.__dict__["_build_specs"] = specs
            self._build_shapes = shape_tree(list(specs))
            self.build(*self._build_arguments(specs, kw_specs))
        except (TypeError, ValueError) as err:
            if self._label in str(err):
                raise
            raise type(err)(f"{self._label}: {err}") from err
        self.built = True
        if any(not sub.built for sub in self._sublayers()):
            self._build_by_tracing(specs, kw_specs)

    def _build_arguments(self, specs, kw_specs) -> list:
        """`build`'s arguments: the first input's shape for `build(input_shape)`, else the
        shape of each call argument its parameters name (`build(query_shape, value_shape)`)."""
        params = list(inspect.signature(self.build).parameters.values())
        if not params:
            return []
        if len(params) == 1 or params[0].name == "input_shape" or not params[0].name.endswith("_shape"):
            return [shape_tree(specs[0]) if specs else None]
        positional, _ = call_signature(type(self))
        named = dict(zip(positional, specs))
        named.update({k: v for k, v in kw_specs.items() if is_spec_leaf(v) or isinstance(v, (list, dict))})
        out = []
        for p in params:
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                break
            arg = named.get(p.name[: -len("_shape")]) if p.name.endswith("_shape") else None
            if arg is None:
                if p.default is inspect.Parameter.empty:
                    out.append(None)
                    continue
                out.append(p.default)
                continue
            out.append(shape_tree(arg))
        return out

    def _build_by_tracing(self, specs, kw_specs):
        """Build sublayers that `build` left unbuilt by tracing `call` once, shapes only (Keras
        does the same for layers whose `build` does not build their sublayers)."""
        filled = _fill_specs((tuple(specs), dict(kw_specs)), 1)
        leaves, treedef = jax.tree_util.tree_flatten(filled, is_leaf=is_spec_leaf)
        where = [i for i, leaf in enumerate(leaves) if is_spec_leaf(leaf)]

        def run(arrays):
            full = list(leaves)
            for i, a in zip(where, arrays):
                full[i] = a
            args, kw = jax.tree_util.tree_unflatten(treedef, full)
            with VariableScope(training=False, abstract=True):
                return self._invoke(args, kw, False, None, None)

        try:
            jax.eval_shape(run, [leaves[i] for i in where])
        except (TypeError, ValueError) as err:
            if self._label in str(err):
                raise
            raise type(err)(f"{self._label}: {err}") from err

    @property
    def input_spec(self):
        return None

    def compute_output_shape(self, input_shape, *args):
        """The output shape for an input of `input_shape` (batch axis included; None allowed)."""
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            specs = [jax.ShapeDtypeStruct(tuple(s), jnp.float32) for s in input_shape]
            out = self.output_spec(specs)
        else:
            out = self.output_spec(jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))
        return jax.tree_util.tree_map(lambda s: tuple(s.shape), out)

    def compute_output_spec(self, *args, **kwargs):
        return self.output_spec(*args, **kwargs)

    def output_spec(self, *input_specs, **kwargs):
        """Output spec(s) for inputs of the given specs, from `jax.eval_shape`.

        Axes given as `None` (unknown batch or sequence length) stay `None` in the result: the
        shape is evaluated with two far-apart prime fillers (1021 and 2039, so strided or
        windowed axes still differ) and the axes that move are unknown.
        """
        return infer_output_spec(self, input_specs, kwargs)

    # ------------------------------------------------------------------ calling

    def __call__(self, *args, **kwargs):
        leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
        if any(is_symbolic(leaf) for leaf in leaves):
            return call_symbolic(self, args, kwargs)
        if not args:
            raise TypeError(f"{self._label} was called without inputs")
        args = jax.tree_util.tree_map(_to_array, args)
        training = kwargs.pop("training", None)
        mask = kwargs.pop("mask", None)
        rng = kwargs.pop("rng", None)
        self._maybe_build(specs_of(args),
                          {k: v for k, v in kwargs.items() if is_spec_leaf(v)})
        outer = current_scope()
        if outer is None:
            self._materialize()
            training = bool(training) if training is not None else False
            # A key for this call when it or a nested layer (a Dropout inside a custom block whose
            # call() takes no rng) may draw random numbers.
            if rng is None and training and ("rng" in self._call_keywords() or self._sublayers()):
                from jnet.utils import rng as jrng

                rng = jrng.next_key()
            with VariableScope(training=training, rng=rng) as scope:
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

    # ------------------------------------------------------------------ graph introspection

    def _node_tensor(self, which: str):
        if not self._inbound_nodes:
            raise AttributeError(f"{self._label} has never been called on symbolic tensors, so it has no {which}")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"{self._label} has been called {len(self._inbound_nodes)} times; its {which} is "
                                 f"ambiguous (use get_{which}_at(node_index))")
        node = self._inbound_nodes[0]
        if which == "output":
            return node.outputs
        args = node.args
        return args[0] if len(args) == 1 else list(args)

    @property
    def input(self):
        return self._node_tensor("input")

    @property
    def output(self):
        return self._node_tensor("output")

    def get_input_at(self, node_index):
        args = self._inbound_nodes[node_index].args
        return args[0] if len(args) == 1 else list(args)

    def get_output_at(self, node_index):
        return self._inbound_nodes[node_index].outputs

    # ------------------------------------------------------------------ config

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable."""
        if not dataclasses.is_dataclass(self) or _is_keras_style(type(self)):
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
        config = {k: deserialize_value(v, custom_objects) for k, v in config.items()}
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)

    def get_build_config(self):
        if self._build_shapes is None:
            return None
        shapes = self._build_shapes
        return {"input_shape": shapes[0] if len(shapes) == 1 else shapes}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None and not self.built:
            shape = config["input_shape"]
            if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
                specs = [jax.ShapeDtypeStruct(tuple(s), jnp.float32) for s in shape]
            else:
                specs = [jax.ShapeDtypeStruct(tuple(shape), jnp.float32)]
            self._maybe_build(specs, {})


dataclasses.dataclass(eq=False)(Layer)
Layer.__init__.__jnet_dataclass_init__ = True


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
            result = build(self, *args, **kwargs)
        finally:
            self.__dict__["_building"] = outer
        if not outer:
            self.__dict__["built"] = True
            if self.__dict__.get("_build_shapes") is None and args:
                self.__dict__["_build_shapes"] = [args[0]] if len(args) == 1 else list(args)
        return result

    wrapper.__jnet_build__ = True
    return wrapper


def _is_keras_style(cls) -> bool:
    """A user class that writes its own `__init__` somewhere below Layer (Keras style): its
    config is what its `get_config` says, not dataclass fields."""
    for klass in cls.__mro__:
        if klass is Layer:
            return False
        if "__init__" in klass.__dict__ and not getattr(klass.__init__, "__jnet_dataclass_init__", False) \
                and not klass.__module__.startswith("jnet."):
            return True
    return False


def _init_takes_more(cls) -> bool:
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    own = [p for p in list(params.values())[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return any(p.name not in ("name", "trainable", "dtype", "input_shape", "input_dim", "activity_regularizer")
               for p in own)


def _name_sublayers(owner, subs, taken):
    """Unique names among a layer's sublayers (and its own weights): `dense`, `dense_1`, ..."""
    names = set(taken)
    for sub in subs:
        if sub.name in names:
            if sub._auto_named and not sub._name_fixed:
                sub.name = _unique_key(sub.name, names)
            else:
                raise ValueError(f"{owner._label}: two of its sublayers (or a sublayer and a weight) are named "
                                 f"{sub.name!r}; give them distinct names")
        names.add(sub.name)


def _to_array(x):
    if isinstance(x, np.ndarray):
        return jnp.asarray(x.astype(np.float32) if x.dtype == np.float64 else x)
    if isinstance(x, Variable):
        return x.value
    return x


def _paths(tree, prefix="") -> list:
    """`[(path, Variable)]` of a variable tree; the path skips the params/state split."""
    out = []
    for part in ("params", "state"):
        out.extend(_leaf_paths(tree.get(part, {}), ""))
    return out


def _leaf_paths(tree, prefix):
    if isinstance(tree, dict):
        out = []
        for k, v in tree.items():
            out.extend(_leaf_paths(v, f"{prefix}/{k}" if prefix else str(k)))
        return out
    return [(prefix, tree)]


def _map_paths(fn, tree, prefix=""):
    if isinstance(tree, dict):
        return {k: _map_paths(fn, v, f"{prefix}/{k}" if prefix else str(k)) for k, v in tree.items()}
    return fn(prefix, tree)


def _zip_map(fn, tree, values):
    """`fn(variable, array)` over a variable tree and a matching array tree."""
    if isinstance(tree, dict):
        return {k: _zip_map(fn, tree[k], values[k]) for k in values}
    return fn(tree, values)


def _bind_pairs(tree, variables, label) -> list:
    """`[(Variable, array)]` matching a variable tree with an array tree. Entries missing from
    `variables` keep their current value; unknown entries and wrong shapes are errors."""
    pairs = []
    if not isinstance(variables, dict):
        raise TypeError(f"{label}: variables must be a dict {{'params': ..., 'state': ...}}, got {type(variables).__name__}")

    def walk(t, v, where):
        if isinstance(t, Variable):
            shape = tuple(np.shape(v))
            if shape != t.shape:
                raise ValueError(f"{label}: variable {where} has shape {t.shape}, got an array of shape {shape}")
            pairs.append((t, v))
            return
        if not isinstance(v, dict):
            raise ValueError(f"{label}: expected a dict at {where or 'the top'}, got {type(v).__name__}")
        extra = [k for k in v if k not in t]
        if extra:
            raise ValueError(f"{label}: variables at {where or 'the top'} have unknown entries {sorted(map(str, extra))}; "
                             f"expected {sorted(map(str, t))}")
        for k, sub in t.items():
            if k in v:
                walk(sub, v[k], f"{where}/{k}" if where else k)

    for part in ("params", "state"):
        if part in variables and variables[part] is not None:
            walk(tree[part], variables[part], part)
    return pairs


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
    var_specs = jax.tree_util.tree_map(lambda v: v.spec, layer._variable_tree(), is_leaf=lambda v: isinstance(v, Variable))

    def run(variables, arrays):
        full = list(leaves)
        for i, a in zip(where, arrays):
            full[i] = a
        args, kw = jax.tree_util.tree_unflatten(treedef, full)
        return layer.apply(variables, *args, **kw)[0]

    return jax.eval_shape(run, var_specs, [leaves[i] for i in where])


def _unfilled(message: str, specs) -> str:
    """An error message raised while tracing with filled-in axes, showing the shapes as given
    (`(None, 6)`, not the tracing filler `(1021, 6)`)."""
    for s in jax.tree_util.tree_leaves(specs, is_leaf=is_spec_leaf):
        if is_spec_leaf(s) and any(d is None for d in s.shape):
            for fill in (1021, 2039):
                message = message.replace(str(tuple(fill if d is None else d for d in s.shape)), str(tuple(s.shape)))
    return message


def infer_output_spec(layer, specs, kwargs=None):
    """Output spec tree of `layer` on `specs` (which may have None axes); builds it first."""
    kwargs = kwargs or {}
    try:
        layer._maybe_build(specs, {k: v for k, v in kwargs.items() if is_spec_leaf(v)})
        if layer.built and layer._build_shapes is not None:
            layer.check_inputs(*specs_of(specs))
        first = _eval(layer, specs, kwargs, 1021)
        if not _has_unknown((specs, kwargs)):
            return first
        second = _eval(layer, specs, kwargs, 2039)
    except (TypeError, ValueError) as err:
        message = _unfilled(str(err), specs)
        if getattr(err, "_jnet_named", False) or (layer._label in message and message == str(err)):
            raise
        if layer._label not in message:
            message = f"{layer._label}: {message}"
        raise type(err)(message) from err

    def merge(a, b):
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        return jax.ShapeDtypeStruct(shape, a.dtype)

    return jax.tree_util.tree_map(merge, first, second)
