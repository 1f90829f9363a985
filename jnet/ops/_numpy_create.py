"""Tensor creation (`ops.zeros`, `ops.arange`, windows, ...) and products (`ops.matmul`,
`ops.einsum`, ...) on `jax.numpy`. Without a `dtype`, creation ops make `floatx()` tensors,
as Keras does."""

from __future__ import annotations

import jax.numpy as jnp

from jnet import config
from jnet.ops._utils import dtype_of, tensor, to_float, unwrap


def _dt(dtype):
    return dtype_of(dtype or config.floatx())


def zeros(shape, dtype=None):
    """A tensor of zeros of `shape` (`floatx()` by default)."""
    return jnp.zeros(shape, dtype=_dt(dtype))


def ones(shape, dtype=None):
    """A tensor of ones of `shape` (`floatx()` by default)."""
    return jnp.ones(shape, dtype=_dt(dtype))


def empty(shape, dtype=None):
    """An uninitialised tensor of `shape`; under XLA it holds zeros."""
    return jnp.empty(shape, dtype=_dt(dtype))


def full(shape, fill_value, dtype=None):
    """A tensor of `shape` filled with `fill_value` (`floatx()` by default)."""
    return jnp.full(shape, tensor(fill_value), dtype=_dt(dtype))


def zeros_like(x, dtype=None):
    """Zeros with the shape (and, without `dtype`, the dtype) of `x`."""
    return jnp.zeros_like(tensor(x), dtype=None if dtype is None else dtype_of(dtype))


def ones_like(x, dtype=None):
    """Ones with the shape (and, without `dtype`, the dtype) of `x`."""
    return jnp.ones_like(tensor(x), dtype=None if dtype is None else dtype_of(dtype))


def empty_like(x, dtype=None):
    """An uninitialised tensor with the shape (and dtype) of `x`."""
    return jnp.empty_like(tensor(x), dtype=None if dtype is None else dtype_of(dtype))


def full_like(x, fill_value, dtype=None):
    """`fill_value` with the shape (and, without `dtype`, the dtype) of `x`."""
    return jnp.full_like(tensor(x), tensor(fill_value), dtype=None if dtype is None else dtype_of(dtype))


def array(x, dtype=None):
    """`x` as a tensor (Python floats as `floatx()`)."""
    return tensor(x, dtype=dtype)


