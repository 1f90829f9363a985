"""`pack_x_y_sample_weight` / `unpack_x_y_sample_weight`: the batch tuples `fit` reads."""

from __future__ import annotations


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """Packs user data into the tuple `fit` expects: `(x,)`, `(x, y)` or `(x, y, sample_weight)`.

    Args:
        x: features.
        y: targets (optional).
        sample_weight: per-sample weights (optional).

    Returns:
        `x` itself when it is the only value and not a tuple or list (as Keras), else a tuple.

    Example:
    ```python
    >>> pack_x_y_sample_weight(x, y)
    (x, y)
    ```
    """
    if y is None:
        if not isinstance(x, (tuple, list)):
            return x
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """Unpacks a batch into `(x, y, sample_weight)`, `None` where absent.

    Args:
        data: `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`; a list of length 1 to 3 is read
            as a tuple, as Keras does.

    Returns:
        The tuple `(x, y, sample_weight)`.
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError(
        "unpack_x_y_sample_weight: data must be x, (x,), (x, y) or (x, y, sample_weight); "
        f"got a tuple of {len(data)} items"
    )
