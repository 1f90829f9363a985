"""Loss functions `f(y_true, y_pred, ...) -> per-sample values`, Keras 3 semantics.

Each reduces the last axis (the class/feature axis), so `(batch, d)` inputs give `(batch,)`
values and `(batch, T, d)` give `(batch, T)`. Probabilities are clipped to
`[1e-7, 1 - 1e-7]` as Keras does. Shapes are static under `jit`, so shape errors are raised
while tracing, with the loss's name and the shapes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnet.losses.reduction import EPSILON, squeeze_or_expand_to_same_rank


def _as_float(y_true, y_pred):
    y_pred = jnp.asarray(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    return jnp.asarray(y_true).astype(y_pred.dtype), y_pred


_SPARSE_COUNTERPART = {
    "CategoricalAccuracy": "use SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy": "use SparseTopKCategoricalAccuracy",
    "CategoricalHinge": "one-hot encode them first",
}


def _sparse_hint(name, y_true, y_pred):
    """The message for integer labels given to a loss/metric that wants one-hot targets."""
    advice = _SPARSE_COUNTERPART.get(name, "use SparseCategoricalCrossentropy")
    return (
        f"{name} expects one-hot y_true of shape (batch, C) (the shape of y_pred, "
        f"{tuple(y_pred.shape)}); got y_true of shape {tuple(y_true.shape)}. For integer labels "
        f"{advice}."
    )


def check_one_hot(name, y_true, y_pred):
    """Raise if y_true cannot be a one-hot (or probability) target for y_pred."""
    if tuple(y_true.shape) == tuple(y_pred.shape):
        return
    looks_sparse = (
        y_pred.ndim >= 1
        and y_pred.shape[-1] > 1
        and (tuple(y_true.shape) == tuple(y_pred.shape[:-1]) or tuple(y_true.shape) == tuple(y_pred.shape[:-1]) + (1,))
    )
    if looks_sparse:
        raise ValueError(_sparse_hint(name, y_true, y_pred))
    raise ValueError(
        f"{name} expects y_true and y_pred of the same shape; got y_true {tuple(y_true.shape)} "
        f"and y_pred {tuple(y_pred.shape)}."
    )


def check_sparse(name, y_true, y_pred, axis=-1):
    """Squeeze a trailing 1 from integer labels and check they match y_pred minus its class
    axis. Returns the labels as int32."""
    if y_pred.ndim < 1:
        raise ValueError(f"{name} expects y_pred with a class axis; got a scalar.")
    axis = axis % y_pred.ndim
    expected = tuple(d for i, d in enumerate(y_pred.shape) if i != axis)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis)
    if tuple(y_true.shape) != expected:
        if tuple(y_true.shape) == tuple(y_pred.shape):
            one_hot = "CategoricalAccuracy" if name.endswith("Accuracy") else ("CategoricalCrossentropy")
            raise ValueError(
                f"{name} expects integer labels y_true of shape {expected} (y_pred "
                f"{tuple(y_pred.shape)} without its class axis); got y_true of shape "
                f"{tuple(y_true.shape)}, which looks one-hot. For one-hot labels use {one_hot}."
            )
        raise ValueError(
            f"{name} expects integer labels y_true of shape {expected} for y_pred of shape "
            f"{tuple(y_pred.shape)}; got y_true of shape {tuple(y_true.shape)}."
        )
    return y_true.astype(jnp.int32)


def _elementwise(name, y_true, y_pred):
    """Cast, fix ranks as Keras does, and check the shapes can be combined element-wise."""
    y_true, y_pred = _as_float(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.ndim != y_pred.ndim:
        raise ValueError(
            f"{name}: y_true of shape {tuple(y_true.shape)} and y_pred of shape "
            f"{tuple(y_pred.shape)} have different ranks; expected the same shape."
        )
    try:
        np.broadcast_shapes(y_true.shape, y_pred.shape)
    except ValueError:
        raise ValueError(
            f"{name}: y_true of shape {tuple(y_true.shape)} does not match y_pred of shape {tuple(y_pred.shape)}."
        ) from None
    return y_true, y_pred


# ---- regression ---------------------------------------------------------------------------


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _elementwise("mean_squared_error", y_true, y_pred)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _elementwise("mean_absolute_error", y_true, y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _elementwise("mean_absolute_percentage_error", y_true, y_pred)
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), EPSILON))
    return 100.0 * jnp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _elementwise("mean_squared_logarithmic_error", y_true, y_pred)
    first = jnp.log(jnp.maximum(y_pred, EPSILON) + 1.0)
    second = jnp.log(jnp.maximum(y_true, EPSILON) + 1.0)
    return jnp.mean(jnp.square(first - second), axis=-1)


def _l2_normalize(x, axis):
    inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv_norm, 1.0 / EPSILON)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Negative cosine similarity along `axis` (so that minimising it aligns the vectors)."""
    y_true, y_pred = _elementwise("cosine_similarity", y_true, y_pred)
    return -jnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _elementwise("huber", y_true, y_pred)
    err = y_pred - y_true
    abs_err = jnp.abs(err)
    quadratic = 0.5 * jnp.square(err)
    linear = delta * abs_err - 0.5 * delta**2
    return jnp.mean(jnp.where(abs_err <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred):
    y_true, y_pred = _elementwise("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) = x + softplus(-2x) - log 2, stable for large |x|.
    return jnp.mean(x + jax.nn.softplus(-2.0 * x) - jnp.log(2.0).astype(x.dtype), axis=-1)


# ---- probabilistic -------------------------------------------------------------------------


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _elementwise("kl_divergence", y_true, y_pred)
    y_true = jnp.clip(y_true, EPSILON, 1.0)
    y_pred = jnp.clip(y_pred, EPSILON, 1.0)
    return jnp.sum(y_true * jnp.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _elementwise("poisson", y_true, y_pred)
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + EPSILON), axis=-1)


def _bce_elementwise(y_true, y_pred, from_logits):
    if from_logits:
        return -y_true * jax.nn.log_sigmoid(y_pred) - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred)
    p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))


