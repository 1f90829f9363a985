"""Activation ops of `keras.ops.nn` (`ops.relu`, `ops.softmax`, ...), on `jax.nn`."""

from __future__ import annotations

import jax.nn as jnn
import jax.numpy as jnp

from jnet.ops._utils import to_float


def _act(name, jfn, doc):
    def op(x):
        return jfn(to_float(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"""{doc}

    Args:
        x: Input tensor.

    Returns:
        A tensor of the same shape as `x`.

    Example:
    >>> jnet.ops.{name}(jnet.ops.array([-1.0, 0.0, 1.0]))
    """
    return op


for _name, _fn, _doc in [
    ("relu", jnn.relu, "Rectified linear unit: `max(x, 0)`."),
    ("relu6", jnn.relu6, "`min(max(x, 0), 6)`."),
    ("sigmoid", jnn.sigmoid, "Logistic sigmoid `1 / (1 + exp(-x))`."),
    ("sparse_sigmoid", jnn.sparse_sigmoid, "Sparse sigmoid: 0 below -1, 1 above 1, linear between."),
    ("softplus", jnn.softplus, "`log(1 + exp(x))`."),
    ("softsign", jnn.soft_sign, "`x / (|x| + 1)`."),
    ("sparse_plus", jnn.sparse_plus, "0 for x <= -1, (x+1)^2/4 on (-1, 1), x for x >= 1."),
    ("silu", jnn.silu, "Sigmoid linear unit (swish): `x * sigmoid(x)`."),
    ("swish", jnn.silu, "Swish (SiLU): `x * sigmoid(x)`."),
    ("log_sigmoid", jnn.log_sigmoid, "`log(sigmoid(x))`, computed stably."),
    ("hard_sigmoid", jnn.hard_sigmoid, "Piecewise-linear sigmoid `relu6(x + 3) / 6`."),
    ("hard_silu", jnn.hard_silu, "`x * hard_sigmoid(x)`."),
    ("hard_swish", jnn.hard_silu, "`x * hard_sigmoid(x)` (hard SiLU)."),
    ("selu", jnn.selu, "Scaled exponential linear unit."),
    ("hard_tanh", jnn.hard_tanh, "`clip(x, -1, 1)`."),
]:
    globals()[_name] = _act(_name, _fn, _doc)
del _name, _fn, _doc


def tanh_shrink(x):
    """`x - tanh(x)`."""
    x = to_float(x)
    return x - jnp.tanh(x)


def leaky_relu(x, negative_slope=0.2):
    """`x` for x >= 0, `negative_slope * x` otherwise."""
    return jnn.leaky_relu(to_float(x), negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """Exponential linear unit: `x` for x > 0, `alpha * (exp(x) - 1)` otherwise."""
    return jnn.elu(to_float(x), alpha=alpha)


def celu(x, alpha=1.0):
    """Continuously-differentiable ELU: `max(x, 0) + alpha * min(0, exp(x / alpha) - 1)`."""
    return jnn.celu(to_float(x), alpha=alpha)


def gelu(x, approximate=True):
    """Gaussian error linear unit (tanh approximation when `approximate`)."""
    return jnn.gelu(to_float(x), approximate=approximate)


def glu(x, axis=-1):
    """Gated linear unit: halves `a, b` of `x` along `axis` give `a * sigmoid(b)`.

    Raises:
        ValueError: when the axis length is odd.
    """
    x = to_float(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: axis {axis} must have even length; received shape {x.shape}")
    return jnn.glu(x, axis=axis)


def squareplus(x, b=4):
    """`(x + sqrt(x^2 + b)) / 2`."""
    return jnn.squareplus(to_float(x), b=b)


def soft_shrink(x, threshold=0.5):
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`, else 0."""
    x = to_float(x)
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, 0.0))


def hard_shrink(x, threshold=0.5):
    """`x` where `|x| > threshold`, else 0."""
    x = to_float(x)
    return jnp.where(jnp.abs(x) > threshold, x, 0.0)


def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`."""
    x = to_float(x)
    return jnp.where(x > threshold, x, default_value)


def softmax(x, axis=-1):
    """Softmax along `axis` (an int or tuple of ints)."""
    return jnn.softmax(to_float(x), axis=axis)


def log_softmax(x, axis=-1):
    """Log-softmax along `axis`."""
    return jnn.log_softmax(to_float(x), axis=axis)


def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of `x` onto the
    probability simplex along `axis`; many outputs are exactly 0."""
    x = to_float(x)
    z = -jnp.sort(-x, axis=axis)  # descending
    cumsum = jnp.cumsum(z, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    k = jnp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    support = z - (cumsum - 1) / k > 0
    n_support = jnp.sum(support, axis=axis, keepdims=True)
    # tau = (sum of the k largest values - 1) / k, with k the support size
    top_sum = jnp.take_along_axis(cumsum, n_support - 1, axis=axis)
    tau = (top_sum - 1) / n_support.astype(x.dtype)
    return jnp.maximum(x - tau, 0.0)
