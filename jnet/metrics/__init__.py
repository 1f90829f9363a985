"""Metrics, Keras 3 names and semantics, as pure streaming `init / update / result` triples
over pytrees (usable inside `jax.jit`) with a Keras-style stateful facade.

```python
m = jnet.metrics.get("accuracy", y_true_shape=(None,), y_pred_shape=(None, 10))
state = m.init()
state = m.update(state, labels, probabilities)
m.result(state)
```
"""

from __future__ import annotations

import inspect

from jnet import losses as _losses
from jnet import serialization as _registry
from jnet.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from jnet.metrics.confusion import AUC, FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives, TruePositives
from jnet.metrics.f_score import F1Score, FBetaScore
from jnet.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from jnet.metrics.operating_point import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from jnet.metrics.regression import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    R2Score,
    concordance_correlation,
    pearson_correlation,
)
from jnet.metrics.wrappers import (
    Accuracy,
    BinaryAccuracy,
    BinaryCrossentropy,
    CategoricalAccuracy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseCategoricalCrossentropy,
    SparseTopKCategoricalAccuracy,
    SquaredHinge,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    cosine_similarity,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from jnet.serialization import serialize as serialize_object

METRIC_CLASSES = {
    cls.__name__: cls
    for cls in (
        Metric,
        Mean,
        Sum,
        MeanMetricWrapper,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        RootMeanSquaredError,
        CosineSimilarity,
        LogCoshError,
        KLDivergence,
        Poisson,
        Hinge,
        SquaredHinge,
        CategoricalHinge,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        AUC,
        Precision,
        Recall,
        TruePositives,
        TrueNegatives,
        FalsePositives,
        FalseNegatives,
        F1Score,
        FBetaScore,
        R2Score,
        PearsonCorrelation,
        ConcordanceCorrelation,
        IoU,
        MeanIoU,
        BinaryIoU,
        OneHotIoU,
        OneHotMeanIoU,
        PrecisionAtRecall,
        RecallAtPrecision,
        SensitivityAtSpecificity,
        SpecificityAtSensitivity,
    )
}
_ABSTRACT = {"Metric", "Mean", "Sum", "MeanMetricWrapper"}

_FUNCTIONS = {
    f.__name__: f
    for f in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        cosine_similarity,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
        pearson_correlation,
        concordance_correlation,
    )
}

# Keras exports the per-sample loss functions under `keras.metrics` too.
_LOSS_FUNCTIONS = (
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
)
globals().update({_n: getattr(_losses, _n) for _n in _LOSS_FUNCTIONS})


def _snake(name):
    from jnet.metrics.base import _snake as snake

    return snake(name)


_NAMES = {_snake(n): c for n, c in METRIC_CLASSES.items() if n not in _ABSTRACT}
_NAMES.update({n: c for n, c in METRIC_CLASSES.items() if n not in _ABSTRACT})
_NAMES.update(
    {
        "mse": MeanSquaredError,
        "MSE": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "MAE": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError,
        "MAPE": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "MSLE": MeanSquaredLogarithmicError,
        "bce": BinaryCrossentropy,
        "BCE": BinaryCrossentropy,
        "kld": KLDivergence,
        "KLD": KLDivergence,
        "rmse": RootMeanSquaredError,
        "logcosh": LogCoshError,
        "log_cosh": LogCoshError,
        "auc": AUC,
        "top_k_categorical_accuracy": TopKCategoricalAccuracy,
        "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
        "f1_score": F1Score,
        "fbeta_score": FBetaScore,
    }
)

__all__ = sorted(["get", "serialize", "deserialize", *METRIC_CLASSES, *_FUNCTIONS, *_LOSS_FUNCTIONS])


def valid_names():
    """Every string `get` accepts."""
    return sorted(set(_NAMES) | {"accuracy", "acc", "crossentropy", "ce"})


def _kind(y_true_shape, y_pred_shape, loss):
    """'binary', 'sparse' or 'categorical' for "accuracy"/"crossentropy", as the contract
    says: a binary cross-entropy loss or a last axis of 1 is binary; a sparse loss, or y_true
    without a class axis, is sparse; otherwise categorical."""
    loss_obj = None
    if loss is not None:
        try:
            loss_obj = _losses.get(loss, y_true_shape=y_true_shape, y_pred_shape=y_pred_shape)
        except ValueError:
            loss_obj = None
    binary_loss = isinstance(loss_obj, (_losses.BinaryCrossentropy, _losses.BinaryFocalCrossentropy))
    sparse_loss = isinstance(loss_obj, _losses.SparseCategoricalCrossentropy)
    categorical_loss = isinstance(loss_obj, (_losses.CategoricalCrossentropy, _losses.CategoricalFocalCrossentropy))
    have_shapes = y_true_shape is not None and y_pred_shape is not None
    if binary_loss or (have_shapes and y_pred_shape[-1] == 1):
        return "binary"
    if sparse_loss:
        return "sparse"
    if have_shapes:
        if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] != 1):
            return "sparse"
        return "categorical"
    if categorical_loss:
        return "categorical"
    return None


