"""Shape alignment, sample weights, masks and reductions shared by losses and metrics.

Keras 3 semantics (`keras/src/losses/loss.py`), with one documented improvement: sample
weights of lower rank than the values they weight are broadcast *from the left* (per-sample
weights `(batch,)` on per-timestep values `(batch, T)`), where Keras would broadcast from the
right (an error, or a silently wrong product when `T == batch`).
"""

from __future__ import annotations

import jax.numpy as jnp

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)

EPSILON = 1e-7  # keras.config.epsilon(): the clipping constant of every Keras loss


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid reduction {reduction!r}. Expected one of: "
            '"sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none" (or None).'
        )
    return reduction


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rank fix-up: when ranks differ by one and the longer has a trailing 1, squeeze
    it (or, for a rank-1 partner, expand the partner)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = jnp.expand_dims(x2, -1)
        else:
            x1 = jnp.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = jnp.expand_dims(x1, -1)
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def broadcast_left(w, shape, what="sample_weight"):
    """Broadcast `w` to `shape`, aligning leading axes (batch first) instead of trailing ones."""
    w = jnp.asarray(w)
    if w.ndim > len(shape):
        raise ValueError(
            f"{what} of shape {tuple(w.shape)} has more axes than the values it weights, of shape {tuple(shape)}"
        )
    w = w.reshape(tuple(w.shape) + (1,) * (len(shape) - w.ndim))
    try:
        return jnp.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(
            f"{what} of shape {tuple(jnp.shape(w))} cannot be broadcast to the per-sample values "
            f"of shape {tuple(shape)}: expected a shape like {tuple(shape[:1])} or {tuple(shape)}"
        ) from None


def _align_weight(values, w, what="sample_weight"):
    values, w = squeeze_or_expand_to_same_rank(values, w)
    return values, broadcast_left(w, values.shape, what)


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size", mask=None):
    """Weight and reduce per-sample loss values, as Keras 3's `reduce_weighted_values`.

    Args:
        values: per-sample values, e.g. `(batch,)` or `(batch, T)`.
        sample_weight: optional weights broadcastable to `values` from the left (`(batch,)`,
            `(batch, 1)`, `(batch, T)` or a scalar). Entries with weight 0 contribute exactly 0,
            even where `values` is not finite (padded rows).
        reduction: `"sum_over_batch_size"` (default; sum / number of entries), `"mean"`
            (the same), `"sum"`, `"mean_with_sample_weight"` (sum / sum of weights) or
            `"none"`/`None` (the weighted values, unreduced).
        mask: optional boolean array broadcastable to `values` from the left. Masked-out
            entries are excluded; with `"sum_over_batch_size"`/`"mean"` the divisor is the
            number of unmasked entries (Keras rescales the mask by total/valid).

    Returns:
        A float32 scalar (or the weighted values for `"none"`).
    """
    reduction = standardize_reduction(reduction)
    values = jnp.asarray(values)
    if not jnp.issubdtype(values.dtype, jnp.floating):
        values = values.astype(jnp.float32)
    dtype = values.dtype
    weight = None
    if mask is not None:
        mask = jnp.asarray(mask)
        values, mask = squeeze_or_expand_to_same_rank(values, mask)
        mask = broadcast_left(mask, values.shape, "mask").astype(bool)
        if reduction in ("mean", "sum_over_batch_size"):
            # Valid entries weigh total/valid so that sum / total == sum / valid.
            total = jnp.asarray(mask.size, dtype)
            valid = jnp.sum(mask.astype(dtype))
            scale = jnp.where(valid > 0, total / jnp.maximum(valid, 1), 0).astype(dtype)
            weight = jnp.where(mask, scale, jnp.zeros((), dtype))
        else:
            weight = mask.astype(dtype)
    if sample_weight is not None:
        sw = jnp.asarray(sample_weight).astype(dtype)
        values, sw = _align_weight(values, sw)
        weight = sw if weight is None else broadcast_left(weight, values.shape) * sw
    if weight is not None:
        if weight.shape != values.shape:
            values, weight = _align_weight(values, weight)
        # `where`, not a product: a zero weight must hide NaN/inf in padded entries.
        values = jnp.where(weight != 0, values * weight, jnp.zeros((), dtype))
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    total = jnp.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weight is not None:
        divisor = jnp.sum(weight)
    else:
        divisor = jnp.asarray(values.size, dtype)
    return jnp.where(divisor != 0, total / jnp.where(divisor != 0, divisor, 1), jnp.zeros((), dtype))
