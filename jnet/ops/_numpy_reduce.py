"""Reductions, statistics, sorting and searching (`ops.sum`, `ops.mean`, `ops.argsort`, ...)
on `jax.numpy`. Means and variances of low-precision floats are accumulated in float32, and
integer inputs give `floatx()` results, as in Keras."""

from __future__ import annotations

import jax.numpy as jnp

from jnet import config
from jnet.ops._utils import tensor, to_float


def _ax(axis):
    # jnp wants a hashable axis
    return tuple(axis) if isinstance(axis, list) else axis


def _wide(x):
    """(compute dtype, result dtype) for means/variances: float32 accumulation for halves."""
    x = tensor(x)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return x, jnp.promote_types(x.dtype, "float32"), x.dtype
    return x, jnp.dtype("float32"), jnp.dtype(config.floatx())


def _reduction(name, jfn, doc):
    def op(x, axis=None, keepdims=False):
        return jfn(tensor(x), axis=_ax(axis), keepdims=keepdims)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"""{doc} of `x` along `axis`.

    Args:
        x: Input tensor.
        axis: An int or tuple of ints; `None` reduces over all axes.
        keepdims: Whether to keep the reduced axes with length 1.

    Returns:
        The reduced tensor.

    Example:
    >>> jnet.ops.{name}(jnet.ops.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)
    """
    return op


