"""Adaptive pooling: pool to a fixed output size whatever the input size (Keras's
`AdaptiveAveragePooling1D/2D/3D`, `AdaptiveMaxPooling1D/2D/3D`, PyTorch's `AdaptiveAvgPool`).

Output index `i` of an axis of length `n` pooled to `m` covers input positions
`floor(i * n / m)` to `ceil((i + 1) * n / m)` (exclusive). Both pools are separable over the
axes (a box's mean is the mean of per-axis means; likewise the max), so each axis is pooled in
turn: the average as a matmul with a static `(n, m)` weight matrix, the max as a masked max.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from jnet.layers import _spatial as sp
from jnet.layers.base import Layer

__all__ = [
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
]


def _bins(n: int, m: int) -> np.ndarray:
    """`(n, m)` boolean: input position `j` is in output bin `i`."""
    i = np.arange(m)
    starts, ends = (i * n) // m, -((-(i + 1) * n) // m)
    j = np.arange(n)[:, None]
    return (j >= starts[None, :]) & (j < ends[None, :])


class _AdaptivePooling(Layer):
    output_size: Any
    data_format: Any = None

    rank = 2
    _mode = "average"

    def check_config(self):
        self.output_size = sp.normalize_tuple(self.output_size, self.rank, "output_size", self._label)
        self.data_format = sp.normalize_data_format(self.data_format, self._label)

    def check_inputs(self, spec):
        sp.check_spatial_input(self._label, spec, self.rank, self.data_format, need_channels=False)
        for axis in sp.spatial_axes(self.rank, self.data_format):
            if spec.shape[axis] is None:
                raise ValueError(f"{self._label}: spatial axes must be known, got shape {tuple(spec.shape)}")

    def call(self, x):
        self.check_inputs(x)
        for axis, m in zip(sp.spatial_axes(self.rank, self.data_format), self.output_size):
            x = self._pool_axis(x, axis, m)
        return x

    def _pool_axis(self, x, axis, m):
        n = x.shape[axis]
        bins = _bins(n, m)
        moved = jnp.moveaxis(x, axis, -1)
        if self._mode == "average":
            weights = (bins / bins.sum(axis=0, keepdims=True)).astype(np.float32)
            out = jnp.matmul(moved, jnp.asarray(weights, x.dtype))
        else:
            lowest = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
            mask = jnp.reshape(jnp.asarray(bins), (1,) * (moved.ndim - 1) + bins.shape)
            out = jnp.max(jnp.where(mask, moved[..., None], jnp.asarray(lowest, x.dtype)), axis=-2)
        return jnp.moveaxis(out, -1, axis)


_DOC = """Adaptive {kind} pooling over {what}: {op} over `output_size` bins that split each
    spatial axis as evenly as possible (neighbouring bins may overlap by one position).

    Args:
        output_size: int or tuple of {rank} int(s): the output's spatial size.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input shape:
        `{layout}` (spatial sizes known).

    Output shape:
        the spatial axes replaced by `output_size`.

    Example:
    ```python
    y = jnet.layers.{name}({example})(x)
    ```
    """


def _make(name, rank, mode):
    what = {1: "steps", 2: "height and width", 3: "the three spatial axes"}[rank]
    layout = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)", 3: "(batch, d1, d2, d3, channels)"}[
        rank
    ]
    doc = _DOC.format(
        kind=mode,
        what=what,
        op="the mean" if mode == "average" else "the max",
        rank=rank,
        layout=layout,
        name=name,
        example=2 if rank == 1 else (2,) * rank,
    )
    cls = type(
        name,
        (_AdaptivePooling,),
        {"__doc__": doc, "__module__": __name__, "rank": rank, "_mode": mode, "__annotations__": {}},
    )
    return cls


AdaptiveAveragePooling1D = _make("AdaptiveAveragePooling1D", 1, "average")
AdaptiveAveragePooling2D = _make("AdaptiveAveragePooling2D", 2, "average")
AdaptiveAveragePooling3D = _make("AdaptiveAveragePooling3D", 3, "average")
AdaptiveMaxPooling1D = _make("AdaptiveMaxPooling1D", 1, "max")
AdaptiveMaxPooling2D = _make("AdaptiveMaxPooling2D", 2, "max")
AdaptiveMaxPooling3D = _make("AdaptiveMaxPooling3D", 3, "max")
