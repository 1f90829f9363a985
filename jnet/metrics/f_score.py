"""F-scores: `FBetaScore` and `F1Score` over streamed true/false positive counts."""

from __future__ import annotations

import jax.numpy as jnp

from jnet.losses.reduction import EPSILON
from jnet.metrics.base import Metric


class FBetaScore(Metric):
    """The F-beta score: `(1 + beta^2) * P * R / (beta^2 * P + R)`, per class or averaged.

    Args:
        average: `None` (one score per class), `"micro"` (global counts), `"macro"` (the
            mean of per-class scores) or `"weighted"` (weighted by each class's support).
        beta: the weight of recall relative to precision (a float > 0).
        threshold: predictions above it count as positive; `None` (default): the row's
            maximum counts as positive (one label per row).

    Input shape: `y_true` and `y_pred` both `(batch, num_classes)`.
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"{owner}: invalid average {average!r}; expected one of None, 'micro', 'macro', 'weighted'"
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{owner}: beta must be a Python float > 0; got {beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"{owner}: threshold must be a Python float in (0, 1]; got {threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self._num_classes = None

    @property
    def built(self):
        return self.average == "micro" or self._num_classes is not None

    def _check_shapes(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs of shape (batch_size, num_classes); "
                f"got y_true {tuple(y_true_shape)} and y_pred {tuple(y_pred_shape)}"
            )
        if self._num_classes is not None and y_pred_shape[-1] != self._num_classes:
            raise ValueError(
                f"{type(self).__name__} was built for {self._num_classes} classes; got y_pred "
                f"of shape {tuple(y_pred_shape)}"
            )

    def build(self, y_true_shape, y_pred_shape):
        self._check_shapes(y_true_shape, y_pred_shape)
        self._num_classes = int(y_pred_shape[-1])

    def init(self):
        if not self.built:
            raise self._not_built("the number of classes")
        shape = () if self.average == "micro" else (self._num_classes,)
        return {k: jnp.zeros(shape, self.dtype) for k in ("tp", "fp", "fn", "support")}

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true = jnp.asarray(y_true).astype(self.dtype)
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        self._check_shapes(y_true.shape, y_pred.shape)
        if self.threshold is None:
            top = jnp.max(y_pred, axis=-1, keepdims=True)
            pred = (y_pred >= top) & (jnp.abs(y_pred) > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.astype(self.dtype)
        axis = None if self.average == "micro" else 0

        def weighted_sum(v):
            if sample_weight is not None:
                w = jnp.broadcast_to(jnp.asarray(sample_weight, self.dtype).reshape(-1, 1), v.shape)
                v = jnp.where(w != 0, v * w, jnp.zeros((), v.dtype))
            return jnp.sum(v, axis=axis)

        return {
            "tp": state["tp"] + weighted_sum(pred * y_true),
            "fp": state["fp"] + weighted_sum(pred * (1.0 - y_true)),
            "fn": state["fn"] + weighted_sum((1.0 - pred) * y_true),
            "support": state["support"] + weighted_sum(y_true),
        }

    def result(self, state):
        tp, fp, fn = state["tp"], state["fp"], state["fn"]
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta**2
        score = (1.0 + b2) * (precision * recall) / (b2 * precision + recall + EPSILON)
        if self.average == "weighted":
            weights = state["support"] / (jnp.sum(state["support"]) + EPSILON)
            return jnp.sum(score * weights)
        if self.average is not None:
            return jnp.mean(score)
        return score

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score, the harmonic mean of precision and recall. Args as `FBetaScore`
    without `beta`.

    Example:
    ```python
    m = jnet.metrics.F1Score(average="macro", threshold=0.5)
    m.update_state(y_true_one_hot, probabilities)
    m.result()
    ```
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
