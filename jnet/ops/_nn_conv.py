"""Convolution and pooling ops of `keras.ops.nn`, on `jax.lax`. Kernels use Keras's layout:
`(*spatial, in_channels, out_channels)` (`(*spatial, out, in)` for `conv_transpose`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet import config
from jnet.ops._utils import tensor


def _tuple(v, n, name, arg):
    v = (v,) * n if isinstance(v, int) else tuple(v)
    if len(v) != n:
        raise ValueError(f"{name}: `{arg}` must be an int or {n} ints; received {v}")
    return v


def _check(name, inputs, padding, data_format):
    data_format = config.standardize_data_format(data_format)
    if padding not in ("valid", "same"):
        raise ValueError(f"{name}: `padding` must be 'valid' or 'same'; received {padding!r}")
    if inputs.ndim < 3:
        raise ValueError(
            f"{name}: `inputs` must have rank >= 3 (batch, spatial..., channels); received shape {inputs.shape}"
        )
    return data_format, inputs.ndim - 2


def _dims(n, data_format):
    sp = "DHW"[-n:] if n <= 3 else None
    if sp is None:
        raise ValueError(f"convolutions support 1-3 spatial dims; received {n}")
    lhs = "N" + sp + "C" if data_format == "channels_last" else "NC" + sp
    return (lhs, sp + "IO", lhs)


def _pool(name, inputs, init, reducer, pool_size, strides, padding, data_format):
    inputs = tensor(inputs)
    data_format, n = _check(name, inputs, padding, data_format)
    pool = _tuple(pool_size, n, name, "pool_size")
    strides = pool if strides is None else _tuple(strides, n, name, "strides")
    if data_format == "channels_last":
        window, stride = (1, *pool, 1), (1, *strides, 1)
    else:
        window, stride = (1, 1, *pool), (1, 1, *strides)
    # A numpy init value: lax differentiates a max/sum window only when it sees a constant identity,
    # and under jit a jnp constant is a tracer.
    out = jax.lax.reduce_window(inputs, np.array(init, inputs.dtype), reducer, window, stride, padding.upper())
    return out, window, stride


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over the spatial axes of `inputs` (rank 3-5).

    Args:
        inputs: Tensor `(batch, *spatial, channels)` (or channels first).
        pool_size: Int or tuple: the window size.
        strides: Int or tuple; defaults to `pool_size`.
        padding: "valid" or "same".
        data_format: "channels_last" or "channels_first"; `None` for the global default.
    """
    return _pool("max_pool", inputs, -jnp.inf, jax.lax.max, pool_size, strides, padding, data_format)[0]


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling; with "same" padding the border windows average only real entries."""
    out, window, stride = _pool("average_pool", inputs, 0.0, jax.lax.add, pool_size, strides, padding, data_format)
    if padding == "valid":
        return out / jnp.prod(jnp.array(window)).astype(out.dtype)
    ones = jnp.ones(tensor(inputs).shape, out.dtype)
    counts = jax.lax.reduce_window(ones, np.array(0, out.dtype), jax.lax.add, window, stride, "SAME")
    return out / counts


def _adaptive(name, inputs, output_size, data_format, reduce):
    # The window of output i spans [floor(i*L/out), ceil((i+1)*L/out)) (PyTorch/Keras rule);
    # a rectangle's mean/max is the per-axis mean/max applied axis after axis.
    inputs = tensor(inputs)
    data_format = config.standardize_data_format(data_format)
    n = inputs.ndim - 2
    out_size = _tuple(output_size, n, name, "output_size")
    first = 1 if data_format == "channels_last" else 2
    x = inputs
    for i, o in enumerate(out_size):
        axis = first + i
        length = x.shape[axis]
        pos = jnp.arange(length)
        starts = (jnp.arange(o) * length) // o
        ends = -((-(jnp.arange(o) + 1) * length) // o)
        member = (pos[None, :] >= starts[:, None]) & (pos[None, :] < ends[:, None])  # (o, L)
        xm = jnp.moveaxis(x, axis, -1)[..., None, :]  # (..., 1, L)
        y = reduce(xm, member)
        x = jnp.moveaxis(y, -1, axis)
    return x


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed spatial `output_size` (an int or tuple), whatever the input size."""

    def mean(xm, member):
        count = jnp.sum(member, -1).astype(xm.dtype)
        return jnp.sum(jnp.where(member, xm, 0), -1) / count.reshape((1,) * (xm.ndim - 2) + count.shape)

    return _adaptive("adaptive_average_pool", inputs, output_size, data_format, mean)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed spatial `output_size` (an int or tuple)."""

    def mx(xm, member):
        return jnp.max(jnp.where(member, xm, -jnp.inf), -1).astype(xm.dtype)

    return _adaptive("adaptive_max_pool", inputs, output_size, data_format, mx)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1-3 spatial dims).

    Args:
        inputs: Tensor `(batch, *spatial, in_channels)` (or channels first).
        kernel: Tensor `(*kernel_spatial, in_channels / groups, out_channels)`.
        strides: Int or tuple.
        padding: "valid" or "same".
        data_format: "channels_last" or "channels_first".
        dilation_rate: Int or tuple.

    Example:
    >>> jnet.ops.conv(jnet.ops.ones((1, 5, 5, 3)), jnet.ops.ones((3, 3, 3, 2))).shape  # (1, 3, 3, 2)
    """
    inputs, kernel = tensor(inputs), tensor(kernel)
    data_format, n = _check("conv", inputs, padding, data_format)
    channels = inputs.shape[-1] if data_format == "channels_last" else inputs.shape[1]
    if kernel.ndim != n + 2 or channels % kernel.shape[-2]:
        raise ValueError(
            f"conv: `kernel` of shape {kernel.shape} does not fit inputs of shape {inputs.shape} "
            f"({data_format}); expected (*{n} spatial, in_channels, out_channels)"
        )
    return jax.lax.conv_general_dilated(
        inputs,
        kernel,
        _tuple(strides, n, "conv", "strides"),
        padding.upper(),
        rhs_dilation=_tuple(dilation_rate, n, "conv", "dilation_rate"),
        dimension_numbers=_dims(n, data_format),
        feature_group_count=channels // kernel.shape[-2],
    )


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution: each input channel convolved with its own
    `kernel` slice of shape `(*spatial, 1, channel_multiplier)`; kernel `(*spatial, in, mult)`."""
    inputs, kernel = tensor(inputs), tensor(kernel)
    data_format, n = _check("depthwise_conv", inputs, padding, data_format)
    k = kernel.reshape(kernel.shape[:-2] + (1, kernel.shape[-2] * kernel.shape[-1]))
    return conv(inputs, k, strides, padding, data_format, dilation_rate)


def separable_conv(
    inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None, dilation_rate=1
):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution."""
    x = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(x, pointwise_kernel, 1, "valid", data_format, 1)


