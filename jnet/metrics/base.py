"""The metric protocol: pure `init / update / result` over a pytree state (the optax pattern),
plus a Keras-style stateful facade (`update_state`, `result()`, `reset_state`) for use outside
`fit`. Also the averaging metrics `Mean`, `Sum` and `MeanMetricWrapper`."""

from __future__ import annotations

import functools
import re

import jax
import jax.numpy as jnp

from jnet.losses.reduction import broadcast_left, squeeze_or_expand_to_same_rank
from jnet.metrics.stateless import StatelessMetricMixin

_HELD = object()


def _snake(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _wrap_result(fn):
    @functools.wraps(fn)
    def result(self, state=_HELD):
        if state is _HELD or state is None:
            state = self._held_state()
        return fn(self, state)

    return result


class Metric(StatelessMetricMixin):
    """Base class of metrics.

    A metric object holds configuration only. Its state is a pytree of arrays threaded
    through pure functions, so it can live inside a jitted train step:

    ```python
    m = jnet.metrics.SparseCategoricalAccuracy()
    state = m.init()
    state = jax.jit(m.update)(state, y_true, y_pred)      # any number of times
    acc = m.result(state)
    ```

    The Keras-style facade holds a state on the object:
    `m.update_state(y_true, y_pred)`, `m.result()`, `m.reset_state()`.

    Subclasses implement `init()`, `update(state, y_true, y_pred, sample_weight=None)` and
    `result(state)`. Rows whose `sample_weight` is 0 do not count at all (not even as NaN).
    Metrics whose state shape depends on the data (`F1Score`, multi-label `AUC`) implement
    `build(y_true_shape, y_pred_shape)`; `jnet.metrics.get(..., y_pred_shape=...)` calls it.

    Args:
        name: the metric's name: its key in training logs.
        dtype: the dtype of the state and result (`"float32"`).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "update_state" in cls.__dict__ and "update" not in cls.__dict__:
            _adapt_keras_style(cls)
        elif "result" in cls.__dict__:
            cls.result = _wrap_result(cls.__dict__["result"])

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = jnp.dtype(dtype or "float32").name
        self._state = None
        self._jit_update = None

    # ---- the pure protocol --------------------------------------------------------------
    built = True

    def build(self, y_true_shape, y_pred_shape):
        """Fix shape-dependent state sizes; a no-op for most metrics."""

    def init(self):
        raise TypeError(f"{type(self).__name__} must implement init()")

    def update(self, state, y_true, y_pred, sample_weight=None):
        raise TypeError(f"{type(self).__name__} must implement update(state, ...)")

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state variable of a Keras-style metric (Keras's `Metric.add_variable`): a subclass
        that writes `update_state` and `result` over such variables runs in `fit` like any
        jnet metric (its variables become the compiled step's metric state)."""
        from jnet.core.variables import Variable

        var = Variable(initializer, shape, dtype or self.dtype, trainable=False, name=name)
        self.__dict__.setdefault("_keras_variables", []).append(var)
        return var

    add_weight = add_variable

    def result(self, state=_HELD):
        raise TypeError(f"{type(self).__name__} must implement result(state)")

    def merge(self, state_a, state_b):
        """Combine two states (e.g. from two devices): accumulators add."""
        return jax.tree_util.tree_map(jnp.add, state_a, state_b)

    def _not_built(self, what):
        return ValueError(
            f"{type(self).__name__} '{self.name}' needs {what} before init(): call "
            "metric.build(y_true_shape, y_pred_shape), or resolve it with "
            "jnet.metrics.get(metric, y_true_shape=..., y_pred_shape=...)."
        )

    # ---- the Keras-style stateful facade ------------------------------------------------
    def _held_state(self):
        return self._state if self._state is not None else self.init()

    def update_state(self, *args, sample_weight=None):
        """Accumulate a batch into the state held on this object (Keras's API)."""
        if not self.built and len(args) >= 2:
            self.build(tuple(jnp.shape(args[0])), tuple(jnp.shape(args[1])))
        if self._jit_update is None:
            self._jit_update = jax.jit(self.update)
        self._state = self._jit_update(self._held_state(), *args, sample_weight=sample_weight)
        return self._state

    def result_value(self):
        """The result of the held state."""
        return self.result(self._held_state())

    def reset_state(self):
        self._state = None

    def assign_variables(self, metric_variables):
        """Hold `metric_variables` (a flat list like `variables`, e.g. the states `fit` ended
        with) as this metric's state, so `result()` reports them."""
        self._state = self._unflatten(metric_variables, "assign_variables")

    def __call__(self, *args, sample_weight=None):
        """Keras's call: accumulate the batch into the held state and return the result."""
        self.update_state(*args, sample_weight=sample_weight)
        return self.result_value()

    # ---- config ---------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _adapt_keras_style(cls):
    """Give a Keras-style metric (variables from `add_variable`, `update_state` assigning them,
    `result()` reading them) jnet's pure protocol: the state is the variables' values, and
    `update`/`result` run the user's methods with those values bound (a StatelessScope)."""
    from jnet.core.variables import StatelessScope

    keras_update, keras_result = cls.__dict__["update_state"], cls.__dict__.get("result") or cls.result

    def variables_of(self):
        return self.__dict__.get("_keras_variables", [])

    def init(self):
        return [v.initial_value(jax.random.key(0)) for v in variables_of(self)]

    def update(self, state, *args, **kwargs):
        vs = variables_of(self)
        sw = kwargs.get("sample_weight")
        if sw is not None and args and jnp.ndim(sw) < jnp.ndim(args[0]):
            # The engine's weights (real rows 1, padding 0) are per sample; shaped like y_true they
            # multiply a user's per-element values row by row instead of broadcasting across.
            kwargs["sample_weight"] = jnp.reshape(sw, jnp.shape(sw) + (1,) * (jnp.ndim(args[0]) - jnp.ndim(sw)))
        with StatelessScope(state_mapping=list(zip(vs, state))) as scope:
            keras_update(self, *args, **kwargs)
            return [scope.get_current_value(v) for v in vs]

    def result(self, state=_HELD):
        if state is _HELD or state is None:
            return _array(keras_result(self))
        with StatelessScope(state_mapping=list(zip(variables_of(self), state))):
            return _array(keras_result(self))  # read while the state is bound

    def held_state(self):
        return [v.value for v in variables_of(self)]

    def set_state(self, state):
        if state is not None:
            for v, value in zip(variables_of(self), state):
                v.assign(value)

    def update_state(self, *args, **kwargs):
        return keras_update(self, *args, **kwargs)

    cls.init, cls.update, cls.result, cls.update_state = init, update, result, update_state
    cls._held_state = held_state
    cls._state = property(held_state, set_state)


def _array(out):
    """A metric result as an array (Keras's `result()` may return the variable itself)."""
    return out.value if hasattr(out, "assign") else out


def _zero_weighted(values, weight):
    # `where`, not a product: a zero weight hides NaN/inf in padded rows.
    return jnp.where(weight != 0, values * weight, jnp.zeros((), values.dtype))


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype="float32"):
    """Keras's reduction of values (and weights) to one value per sample (axis 0)."""
    values = jnp.asarray(values).astype(dtype)
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight).astype(dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim = sample_weight.ndim
        if values.ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, values.ndim)))
        sample_weight = broadcast_left(sample_weight, values.shape)
        values = _zero_weighted(values, sample_weight)
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values it is given.

    Example:
    ```python
    m = jnet.metrics.Sum()
    m.update_state([1, 3, 5, 7])
    m.result()           # 16.0
    ```
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def init(self):
        return {"total": jnp.zeros((), self.dtype)}

    def update(self, state, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, jnp.sum, self.dtype)
        return {"total": state["total"] + jnp.sum(values)}

    def result(self, state):
        return state["total"]


