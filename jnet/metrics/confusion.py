"""Confusion-matrix metrics: TruePositives & co, Precision, Recall, AUC (Keras 3 semantics).

Counts are accumulated per threshold. For evenly spaced thresholds (AUC's default, and any
`[0, 1/(n-1), ..., 1]`) predictions are bucketed with one `segment_sum` and a reverse cumulative
sum, O(batch) instead of O(batch x thresholds), as Keras does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet.losses.reduction import EPSILON, broadcast_left, squeeze_or_expand_to_same_rank
from jnet.metrics.base import Metric

NEG_INF = -1e10


def parse_thresholds(thresholds, default, owner):
    if thresholds is None:
        return [default]
    values = list(np.ravel(np.asarray(thresholds, dtype=np.float64)))
    bad = [t for t in values if not 0.0 <= t <= 1.0]
    if bad:
        raise ValueError(f"{owner}: threshold values must be in [0, 1]; got {bad}")
    return [float(t) for t in values]


def evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n) / (n - 1), atol=EPSILON))


def _filter_top_k(x, k):
    _, idx = jax.lax.top_k(x, k)
    keep = jnp.sum(jax.nn.one_hot(idx, x.shape[-1], dtype=x.dtype), axis=-2)
    return x * keep + NEG_INF * (1.0 - keep)


def confusion_counts(
    y_true,
    y_pred,
    thresholds,
    *,
    evenly=False,
    top_k=None,
    class_id=None,
    sample_weight=None,
    multi_label=False,
    label_weights=None,
    owner="metric",
):
    """`(tp, fp, tn, fn)`, each `(num_thresholds,)` (or `(num_thresholds, labels)` for
    `multi_label`), counting `y_pred > threshold` against `y_true != 0`."""
    y_pred = jnp.asarray(y_pred).astype(jnp.float32)
    y_true = jnp.asarray(y_true).astype(jnp.float32)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = jnp.expand_dims(jnp.asarray(sample_weight, jnp.float32), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(f"{owner}: class_id needs y_pred of shape (batch, num_classes); got {tuple(y_pred.shape)}")
        y_true = y_true[..., class_id : class_id + 1]
        y_pred = y_pred[..., class_id : class_id + 1]
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{owner} expects y_true and y_pred of the same shape; got y_true "
            f"{tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)}"
        )
    if sample_weight is None:
        weights = jnp.ones(y_pred.shape, jnp.float32)
    else:
        weights = broadcast_left(sample_weight, y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = jnp.asarray(label_weights, jnp.float32)
        weights = weights * jnp.broadcast_to(lw.reshape((1,) * (y_pred.ndim - 1) + (-1,)), y_pred.shape)
    if multi_label:
        if y_pred.ndim != 2:
            raise ValueError(f"{owner}: multi_label needs y_pred of rank 2; got {tuple(y_pred.shape)}")
    else:
        y_pred, y_true, weights = y_pred.reshape(-1), y_true.reshape(-1), weights.reshape(-1)
    is_pos = y_true != 0
    zero = jnp.zeros((), jnp.float32)
    # `where`, not a product: zero-weight (padded) rows count for nothing, even if NaN.
    true_w = jnp.where((weights != 0) & is_pos, weights, zero)
    false_w = jnp.where((weights != 0) & ~is_pos, weights, zero)
    n = len(thresholds)
    if evenly:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        bucket = jnp.ceil(jnp.clip(y_pred, 0.0, 1.0) * (n - 1)) - 1
        if with_epsilon:
            bucket = jnp.maximum(bucket, 0)
        bucket = bucket.astype(jnp.int32)

        def count(w, b):  # w, b: (M,) -> (n,) counts of predictions above each threshold
            per_bucket = jax.ops.segment_sum(w, b, num_segments=n)
            return jnp.flip(jnp.cumsum(jnp.flip(per_bucket)))

        if multi_label:
            tp = jax.vmap(count, in_axes=1, out_axes=1)(true_w, bucket)
            fp = jax.vmap(count, in_axes=1, out_axes=1)(false_w, bucket)
        else:
            tp, fp = count(true_w, bucket), count(false_w, bucket)
        tn = jnp.sum(false_w, axis=0, keepdims=True) - fp
        fn = jnp.sum(true_w, axis=0, keepdims=True) - tp
        return tp, fp, tn, fn
    thr = jnp.asarray(thresholds, jnp.float32).reshape((n,) + (1,) * y_pred.ndim)
    above = y_pred[None] > thr
    tp = jnp.sum(jnp.where(above, true_w[None], zero), axis=1)
    fp = jnp.sum(jnp.where(above, false_w[None], zero), axis=1)
    fn = jnp.sum(jnp.where(above, zero, true_w[None]), axis=1)
    tn = jnp.sum(jnp.where(above, zero, false_w[None]), axis=1)
    return tp, fp, tn, fn


def _divide_no_nan(a, b):
    return jnp.where(b != 0, a / jnp.where(b != 0, b, 1), jnp.zeros((), a.dtype))


class _ThresholdMetric(Metric):
    """Accumulates the confusion counts named in `_keys` at each threshold."""

    _keys = ("tp", "fp", "tn", "fn")

    def _setup(self, thresholds, top_k=None, class_id=None):
        self.init_thresholds = thresholds
        self.top_k, self.class_id = top_k, class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = parse_thresholds(thresholds, default, type(self).__name__)
        self._evenly = evenly_distributed(self.thresholds)

    def init(self):
        return {k: jnp.zeros((len(self.thresholds),), self.dtype) for k in self._keys}

    def update(self, state, y_true, y_pred, sample_weight=None):
        counts = dict(
            zip(
                ("tp", "fp", "tn", "fn"),
                confusion_counts(
                    y_true,
                    y_pred,
                    self.thresholds,
                    evenly=self._evenly,
                    top_k=self.top_k,
                    class_id=self.class_id,
                    sample_weight=sample_weight,
                    owner=type(self).__name__,
                ),
            )
        )
        return {k: state[k] + counts[k].astype(self.dtype) for k in self._keys}

    def _squeeze(self, value):
        return value[0] if len(self.thresholds) == 1 else value


def _count_metric(cls_name, key, doc):
    def __init__(self, thresholds=None, name=None, dtype=None):
        Metric.__init__(self, name=name, dtype=dtype)
        self._setup(thresholds)

    def result(self, state):
        return self._squeeze(state[key])

    def get_config(self):
        return {**Metric.get_config(self), "thresholds": self.init_thresholds}

    return type(
        cls_name,
        (_ThresholdMetric,),
        {
            "__init__": __init__,
            "result": result,
            "get_config": get_config,
            "_keys": (key,),
            "__doc__": doc,
            "__module__": __name__,
        },
    )


TruePositives = _count_metric("TruePositives", "tp", "The (weighted) count of true positives.")
FalsePositives = _count_metric("FalsePositives", "fp", "The (weighted) count of false positives.")
TrueNegatives = _count_metric("TrueNegatives", "tn", "The (weighted) count of true negatives.")
FalseNegatives = _count_metric("FalseNegatives", "fn", "The (weighted) count of false negatives.")


class Precision(_ThresholdMetric):
    """`tp / (tp + fp)`: the fraction of positive predictions that are right.

    Args:
        thresholds: a float or list of floats in `[0, 1]`; a prediction is positive above
            it (default 0.5, or "in the top k" with `top_k`). A list gives one result each.
        top_k: count only the `k` highest predictions of each row as positive.
        class_id: compute the metric for this class (column) only.

    Example:
    ```python
    m = jnet.metrics.Precision()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    m.result()          # 0.6667
    ```
    """

    _keys = ("tp", "fp")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._setup(thresholds, top_k, class_id)

    def result(self, state):
        return self._squeeze(_divide_no_nan(state["tp"], state["tp"] + state["fp"]))

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Recall(Precision):
    """`tp / (tp + fn)`: the fraction of positives that are found. Args as `Precision`."""

    _keys = ("tp", "fn")

    def result(self, state):
        return self._squeeze(_divide_no_nan(state["tp"], state["tp"] + state["fn"]))


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC or precision-recall curve, by a Riemann sum over thresholds.

    Args:
        num_thresholds: how many thresholds discretise the curve (default 200, > 1).
        curve: `"ROC"` (default), `"PR"` or `"PRGAIN"`.
        summation_method: `"interpolation"` (default: trapezoids for ROC; for PR the
            interpolation of Davis & Goadrich 2006, as Keras), `"minoring"` or `"majoring"`.
        thresholds: explicit thresholds in `[0, 1]` instead of `num_thresholds`.
        multi_label: treat each column as its own label and average the per-label AUCs
            (else every entry is one binary prediction).
        num_labels: the number of labels with `multi_label` (else taken at build time).
        label_weights: per-label weights for averaging (multi-label) or counting.
        from_logits: whether `y_pred` holds logits (a sigmoid is applied).
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        super().__init__(name=name, dtype=dtype)
        if str(curve).lower() not in _CURVES:
            raise ValueError(f'AUC: invalid curve "{curve}"; expected one of "ROC", "PR", "PRGAIN"')
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'AUC: invalid summation_method "{summation_method}"; expected one of {list(_SUMMATIONS)}')
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, 0.5, "AUC"))
            self.num_thresholds = len(inner) + 2
            self._evenly = evenly_distributed([0.0] + inner + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1; got {num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        # The end thresholds sit just outside [0, 1] so that predictions of exactly 0 or 1
        # land inside the curve.
        self._thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        self.multi_label, self.num_labels = multi_label, num_labels
        self.label_weights = None if label_weights is None else [float(w) for w in np.ravel(label_weights)]
        self.from_logits = from_logits
        if num_labels and not multi_label:
            raise ValueError("AUC: num_labels is needed only when multi_label is True.")
        self._num_labels = num_labels

    @property
    def thresholds(self):
        return list(self._thresholds)

    @property
    def built(self):
        return not self.multi_label or self._num_labels is not None

    def build(self, y_true_shape, y_pred_shape):
        if self.multi_label and self._num_labels is None:
            if len(y_pred_shape) != 2:
                raise ValueError(f"AUC: multi_label needs y_pred of rank 2; got {y_pred_shape}")
            self._num_labels = int(y_pred_shape[1])

    def init(self):
        if not self.built:
            raise self._not_built("num_labels (multi_label=True)")
        shape = (self.num_thresholds,) + ((self._num_labels,) if self.multi_label else ())
        return {k: jnp.zeros(shape, self.dtype) for k in ("tp", "fp", "tn", "fn")}

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_pred = jnp.asarray(y_pred).astype(jnp.float32)
        if self.from_logits:
            y_pred = jax.nn.sigmoid(y_pred)
        counts = confusion_counts(
            y_true,
            y_pred,
            self._thresholds,
            evenly=self._evenly,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            owner="AUC",
        )
        return {k: state[k] + c.astype(self.dtype) for k, c in zip(("tp", "fp", "tn", "fn"), counts)}

    def _average(self, per_threshold):
        if not self.multi_label:
            return jnp.sum(per_threshold)
        by_label = jnp.sum(per_threshold, axis=0)
        if self.label_weights is None:
            return jnp.mean(by_label)
        lw = jnp.asarray(self.label_weights, by_label.dtype)
        return _divide_no_nan(jnp.sum(by_label * lw), jnp.sum(lw))

    def _interpolate_pr_auc(self, tp, fp, fn):
        # Davis & Goadrich (2006): precision interpolated between thresholds.
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, jnp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = jnp.where(
            (p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(p[:-1], jnp.maximum(p[1:], 0)), jnp.ones_like(p[1:])
        )
        increment = _divide_no_nan(slope * (dtp + intercept * jnp.log(ratio)), jnp.maximum(tp[1:] + fn[1:], 0))
        return self._average(increment)

    def result(self, state):
        tp, fp, tn, fn = state["tp"], state["fp"], state["tn"], state["fn"]
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(tp, fp, fn)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * _divide_no_nan(fp, tp)
            x = jnp.maximum(jnp.where(tp == 0, 0.0, recall_gain), 0.0)
            y = jnp.where(tp == 0, 1.0, precision_gain)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = jnp.minimum(y[:-1], y[1:])
        else:
            heights = jnp.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self._thresholds[1:-1]
        return config