def _transpose_pads(k, s, d, padding, output_padding):
    k = (k - 1) * d + 1
    if padding == "valid":
        extra = max(k, s) - k if output_padding is None else output_padding
        return k - 1, k - 1 + extra
    total = s + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, k - 1)
    return left, total - left


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None, dilation_rate=1):
    """Transposed convolution (the gradient of `conv`), with Keras's output-size rule.

    Args:
        inputs: Tensor `(batch, *spatial, in_channels)` (or channels first).
        kernel: Tensor `(*kernel_spatial, out_channels, in_channels)`.
        strides: Int or tuple.
        padding: "valid" or "same".
        output_padding: Int or tuple: extra size added on one side of each spatial axis.
        data_format: "channels_last" or "channels_first".
        dilation_rate: Int or tuple.
    """
    inputs, kernel = tensor(inputs), tensor(kernel)
    data_format, n = _check("conv_transpose", inputs, padding, data_format)
    strides = _tuple(strides, n, "conv_transpose", "strides")
    dil = _tuple(dilation_rate, n, "conv_transpose", "dilation_rate")
    outp = (None,) * n if output_padding is None else _tuple(output_padding, n, "conv_transpose", "output_padding")
    pads = [_transpose_pads(kernel.shape[i], strides[i], dil[i], padding, outp[i]) for i in range(n)]
    return jax.lax.conv_transpose(
        inputs, kernel, strides, pads, rhs_dilation=dil, dimension_numbers=_dims(n, data_format), transpose_kernel=True
    )


def depth_to_space(x, block_size, data_format="channels_last"):
    """Move `block_size x block_size` blocks from the channels into the spatial axes of 4-D `x`."""
    x = tensor(x)
    b = block_size
    if data_format == "channels_last":
        n, h, w, c = x.shape
        x = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h * b, w * b, c // (b * b))
    n, c, h, w = x.shape
    x = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c // (b * b), h * b, w * b)


def space_to_depth(x, block_size, data_format="channels_last"):
    """Move `block_size x block_size` spatial blocks of 4-D `x` into the channels."""
    x = tensor(x)
    b = block_size
    if data_format == "channels_last":
        n, h, w, c = x.shape
        x = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h // b, w // b, c * b * b)
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return x.reshape(n, c * b * b, h // b, w // b)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a 4-D channels-first `x` (PyTorch's `unfold`):
    `(N, C, H, W) -> (N, C * kh * kw, L)`."""
    x = tensor(x)
    k = _tuple(kernel_size, 2, "unfold", "kernel_size")
    patches = jax.lax.conv_general_dilated_patches(
        x,
        k,
        _tuple(stride, 2, "unfold", "stride"),
        [(p, p) for p in _tuple(padding, 2, "unfold", "padding")],
        rhs_dilation=_tuple(dilation, 2, "unfold", "dilation"),
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
    )
    return patches.reshape(x.shape[0], patches.shape[1], -1)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of `unfold`: sum sliding blocks `(N, C * kh * kw, L)` into `(N, C, *output_size)`."""
    x = tensor(x)
    out = _tuple(output_size, 2, "fold", "output_size")
    n, ck, _ = x.shape
    kh, kw = _tuple(kernel_size, 2, "fold", "kernel_size")
    c = ck // (kh * kw)

    def f(img):
        return unfold(img, (kh, kw), dilation, padding, stride)

    _, vjp = jax.vjp(f, jnp.zeros((n, c) + out, x.dtype))
    return vjp(x)[0]
