"""Shape and indexing ops (`ops.reshape`, `ops.concatenate`, `ops.take`, ...) on `jax.numpy`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet.ops._utils import tensor, unwrap


def _ax(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def reshape(x, newshape):
    """`x` with shape `newshape` (one entry may be -1 or `None`, inferred).

    Raises:
        ValueError: when the sizes do not match.

    Example:
    >>> jnet.ops.reshape(jnet.ops.arange(6), (2, -1))
    """
    x = tensor(x)
    shape = (newshape,) if isinstance(newshape, int) else tuple(-1 if d is None else d for d in newshape)
    try:
        return jnp.reshape(x, shape)
    except TypeError as err:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} to {newshape}") from err


def transpose(x, axes=None):
    """`x` with its axes permuted by `axes` (reversed when `None`)."""
    return jnp.transpose(tensor(x), axes)


def expand_dims(x, axis):
    """`x` with length-1 axes inserted at `axis` (an int or tuple)."""
    return jnp.expand_dims(tensor(x), _ax(axis))


def squeeze(x, axis=None):
    """`x` without its length-1 axes (only those in `axis` when given).

    Raises:
        ValueError: when an axis in `axis` does not have length 1.
    """
    x = tensor(x)
    if axis is not None:
        for a in axis if isinstance(axis, (tuple, list)) else (axis,):
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of a tensor of shape {x.shape} does not have length 1")
    return jnp.squeeze(x, axis=_ax(axis))


def ravel(x):
    """`x` flattened to 1-D."""
    return jnp.ravel(tensor(x))


def moveaxis(x, source, destination):
    """`x` with axes `source` moved to positions `destination`."""
    return jnp.moveaxis(tensor(x), source, destination)


def swapaxes(x, axis1, axis2):
    """`x` with axes `axis1` and `axis2` interchanged."""
    return jnp.swapaxes(tensor(x), axis1, axis2)


def broadcast_to(x, shape):
    """`x` broadcast to `shape`."""
    return jnp.broadcast_to(tensor(x), tuple(shape))


def concatenate(xs, axis=0):
    """Join a sequence of tensors along an existing `axis` (`None` flattens them first)."""
    return jnp.concatenate([tensor(x) for x in xs], axis=axis)


def append(x1, x2, axis=None):
    """`x2` appended to `x1` along `axis` (both flattened when `None`)."""
    return jnp.append(tensor(x1), tensor(x2), axis=axis)


def stack(x, axis=0):
    """Join a sequence of same-shape tensors along a new `axis`."""
    return jnp.stack([tensor(v) for v in x], axis=axis)


def hstack(xs):
    """Stack tensors column-wise (along axis 1, axis 0 for 1-D)."""
    return jnp.hstack([tensor(x) for x in xs])


def vstack(xs):
    """Stack tensors row-wise (along axis 0)."""
    return jnp.vstack([tensor(x) for x in xs])


def dstack(xs):
    """Stack tensors depth-wise (along axis 2)."""
    return jnp.dstack([tensor(x) for x in xs])


def split(x, indices_or_sections, axis=0):
    """Split `x` into equal sections (an int) or at the given indices, along `axis`.

    Raises:
        ValueError: when an int does not divide the axis length.
    """
    x = tensor(x)
    if isinstance(indices_or_sections, int) and x.shape[axis] % indices_or_sections:
        raise ValueError(
            f"split: axis {axis} of length {x.shape[axis]} cannot be split into {indices_or_sections} equal sections"
        )
    return jnp.split(x, indices_or_sections, axis=axis)


def array_split(x, indices_or_sections, axis=0):
    """Like `split`, but sections may differ in size by one."""
    return jnp.array_split(tensor(x), indices_or_sections, axis=axis)


def hsplit(x, indices_or_sections):
    """`split` along axis 1 (axis 0 for 1-D)."""
    return jnp.hsplit(tensor(x), indices_or_sections)


def vsplit(x, indices_or_sections):
    """`split` along axis 0."""
    return jnp.vsplit(tensor(x), indices_or_sections)


def dsplit(x, indices_or_sections):
    """`split` along axis 2."""
    return jnp.dsplit(tensor(x), indices_or_sections)


def flip(x, axis=None):
    """`x` reversed along `axis` (all axes when `None`)."""
    return jnp.flip(tensor(x), axis=_ax(axis))


def fliplr(x):
    """`x` reversed along axis 1."""
    return jnp.fliplr(tensor(x))


def flipud(x):
    """`x` reversed along axis 0."""
    return jnp.flipud(tensor(x))


def rot90(array, k=1, axes=(0, 1)):
    """`array` rotated by 90 degrees `k` times in the plane of `axes`.

    Raises:
        ValueError: for inputs of rank < 2 or `axes` that are not two different axes.
    """
    array = tensor(array)
    if array.ndim < 2:
        raise ValueError(f"rot90: `array` must have rank >= 2; received shape {array.shape}")
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"rot90: `axes` must be two different axes; received {axes}")
    return jnp.rot90(array, k=k, axes=tuple(axes))


def roll(x, shift, axis=None):
    """Roll the elements of `x` by `shift` along `axis` (of the flattened tensor when `None`)."""
    return jnp.roll(tensor(x), shift, axis=_ax(axis))


def repeat(x, repeats, axis=None):
    """Repeat each element `repeats` times along `axis` (flattened when `None`)."""
    return jnp.repeat(tensor(x), unwrap(repeats), axis=axis)


def tile(x, repeats):
    """`x` repeated `repeats` times per axis.

    Args:
        x: Input tensor.
        repeats: Repeats per axis: an int, a sequence of ints, or a concrete integer array.
            Under `jax.jit` the output shape must be static, so `repeats` cannot be computed
            from traced arrays; build it from `ops.shape(x)` (Python ints under JAX).

    Returns:
        The tiled tensor.

    Example:
    >>> ops.tile(ops.ones((1, 2, 2)), (3, 1, 1)).shape
    (3, 2, 2)
    """
    reps = repeats if isinstance(repeats, (list, tuple)) else [repeats]
    if any(isinstance(r, jax.core.Tracer) for r in reps) or (isinstance(repeats, jax.core.Tracer) and repeats.ndim):
        raise TypeError(
            "ops.tile: repeats must be known when traced (ints, or a concrete array); got a traced array "
            f"{getattr(repeats, 'aval', repeats)}. JAX shapes are static: build repeats from ops.shape(x), "
            "e.g. ops.tile(mask, (batch_size, 1, 1)) rather than ops.concatenate of tensors"
        )
    return jnp.tile(tensor(x), repeats)


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad `x` by `pad_width` (`[(before, after), ...]` per axis).

    Args:
        x: Input tensor.
        pad_width: Padding per axis.
        mode: "constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
            "reflect", "symmetric", "wrap" or "empty".
        constant_values: Fill value; only with `mode="constant"`.

    Raises:
        ValueError: when `constant_values` is given with another mode.
    """
    kwargs = {}
    if constant_values is not None:
        if mode != "constant":
            raise ValueError(f"pad: `constant_values` needs mode='constant'; received mode={mode!r}")
        kwargs["constant_values"] = constant_values
    return jnp.pad(tensor(x), pad_width, mode=mode, **kwargs)


