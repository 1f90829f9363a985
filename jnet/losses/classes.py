"""Keras loss classes: config objects whose `__call__` is a pure, jittable function."""

from __future__ import annotations

import re
import warnings

import jax
import jax.numpy as jnp

from jnet.losses import functions as F
from jnet.losses.reduction import broadcast_left, reduce_values, squeeze_or_expand_to_same_rank, standardize_reduction


def _snake(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Loss:
    """Base class of losses. Subclasses implement `call(y_true, y_pred) -> per-sample values`.

    Args:
        name: the loss's name (snake_case class name by default).
        reduction: `"sum_over_batch_size"` (default), `"sum"`, `"mean"`,
            `"mean_with_sample_weight"` or `"none"` — see `jnet.losses.reduce_values`.
        dtype: the dtype the loss computes in (`"float32"` by default, also under mixed
            precision, as Keras does).

    Example:
    ```python
    class Scaled(jnet.losses.Loss):
        def call(self, y_true, y_pred):
            return jnp.mean(jnp.abs(y_true - y_pred), axis=-1) * 2
    loss = Scaled()(y_true, y_pred)          # a scalar
    ```
    """

    # Losses whose y_true holds integer class ids keep it as is instead of casting to float.
    _integer_targets = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = jnp.dtype(dtype or "float32").name

    def call(self, y_true, y_pred):
        raise TypeError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def call_with_mask(self, y_true, y_pred):
        """`(per-sample values, mask or None)`; a loss that ignores entries returns a mask."""
        return self.call(y_true, y_pred), None

    def _cast(self, y_true, y_pred):
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        y_true = jnp.asarray(y_true)
        if not (self._integer_targets and jnp.issubdtype(y_true.dtype, jnp.integer)):
            y_true = y_true.astype(self.dtype)
        return y_true, y_pred

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        """The reduced loss. `mask` (optional, bool) excludes entries, e.g. padded steps."""
        y_true, y_pred = self._cast(y_true, y_pred)
        values, out_mask = self.call_with_mask(y_true, y_pred)
        if mask is not None and out_mask is None and jnp.ndim(values) == 0 and jnp.ndim(mask) == 1:
            values, mask = self._batch_value_without_padding(y_true, y_pred, values, mask), None
        if mask is not None and out_mask is not None:
            mask = broadcast_left(jnp.asarray(mask, bool), out_mask.shape, "mask") & out_mask
        elif out_mask is not None:
            mask = out_mask
        return reduce_values(values, sample_weight, self.reduction, mask)

    def _batch_value_without_padding(self, y_true, y_pred, value, valid):
        """A loss that returns one value for the whole batch (`ops.mean(...)` over everything, as
        custom Keras losses often do) cannot be masked. jnet pads a partial last batch to the
        batch size (`valid` marks the real rows): a full batch keeps the loss's own value; a
        padded one gets the mean over its real rows of the loss computed row by row, which is
        the loss of those rows whenever it averages per-row terms."""
        if not getattr(self, "_warned_batch_value", False):
            self._warned_batch_value = True
            warnings.warn(
                f"Loss {self.name!r} returned one value for the whole batch instead of per-sample "
                "values; on a partial last batch (padded by jnet) it is the mean over the real rows "
                "of the loss of each row, which matches Keras only for losses that average per-row "
                "terms. Return per-sample values (no reduction over the batch axis) to avoid this.",
                stacklevel=3,
            )
        if jnp.ndim(y_true) == 0 or jnp.shape(y_true)[0] != valid.shape[0] or jnp.shape(y_pred)[0] != valid.shape[0]:
            raise ValueError(
                f"Loss {self.name!r} returned one value for the whole batch and jnet cannot split "
                f"y_true {jnp.shape(y_true)} / y_pred {jnp.shape(y_pred)} into the batch's "
                f"{valid.shape[0]} rows; return per-sample values instead"
            )
        rows = jax.vmap(lambda t, p: jnp.reshape(self.call(t[None], p[None]), ()))(y_true, y_pred)
        validf = valid.astype(rows.dtype)
        padded_value = jnp.sum(jnp.where(valid, rows, 0)) / jnp.maximum(jnp.sum(validf), 1)
        return jnp.where(jnp.all(valid), value, padded_value)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """A `Loss` around a function `fn(y_true, y_pred, **kwargs) -> per-sample values`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        # Keras first aligns ranks that differ by a trailing 1: labels `(batch,)` against
        # predictions `(batch, 1)` reach the function as `(batch, 1)` (not broadcast to a square).
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        from jnet.losses import _function_name

        return {**super().get_config(), "fn": _function_name(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        from jnet.losses import _function_by_name

        config = dict(config)
        config["fn"] = _function_by_name(config["fn"])
        return cls(**config)


class _Builtin(Loss):
    """A built-in loss: a per-sample function and the config fields passed to it."""

    _fn = None
    _fields = ()

    def call(self, y_true, y_pred):
        kwargs = {k: getattr(self, k) for k in self._fields}
        return type(self)._fn(y_true, y_pred, **kwargs)

    def get_config(self):
        return {**super().get_config(), **{k: getattr(self, k) for k in self._fields}}


def _simple(cls_name, fn, default_name, doc):
    def __init__(self, reduction="sum_over_batch_size", name=default_name, dtype=None):
        Loss.__init__(self, name=name, reduction=reduction, dtype=dtype)

    return type(
        cls_name, (_Builtin,), {"__init__": __init__, "_fn": staticmethod(fn), "__doc__": doc, "__module__": __name__}
    )


MeanSquaredError = _simple(
    "MeanSquaredError", F.mean_squared_error, "mean_squared_error", "`mean((y_true - y_pred) ** 2)` over the last axis."
)
MeanAbsoluteError = _simple(
    "MeanAbsoluteError",
    F.mean_absolute_error,
    "mean_absolute_error",
    "`mean(abs(y_true - y_pred))` over the last axis.",
)
MeanAbsolutePercentageError = _simple(
    "MeanAbsolutePercentageError",
    F.mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
    "`100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)))` over the last axis.",
)
MeanSquaredLogarithmicError = _simple(
    "MeanSquaredLogarithmicError",
    F.mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
    "`mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2)` over the last axis.",
)
KLDivergence = _simple(
    "KLDivergence",
    F.kl_divergence,
    "kl_divergence",
    "`sum(y_true * log(y_true / y_pred))`, both clipped to `[1e-7, 1]`.",
)
Poisson = _simple("Poisson", F.poisson, "poisson", "`mean(y_pred - y_true * log(y_pred + 1e-7))` over the last axis.")
LogCosh = _simple("LogCosh", F.log_cosh, "log_cosh", "`mean(log(cosh(y_pred - y_true)))` over the last axis.")
Hinge = _simple("Hinge", F.hinge, "hinge", "`mean(max(1 - y_true * y_pred, 0))`; {0, 1} labels become {-1, 1}.")
SquaredHinge = _simple(
    "SquaredHinge",
    F.squared_hinge,
    "squared_hinge",
    "`mean(max(1 - y_true * y_pred, 0) ** 2)`; {0, 1} labels become {-1, 1}.",
)
CategoricalHinge = _simple(
    "CategoricalHinge",
    F.categorical_hinge,
    "categorical_hinge",
    "`max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`.",
)


class CTC(_Builtin):
    """Connectionist temporal classification loss.

    `y_true`: `(batch, max_label_length)` integer labels padded with 0 (the blank class);
    `y_pred`: `(batch, T, num_classes)` logits. Per-sample values have shape `(batch,)`.
    """

    _fn = staticmethod(F.ctc)
    _integer_targets = True

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(_Builtin):
    """Negative cosine similarity along `axis`: -1 for aligned vectors, 1 for opposite ones.

    Args:
        axis: the axis along which the similarity is computed (default -1).
    """

    _fn = staticmethod(F.cosine_similarity)
    _fields = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = axis


class Huber(_Builtin):
    """Huber loss: quadratic for `|error| <= delta`, linear beyond.

    Args:
        delta: the point where the loss turns linear (default 1.0).
    """

    _fn = staticmethod(F.huber)
    _fields = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.delta = delta


def _check_smoothing(cls, label_smoothing):
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"{cls}: label_smoothing must be in [0, 1], got {label_smoothing}")


class BinaryCrossentropy(_Builtin):
    """Cross-entropy for binary (0/1) targets, averaged over the last axis.

    Args:
        from_logits: whether `y_pred` holds logits (else probabilities, clipped to
            `[1e-7, 1 - 1e-7]`).
        label_smoothing: in `[0, 1]`; targets become `y * (1 - s) + 0.5 * s`.
        axis: the axis averaged over (default -1).

    Shapes: `y_true` and `y_pred` alike, e.g. `(batch, 1)` (a `(batch,)` y_true is expanded).
    """

    _fn = staticmethod(F.binary_crossentropy)
    _fields = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_smoothing("BinaryCrossentropy", label_smoothing)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class BinaryFocalCrossentropy(_Builtin):
    """Binary cross-entropy scaled by `(1 - p_t) ** gamma` (focal loss, Lin et al. 2017).

    Args:
        apply_class_balancing: weigh positives by `alpha` and negatives by `1 - alpha`.
        alpha: the class-balancing weight (default 0.25).
        gamma: the focusing parameter (default 2.0).
        from_logits, label_smoothing, axis: as in `BinaryCrossentropy`.
    """

    _fn = staticmethod(F.binary_focal_crossentropy)
    _fields = ("apply_class_balancing", "alpha", "gamma", "from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_smoothing("BinaryFocalCrossentropy", label_smoothing)
        self.apply_class_balancing, self.alpha, self.gamma = apply_class_balancing, alpha, gamma
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class CategoricalCrossentropy(_Builtin):
    """Cross-entropy for one-hot (or probability) targets.

    Args:
        from_logits: whether `y_pred` holds logits (else probabilities, renormalised and
            clipped to `[1e-7, 1 - 1e-7]`).
        label_smoothing: in `[0, 1]`; targets become `y * (1 - s) + s / num_classes`.
        axis: the class axis (default -1).

    Shapes: `y_true` and `y_pred` both `(batch, ..., C)`. Integer labels `(batch,)` raise an
    error pointing to `SparseCategoricalCrossentropy`.
    """

    _fn = staticmethod(F.categorical_crossentropy)
    _fields = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_smoothing("CategoricalCrossentropy", label_smoothing)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class CategoricalFocalCrossentropy(_Builtin):
    """Categorical cross-entropy scaled by `alpha * (1 - p) ** gamma` (focal loss).

    Args:
        alpha: the weighting factor (default 0.25).
        gamma: the focusing parameter (default 2.0).
        from_logits, label_smoothing, axis: as in `CategoricalCrossentropy`.
    """

    _fn = staticmethod(F.categorical_focal_crossentropy)
    _fields = ("alpha", "gamma", "from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_smoothing("CategoricalFocalCrossentropy", label_smoothing)
        self.alpha, self.gamma = alpha, gamma
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class SparseCategoricalCrossentropy(_Builtin):
    """Cross-entropy for integer class labels.

    Args:
        from_logits: whether `y_pred` holds logits.
        ignore_class: a label value to ignore (e.g. a padding class); those entries count
            neither in the sum nor in the `"sum_over_batch_size"` divisor, as in Keras.
        axis: the class axis of `y_pred` (default -1).

    Shapes: `y_true` `(batch, ...)` or `(batch, ..., 1)`; `y_pred` `(batch, ..., C)`.
    Per-sample values have `y_true`'s shape (without the trailing 1).
    """

    _fields = ("from_logits", "ignore_class", "axis")
    _integer_targets = True

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def call_with_mask(self, y_true, y_pred):
        return F.sparse_categorical_crossentropy_with_mask(
            y_true, y_pred, self.from_logits, self.ignore_class, self.axis
        )

    def call(self, y_true, y_pred):
        return self.call_with_mask(y_true, y_pred)[0]


LOSS_CLASSES = {
    cls.__name__: cls
    for cls in (
        Loss,
        LossFunctionWrapper,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        KLDivergence,
        Poisson,
        LogCosh,
        CosineSimilarity,
        Huber,
        CTC,
        BinaryCrossentropy,
        BinaryFocalCrossentropy,
        CategoricalCrossentropy,
        CategoricalFocalCrossentropy,
        SparseCategoricalCrossentropy,
        Hinge,
        SquaredHinge,
        CategoricalHinge,
    )
}
