"""Devices, meshes and layouts: the Keras 3 `keras.distribution` vocabulary on `jax.sharding`.

`DeviceMesh` is a named grid of devices (a `jax.sharding.Mesh`), `TensorLayout` names a mesh
axis (or `None`) for every axis of an array (a `jax.sharding.NamedSharding`), and `LayoutMap`
maps variable paths (regexes such as `"dense.*/kernel"`) to layouts.
"""

from __future__ import annotations

import collections.abc
import math
import re

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def list_devices(device_type=None) -> list[str]:
    """All devices of one type, as `"platform:id"` strings (global devices when multi-process).

    Args:
        device_type: `"cpu"`, `"gpu"` or `"tpu"`; default: the accelerators if there are any,
            else the CPUs. Never a mix of types.

    Example:
    ```python
    jnet.distribution.list_devices()        # ['gpu:0', 'gpu:1', ...]
    ```
    """
    devices = jax.devices(backend=device_type.lower() if device_type else None)
    return [f"{d.platform}:{d.id}" for d in devices]


def get_device_count(device_type=None) -> int:
    """How many devices of one type there are (see `list_devices`)."""
    return jax.device_count(device_type.lower() if device_type else None)


def to_jax_device(device) -> jax.Device:
    """A `jax.Device` from a `jax.Device` or a `"platform:id"` string (`"gpu"` means `gpu:0`)."""
    if isinstance(device, jax.Device):
        return device
    text = str(device)
    platform, _, index = text.partition(":")
    try:
        candidates = jax.devices(backend=platform)
    except RuntimeError as err:
        raise ValueError(f"Unknown device {text!r}: no {platform!r} backend ({err})") from None
    wanted = int(index) if index else 0
    for d in candidates:
        if d.id == wanted:
            return d
    raise ValueError(f"Unknown device {text!r}; available: {[f'{d.platform}:{d.id}' for d in candidates]}")


