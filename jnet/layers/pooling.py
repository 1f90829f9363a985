"""Pooling layers: max and average pooling over windows, global pooling over all positions.

Channels-last by default (`data_format="channels_first"` is supported). Window pooling runs
on `jax.lax.reduce_window`; global pooling is a reduction over the spatial axes.

The 1D global pools honour a `(batch, steps)` mask (from `Embedding(mask_zero=True)` or
`Masking`): only unmasked steps are averaged (as Keras) or maxed (jnet also masks the max,
where Keras ignores the mask). A sample whose steps are all masked pools to 0 — Keras returns
NaN for the average — so the padded rows of a partial batch cannot poison a loss.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers import _spatial as sp
from jnet.layers.base import Layer

__all__ = [
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    # Keras's aliases
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
]


# --------------------------------------------------------------------------- window pooling


def _lowest(dtype):
    """The identity of `max` for `dtype` (lax recognises -inf and differentiates the max)."""
    return -jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).min


class _Pooling(Layer):
    """Base of the max and average pooling layers; subclasses set `rank` and `_mode`."""

    pool_size: Any = 2
    strides: Any = None
    padding: str = "valid"
    data_format: str | None = None

    rank = 2
    _mode = "max"

    def __post_init__(self):
        label = self._label
        self.pool_size = sp.normalize_tuple(self.pool_size, self.rank, "pool_size", label)
        # Keras: strides default to the pool size (non-overlapping windows).
        self.strides = (
            self.pool_size if self.strides is None else sp.normalize_tuple(self.strides, self.rank, "strides", label)
        )
        self.padding = sp.normalize_padding(self.padding, label)
        self.data_format = sp.normalize_data_format(self.data_format, label)
        super().__post_init__()

    def check_inputs(self, spec):
        sp.check_spatial_input(self._label, spec, self.rank, self.data_format, need_channels=False)
        if self.padding == "valid":
            sp.check_windows_fit(self._label, spec, self.rank, self.data_format, self.pool_size, "pool size")

    def _window(self, sizes):
        """Full-rank window/strides tuples: 1 on the batch and channel axes."""
        full = [1] * (self.rank + 2)
        for axis, size in zip(sp.spatial_axes(self.rank, self.data_format), sizes):
            full[axis] = size
        return tuple(full)

    def call(self, x):
        sp.check_spatial_input(self._label, x, self.rank, self.data_format)
        window, strides, padding = self._window(self.pool_size), self._window(self.strides), self.padding.upper()
        if self._mode == "max":
            return jax.lax.reduce_window(x, _lowest(x.dtype), jax.lax.max, window, strides, padding)
        # A numpy zero, not jnp: under jit a jnp constant is a tracer, and lax then cannot see
        # that this is a sum window (the one it differentiates).
        total = jax.lax.reduce_window(x, np.zeros((), x.dtype), jax.lax.add, window, strides, padding)
        # Divide by the number of real elements in each window: Keras excludes the 'same'
        # padding from the average. The counts are static, so they are a numpy constant.
        sizes = [x.shape[a] for a in sp.spatial_axes(self.rank, self.data_format)]
        per_axis = sp.window_counts(sizes, self.pool_size, self.strides, self.padding)
        counts = per_axis[0]
        for axis_counts in per_axis[1:]:
            counts = np.multiply.outer(counts, axis_counts)
        counts = np.asarray(counts, np.float32)
        counts = counts[None, ..., None] if self.data_format == "channels_last" else counts[None, None]
        return total / jnp.asarray(counts, x.dtype)


_POOL_DOC = """{kind} pooling over {what}: the {op} of each `pool_size` window.

    Args:
        pool_size: int or tuple of {rank} int(s), the window size{default}.
        strides: int, tuple, or `None` (default: `pool_size`, non-overlapping windows).
        padding: `"valid"` (windows inside the input) or `"same"` (output size
            `ceil(input / stride)`; {pad_note}).
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input shape:
        `{layout}`.

    Output shape:
        the same rank, each spatial axis `(n - pool) // stride + 1` (valid) or
        `ceil(n / stride)` (same).

    Example:
    ```python
    layer = jnet.layers.{name}({example})
    y, _ = layer.apply({{}}, x)
    ```
    """


def _pool_doc(name, rank, mode):
    default = "" if mode == "average" else f" (default {(2,) * rank if rank > 1 else 2})"
    return _POOL_DOC.format(
        kind="Max" if mode == "max" else "Average",
        what={1: "steps", 2: "images", 3: "volumes"}[rank],
        op="maximum" if mode == "max" else "mean",
        rank=rank,
        default=default,
        pad_note="padded positions never win the max"
        if mode == "max"
        else "padded positions are left out of the mean, as in Keras",
        layout=sp.layout(rank, "channels_last"),
        name=name,
        example="2" if mode == "average" else "",
    )


class _AveragePooling(_Pooling):
    # Required, as in Keras. `field()` without a default: a bare annotation would inherit 2.
    pool_size: Any = dataclasses.field()
    _mode = "average"


class MaxPooling1D(_Pooling):
    __doc__ = _pool_doc("MaxPooling1D", 1, "max")
    rank = 1


class MaxPooling2D(_Pooling):
    __doc__ = _pool_doc("MaxPooling2D", 2, "max")
    rank = 2


class MaxPooling3D(_Pooling):
    __doc__ = _pool_doc("MaxPooling3D", 3, "max")
    rank = 3


class AveragePooling1D(_AveragePooling):
    __doc__ = _pool_doc("AveragePooling1D", 1, "average")
    rank = 1


class AveragePooling2D(_AveragePooling):
    __doc__ = _pool_doc("AveragePooling2D", 2, "average")
    rank = 2


class AveragePooling3D(_AveragePooling):
    __doc__ = _pool_doc("AveragePooling3D", 3, "average")
    rank = 3


# --------------------------------------------------------------------------- global pooling


class _GlobalPooling(Layer):
    """Base of the global pooling layers; subclasses set `rank` and `_mode`.

    Args:
        data_format: `"channels_last"` (default) or `"channels_first"`.
        keepdims: keep the spatial axes with length 1 (Keras's argument).
    """

    data_format: str | None = None
    keepdims: bool = False

    rank = 2
    _mode = "max"

    def __post_init__(self):
        self.data_format = sp.normalize_data_format(self.data_format, self._label)
        super().__post_init__()

    def check_inputs(self, spec):
        sp.check_spatial_input(self._label, spec, self.rank, self.data_format, need_channels=False)

    def call(self, x):
        sp.check_spatial_input(self._label, x, self.rank, self.data_format)
        axes = sp.spatial_axes(self.rank, self.data_format)
        if self._mode == "max":
            return jnp.max(x, axis=axes, keepdims=self.keepdims)
        return jnp.mean(x, axis=axes, keepdims=self.keepdims)


class _GlobalPooling1D(_GlobalPooling):
    """Global pooling over steps, honouring a `(batch, steps)` mask."""

    rank = 1

    def call(self, x, mask=None):
        if mask is None:
            return super().call(x)
        sp.check_spatial_input(self._label, x, 1, self.data_format)
        steps_axis, channel_axis = (1, 2) if self.data_format == "channels_last" else (2, 1)
        if tuple(mask.shape) != (x.shape[0], x.shape[steps_axis]):
            raise ValueError(
                f"{self._label}: expected a mask of shape (batch, steps) = {(x.shape[0], x.shape[steps_axis])}, "
                f"got {tuple(mask.shape)} for input shape {x.shape}"
            )
        keep = jnp.expand_dims(mask.astype(bool), channel_axis)
        count = jnp.sum(keep, axis=steps_axis, keepdims=True)
        if self._mode == "max":
            pooled = jnp.max(jnp.where(keep, x, _lowest(x.dtype)), axis=steps_axis, keepdims=True)
        else:
            total = jnp.sum(jnp.where(keep, x, jnp.zeros((), x.dtype)), axis=steps_axis, keepdims=True)
            pooled = total / jnp.maximum(count, 1).astype(x.dtype)
        # All-masked samples give 0 rather than -inf (max) or NaN (0 / 0).
        pooled = jnp.where(count > 0, pooled, jnp.zeros((), x.dtype))
        return pooled if self.keepdims else jnp.squeeze(pooled, steps_axis)


_GLOBAL_DOC = """Global {kind} pooling: the {op} over all {what}.

    Args:
        data_format: `"channels_last"` (default) or `"channels_first"`.
        keepdims: keep the pooled axes with length 1 (default False).
{mask_note}
    Input shape:
        `{layout}`.

    Output shape:
        `(batch, channels)`, or with `keepdims` `{kept}`.
    """


def _global_doc(rank, mode):
    mask_note = ""
    if rank == 1:
        mask_note = (
            "\n    Masking:\n        a `(batch, steps)` mask leaves masked steps out of the "
            + ("mean (as Keras)" if mode == "average" else "max (Keras ignores the mask here)")
            + ";\n        a sample with every step masked pools to 0.\n"
        )
    kept = "(batch, " + ", ".join(["1"] * rank) + ", channels)"
    return _GLOBAL_DOC.format(
        kind=mode,
        op="maximum" if mode == "max" else "mean",
        what={1: "steps", 2: "pixels", 3: "voxels"}[rank],
        mask_note=mask_note,
        layout=sp.layout(rank, "channels_last"),
        kept=kept,
    )


class GlobalMaxPooling1D(_GlobalPooling1D):
    __doc__ = _global_doc(1, "max")


class GlobalAveragePooling1D(_GlobalPooling1D):
    __doc__ = _global_doc(1, "average")
    _mode = "average"


class GlobalMaxPooling2D(_GlobalPooling):
    __doc__ = _global_doc(2, "max")
    rank = 2


class GlobalAveragePooling2D(_GlobalPooling):
    __doc__ = _global_doc(2, "average")
    rank = 2
    _mode = "average"


class GlobalMaxPooling3D(_GlobalPooling):
    __doc__ = _global_doc(3, "max")
    rank = 3


class GlobalAveragePooling3D(_GlobalPooling):
    __doc__ = _global_doc(3, "average")
    rank = 3
    _mode = "average"


# Keras's short aliases.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
)
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
