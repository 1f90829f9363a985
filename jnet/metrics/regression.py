"""Regression metrics: R2Score, PearsonCorrelation, ConcordanceCorrelation (and the
`pearson_correlation` / `concordance_correlation` functions), Keras 3 semantics."""

from __future__ import annotations

import jax.numpy as jnp

from jnet.losses.reduction import EPSILON, broadcast_left, squeeze_or_expand_to_same_rank
from jnet.metrics.base import MeanMetricWrapper, Metric

_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's correlation coefficient of `y_true` and `y_pred` along `axis`, per sample."""
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    t = y_true - jnp.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - jnp.mean(y_pred, axis=axis, keepdims=True)
    t = t / jnp.std(t, axis=axis, keepdims=True)
    p = p / jnp.std(p, axis=axis, keepdims=True)
    return jnp.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation coefficient along `axis`, per sample, computed as Keras
    does (its covariance term centres `y_true` on `y_pred`'s mean)."""
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    t_mean = jnp.mean(y_true, axis=axis, keepdims=True)
    p_mean = jnp.mean(y_pred, axis=axis, keepdims=True)
    t_var = jnp.var(y_true - t_mean, axis=axis, keepdims=True)
    p_var = jnp.var(y_pred - p_mean, axis=axis, keepdims=True)
    covar = (y_true - p_mean) * (y_pred - p_mean)
    norm = t_var + p_var + jnp.square(t_mean - p_mean)
    return jnp.mean(2 * covar / (norm + EPSILON), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """The mean over samples of `pearson_correlation(y_true, y_pred, axis)`.

    Args:
        axis: the axis the correlation is computed along (default -1).

    Example:
    ```python
    m = jnet.metrics.PearsonCorrelation()
    m.update_state(y_true, y_pred)      # (batch, n) each: one correlation per row
    ```
    """

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ConcordanceCorrelation(PearsonCorrelation):
    """The mean over samples of `concordance_correlation(y_true, y_pred, axis)`.

    Args:
        axis: the axis the coefficient is computed along (default -1).
    """

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        MeanMetricWrapper.__init__(self, concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class R2Score(Metric):
    """The coefficient of determination `1 - SS_res / SS_tot` per output column, over all
    samples seen, then aggregated.

    Args:
        class_aggregation: `"uniform_average"` (default: the mean over columns),
            `"variance_weighted_average"` (weighted by each column's variance) or `None` (one
            score per column).
        num_regressors: for the adjusted R2, the number of independent regressors (default 0:
            plain R2). Keras counts samples as the number of target entries.

    Input shape: `y_true` and `y_pred` both `(batch, outputs)`.

    Example:
    ```python
    m = jnet.metrics.R2Score()
    m.update_state([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])
    m.result()       # 0.5714...
    ```
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(f"R2Score: class_aggregation must be one of {_AGGREGATIONS}, got {class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, int) or num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be an int >= 0, got {num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self._outputs = None

    @property
    def built(self):
        return self._outputs is not None

    def build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2 or y_pred_shape[-1] is None:
            raise ValueError(
                f"R2Score expects 2D inputs (batch, outputs) with known outputs; got y_true "
                f"{tuple(y_true_shape)} and y_pred {tuple(y_pred_shape)}"
            )
        self._outputs = int(y_pred_shape[-1])

    def init(self):
        if not self.built:
            raise self._not_built("the number of outputs")
        vec = jnp.zeros((self._outputs,), self.dtype)
        return {"sum": vec, "squared_sum": vec, "residual": vec, "count": vec, "num_samples": jnp.zeros((), self.dtype)}

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true = jnp.asarray(y_true).astype(self.dtype)
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.ndim != 2 or y_pred.shape != y_true.shape or y_true.shape[-1] != self._outputs:
            raise ValueError(
                f"R2Score: expected y_true and y_pred of shape (batch, {self._outputs}); got "
                f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}"
            )
        w = (
            jnp.ones_like(y_true)
            if sample_weight is None
            else broadcast_left(jnp.asarray(sample_weight, self.dtype), y_true.shape)
        )
        zero = jnp.zeros((), self.dtype)
        # `where`: a zero weight (the engine's padded rows) hides whatever the row holds.
        weighted = jnp.where(w != 0, y_true * w, zero)
        return {
            "sum": state["sum"] + jnp.sum(weighted, axis=0),
            "squared_sum": state["squared_sum"] + jnp.sum(jnp.where(w != 0, y_true * weighted, zero), axis=0),
            "residual": state["residual"] + jnp.sum(jnp.where(w != 0, jnp.square(y_true - y_pred) * w, zero), axis=0),
            "count": state["count"] + jnp.sum(w, axis=0),
            "num_samples": state["num_samples"] + jnp.sum(jnp.where(w != 0, 1.0, 0.0)).astype(self.dtype),
        }

    def result(self, state):
        mean = state["sum"] / state["count"]
        total = state["squared_sum"] - state["sum"] * mean
        raw = 1 - state["residual"] / total
        raw = jnp.where(jnp.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = jnp.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = jnp.sum(total * raw) / jnp.sum(total)
        else:
            score = raw
        if self.num_regressors:
            n, p = state["num_samples"], float(self.num_regressors)
            adjusted = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
            score = jnp.where(n - 1.0 > p, adjusted, score)  # too few samples: plain R2, as Keras
        return score

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