def _binary_inputs(name, y_true, y_pred):
    y_true, y_pred = _as_float(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        hint = ""
        if (
            y_pred.ndim >= 1
            and y_pred.shape[-1] > 1
            and tuple(y_true.shape) in (tuple(y_pred.shape[:-1]), tuple(y_pred.shape[:-1]) + (1,))
        ):
            hint = " For integer class labels use SparseCategoricalCrossentropy."
        raise ValueError(
            f"{name} expects y_true and y_pred of the same shape (e.g. (batch, 1) for one "
            f"sigmoid output); got y_true {tuple(y_true.shape)} and y_pred "
            f"{tuple(y_pred.shape)}.{hint}"
        )
    return y_true, y_pred


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _binary_inputs("BinaryCrossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return jnp.mean(_bce_elementwise(y_true, y_pred, from_logits), axis=axis)


def binary_focal_crossentropy(
    y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    y_true, y_pred = _binary_inputs("BinaryFocalCrossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = jax.nn.sigmoid(y_pred)
    bce = _bce_elementwise(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = jnp.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return jnp.mean(focal, axis=axis)


def _log_probs(y_pred, from_logits, axis):
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    p = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


def _check_axis(axis):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"`axis` must be an int; got axis={axis!r}")


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    _check_axis(axis)
    y_true, y_pred = _as_float(y_true, y_pred)
    check_one_hot("CategoricalCrossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    _check_axis(axis)
    y_true, y_pred = _as_float(y_true, y_pred)
    check_one_hot("CategoricalFocalCrossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        y_pred = jax.nn.softmax(y_pred, axis=axis)
    p = jnp.clip(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    focal = alpha * jnp.power(1.0 - p, gamma) * (-y_true * jnp.log(p))
    return jnp.sum(focal, axis=axis)


def sparse_categorical_crossentropy_with_mask(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """`(values, valid_mask)`: the mask is None unless `ignore_class` is set."""
    _check_axis(axis)
    y_pred = jnp.asarray(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    labels = check_sparse("SparseCategoricalCrossentropy", jnp.asarray(y_true), y_pred, axis)
    log_p = jnp.moveaxis(_log_probs(y_pred, from_logits, axis), axis, -1)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        # The ignored entries pick class 0 and are zeroed below; unlike Keras, y_pred is left
        # alone, so their gradient is exactly 0 rather than NaN.
        labels = jnp.where(valid, labels, 0)
    one_hot = jax.nn.one_hot(labels, log_p.shape[-1], dtype=log_p.dtype)
    values = -jnp.sum(one_hot * log_p, axis=-1)
    if valid is not None:
        values = jnp.where(valid, values, jnp.zeros((), values.dtype))
    return values, valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    return sparse_categorical_crossentropy_with_mask(y_true, y_pred, from_logits, ignore_class, axis)[0]


# ---- hinge ---------------------------------------------------------------------------------


def _hinge_labels(y_true):
    # Keras converts {0, 1} labels to {-1, 1}, but only when every label is 0 or 1.
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    y_true, y_pred = _elementwise("hinge", y_true, y_pred)
    return jnp.mean(jnp.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _elementwise("squared_hinge", y_true, y_pred)
    return jnp.mean(jnp.square(jnp.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _as_float(y_true, y_pred)
    check_one_hot("CategoricalHinge", y_true, y_pred)
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return jnp.maximum(neg - pos + 1.0, 0.0)


# ---- sequences -----------------------------------------------------------------------------


def ctc(y_true, y_pred):
    """CTC loss per sequence. `y_true`: `(batch, max_label_length)` integer labels, 0-padded
    (0 is the blank); `y_pred`: `(batch, T, num_classes)` logits. As Keras, the label length
    is the count of non-zero labels and every input step is used."""
    y_true = jnp.asarray(y_true)
    y_pred = jnp.asarray(y_pred)
    if y_true.ndim != 2:
        raise ValueError(
            "CTC expects y_true of shape (batch_size, max_length) with integer labels; "
            f"got y_true of shape {tuple(y_true.shape)}"
        )
    if y_pred.ndim != 3:
        raise ValueError(
            "CTC expects y_pred (logits) of shape (batch_size, max_length, num_classes); "
            f"got y_pred of shape {tuple(y_pred.shape)}"
        )
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"CTC: y_true batch {y_true.shape[0]} does not match y_pred batch {y_pred.shape[0]}")
    logits = y_pred.astype(jnp.promote_types(y_pred.dtype, jnp.float32))
    labels = y_true.astype(jnp.int32)
    label_length = jnp.sum(labels != 0, axis=-1)
    positions = jnp.arange(labels.shape[1])[None, :]
    label_paddings = (positions >= label_length[:, None]).astype(logits.dtype)
    logit_paddings = jnp.zeros(logits.shape[:2], logits.dtype)
    return optax.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=0)
