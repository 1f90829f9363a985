"""`to_categorical` and `normalize`, as `keras.utils` has them."""

from __future__ import annotations

import numpy as np


def _is_jax_array(x) -> bool:
    import jax

    return isinstance(x, jax.Array)


def to_categorical(x, num_classes=None):
    """Converts a class vector (integers) to a binary class matrix (one-hot).

    Args:
        x: array-like of class indices, integers from 0 to `num_classes - 1`. A trailing axis
            of size 1 (labels shaped `(n, 1)`) is dropped, as Keras does.
        num_classes: total number of classes; `None` infers `max(x) + 1`.

    Returns:
        A float64 NumPy array of shape `x.shape + (num_classes,)` (the class axis last), or, when
        `x` is a JAX array, a float32 JAX array (as Keras returns a backend tensor for one).

    Example:
    ```python
    >>> jnet.utils.to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    ```
    """
    if num_classes is not None and (
        isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1
    ):
        raise ValueError(f"to_categorical: num_classes must be a positive int or None, got {num_classes!r}")
    on_device = _is_jax_array(x)
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError("to_categorical: x must hold integer class indices; got non-integer values")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"to_categorical: x must hold integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    shape = arr.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = arr.reshape(-1)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical: x is empty; give num_classes")
        num_classes = int(flat.max()) + 1
    num_classes = int(num_classes)
    # Keras's numpy path would wrap negative labels around silently; name them instead.
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(
            f"to_categorical: class indices must be in [0, {num_classes}) for "
            f"num_classes={num_classes}; got values from {flat.min()} to {flat.max()}"
        )
    out = np.zeros((flat.size, num_classes))
    out[np.arange(flat.size), flat] = 1
    out = out.reshape(shape + (num_classes,))
    if on_device:
        import jax.numpy as jnp

        return jnp.asarray(out, jnp.float32)
    return out


def normalize(x, axis=-1, order=2):
    """Normalizes an array to unit `order`-norm along `axis`.

    Args:
        x: array to normalize.
        axis: axis along which to normalize.
        order: norm order (`2` for the L2 norm, `1` for L1, `np.inf`...).

    Returns:
        A normalized copy. NumPy in, NumPy out (zero vectors stay zero, as Keras's NumPy path);
        a JAX array or a list gives a JAX array, divided by `max(norm, 1e-7)` as Keras's
        `ops.normalize`.

    Example:
    ```python
    >>> jnet.utils.normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    ```
    """
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis if axis is not None else -1)
    import jax.numpy as jnp

    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, 1e-7)
