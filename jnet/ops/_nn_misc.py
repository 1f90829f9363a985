"""Encodings, losses, normalisation, CTC and attention ops of `keras.ops.nn`."""

from __future__ import annotations

import jax
import jax.nn as jnn
import jax.numpy as jnp

from jnet import config
from jnet.ops._utils import dtype_of, tensor, to_float


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encode the integer tensor `x` into a new `axis` of length `num_classes`;
    negative or out-of-range values give all-zero rows.

    With `sparse=True` the result is a `jax.experimental.sparse.BCOO` (as Keras returns on
    JAX): one stored entry per element of `x`, 0 where `x` is out of range.
    """
    x = tensor(x)
    if not sparse:
        return jnn.one_hot(x, num_classes, axis=axis, dtype=dtype_of(dtype))
    return _sparse_one_hot(x.astype("int32"), num_classes, axis, dtype_of(dtype) or "float32")


def _sparse_one_hot(x, num_classes, axis, dtype):
    from jax.experimental import sparse as jsparse

    rank = x.ndim + 1
    if not -rank <= axis < rank:
        raise ValueError(f"one_hot: `axis` must be in [{-rank}, {rank}); received {axis}")
    axis = axis % rank
    flat = x.reshape(-1)
    coords = [c.reshape(-1) for c in jnp.indices(x.shape)]
    coords.insert(axis, jnp.clip(flat, 0, num_classes - 1))
    indices = jnp.stack(coords, axis=1).astype("int32") if coords else jnp.zeros((1, 0), "int32")
    values = ((flat >= 0) & (flat < num_classes)).astype(dtype)
    shape = x.shape[:axis] + (num_classes,) + x.shape[axis:]
    return jsparse.BCOO((values, indices), shape=shape, indices_sorted=axis == rank - 1, unique_indices=True)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encode: for each row of integer `inputs`, ones at every index present
    (a 1-D input is one row). With `sparse=True` the result is a `BCOO` (as Keras returns on
    JAX) holding the ones.

    Raises:
        ValueError: without `num_classes`.
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise ValueError("multi_hot: `num_classes` is required")
    x = tensor(inputs).astype("int32")
    reduce_axis = 1 if x.ndim > 1 else 0
    if not sparse:
        return jnp.max(one_hot(x, num_classes, axis=axis, dtype=dtype), axis=reduce_axis)
    from jax.experimental import sparse as jsparse

    counts = jsparse.bcoo_reduce_sum(_sparse_one_hot(x, num_classes, axis, "int32"), axes=(reduce_axis,))
    counts = jsparse.bcoo_sum_duplicates(counts, nse=x.size)  # a static bound keeps it jittable
    return jsparse.BCOO(
        ((counts.data > 0).astype(dtype_of(dtype) or "float32"), counts.indices),
        shape=counts.shape,
        indices_sorted=counts.indices_sorted,
        unique_indices=counts.unique_indices,
    )


def _same_shape(name, target, output):
    if target.shape != output.shape:
        raise ValueError(
            f"{name}: `target` and `output` must have the same shape; received "
            f"target.shape={target.shape}, output.shape={output.shape}"
        )


def _log_probs(output, from_logits, axis):
    if from_logits:
        return jnn.log_softmax(output, axis=axis)
    output = output / jnp.sum(output, axis, keepdims=True)
    eps = config.epsilon()
    return jnp.log(jnp.clip(output, eps, 1.0 - eps))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """`-sum(target * log(p))` along `axis`; `output` holds probabilities (renormalised and
    clipped to `[epsilon, 1 - epsilon]`) or logits when `from_logits`."""
    target, output = to_float(target), to_float(output)
    _same_shape("categorical_crossentropy", target, output)
    if target.ndim < 1:
        raise ValueError("categorical_crossentropy: `target` and `output` must have rank >= 1")
    return -jnp.sum(target * _log_probs(output, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical crossentropy with integer class `target`s (shape of `output` without `axis`,
    or with a trailing 1)."""
    target, output = tensor(target).astype("int32"), to_float(output)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, -1)
    if target.shape != output.shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy: `target` must have the shape of `output` without its "
            f"last axis; received target.shape={target.shape}, output.shape={output.shape}"
        )
    log_p = _log_probs(output, from_logits, axis)
    return -jnp.sum(jnn.one_hot(target, output.shape[axis], axis=axis) * log_p, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary crossentropy; probabilities are clipped to `[epsilon, 1 - epsilon]`."""
    target, output = to_float(target), to_float(output)
    _same_shape("binary_crossentropy", target, output)
    if from_logits:
        return -target * jnn.log_sigmoid(output) - (1.0 - target) * jnn.log_sigmoid(-output)
    eps = config.epsilon()
    output = jnp.clip(output, eps, 1.0 - eps)
    return -(target * jnp.log(output) + (1.0 - target) * jnp.log(1.0 - output))


def moments(x, axes, keepdims=False, synchronized=False):
    """`(mean, variance)` of `x` over `axes`; half floats are computed in float32.

    Raises:
        ValueError: with `synchronized=True` (a multi-device option of TensorFlow).
    """
    if synchronized:
        raise ValueError("moments: `synchronized=True` is not supported with JAX")
    x = to_float(x)
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else axes
    dt = x.dtype
    xc = x.astype(jnp.promote_types(dt, "float32"))
    mean = jnp.mean(xc, axes, keepdims=keepdims)
    var = jnp.var(xc, axes, keepdims=keepdims)
    if dt in (jnp.float16, jnp.bfloat16):
        lim = jnp.finfo(dt)
        mean, var = jnp.clip(mean, lim.min, lim.max), jnp.clip(var, lim.min, lim.max)
    return mean.astype(dt), var.astype(dt)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, the 1-D statistics applied
    along `axis`."""
    x = to_float(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def b(v):
        return None if v is None else jnp.reshape(tensor(v), shape)

    inv = jax.lax.rsqrt(b(variance) + epsilon)
    if scale is not None:
        inv = inv * b(scale)
    res = -b(mean) * inv
    if offset is not None:
        res = res + b(offset)
    return x * inv + res


def _axes(axis, ndim):
    axis = [axis] if isinstance(axis, int) else list(axis)
    return tuple(sorted(a % ndim for a in axis))


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Normalise `x` to zero mean, unit variance over `axis`, then `* gamma + beta`; computed
    in at least float32. `rms_scaling=True` divides by the root mean square only."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise ValueError(f"layer_normalization: unexpected arguments {sorted(kwargs)}")
    if rms_scaling:
        return rms_normalization(x, scale=gamma, axis=axis, epsilon=epsilon)
    eps = config.epsilon() if epsilon is None else epsilon
    x = to_float(x)
    dt = x.dtype
    xc = x.astype(jnp.promote_types(dt, "float32"))
    axes = _axes(axis, x.ndim)
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    mean = jnp.mean(xc, axes, keepdims=True)
    var = jnp.var(xc, axes, keepdims=True)
    out = (xc - mean) * jax.lax.rsqrt(var + eps)
    if gamma is not None:
        out = out * jnp.reshape(tensor(gamma), shape).astype(xc.dtype)
    if beta is not None:
        out = out + jnp.reshape(tensor(beta), shape).astype(xc.dtype)
    return out.astype(dt)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """`x / sqrt(mean(x^2) + epsilon) * scale` over `axis`, computed in at least float32."""
    eps = config.epsilon() if epsilon is None else epsilon
    x = to_float(x)
    dt = x.dtype
    xc = x.astype(jnp.promote_types(dt, "float32"))
    axes = _axes(axis, max(x.ndim, 1))
    out = xc * jax.lax.rsqrt(jnp.mean(jnp.square(xc), axes, keepdims=True) + eps)
    if scale is not None:
        shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
        out = out * jnp.reshape(tensor(scale), shape).astype(xc.dtype)
    return out.astype(dt)


def normalize(x, axis=-1, order=2, epsilon=None):
    """`x` divided by its `order`-norm along `axis` (at least `epsilon`).

    Raises:
        ValueError: when `order` is not an int >= 1.
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: `order` must be an int >= 1; received {order!r}")
    eps = config.epsilon() if epsilon is None else epsilon
    x = to_float(x)
    if x.ndim == 0:
        x = x[None]
    if order == 2:
        inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
        return x * jnp.minimum(inv, 1.0 / eps)
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, eps)


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio `20 log10(max_val) - 10 log10(mse)` between `x1` and `x2`.

    Raises:
        ValueError: when the shapes differ.
    """
    x1, x2 = to_float(x1), to_float(x2)
    _same_shape("psnr", x1, x2)
    mse = jnp.mean(jnp.square(x1 - x2))
    return 20.0 * jnp.log10(max_val) - 10.0 * jnp.log10(mse)


def polar(abs_, angle):
    """The complex numbers `abs_ * exp(i * angle)`."""
    abs_, angle = to_float(abs_), to_float(angle)
    return jax.lax.complex(abs_ * jnp.cos(angle), abs_ * jnp.sin(angle))


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal=False,
    flash_attention=None,
    attn_logits_soft_cap=None,
):
    """Scaled dot-product attention (`jax.nn.dot_product_attention`) on
    `(batch, length, heads, head_dim)` tensors; key/value may have fewer (grouped) heads.

    Args:
        query, key, value: The inputs.
        bias: Added to the logits.
        mask: Boolean, True where attention is allowed.
        scale: Logit scale; defaults to `1 / sqrt(head_dim)`.
        is_causal: Apply a causal mask.
        flash_attention: Use the cuDNN fused kernel (GPU); `None` follows
            `jnet.config.is_flash_attention_enabled()` or lets JAX pick.
        attn_logits_soft_cap: Caps the logits (scaled scores plus bias) softly before the
            softmax: `cap * tanh(logits / cap)`, as Keras's TPU (Splash) kernel does. Keras
            accepts it only on TPU; jnet computes it on every device, without a fused kernel.

    Returns:
        The attended values, shaped like `query`.
    """
    if flash_attention is None:
        flash_attention = config.is_flash_attention_enabled()
    q, k, v = tensor(query), tensor(key), tensor(value)
    bias = None if bias is None else tensor(bias)
    mask = None if mask is None else tensor(mask)
    if attn_logits_soft_cap is not None:
        if flash_attention:
            raise ValueError(
                "dot_product_attention: `attn_logits_soft_cap` needs flash_attention=False or None "
                "off TPU (no fused kernel caps the logits)"
            )
        cap = float(attn_logits_soft_cap)
        if not cap > 0:
            raise ValueError(
                f"dot_product_attention: `attn_logits_soft_cap` must be > 0; received {attn_logits_soft_cap!r}"
            )
        return _capped_attention(q, k, v, bias, mask, scale, is_causal, cap)
    implementation = "cudnn" if flash_attention else ("xla" if flash_attention is False else None)
    return jnn.dot_product_attention(
        q, k, v, bias=bias, mask=mask, scale=scale, is_causal=is_causal, implementation=implementation
    )


def _capped_attention(q, k, v, bias, mask, scale, is_causal, cap):
    """Attention with soft-capped logits, written out (jax.nn has no soft cap)."""
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"dot_product_attention: expected 4D inputs; received {q.shape}, {k.shape}, {v.shape}")
    dtype = jnp.result_type(q, k, v)
    heads, kv_heads = q.shape[2], k.shape[2]
    if heads % kv_heads:
        raise ValueError(f"dot_product_attention: query heads ({heads}) must be a multiple of key heads ({kv_heads})")
    k, v = jnp.repeat(k, heads // kv_heads, axis=2), jnp.repeat(v, heads // kv_heads, axis=2)
    scale = 1.0 / jnp.sqrt(q.shape[-1]) if scale is None else scale
    logits = jnp.einsum("btnh,bsnh->bnts", q, k, preferred_element_type=jnp.float32) * scale
    if bias is not None:
        logits = logits + jnp.broadcast_to(bias, logits.shape).astype(jnp.float32)
    logits = cap * jnp.tanh(logits / cap)
    allowed = jnp.ones(logits.shape, bool)
    if mask is not None:
        allowed = allowed & jnp.broadcast_to(mask.astype(bool), logits.shape)
    if is_causal:
        t, s = logits.shape[2], logits.shape[3]
        allowed = allowed & jnp.broadcast_to(jnp.tril(jnp.ones((t, s), bool)), logits.shape)
    probs = jnn.softmax(jnp.where(allowed, logits, jnp.finfo(jnp.float32).min), axis=-1).astype(dtype)
    return jnp.einsum("bnts,bsnh->btnh", probs, v)
