"""Encodings, losses, normalisation, CTC and attention ops of `keras.ops.nn`."""

from __future__ import annotations

import jax
import jax.nn as jnn
import jax.numpy as jnp
import optax

from jnet import config
from jnet.ops._utils import dtype_of, tensor, to_float


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encode the integer tensor `x` into a new `axis` of length `num_classes`;
    negative or out-of-range values give all-zero rows.

    Raises:
        ValueError: with `sparse=True` (jnet has no sparse tensors).
    """
    if sparse:
        raise ValueError("one_hot: `sparse=True` is not supported by jnet (no sparse tensors)")
    return jnn.one_hot(tensor(x), num_classes, axis=axis, dtype=dtype_of(dtype))


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encode: for each row of integer `inputs`, ones at every index present
    (a 1-D input is one row).

    Raises:
        ValueError: without `num_classes`, or with `sparse=True`.
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise ValueError("multi_hot: `num_classes` is required")
    if sparse:
        raise ValueError("multi_hot: `sparse=True` is not supported by jnet (no sparse tensors)")
    x = tensor(inputs).astype("int32")
    reduce_axis = 1 if x.ndim > 1 else 0
    return jnp.max(one_hot(x, num_classes, axis=axis, dtype=dtype), axis=reduce_axis)


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


def _paddings(lengths, size, dtype):
    return (jnp.arange(size)[None, :] >= tensor(lengths).astype("int32")[:, None]).astype(dtype)


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Connectionist temporal classification loss per sequence (`optax.ctc_loss`).

    Args:
        target: Int labels `(batch, max_label_length)`.
        output: Logits `(batch, max_time, num_classes)`.
        target_length: Label lengths `(batch,)`.
        output_length: Output lengths `(batch,)`.
        mask_index: The blank class.

    Returns:
        The loss, shape `(batch,)`.
    """
    target = tensor(target).astype("int32")
    output = to_float(output)
    output = output.astype(jnp.promote_types(output.dtype, "float32"))
    if output.ndim != 3 or target.ndim != 2:
        raise ValueError(
            f"ctc_loss: expected `output` of rank 3 and `target` of rank 2; received "
            f"{output.shape} and {target.shape}"
        )
    return optax.ctc_loss(
        output, _paddings(output_length, output.shape[1], output.dtype), target,
        _paddings(target_length, target.shape[1], output.dtype), blank_id=mask_index,
    )


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decode CTC outputs greedily (best class per step, repeats merged, blanks dropped).

    Args:
        inputs: Scores `(batch, max_time, num_classes)`.
        sequence_lengths: Valid lengths `(batch,)`.
        strategy: "greedy" (jnet implements only greedy decoding).
        merge_repeated: Merge consecutive repeated labels.
        mask_index: The blank class (`None`: the last class).

    Returns:
        `(decoded, scores)`: labels `(1, batch, max_time)` padded with -1, and the negative
        summed best scores `(batch, 1)`.

    Raises:
        ValueError: for a strategy other than "greedy".
    """
    if strategy != "greedy":
        raise ValueError(f"ctc_decode: jnet supports strategy='greedy' only; received {strategy!r}")
    x = to_float(inputs)
    x = x.astype(jnp.promote_types(x.dtype, "float32"))
    batch, steps, classes = x.shape
    blank = classes - 1 if mask_index is None else mask_index
    best, score = jnp.argmax(x, -1), jnp.max(x, -1)
    past_end = jnp.arange(steps)[None, :] >= tensor(sequence_lengths).astype("int32")[:, None]
    best = jnp.where(past_end, blank, best)
    score = jnp.where(past_end, 0.0, score)
    if merge_repeated:
        repeat = jnp.pad(best[:, 1:] == best[:, :-1], ((0, 0), (1, 0)))
        best = jnp.where(repeat, blank, best)
    dropped = best == blank
    # stable sort moves the kept labels to the front, in order
    order = jnp.argsort(jnp.where(dropped, steps, jnp.arange(steps)[None, :]), axis=-1)
    labels = jnp.take_along_axis(jnp.where(dropped, -1, best), order, axis=-1)
    return labels[None], -jnp.sum(score, axis=1)[:, None]


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
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
        attn_logits_soft_cap: Not supported by `jax.nn`; must be None.
    """
    if attn_logits_soft_cap is not None:
        raise ValueError("dot_product_attention: `attn_logits_soft_cap` is not supported by jnet")
    if flash_attention is None:
        flash_attention = config.is_flash_attention_enabled()
    implementation = "cudnn" if flash_attention else ("xla" if flash_attention is False else None)
    q, k, v = tensor(query), tensor(key), tensor(value)
    return jnn.dot_product_attention(
        q, k, v, bias=None if bias is None else tensor(bias), mask=None if mask is None else tensor(mask),
        scale=scale, is_causal=is_causal, implementation=implementation,
    )