for _name, _fn, _doc in [
    ("sum", jnp.sum, "Sum"),
    ("all", jnp.all, "Logical AND"),
    ("any", jnp.any, "Logical OR"),
    ("amax", jnp.amax, "Maximum"),
    ("amin", jnp.amin, "Minimum"),
    ("ptp", jnp.ptp, "Range (max - min)"),
    ("nanmax", jnp.nanmax, "Maximum, ignoring NaNs,"),
    ("nanmin", jnp.nanmin, "Minimum, ignoring NaNs,"),
    ("nansum", jnp.nansum, "Sum, ignoring NaNs,"),
    ("nanprod", jnp.nanprod, "Product, ignoring NaNs,"),
    ("nanmean", jnp.nanmean, "Mean, ignoring NaNs,"),
    ("nanvar", jnp.nanvar, "Variance, ignoring NaNs,"),
    ("nanstd", jnp.nanstd, "Standard deviation, ignoring NaNs,"),
    ("nanmedian", jnp.nanmedian, "Median, ignoring NaNs,"),
    ("nanargmax", jnp.nanargmax, "Index of the maximum, ignoring NaNs,"),
    ("nanargmin", jnp.nanargmin, "Index of the minimum, ignoring NaNs,"),
]:
    globals()[_name] = _reduction(_name, _fn, _doc)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001  (Keras's name)
    """Maximum of `x` along `axis` (all axes when `None`); `initial` is a floor for the result,
    needed to reduce an empty tensor."""
    return jnp.max(tensor(x), axis=_ax(axis), keepdims=keepdims, initial=initial)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Minimum of `x` along `axis` (all axes when `None`); `initial` caps the result."""
    return jnp.min(tensor(x), axis=_ax(axis), keepdims=keepdims, initial=initial)


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product of `x` along `axis`, optionally computed in `dtype`."""
    return jnp.prod(tensor(x), axis=_ax(axis), keepdims=keepdims, dtype=dtype)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean along `axis`; integers give `floatx()`, float16/bfloat16 are accumulated
    in float32 and cast back.

    Example:
    >>> jnet.ops.mean(jnet.ops.array([1, 2]))  # 1.5, float32
    """
    x, compute, out = _wide(x)
    return jnp.mean(x, axis=_ax(axis), keepdims=keepdims, dtype=compute).astype(out)


def var(x, axis=None, keepdims=False):
    """Variance (population, ddof=0) along `axis`, accumulated in at least float32."""
    x, compute, out = _wide(x)
    return jnp.var(x, axis=_ax(axis), keepdims=keepdims, dtype=compute).astype(out)


def std(x, axis=None, keepdims=False):
    """Standard deviation (ddof=0) along `axis`, accumulated in at least float32."""
    x, compute, out = _wide(x)
    return jnp.std(x, axis=_ax(axis), keepdims=keepdims, dtype=compute).astype(out)


def median(x, axis=None, keepdims=False):
    """Median along `axis` (all axes when `None`)."""
    return jnp.median(to_float(x), axis=_ax(axis), keepdims=keepdims)


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The `q`-th quantiles (`q` in [0, 1]) along `axis`.

    Args:
        x: Input tensor.
        q: A scalar or 1-D tensor of quantiles in [0, 1].
        axis: Axis or axes to compute over; `None` flattens.
        method: "linear", "lower", "higher", "midpoint" or "nearest".
        keepdims: Keep the reduced axes with length 1.
    """
    return jnp.quantile(to_float(x), tensor(q), axis=_ax(axis), method=method, keepdims=keepdims)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The `q`-th percentiles (`q` in [0, 100]) along `axis`; see `quantile`."""
    return jnp.percentile(to_float(x), tensor(q), axis=_ax(axis), method=method, keepdims=keepdims)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """`quantile` ignoring NaNs."""
    return jnp.nanquantile(to_float(x), tensor(q), axis=_ax(axis), method=method, keepdims=keepdims)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """`percentile` ignoring NaNs."""
    return jnp.nanpercentile(to_float(x), tensor(q), axis=_ax(axis), method=method, keepdims=keepdims)


def average(x, axis=None, weights=None):
    """Weighted mean along `axis` (plain mean without `weights`), in a float dtype."""
    x = to_float(x)
    if weights is not None:
        weights = tensor(weights)
        dtype = jnp.promote_types(x.dtype, weights.dtype)
        x, weights = x.astype(dtype), weights.astype(dtype)
    return jnp.average(x, axis=axis, weights=weights)


def count_nonzero(x, axis=None):
    """Number of non-zero values along `axis`, as int32."""
    return jnp.count_nonzero(tensor(x), axis=_ax(axis)).astype("int32")


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along `axis` (of the flattened tensor when `None`)."""
    return jnp.argmax(tensor(x), axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along `axis` (of the flattened tensor when `None`)."""
    return jnp.argmin(tensor(x), axis=axis, keepdims=keepdims)


def argsort(x, axis=-1):
    """Indices that sort `x` along `axis` (stable)."""
    x = tensor(x)
    return jnp.argsort(x, axis=None if x.ndim == 0 else axis)


def sort(x, axis=-1):
    """`x` sorted ascending along `axis`."""
    return jnp.sort(tensor(x), axis=axis)


def argpartition(x, kth, axis=-1):
    """Indices that partition `x` along `axis` around its `kth` smallest element."""
    return jnp.argpartition(tensor(x), kth, axis=axis)


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along `axis` (over the flattened tensor when `None`)."""
    return jnp.cumsum(tensor(x), axis=axis, dtype=dtype)


def cumprod(x, axis=None, dtype=None):
    """Cumulative product along `axis` (over the flattened tensor when `None`)."""
    return jnp.cumprod(tensor(x), axis=axis, dtype=dtype)


def nancumsum(x, axis=None, dtype=None):
    """`cumsum` treating NaNs as 0."""
    return jnp.nancumsum(tensor(x), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    """`cumprod` treating NaNs as 1."""
    return jnp.nancumprod(tensor(x), axis=axis, dtype=dtype)


def searchsorted(sorted_sequence, values, side="left"):
    """Indices where `values` would be inserted into the 1-D `sorted_sequence` to keep it sorted.

    Raises:
        ValueError: when `sorted_sequence` is not 1-D.
    """
    seq = tensor(sorted_sequence)
    if seq.ndim != 1:
        raise ValueError(f"searchsorted: `sorted_sequence` must be 1-D; received shape {seq.shape}")
    return jnp.searchsorted(seq, tensor(values), side=side).astype("int32")


def digitize(x, bins):
    """Index of the bin of `bins` (1-D, increasing) each value of `x` falls in."""
    return jnp.digitize(tensor(x), tensor(bins)).astype("int32")


def bincount(x, weights=None, minlength=0, sparse=False):
    """Count (or sum `weights` of) each non-negative int in `x`; a 2-D `x` counts per row.
    The output length depends on the values, so this is not jittable unless `minlength`
    covers them. With `sparse=True` the counts are a `jax.experimental.sparse.BCOO` (as
    Keras returns on JAX).
    """
    x = tensor(x)
    w = None if weights is None else tensor(weights)
    length = int(jnp.maximum(jnp.max(x) + 1, minlength)) if x.size else minlength
    if sparse:
        return _sparse_bincount(x, w, length)
    if x.ndim == 1:
        return jnp.bincount(x, weights=w, minlength=minlength, length=length)
    if x.ndim != 2:
        raise ValueError(f"bincount: `x` must be 1-D or 2-D; received shape {x.shape}")
    rows = [jnp.bincount(x[i], None if w is None else w[i], length=length) for i in range(x.shape[0])]
    return jnp.stack(rows)


def _sparse_bincount(x, w, length):
    from jax.experimental import sparse as jsparse

    from jnet.ops._nn_misc import _sparse_one_hot

    if x.ndim not in (1, 2):
        raise ValueError(f"bincount: `x` must be 1-D or 2-D; received shape {x.shape}")
    # float32 counts without weights, as Keras's sparse bincount on JAX gives (its dense one is int)
    hot = _sparse_one_hot(x.astype("int32"), length, -1, "float32" if w is None else w.dtype)
    if w is not None:
        if w.shape != x.shape:
            raise ValueError(f"bincount: `weights` must have the shape of `x` {x.shape}; received {w.shape}")
        hot = jsparse.BCOO((hot.data * w.reshape(-1), hot.indices), shape=hot.shape)
    return jsparse.bcoo_sum_duplicates(jsparse.bcoo_reduce_sum(hot, axes=(x.ndim - 1,)))


def histogram(x, bins=10, range=None):  # noqa: A002  (Keras's name)
    """Histogram of the 1-D `x`: `(counts, bin_edges)`."""
    return jnp.histogram(tensor(x), bins=bins, range=range)


def unique(
    x,
    sorted=True,
    return_index=False,
    return_inverse=False,
    return_counts=False,  # noqa: A002
    axis=None,
    size=None,
    fill_value=None,
):
    """The unique values of `x`, with optional indices, inverse and counts (`jnp.unique`).
    Give `size` (and `fill_value`) to use it under `jit`."""
    return jnp.unique(
        tensor(x),
        return_index=return_index,
        return_inverse=return_inverse,
        return_counts=return_counts,
        axis=axis,
        size=size,
        fill_value=fill_value,
        sorted=sorted,
    )


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether all elements are equal within `atol + rtol * |x2|`."""
    return jnp.allclose(tensor(x1), tensor(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Element-wise `|x1 - x2| <= atol + rtol * |x2|`."""
    return jnp.isclose(tensor(x1), tensor(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def isin(x1, x2, assume_unique=False, invert=False):
    """Element-wise whether each value of `x1` occurs in `x2` (negated with `invert`)."""
    return jnp.isin(tensor(x1), tensor(x2), assume_unique=assume_unique, invert=invert)


def nonzero(x):
    """Indices of the non-zero elements: a tuple of int arrays, one per axis (not jittable)."""
    return jnp.nonzero(tensor(x))


def corrcoef(x):
    """Pearson correlation coefficients of the rows of `x`."""
    return jnp.corrcoef(to_float(x))


del _name, _fn, _doc
