"""Metrics that average a per-sample function: accuracies, regression errors, cross-entropies,
hinges. Each is a `MeanMetricWrapper` with Keras's name, defaults and config."""

from __future__ import annotations

import jax.numpy as jnp

from jnet import losses as L
from jnet.losses.functions import check_one_hot, check_sparse
from jnet.losses.reduction import squeeze_or_expand_to_same_rank
from jnet.metrics.base import Mean, MeanMetricWrapper

# ---- accuracy functions (per-sample 0/1 values) --------------------------------------------


def accuracy(y_true, y_pred):
    """1 where `y_true == y_pred` exactly (after Keras's rank fix-up)."""
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).astype(jnp.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where `(y_pred > threshold) == y_true`."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
    if y_true.ndim != y_pred.ndim:
        raise ValueError(
            f"BinaryAccuracy expects y_true and y_pred of the same shape; got y_true "
            f"{tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)}."
        )
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return (y_true == predicted).astype(jnp.float32)


def categorical_accuracy(y_true, y_pred):
    """1 where `argmax(y_pred) == argmax(y_true)` (one-hot targets)."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    check_one_hot("CategoricalAccuracy", y_true, y_pred)
    return (jnp.argmax(y_true, axis=-1) == jnp.argmax(y_pred, axis=-1)).astype(jnp.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where `argmax(y_pred) == y_true` (integer targets)."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    expected = tuple(y_pred.shape[:-1])
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    if tuple(y_true.shape) != expected:
        check_sparse("SparseCategoricalAccuracy", y_true, y_pred)
    predicted = jnp.argmax(y_pred, axis=-1).astype(jnp.float32)
    # Compare as floats, as Keras does: a label 2.5 never matches.
    return (y_true.astype(jnp.float32) == predicted).astype(jnp.float32)


def _in_top_k(labels, y_pred, k):
    """Keras's rule: the label is in the top k if fewer than k scores beat it strictly."""
    at_label = jnp.take_along_axis(y_pred, labels[..., None], axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(y_pred > at_label, axis=-1)
    return rank <= k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    check_one_hot("TopKCategoricalAccuracy", y_true, y_pred)
    labels = jnp.argmax(y_true, axis=-1).astype(jnp.int32)
    return _in_top_k(labels, y_pred, k).astype(jnp.float32)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    labels = check_sparse("SparseTopKCategoricalAccuracy", y_true, y_pred)
    return _in_top_k(labels, y_pred, k).astype(jnp.float32)


# ---- classes ---------------------------------------------------------------------------------


class _Wrapped(MeanMetricWrapper):
    """A built-in `MeanMetricWrapper`: the function is fixed; config = name, dtype, fields."""

    _fn_ = None
    _fields = ()

    def __init__(self, name, dtype=None, **kwargs):
        super().__init__(type(self)._fn_, name=name, dtype=dtype, **kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **{k: getattr(self, k) for k in self._fields}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _simple(cls_name, fn, default_name, doc):
    def __init__(self, name=default_name, dtype=None):
        _Wrapped.__init__(self, name=name, dtype=dtype)

    return type(
        cls_name, (_Wrapped,), {"__init__": __init__, "_fn_": staticmethod(fn), "__doc__": doc, "__module__": __name__}
    )


Accuracy = _simple("Accuracy", accuracy, "accuracy", "How often predictions equal labels exactly.")
CategoricalAccuracy = _simple(
    "CategoricalAccuracy",
    categorical_accuracy,
    "categorical_accuracy",
    "How often `argmax(y_pred)` equals `argmax(y_true)` (one-hot labels `(batch, C)`).",
)
SparseCategoricalAccuracy = _simple(
    "SparseCategoricalAccuracy",
    sparse_categorical_accuracy,
    "sparse_categorical_accuracy",
    "How often `argmax(y_pred)` equals the integer label (labels `(batch,)` or `(batch, 1)`).",
)
MeanSquaredError = _simple(
    "MeanSquaredError",
    L.mean_squared_error,
    "mean_squared_error",
    "The mean of `mean((y_true - y_pred) ** 2, axis=-1)`.",
)
MeanAbsoluteError = _simple(
    "MeanAbsoluteError",
    L.mean_absolute_error,
    "mean_absolute_error",
    "The mean of `mean(abs(y_true - y_pred), axis=-1)`.",
)
MeanAbsolutePercentageError = _simple(
    "MeanAbsolutePercentageError",
    L.mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
    "The mean absolute percentage error.",
)
MeanSquaredLogarithmicError = _simple(
    "MeanSquaredLogarithmicError",
    L.mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
    "The mean squared logarithmic error.",
)
LogCoshError = _simple("LogCoshError", L.log_cosh, "logcosh", "The mean of `log(cosh(y_pred - y_true))`.")
KLDivergence = _simple("KLDivergence", L.kl_divergence, "kl_divergence", "The mean Kullback-Leibler divergence.")
Poisson = _simple("Poisson", L.poisson, "poisson", "The mean Poisson loss.")
Hinge = _simple("Hinge", L.hinge, "hinge", "The mean hinge loss.")
SquaredHinge = _simple("SquaredHinge", L.squared_hinge, "squared_hinge", "The mean squared hinge loss.")
CategoricalHinge = _simple(
    "CategoricalHinge", L.categorical_hinge, "categorical_hinge", "The mean categorical hinge loss."
)


class BinaryAccuracy(_Wrapped):
    """How often `(y_pred > threshold)` equals the 0/1 label.

    Args:
        threshold: the decision threshold on `y_pred` (default 0.5; use 0.0 for logits).
    """

    _fn_ = staticmethod(binary_accuracy)
    _fields = ("threshold",)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype, threshold=threshold)


class TopKCategoricalAccuracy(_Wrapped):
    """How often the one-hot target is among the `k` highest predictions.

    Args:
        k: how many top predictions count (default 5).
    """

    _fn_ = staticmethod(top_k_categorical_accuracy)
    _fields = ("k",)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(_Wrapped):
    """How often the integer target is among the `k` highest predictions.

    Args:
        k: how many top predictions count (default 5).
    """

    _fn_ = staticmethod(sparse_top_k_categorical_accuracy)
    _fields = ("k",)

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype, k=k)


def cosine_similarity(y_true, y_pred, axis=-1):
    """The cosine similarity along `axis` (the loss of the same name is its negative)."""
    return -L.cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(_Wrapped):
    """The mean cosine similarity between `y_true` and `y_pred` along `axis`: 1 for aligned
    vectors, -1 for opposite ones (the loss `CosineSimilarity` is its negative).

    Args:
        axis: the axis along which the similarity is computed (default -1).
    """

    _fn_ = staticmethod(cosine_similarity)
    _fields = ("axis",)

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis)