class DeviceMesh:
    """A named grid of devices, aligned with `jax.sharding.Mesh`.

    Args:
        shape: the grid's shape, e.g. `(8,)` for data parallel only, `(2, 4)` for data x model.
        axis_names: one name per axis, e.g. `("batch", "model")`; layouts refer to them.
        devices: devices (`jax.Device`s or `"gpu:0"`-style strings); default `list_devices()`.

    Example:
    ```python
    mesh = jnet.distribution.DeviceMesh((2, 4), ("batch", "model"))
    mesh.backend_mesh          # the jax.sharding.Mesh
    ```
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(
                f"DeviceMesh: shape and axis_names must be non-empty, got shape={shape!r}, axis_names={axis_names!r}"
            )
        shape = tuple(int(s) for s in shape)
        axis_names = tuple(axis_names)
        if len(shape) != len(axis_names):
            raise ValueError(f"DeviceMesh: shape {shape} and axis_names {axis_names} must have the same length")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"DeviceMesh: axis_names must be unique, got {axis_names}")
        if devices is None:
            devices = list_devices()
        devices = np.asarray(devices, dtype=object)
        if math.prod(shape) != devices.size:
            raise ValueError(f"DeviceMesh: shape {shape} needs {math.prod(shape)} devices, got {devices.size}")
        self._shape = shape
        self._axis_names = axis_names
        self._devices = devices.reshape(shape)
        jax_devices = np.array([to_jax_device(d) for d in self._devices.flat], dtype=object)
        self._mesh = Mesh(jax_devices.reshape(shape), axis_names)

    @property
    def shape(self) -> tuple:
        return self._shape

    @property
    def axis_names(self) -> tuple:
        return self._axis_names

    @property
    def devices(self) -> np.ndarray:
        return self._devices

    @property
    def backend_mesh(self) -> Mesh:
        """The `jax.sharding.Mesh`."""
        return self._mesh

    def axis_size(self, name) -> int:
        if name not in self._axis_names:
            raise ValueError(f"DeviceMesh: no axis named {name!r}; axes are {self._axis_names}")
        return self._shape[self._axis_names.index(name)]

    def __repr__(self):
        return f"<DeviceMesh shape={self._shape}, axis_names={self._axis_names}>"


def _spec_axes(spec) -> list:
    """The mesh axis names used by one PartitionSpec entry (None, a name, or a tuple of names)."""
    if spec is None:
        return []
    return list(spec) if isinstance(spec, tuple) else [spec]


class TensorLayout:
    """Which mesh axis (or `None`) each axis of an array is split over; a `NamedSharding`.

    Args:
        axes: one entry per array axis: a mesh axis name, a tuple of names, or `None`
            (not split). A `jax.sharding.PartitionSpec` works too.
        device_mesh: the `DeviceMesh`; a `LayoutMap` fills it in when left out.
    """

    def __init__(self, axes, device_mesh=None):
        self._axes = tuple(axes)
        self._device_mesh = None
        if device_mesh is not None:
            self.device_mesh = device_mesh

    @property
    def axes(self) -> tuple:
        return self._axes

    @property
    def device_mesh(self):
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, mesh):
        if self._device_mesh is not None and mesh is not self._device_mesh:
            raise ValueError(f"TensorLayout {self._axes}: its device mesh is already set to {self._device_mesh}")
        unknown = {a for entry in self._axes for a in _spec_axes(entry)} - set(mesh.axis_names)
        if unknown:
            raise ValueError(
                f"TensorLayout {self._axes}: unknown mesh axes {sorted(unknown)}; the mesh has {mesh.axis_names}"
            )
        self._device_mesh = mesh

    @property
    def backend_layout(self) -> NamedSharding:
        """The `jax.sharding.NamedSharding`."""
        if self._device_mesh is None:
            raise ValueError(f"TensorLayout {self._axes} has no device mesh")
        return NamedSharding(self._device_mesh.backend_mesh, PartitionSpec(*self._axes))

    def fits(self, shape) -> str | None:
        """`None` if arrays of `shape` can take this layout, else the reason why not."""
        if len(shape) != len(self._axes):
            return f"layout {self._axes} has {len(self._axes)} axes but the array has shape {tuple(shape)}"
        for dim, entry in zip(shape, self._axes):
            parts = math.prod(self._device_mesh.axis_size(a) for a in _spec_axes(entry))
            if dim % parts:
                return f"axis of size {dim} does not split evenly over {entry!r} ({parts} devices) for shape {tuple(shape)}"
        return None

    def __repr__(self):
        return f"<TensorLayout axes={self._axes}, device_mesh={self._device_mesh}>"


class LayoutMap(collections.abc.MutableMapping):
    """Variable path regexes -> `TensorLayout`s, for `ModelParallel`.

    Paths are the keys of the model's params joined by `/`: `dense/kernel`,
    `encoder/dense_1/bias` for a nested model. A lookup tries the exact key, then every key
    as a regex that must match the whole path (`re.fullmatch`); two matching regexes are an
    error. Values may be tuples of axis names (`(None, "model")`), `PartitionSpec`s or
    `TensorLayout`s. Paths that match nothing are replicated.

    Example:
    ```python
    layout_map = LayoutMap(mesh)
    layout_map["dense.*/kernel"] = (None, "model")
    layout_map["dense.*/bias"] = ("model",)
    ```
    """

    def __init__(self, device_mesh):
        if not isinstance(device_mesh, DeviceMesh):
            raise ValueError(f"LayoutMap expects a DeviceMesh, got {type(device_mesh).__name__}")
        self._device_mesh = device_mesh
        self._layouts: dict[str, TensorLayout] = {}

    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh

    def __setitem__(self, key, layout):
        if not isinstance(key, str):
            raise ValueError(f"LayoutMap keys are path regexes (str), got {key!r}")
        if key in self._layouts:
            raise ValueError(f"LayoutMap: key {key!r} is already set to {self._layouts[key].axes}")
        try:
            re.compile(key)
        except re.error as err:
            raise ValueError(f"LayoutMap: key {key!r} is not a valid regex ({err})") from None
        if isinstance(layout, (tuple, list, PartitionSpec)):
            layout = TensorLayout(tuple(layout))
        if not isinstance(layout, TensorLayout):
            raise ValueError(
                f"LayoutMap[{key!r}]: expected a tuple of axis names, a PartitionSpec or a TensorLayout, got {layout!r}"
            )
        if layout.device_mesh is None:
            layout.device_mesh = self._device_mesh
        self._layouts[key] = layout

    def __getitem__(self, path):
        """The layout for `path`, or `None` when no key matches."""
        if path in self._layouts:
            return self._layouts[path]
        matches = [k for k in self._layouts if re.fullmatch(k, path)]
        if len(matches) > 1:
            raise ValueError(
                f"LayoutMap: path {path!r} matches several keys {matches}; make each path match at most one"
            )
        return self._layouts[matches[0]] if matches else None

    def __delitem__(self, key):
        del self._layouts[key]

    def __iter__(self):
        return iter(self._layouts)

    def __len__(self):
        return len(self._layouts)

    def __repr__(self):
        return f"<LayoutMap { ({k: v.axes for k, v in self._layouts.items()}) }>"
