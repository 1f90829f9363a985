"""Losses, Keras 3 names and semantics: classes (`CategoricalCrossentropy(from_logits=True)`),
functions (`categorical_crossentropy(y_true, y_pred) -> per-sample values`) and string aliases
(`"mse"`, `"categorical_crossentropy"`, ...). All are pure and jittable.

```python
loss = jnet.losses.get("sparse_categorical_crossentropy")
value = loss(y_true, y_pred, sample_weight=w)      # a scalar, "sum_over_batch_size"
per_sample = jnet.losses.mean_squared_error(y_true, y_pred)
```
"""

from __future__ import annotations

import inspect

from jnet.losses.classes import (
    CTC, LOSS_CLASSES, BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
    CategoricalFocalCrossentropy, CategoricalHinge, CosineSimilarity, Hinge, Huber,
    KLDivergence, LogCosh, Loss, LossFunctionWrapper, MeanAbsoluteError,
    MeanAbsolutePercentageError, MeanSquaredError, MeanSquaredLogarithmicError, Poisson,
    SparseCategoricalCrossentropy, SquaredHinge,
)
from jnet.losses.functions import (
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
    categorical_focal_crossentropy, categorical_hinge, cosine_similarity, ctc, hinge, huber,
    kl_divergence, log_cosh, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_error, mean_squared_logarithmic_error, poisson,
    sparse_categorical_crossentropy, squared_hinge,
)
from jnet.losses.reduction import reduce_values

FUNCTIONS = {
    f.__name__: f
    for f in (
        binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
        categorical_focal_crossentropy, categorical_hinge, cosine_similarity, ctc, hinge, huber,
        kl_divergence, log_cosh, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_error, mean_squared_logarithmic_error, poisson,
        sparse_categorical_crossentropy, squared_hinge,
    )
}
# Keras's short names, and the function names, resolve to the loss classes.
_NAME_TO_CLASS = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "kl_divergence": KLDivergence, "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson, "log_cosh": LogCosh, "logcosh": LogCosh,
    "cosine_similarity": CosineSimilarity, "huber": Huber, "huber_loss": Huber, "ctc": CTC,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
}

__all__ = sorted(
    ["Loss", "LossFunctionWrapper", "get", "serialize", "deserialize", "reduce_values"]
    + [n for n in LOSS_CLASSES if n not in ("Loss", "LossFunctionWrapper")]
    + list(FUNCTIONS)
)


def valid_names():
    """Every string `get` accepts (besides `"crossentropy"`/`"ce"`)."""
    return sorted(set(_NAME_TO_CLASS) | {k.upper() for k in ("mse", "mae", "mape", "msle",
                                                              "kld", "bce")}
                  | (set(LOSS_CLASSES) - {"Loss", "LossFunctionWrapper"}))


def _function_name(fn):
    for name, f in FUNCTIONS.items():
        if f is fn:
            return name
    from jnet.serialization import registered_name

    if getattr(fn, "_registered_name", None):
        return registered_name(fn)
    raise ValueError(
        f"Cannot serialize the loss function {fn!r}: register it with "
        "@jnet.register_serializable() or use a Loss subclass.")


def _function_by_name(name, custom_objects=None):
    if callable(name):
        return name
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in FUNCTIONS:
        return FUNCTIONS[name]
    from jnet.serialization import get_registered

    return get_registered(name, custom_objects)


def _resolve_crossentropy(y_true_shape, y_pred_shape):
    if y_true_shape is None or y_pred_shape is None:
        raise ValueError(
            "The loss 'crossentropy' is resolved from the target shapes; pass "
            "y_true_shape and y_pred_shape, or name the loss (binary_crossentropy, "
            "categorical_crossentropy, sparse_categorical_crossentropy).")
    if y_pred_shape[-1] == 1:
        return BinaryCrossentropy
    if len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1:
        return SparseCategoricalCrossentropy
    return CategoricalCrossentropy


def get(identifier, *, y_true_shape=None, y_pred_shape=None):
    """Resolve a loss.

    Args:
        identifier: a name (`"mse"`, `"categorical_crossentropy"`, `"Huber"`, ...), a `Loss`
            instance or class, a dict from `serialize`, or a function
            `f(y_true, y_pred) -> per-sample values` (wrapped in a `LossFunctionWrapper`).
            `"crossentropy"`/`"ce"` pick binary, sparse or categorical cross-entropy from
            the shapes, as Keras's `compile` does.
        y_true_shape, y_pred_shape: the target shapes, used for `"crossentropy"`.

    Returns:
        A `Loss` (None for None).
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("crossentropy", "ce"):
            return _resolve_crossentropy(y_true_shape, y_pred_shape)(name=identifier)
        cls = LOSS_CLASSES.get(identifier) or _NAME_TO_CLASS.get(identifier)
        if cls is None and identifier.lower() in ("mse", "mae", "mape", "msle", "kld", "bce"):
            cls = _NAME_TO_CLASS[identifier.lower()]
        if cls is None or cls in (Loss, LossFunctionWrapper):
            raise ValueError(
                f"Unknown loss {identifier!r}. Valid names: {', '.join(valid_names())}, "
                "or 'crossentropy'.")
        return cls()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss):
    """`{"class_name": ..., "config": ...}` for a `Loss`, or the name of a built-in function."""
    if isinstance(loss, Loss):
        from jnet.serialization import registered_name

        return {"class_name": registered_name(type(loss)), "config": loss.get_config()}
    return _function_name(loss)


def deserialize(config, custom_objects=None):
    """Rebuild a loss from `serialize`'s output (no pickle, no code execution)."""
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]
        return FUNCTIONS.get(config) or get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a dict with 'class_name' and 'config', got {config!r}")
    name = config["class_name"]
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    elif name in LOSS_CLASSES:
        cls = LOSS_CLASSES[name]
    else:
        from jnet.serialization import get_registered

        cls = get_registered(name, custom_objects)
    cfg = dict(config.get("config", {}))
    if cls is LossFunctionWrapper:
        cfg["fn"] = _function_by_name(cfg["fn"], custom_objects)
    return cls.from_config(cfg)
