"""`InputSpec`: what a layer accepts (Keras's `keras.InputSpec`), checked when it is called."""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["InputSpec", "check_input_specs"]


class InputSpec:
    """Rank, dtype and axis sizes a layer's input must have.

    Args:
        dtype: expected dtype (None: any).
        shape: expected shape, None for any size on an axis (batch axis included).
        ndim, max_ndim, min_ndim: expected rank, or its bounds.
        axes: `{axis: size}` for axes whose size is fixed (e.g. `{-1: 64}`).
        allow_last_axis_squeeze: accept a trailing axis of size 1 more or less.
        name: the input's name, for messages.

    Example:
    ```python
    class Conv(jnet.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = jnet.InputSpec(ndim=4)
    ```
    """

    def __init__(
        self,
        dtype=None,
        shape=None,
        ndim=None,
        max_ndim=None,
        min_ndim=None,
        axes=None,
        allow_last_axis_squeeze=False,
        name=None,
        optional=False,
    ):
        self.dtype = None if dtype is None else jnp.dtype(dtype).name
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name = name
        self.optional = optional

    def __repr__(self):
        parts = [
            f"{k}={v!r}"
            for k, v in (
                ("dtype", self.dtype),
                ("shape", self.shape),
                ("ndim", self.ndim),
                ("max_ndim", self.max_ndim),
                ("min_ndim", self.min_ndim),
                ("axes", self.axes or None),
            )
            if v is not None
        ]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {
            "dtype": self.dtype,
            "shape": self.shape,
            "ndim": self.ndim,
            "max_ndim": self.max_ndim,
            "min_ndim": self.min_ndim,
            "axes": self.axes,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_input_specs(label, input_spec, specs):
    """Raise a `ValueError` naming the layer when `specs` (the call's input specs) break
    `input_spec` (one InputSpec, or a list, one per input)."""
    expected = input_spec if isinstance(input_spec, (list, tuple)) else [input_spec]
    for i, (want, got) in enumerate(zip(expected, specs)):
        if want is None or not hasattr(got, "shape"):
            continue
        shape, rank = tuple(got.shape), len(got.shape)
        which = f"input {i}" if len(expected) > 1 else "its input"
        ndim = want.ndim
        if ndim is not None and rank != ndim and not (want.allow_last_axis_squeeze and abs(rank - ndim) == 1):
            raise ValueError(f"{label}: {which} must have rank {ndim}, got shape {shape}")
        if want.max_ndim is not None and rank > want.max_ndim:
            raise ValueError(f"{label}: {which} must have rank <= {want.max_ndim}, got shape {shape}")
        if want.min_ndim is not None and rank < want.min_ndim:
            raise ValueError(f"{label}: {which} must have rank >= {want.min_ndim}, got shape {shape}")
        if want.dtype is not None and jnp.dtype(got.dtype).name != want.dtype:
            raise ValueError(f"{label}: {which} must have dtype {want.dtype}, got {jnp.dtype(got.dtype).name}")
        for axis, size in want.axes.items():
            if size is None or -rank > axis or axis >= rank:
                continue
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(f"{label}: axis {axis} of {which} must have size {size}, got shape {shape}")
        if want.shape is not None and len(want.shape) == rank:
            for w, g in zip(want.shape, shape):
                if w is not None and g is not None and w != g:
                    raise ValueError(f"{label}: {which} must have shape {want.shape}, got {shape}")