def _resolve(identifier, y_true_shape, y_pred_shape, loss):
    kind = _kind(y_true_shape, y_pred_shape, loss)
    if kind is None:
        raise ValueError(
            f"The metric {identifier!r} is resolved from the target shapes or the loss; pass "
            "y_true_shape and y_pred_shape (or a cross-entropy loss) to jnet.metrics.get, "
            "or name the metric (e.g. 'sparse_categorical_accuracy')."
        )
    if identifier.lower() in ("accuracy", "acc"):
        cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy, "categorical": CategoricalAccuracy}[kind]
    else:
        cls = {
            "binary": BinaryCrossentropy,
            "sparse": SparseCategoricalCrossentropy,
            "categorical": CategoricalCrossentropy,
        }[kind]
    return cls(name=identifier)


def get(identifier, *, y_true_shape=None, y_pred_shape=None, loss=None):
    """Resolve a metric, as Keras's `compile` does.

    Args:
        identifier: a name (`"accuracy"`, `"mse"`, `"auc"`, `"Precision"`, ...), a `Metric`
            instance or class, a dict from `serialize`, or a function
            `f(y_true, y_pred) -> per-sample values` (averaged by a `MeanMetricWrapper`).
            A metric named by a string keeps that string as its name (its log key).
        y_true_shape, y_pred_shape: the shapes of one output's targets and predictions.
            `"accuracy"`/`"acc"` and `"crossentropy"`/`"ce"` resolve from them: binary if
            y_pred's last axis is 1, sparse categorical if y_true has no class axis (or a
            trailing 1), else categorical. Shape-dependent metrics (`F1Score`, multi-label
            `AUC`) are built from them.
        loss: the output's loss; a binary / sparse / categorical cross-entropy loss decides
            the kind for `"accuracy"` and `"crossentropy"` (binary and sparse take
            precedence over the shapes).

    Returns:
        A `Metric` (None for None).
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        metric = deserialize(identifier)
    elif inspect.isclass(identifier) and issubclass(identifier, Metric):
        metric = identifier()
    elif isinstance(identifier, Metric):
        metric = identifier
    elif isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc", "crossentropy", "ce"):
            metric = _resolve(identifier, y_true_shape, y_pred_shape, loss)
        else:
            cls = _NAMES.get(identifier)
            found = _registry.find_custom(identifier) if cls is None else None
            if cls is not None:
                metric = cls(name=identifier)
            elif found is None:
                raise _registry.unknown_name_error("metric", identifier, f" Valid names: {', '.join(valid_names())}.")
            elif inspect.isclass(found):
                metric = found()
            elif isinstance(found, Metric):
                metric = found
            else:
                metric = MeanMetricWrapper(found)
    elif callable(identifier):
        metric = MeanMetricWrapper(identifier)
    else:
        raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
    if y_true_shape is not None and y_pred_shape is not None and not metric.built:
        metric.build(tuple(y_true_shape), tuple(y_pred_shape))
    return metric


def serialize(metric):
    """`{"class_name": ..., "config": ...}` for a `Metric`."""
    return serialize_object(metric)


def deserialize(config, custom_objects=None):
    """Rebuild a metric from `serialize`'s output, a Keras 3 config, or a name (no pickle, no
    code execution). Custom metrics resolve through `custom_objects`, the open
    `custom_object_scope`s and registration."""
    if isinstance(config, str):
        found = _registry.find_custom(config, custom_objects)
        return found if found is not None else get(config)
    cls, cfg = _registry.resolve(config, custom_objects, default_module="jnet.metrics")
    if cfg is None:
        return cls  # a function
    if cls is MeanMetricWrapper:
        from jnet.losses import _function_by_name

        fn = cfg["fn"]
        cfg["fn"] = (
            _FUNCTIONS.get(fn) if isinstance(fn, str) and fn in _FUNCTIONS else (_function_by_name(fn, custom_objects))
        )
    with _registry.CustomObjectScope(custom_objects):
        return cls.from_config(cfg)


_registry.register_family("metrics", METRIC_CLASSES, _FUNCTIONS)