class BinaryCrossentropy(_Wrapped):
    """The mean binary cross-entropy. Args as the loss: `from_logits`, `label_smoothing`."""

    _fn_ = staticmethod(L.binary_crossentropy)
    _fields = ("from_logits", "label_smoothing")

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_Wrapped):
    """The mean categorical cross-entropy. Args as the loss: `from_logits`,
    `label_smoothing`, `axis`."""

    _fn_ = staticmethod(L.categorical_crossentropy)
    _fields = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapped):
    """The mean sparse categorical cross-entropy. Args as the loss: `from_logits`,
    `ignore_class` (those entries do not count), `axis`."""

    _fn_ = staticmethod(L.sparse_categorical_crossentropy)
    _fields = ("from_logits", "ignore_class", "axis")

    def __init__(
        self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None, axis=-1
    ):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis)

    def values_and_mask(self, y_true, y_pred):
        from jnet.losses.functions import sparse_categorical_crossentropy_with_mask

        return sparse_categorical_crossentropy_with_mask(y_true, y_pred, self.from_logits, self.ignore_class, self.axis)


class RootMeanSquaredError(Mean):
    """`sqrt(mean((y_pred - y_true) ** 2))` over every entry seen (weighted per sample).

    Example:
    ```python
    m = jnet.metrics.RootMeanSquaredError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    m.result()          # 0.5
    ```
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        y_true = jnp.asarray(y_true).astype(self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return super().update(state, jnp.square(y_pred - y_true), sample_weight)

    def result(self, state):
        return jnp.sqrt(Mean.result(self, state))
