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

from jnet import serialization as _registry
from jnet.losses.classes import (
    CTC,
    LOSS_CLASSES,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from jnet.losses.functions import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    cosine_similarity,
    ctc,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from jnet.losses.reduction import reduce_values
from jnet.losses.specialised import (
    CategoricalGeneralizedCrossEntropy,
    Circle,
    Dice,
    Tversky,
    categorical_generalized_cross_entropy,
    circle,
    dice,
    tversky,
)
from jnet.serialization import lookup, registered_name
from jnet.serialization import serialize as serialize_object

FUNCTIONS = {
    f.__name__: f
    for f in (
        binary_crossentropy,
        binary_focal_crossentropy,
        categorical_crossentropy,
        categorical_focal_crossentropy,
        categorical_hinge,
        cosine_similarity,
        ctc,
        hinge,
        huber,
        kl_divergence,
        log_cosh,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
        mean_squared_logarithmic_error,
        poisson,
        sparse_categorical_crossentropy,
        squared_hinge,
        dice,
        tversky,
        circle,
        categorical_generalized_cross_entropy,
    )
}
LOSS_CLASSES.update({cls.__name__: cls for cls in (Dice, Tversky, Circle, CategoricalGeneralizedCrossEntropy)})
# Keras's short names, and the function names, resolve to the loss classes.
_NAME_TO_CLASS = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "cosine_similarity": CosineSimilarity,
    "huber": Huber,
    "huber_loss": Huber,
    "ctc": CTC,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "dice": Dice,
    "tversky": Tversky,
    "circle": Circle,
    "categorical_generalized_cross_entropy": CategoricalGeneralizedCrossEntropy,
}

__all__ = sorted(
    ["Loss", "LossFunctionWrapper", "get", "serialize", "deserialize", "reduce_values"]
    + [n for n in LOSS_CLASSES if n not in ("Loss", "LossFunctionWrapper")]
    + list(FUNCTIONS)
)


def valid_names():
    """Every string `get` accepts (besides `"crossentropy"`/`"ce"`)."""
    return sorted(
        set(_NAME_TO_CLASS)
        | {k.upper() for k in ("mse", "mae", "mape", "msle", "kld", "bce")}
        | (set(LOSS_CLASSES) - {"Loss", "LossFunctionWrapper"})
    )


def _function_name(fn):
    for name, f in FUNCTIONS.items():
        if f is fn:
            return name
    if _registry.is_registered(fn):
        return registered_name(fn)
    raise ValueError(
        f"Cannot serialize the loss function {fn!r}: register it with "
        "@jnet.register_serializable() or use a Loss subclass."
    )


def _function_by_name(name, custom_objects=None):
    return name if callable(name) else lookup(name, FUNCTIONS, custom_objects)


def _resolve_crossentropy(y_true_shape, y_pred_shape):
    if y_true_shape is None or y_pred_shape is None:
        raise ValueError(
            "The loss 'crossentropy' is resolved from the target shapes; pass "
            "y_true_shape and y_pred_shape, or name the loss (binary_crossentropy, "
            "categorical_crossentropy, sparse_categorical_crossentropy)."
        )
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
            found = _registry.find_custom(identifier)
            if found is None:
                raise _registry.unknown_name_error(
                    "loss", identifier, f" Valid names: {', '.join(valid_names())}, or 'crossentropy'."
                )
            return get(found)
        return cls()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss):
    """`{"class_name": ..., "config": ...}` for a `Loss`, or the name of a built-in function."""
    return serialize_object(loss) if isinstance(loss, Loss) else _function_name(loss)


def deserialize(config, custom_objects=None):
    """Rebuild a loss from `serialize`'s output, a Keras 3 config, or a name (no pickle, no
    code execution). Custom losses resolve through `custom_objects`, the open
    `custom_object_scope`s and registration."""
    if isinstance(config, str):
        found = _registry.find_custom(config, custom_objects)
        if found is not None:
            return found
        return FUNCTIONS.get(config) or get(config)
    cls, cfg = _registry.resolve(config, custom_objects, default_module="jnet.losses")
    if cfg is None:
        return cls  # a function
    if cls is LossFunctionWrapper:
        cfg["fn"] = _function_by_name(cfg["fn"], custom_objects)
    with _registry.CustomObjectScope(custom_objects):
        return cls.from_config(cfg)


_registry.register_family("losses", LOSS_CLASSES, FUNCTIONS)
