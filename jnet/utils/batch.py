"""Keras's batch packing helpers (`keras.utils.unpack_x_y_sample_weight` and its inverse)."""

from __future__ import annotations


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` from a batch given as `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`;
    missing parts are None.

    Example:
    ```python
    x, y, sample_weight = jnet.utils.unpack_x_y_sample_weight(data)
    ```
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"unpack_x_y_sample_weight: data must be x, (x,), (x, y) or (x, y, sample_weight); "
                     f"got a tuple of {len(data)} entries")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The inverse: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)
