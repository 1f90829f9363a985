"""Overlap, metric-learning and noise-robust losses: Dice, Tversky, Circle and
CategoricalGeneralizedCrossEntropy (Keras 3's names, functions and classes)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet.losses.classes import _Builtin

EPSILON = 1e-7  # Keras's backend epsilon


def dice(y_true, y_pred, axis=None):
    """Dice loss `1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + eps)`, summed
    over `axis` (None: every axis, one value for the batch)."""
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    intersection = jnp.sum(y_true * y_pred, axis=axis)
    return 1 - 2.0 * intersection / (jnp.sum(y_true, axis=axis) + jnp.sum(y_pred, axis=axis) + EPSILON)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """Tversky loss `1 - TP / (TP + alpha * FP + beta * FN + eps)` with soft counts summed
    over `axis`; `alpha = beta = 0.5` is the Dice loss."""
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    tp = jnp.sum(y_true * y_pred, axis=axis)
    fp = jnp.sum((1 - y_pred) * y_true, axis=axis)  # Keras's naming, kept for parity
    fn = jnp.sum(y_pred * (1 - y_true), axis=axis)
    return 1 - tp / (tp + fp * alpha + fn * beta + EPSILON)


def _circle_with_mask(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    y_pred = jnp.asarray(y_pred)
    labels = jnp.reshape(jnp.asarray(y_true).astype(jnp.int32), (-1,))
    ref = y_pred if ref_embeddings is None else jnp.asarray(ref_embeddings)
    ref_labels = labels if ref_labels is None else jnp.reshape(jnp.asarray(ref_labels).astype(jnp.int32), (-1,))
    if y_pred.ndim != 2 or labels.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"circle: expected y_pred (batch, dim) embeddings and y_true (batch,) integer labels, "
            f"got shapes {tuple(y_pred.shape)} and {tuple(jnp.shape(y_true))}"
        )
    distances = jnp.maximum(1 - y_pred @ ref.T, 0.0)
    positive = labels[:, None] == ref_labels[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~jnp.eye(labels.shape[0], ref_labels.shape[0], dtype=bool)
    pos_weights = jnp.maximum((margin + distances) * positive, 0.0)
    neg_weights = jnp.maximum((1 + margin - distances) * negative, 0.0)
    pos = -gamma * pos_weights * (margin - distances)
    neg = gamma * neg_weights * ((1 - margin) - distances)
    p_loss = jax.nn.logsumexp(jnp.where(positive, pos, -jnp.inf), axis=1)
    n_loss = jax.nn.logsumexp(jnp.where(negative, neg, -jnp.inf), axis=1)
    loss = jax.nn.softplus(p_loss + n_loss)
    return loss, loss > 0


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Circle loss (Sun et al., 2020) of L2-normalised embeddings `y_pred` `(batch, dim)` with
    integer labels `y_true` `(batch,)`: per-sample `softplus(logsumexp(positives) +
    logsumexp(negatives))` over pairwise cosine distances (to `ref_embeddings` /
    `ref_labels` when given, else within the batch)."""
    return _circle_with_mask(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal, gamma, margin)[0]


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Generalised cross-entropy (Zhang & Sabuncu, 2018) `(1 - p_true ** q) / q` for integer
    labels `y_true` and probabilities `y_pred`; q -> 0 is cross-entropy, q = 1 is MAE."""
    y_pred = jnp.asarray(y_pred)
    labels = jnp.asarray(y_true).astype(jnp.int32)
    one_hot = jax.nn.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    if one_hot.shape != y_pred.shape:
        raise ValueError(
            f"categorical_generalized_cross_entropy: y_true must hold integer labels shaped like "
            f"y_pred without its class axis, got {tuple(labels.shape)} for y_pred {tuple(y_pred.shape)}"
        )
    p = jnp.sum(y_pred * one_hot, axis=-1)
    return (1 - jnp.power(p, q)) / q


class Dice(_Builtin):
    """Dice loss: `1 - 2 |y_true . y_pred| / (|y_true| + |y_pred|)` (soft set overlap).

    Args:
        axis: axes the overlap is summed over (None, the default: all, one value per batch).
        reduction, name, dtype: as for every loss.

    Example:
    ```python
    loss = jnet.losses.Dice(axis=(1, 2))(masks, predicted_masks)
    ```
    """

    _fn = staticmethod(dice)
    _fields = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = axis


class Tversky(_Builtin):
    """Tversky loss: Dice with separate weights on false positives (`alpha`) and false
    negatives (`beta`).

    Args:
        alpha, beta: the weights (default 0.5 each: the Dice loss).
        axis: axes the counts are summed over (None: all).
    """

    _fn = staticmethod(tversky)
    _fields = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.beta, self.axis = alpha, beta, axis


class Circle(_Builtin):
    """Circle loss for metric learning: `y_true` integer labels `(batch,)`, `y_pred`
    L2-normalised embeddings `(batch, dim)` (e.g. after `UnitNormalization`). Samples whose loss
    is 0 do not count in the `"sum_over_batch_size"` divisor, as in Keras.

    Args:
        gamma: the scale factor (default 80).
        margin: the relaxation margin (default 0.4).
        remove_diagonal: leave each sample's pair with itself out of the positives.
    """

    _integer_targets = True
    _fields = ("gamma", "margin", "remove_diagonal")

    def __init__(
        self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction="sum_over_batch_size", name="circle", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.gamma, self.margin, self.remove_diagonal = gamma, margin, remove_diagonal

    def call_with_mask(self, y_true, y_pred):
        return _circle_with_mask(
            y_true, y_pred, remove_diagonal=self.remove_diagonal, gamma=self.gamma, margin=self.margin
        )

    def call(self, y_true, y_pred):
        return self.call_with_mask(y_true, y_pred)[0]


class CategoricalGeneralizedCrossEntropy(_Builtin):
    """Generalised cross-entropy, robust to noisy labels: `(1 - p_true ** q) / q`.

    Args:
        q: in (0, 1) (default 0.5); smaller is closer to cross-entropy, larger to MAE.

    Shapes: `y_true` integer labels `(batch, ...)`, `y_pred` probabilities `(batch, ..., C)`.
    """

    _fn = staticmethod(categorical_generalized_cross_entropy)
    _fields = ("q",)
    _integer_targets = True

    def __init__(
        self, q=0.5, reduction="sum_over_batch_size", name="categorical_generalized_cross_entropy", dtype=None
    ):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            raise ValueError(f"CategoricalGeneralizedCrossEntropy: q must be in the interval (0, 1), got {q!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.q = q