def take(x, indices, axis=None):
    """Elements of `x` at `indices` along `axis` (of the flattened tensor when `None`)."""
    return jnp.take(tensor(x), tensor(indices), axis=axis)


def take_along_axis(x, indices, axis=None):
    """Elements of `x` picked along `axis` by the broadcastable `indices`."""
    return jnp.take_along_axis(tensor(x), tensor(indices), axis=axis)


def get_item(x, key):
    """`x[key]`."""
    return tensor(x)[unwrap(key) if not isinstance(key, tuple) else tuple(unwrap(k) for k in key)]


def diag(x, k=0):
    """The `k`-th diagonal of a 2-D `x`, or a 2-D tensor with the 1-D `x` on that diagonal."""
    return jnp.diag(tensor(x), k=k)


def diagflat(x, k=0):
    """A 2-D tensor with the flattened `x` on its `k`-th diagonal."""
    return jnp.diagflat(tensor(x), k=k)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonals of `x` over the plane `(axis1, axis2)`."""
    return jnp.diagonal(tensor(x), offset=offset, axis1=axis1, axis2=axis2)


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum along the diagonals of `x` over the plane `(axis1, axis2)`."""
    return jnp.trace(tensor(x), offset=offset, axis1=axis1, axis2=axis2)


def tril(x, k=0):
    """`x` with the elements above the `k`-th diagonal set to zero."""
    return jnp.tril(tensor(x), k=k)


def triu(x, k=0):
    """`x` with the elements below the `k`-th diagonal set to zero."""
    return jnp.triu(tensor(x), k=k)


def select(condlist, choicelist, default=0):
    """Elements from `choicelist[i]` where `condlist[i]` is first true, else `default`.

    Raises:
        ValueError: when the lists differ in length or are empty.
    """
    if len(condlist) != len(choicelist) or not condlist:
        raise ValueError("select: `condlist` and `choicelist` must be non-empty and of the same length")
    return jnp.select([tensor(c) for c in condlist], [tensor(c) for c in choicelist], default=default)


def unravel_index(indices, shape):
    """Flat `indices` as a tuple of coordinate arrays into an array of `shape`."""
    return jnp.unravel_index(tensor(indices), shape)


def meshgrid(*x, indexing="xy"):
    """Coordinate matrices from the 1-D coordinate vectors `x`.

    Raises:
        ValueError: when `indexing` is not "xy" or "ij".
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: `indexing` must be 'xy' or 'ij'; received {indexing!r}")
    return jnp.meshgrid(*[tensor(v) for v in x], indexing=indexing)


def view(x, dtype=None):
    """The bits of `x` reinterpreted as `dtype` (the last axis scales when item sizes differ)."""
    x = tensor(x)
    return x if dtype is None else x.view(jnp.dtype(dtype))


def size(x):
    """Number of elements of `x`."""
    return jnp.size(tensor(x))


def ndim(x):
    """Rank of `x`."""
    return jnp.ndim(tensor(x))