def copy(x):
    """A copy of `x`."""
    return jnp.array(tensor(x), copy=True)


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in `[start, stop)` (`[0, start)` with one argument). The dtype
    follows the arguments: ints give int32, any float gives `floatx()`.

    Example:
    >>> jnet.ops.arange(1, 7, 2)  # [1, 3, 5]
    """
    if dtype is None:
        from jnet.backend import result_type

        args = [unwrap(a) for a in (start, stop, step) if a is not None]
        dtype = result_type(*[a.dtype if hasattr(a, "dtype") else type(a) for a in args])
    return jnp.arange(start, stop, step, dtype=dtype_of(dtype))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803  (Keras's names)
    """An `N x M` tensor with ones on the `k`-th diagonal."""
    return jnp.eye(N, M=M, k=k, dtype=_dt(dtype))


def identity(n, dtype=None):
    """The `n x n` identity."""
    return jnp.identity(n, dtype=_dt(dtype))


def tri(N, M=None, k=0, dtype=None):  # noqa: N803
    """An `N x M` tensor with ones at and below the `k`-th diagonal."""
    return jnp.tri(N, M=M, k=k, dtype=_dt(dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """`num` evenly spaced values from `start` to `stop` (with the step when `retstep`)."""
    return jnp.linspace(
        tensor(start),
        tensor(stop),
        num=num,
        endpoint=endpoint,
        retstep=retstep,
        dtype=None if dtype is None else dtype_of(dtype),
        axis=axis,
    )


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """`num` values spaced evenly on a log scale, from `base**start` to `base**stop`."""
    return jnp.logspace(
        tensor(start),
        tensor(stop),
        num=num,
        endpoint=endpoint,
        base=base,
        dtype=None if dtype is None else dtype_of(dtype),
        axis=axis,
    )


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """`num` values in geometric progression from `start` to `stop`."""
    return jnp.geomspace(
        tensor(start),
        tensor(stop),
        num=num,
        endpoint=endpoint,
        dtype=None if dtype is None else dtype_of(dtype),
        axis=axis,
    )


def _window(name, jfn):
    def op(x):
        return jfn(int(unwrap(x))).astype(config.floatx())

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"""The {name.capitalize()} window of `x` points (`floatx()`).

    Example:
    >>> jnet.ops.{name}(5)
    """
    return op


bartlett = _window("bartlett", jnp.bartlett)
blackman = _window("blackman", jnp.blackman)
hamming = _window("hamming", jnp.hamming)
hanning = _window("hanning", jnp.hanning)


def kaiser(x, beta):
    """The Kaiser window of `x` points with shape parameter `beta` (`floatx()`)."""
    return jnp.kaiser(int(unwrap(x)), beta).astype(config.floatx())


def vander(x, N=None, increasing=False):  # noqa: N803
    """The Vandermonde matrix of the 1-D `x` with `N` columns."""
    return jnp.vander(tensor(x), N=N, increasing=increasing)


def _int8_pair(*xs):
    # int8 x int8 products accumulate in int32, as in Keras (hardware-accelerated on TPU/GPU)
    return "int32" if all(x.dtype == jnp.int8 for x in xs) else None


def matmul(x1, x2):
    """Matrix product of `x1` and `x2` (batched over leading axes, numpy rules).

    Example:
    >>> jnet.ops.matmul(jnet.ops.ones((2, 3)), jnet.ops.ones((3, 4))).shape  # (2, 4)
    """
    x1, x2 = tensor(x1), tensor(x2)
    return jnp.matmul(x1, x2, preferred_element_type=_int8_pair(x1, x2))


def dot(x1, x2):
    """Dot product (matrix product for 2-D, sum over the last/second-to-last axes otherwise)."""
    x1, x2 = tensor(x1), tensor(x2)
    return jnp.dot(x1, x2, preferred_element_type=_int8_pair(x1, x2))


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation over `operands` following `subscripts`, e.g. `"ij,jk->ik"`."""
    operands = [tensor(x) for x in operands]
    kwargs.setdefault("preferred_element_type", _int8_pair(*operands))
    return jnp.einsum(subscripts, *operands, **kwargs)


def tensordot(x1, x2, axes=2):
    """Tensor dot product over `axes` (an int, or a pair of axis lists)."""
    return jnp.tensordot(tensor(x1), tensor(x2), axes=axes)


def inner(x1, x2):
    """Inner product over the last axes."""
    return jnp.inner(tensor(x1), tensor(x2))


def outer(x1, x2):
    """Outer product of the flattened `x1` and `x2`."""
    return jnp.outer(tensor(x1), tensor(x2))


def vdot(x1, x2):
    """Dot product of the flattened tensors (conjugating `x1`)."""
    return jnp.vdot(tensor(x1), tensor(x2))


def kron(x1, x2):
    """Kronecker product."""
    return jnp.kron(tensor(x1), tensor(x2))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of (batches of) 2- or 3-vectors; `axis` overrides the three axes."""
    return jnp.cross(tensor(x1), tensor(x2), axisa=axisa, axisb=axisb, axisc=axisc, axis=axis)


def correlate(x1, x2, mode="valid"):
    """Cross-correlation of two 1-D tensors (`mode`: "valid", "same" or "full")."""
    x1, x2 = to_float(x1), to_float(x2)
    return jnp.correlate(x1, x2, mode=mode)


def diff(a, n=1, axis=-1):
    """The `n`-th discrete difference along `axis`."""
    return jnp.diff(tensor(a), n=n, axis=axis)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of `y` along `axis` by the trapezoidal rule (sample points `x`, or spacing `dx`)."""
    return jnp.trapezoid(to_float(y), x=None if x is None else tensor(x), dx=dx, axis=axis)


def slogdet(x):
    """`(sign, log|det|)` of the square matrices in `x`."""
    return tuple(jnp.linalg.slogdet(to_float(x)))


def vectorize(pyfunc, *, excluded=None, signature=None):
    """`pyfunc` vectorised over its array arguments (numpy's broadcasting; `jnp.vectorize`)."""
    return jnp.vectorize(pyfunc, excluded=excluded or set(), signature=signature)