class Mean(Metric):
    """The (weighted) mean of the values it is given: `sum(values * w) / sum(w)`.

    Values of shape `(batch, ...)` are first averaged to one value per sample.

    Example:
    ```python
    m = jnet.metrics.Mean()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    m.result()           # 2.0
    ```
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def init(self):
        return {"total": jnp.zeros((), self.dtype), "count": jnp.zeros((), self.dtype)}

    def update(self, state, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, jnp.mean, self.dtype)
        if sample_weight is not None:
            count = jnp.sum(sample_weight)
        else:
            count = values.shape[0] if values.ndim >= 1 else 1
        return {"total": state["total"] + jnp.sum(values), "count": state["count"] + jnp.asarray(count, self.dtype)}

    def result(self, state):
        count = state["count"]
        return jnp.where(count != 0, state["total"] / jnp.where(count != 0, count, 1), 0.0)


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)` over all samples seen.

    Args:
        fn: a function `(y_true, y_pred, **kwargs) -> per-sample values`, e.g. a loss function.
            A function that returns one number per batch (`ops.mean(y_pred)`) gives the mean
            over batches, as in Keras; `fit` pads a last partial batch to the full size, and
            such a function sees the padding rows too (per-sample values never do).
        name: the metric's name (default: the function's name).
        **kwargs: passed to `fn`.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def values_and_mask(self, y_true, y_pred):
        """Per-sample values and an optional mask of entries that count."""
        return self._fn(y_true, y_pred, **self._fn_kwargs), None

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_pred = jnp.asarray(y_pred)
        if not jnp.issubdtype(y_pred.dtype, jnp.floating) or y_pred.dtype != self.dtype:
            y_pred = y_pred.astype(self.dtype)
        values, mask = self.values_and_mask(jnp.asarray(y_true), y_pred)
        if jnp.ndim(values) == 0 and sample_weight is not None:
            # One number per batch: the batch counts once (Keras's count for a scalar) unless
            # every row of it is padding.
            sample_weight = jnp.any(jnp.asarray(sample_weight) != 0).astype(self.dtype)
        if mask is not None:
            # Keras merges a values mask into the weights without rescaling ("sum").
            values, mask = squeeze_or_expand_to_same_rank(values, mask)
            mask = mask.astype(self.dtype)
            if sample_weight is None:
                sample_weight = mask
            else:
                sw = jnp.asarray(sample_weight).astype(self.dtype)
                mask, sw = squeeze_or_expand_to_same_rank(mask, sw)
                sample_weight = broadcast_left(sw, mask.shape) * mask
        return super().update(state, values, sample_weight)

    def get_config(self):
        from jnet.losses import _function_name
        from jnet.metrics import _FUNCTIONS

        fn = (
            self._fn.__name__
            if _FUNCTIONS.get(getattr(self._fn, "__name__", None)) is (self._fn)
            else _function_name(self._fn)
        )
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        from jnet.losses import _function_by_name
        from jnet.metrics import _FUNCTIONS

        config = dict(config)
        fn = config["fn"]
        config["fn"] = _FUNCTIONS[fn] if isinstance(fn, str) and fn in _FUNCTIONS else (_function_by_name(fn))
        return cls(**config)
