"""DataParallel and ModelParallel: the engine's `Distribution` hook on `jax.sharding`.

The engine places the train state with `place_variables`, every host batch with `place_batch`
and pins batches gathered inside the compiled loop with `constrain_batch`; `jax.jit` then
propagates the shardings (XLA inserts the gradient all-reduce). Nothing here is a home-made
collective.
"""

from __future__ import annotations

import contextlib
import os

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from jnet.distribution.mesh import DeviceMesh, LayoutMap, TensorLayout, list_devices
from jnet.engine import distribute as _hook
from jnet.utils.tree import path_str

DEFAULT_BATCH_DIM_NAME = "batch"


def _is_array(x) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic))


def _is_key(x) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _put_global(x, sharding):
    """`x` (the same full value on every process) as a global array with `sharding`."""
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    if _is_key(x):
        impl = jax.random.key_impl(x)
        return jax.random.wrap_key_data(_put_global(jax.random.key_data(x), _key_data_sharding(sharding, x)), impl=impl)
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return jax.device_put(x, sharding)  # already global: reshard under XLA
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _key_data_sharding(sharding, key):
    """Key data has one trailing axis more than the key array: leave it unsplit."""
    spec = tuple(sharding.spec) + (None,) * (key.ndim - len(sharding.spec)) + (None,)
    return NamedSharding(sharding.mesh, PartitionSpec(*spec))


class MeshDistribution(_hook.Distribution):
    """What DataParallel and ModelParallel share: a mesh, a batch axis, placement helpers.

    Args:
        device_mesh: the `DeviceMesh`.
        batch_dim_name: the mesh axis the batch is split over.
        auto_shard_dataset: must be `True` (Keras's default): in a multi-process run every
            process passes `fit` the same *global* arrays and sends only its own rows to its
            devices. jnet's `fit` gathers batches from a device-resident pool by global row
            numbers, so per-process data (Keras's `False`) would silently train on the wrong
            rows; own loops over per-process batches use `place_local_batch`.
    """

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        if not isinstance(device_mesh, DeviceMesh):
            raise ValueError(
                f"{type(self).__name__}: device_mesh must be a DeviceMesh, got {type(device_mesh).__name__}"
            )
        batch_dim_name = batch_dim_name or device_mesh.axis_names[0]
        device_mesh.axis_size(batch_dim_name)  # raises a clear error for an unknown axis
        if not auto_shard_dataset:
            raise ValueError(
                f"{type(self).__name__}: auto_shard_dataset=False is not supported: pass every process "
                "the same global arrays (each sends only its own rows), or place per-process batches "
                "in your own loop with place_local_batch()"
            )
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self.auto_shard_dataset = True

    # ------------------------------------------------------------------ Keras properties

    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh

    @property
    def batch_dim_name(self) -> str:
        return self._batch_dim_name

    @property
    def num_processes(self) -> int:
        return jax.process_count()

    @property
    def process_id(self) -> int:
        return jax.process_index()

    @property
    def num_model_replicas(self) -> int:
        return self._device_mesh.axis_size(self._batch_dim_name)

    @property
    def batch_multiple(self) -> int:
        return self.num_model_replicas

    @contextlib.contextmanager
    def scope(self):
        """`with dist.scope():` makes this distribution current inside the block."""
        previous = distribution()
        set_distribution(self)
        try:
            yield self
        finally:
            set_distribution(previous)

    # ------------------------------------------------------------------ layouts

    def get_data_layout(self, data_shape) -> TensorLayout:
        """Split the first (batch) axis over the batch mesh axis; the rest unsplit."""
        axes = (self._batch_dim_name,) + (None,) * (len(data_shape) - 1)
        return TensorLayout(axes, self._device_mesh)

    def data_sharding(self, ndim: int) -> NamedSharding:
        spec = PartitionSpec(self._batch_dim_name, *([None] * (ndim - 1))) if ndim else PartitionSpec()
        return NamedSharding(self._device_mesh.backend_mesh, spec)

    def variable_sharding(self, path: str, shape) -> NamedSharding:
        """The sharding of the variable at `path` (default: replicated)."""
        return self.replicated

    # ------------------------------------------------------------------ the engine hook

    def place_variables(self, tree):
        def place(path, x):
            if not _is_array(x):
                return x
            return _put_global(x, self.variable_sharding(path_str(path), np.shape(x)))

        return jax.tree_util.tree_map_with_path(place, tree)

    def place_batch(self, tree):
        """A global batch (the same on every process) -> arrays split along the batch axis."""
        return jax.tree_util.tree_map(self._place_leaf, tree)

    def place_local_batch(self, tree):
        """For your own loop with a per-process input pipeline: each process passes *its own*
        rows and gets the global batch (their concatenation in process order) back."""

        def place(x):
            if not _is_array(x) or np.ndim(x) == 0:
                return x
            return jax.make_array_from_process_local_data(self.data_sharding(np.ndim(x)), np.asarray(x))

        return jax.tree_util.tree_map(place, tree)

    def _place_leaf(self, x):
        if not _is_array(x):
            return x
        ndim = np.ndim(x)
        if ndim == 0 or np.shape(x)[0] % self.batch_multiple:
            # A scalar, or rows that do not split evenly (a whole device-resident data set of
            # any size): replicate. Batches gathered from it inside the compiled loop are split
            # by `constrain_batch`, so each device still computes only its share.
            return _put_global(x, self.replicated)
        sharding = self.data_sharding(ndim)
        if jax.process_count() == 1:
            return jax.device_put(x, sharding)
        return _local_rows_to_global(np.asarray(x), sharding)

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self._device_mesh.backend_mesh, PartitionSpec())

    def constrain_batch(self, tree):
        def constrain(x):
            if not hasattr(x, "ndim") or x.ndim == 0:
                return x
            return jax.lax.with_sharding_constraint(x, self.data_sharding(x.ndim))

        return jax.tree_util.tree_map(constrain, tree)

    def __repr__(self):
        return f"<{type(self).__name__} device_mesh={self._device_mesh}, batch_dim_name={self._batch_dim_name!r}>"


def _local_rows_to_global(host, sharding):
    """A global batch present on every process -> a global array, each process sending only
    its own rows through `jax.make_array_from_process_local_data`."""
    index_map = sharding.addressable_devices_indices_map(host.shape)
    bounds = sorted({(s[0].start or 0, host.shape[0] if s[0].stop is None else s[0].stop) for s in index_map.values()})
    lo, hi = bounds[0][0], bounds[-1][1]
    covered = sum(b - a for a, b in bounds)
    if covered != hi - lo:  # this process's rows are not one block: copy shard by shard
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
    return jax.make_array_from_process_local_data(sharding, host[lo:hi], host.shape)


class DataParallel(MeshDistribution):
    """Data parallelism: every batch is split over all devices, variables are replicated.

    The gradient all-reduce is inserted by XLA from the shardings. Losses and weights match a
    one-device run to float tolerance (only the summation order of the mean differs).

    Args:
        device_mesh: a 1-D `DeviceMesh` (a mesh of more axes splits the batch over the first).
        devices: alternatively, a list of devices (`jax.Device`s or `"gpu:0"` strings).
        auto_shard_dataset: must be `True`; see `MeshDistribution`.

    With neither argument every device of `list_devices()` is used, on every host.

    Example:
    ```python
    jnet.distribution.set_distribution(jnet.distribution.DataParallel())
    model.fit(x, y, batch_size=256)     # batch_size divisible by the device count
    ```
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is not None and devices is not None:
            raise ValueError("DataParallel: pass device_mesh or devices, not both")
        if device_mesh is None:
            devices = list(list_devices() if devices is None else devices)
            if not devices:
                raise ValueError("DataParallel: devices must not be empty")
            device_mesh = DeviceMesh((len(devices),), (DEFAULT_BATCH_DIM_NAME,), devices)
        super().__init__(device_mesh, device_mesh.axis_names[0] if device_mesh else None, auto_shard_dataset)


class ModelParallel(MeshDistribution):
    """Variables sharded by a `LayoutMap`, the batch split over one mesh axis.

    Variables whose path matches no key of the layout map are replicated. Optimizer state
    that mirrors a variable (Adam's moments, at paths ending in the variable's path) gets the
    same layout when its shape allows, else it is replicated.

    Args:
        layout_map: a `LayoutMap` (its mesh is the distribution's mesh).
        batch_dim_name: the mesh axis the batch is split over (default: the mesh's first axis).
        auto_shard_dataset: must be `True`; see `MeshDistribution`.

    Example:
    ```python
    mesh = DeviceMesh((2, 4), ("batch", "model"))
    layout_map = LayoutMap(mesh)
    layout_map["dense.*/kernel"] = (None, "model")
    layout_map["dense.*/bias"] = ("model",)
    set_distribution(ModelParallel(layout_map=layout_map, batch_dim_name="batch"))
    ```
    """

    def __init__(self, *, layout_map=None, batch_dim_name=None, auto_shard_dataset=True):
        if not isinstance(layout_map, LayoutMap):
            raise ValueError(f"ModelParallel: layout_map must be a LayoutMap, got {type(layout_map).__name__}")
        self._layout_map = layout_map
        super().__init__(layout_map.device_mesh, batch_dim_name, auto_shard_dataset)

    @property
    def layout_map(self) -> LayoutMap:
        return self._layout_map

    def get_variable_layout(self, path: str):
        """The `TensorLayout` the layout map gives `path`, or `None` (replicated)."""
        return self._layout_map[path]

    def variable_sharding(self, path, shape):
        # `path` may be a model variable ("dense/kernel"), the same inside a train state
        # ("params/dense/kernel") or a mirror in optimizer state ("opt_state/0/mu/dense/kernel"):
        # try every suffix, longest first.
        parts = path.split("/")
        for i in range(len(parts)):
            layout = self._layout_map["/".join(parts[i:])]
            if layout is None:
                continue
            problem = layout.fits(shape)
            if problem is None:
                return layout.backend_layout
            if i == 0 or (i == 1 and parts[0] in ("params", "state")):
                raise ValueError(f"ModelParallel: variable {path!r}: {problem}")
            break  # a mirror of another shape (a factored moment, a scalar): replicate it
        return super().variable_sharding(path, shape)


# ---------------------------------------------------------------------- global setting


def set_distribution(value) -> None:
    """Make `value` (a DataParallel / ModelParallel, or `None` for one device) current for
    `fit`, `evaluate` and `predict`."""
    if value is not None and not isinstance(value, _hook.Distribution):
        raise ValueError(
            f"set_distribution expects a jnet.distribution Distribution or None, got {type(value).__name__}"
        )
    _hook.set_current(value)


def distribution():
    """The current distribution, or `None` when running on one device."""
    current = _hook.current()
    return None if type(current) is _hook.Distribution else current


def distribute_tensor(tensor, layout):
    """`tensor` with `layout` (a `TensorLayout` or a `jax.sharding.Sharding`): a
    `with_sharding_constraint` inside `jax.jit`, a `device_put` outside."""
    sharding = layout.backend_layout if isinstance(layout, TensorLayout) else layout
    if isinstance(tensor, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    return jax.device_put(tensor, sharding)


def initialize(job_addresses=None, num_processes=None, process_id=None, **kwargs) -> None:
    """Join a multi-process (multi-host) run: a wrapper of `jax.distributed.initialize`.

    Call it first thing, on every process, before any other JAX work.

    Args:
        job_addresses: `"host:port"` of process 0 (the coordinator), or a comma-separated list
            of all processes' addresses (the first is used). Env var
            `KERAS_DISTRIBUTION_JOB_ADDRESSES`.
        num_processes: how many processes take part. Env var `KERAS_DISTRIBUTION_NUM_PROCESSES`.
        process_id: this process's index, `0 .. num_processes - 1`. Env var
            `KERAS_DISTRIBUTION_PROCESS_ID`.
        **kwargs: passed to `jax.distributed.initialize` (e.g. `local_device_ids`).

    All `None` (and no env vars) lets JAX detect the cluster (SLURM, Cloud TPU, ...).

    Example (two hosts, run on each with its own `process_id`):
    ```python
    jnet.distribution.initialize("10.0.0.1:1234", num_processes=2, process_id=0)
    ```
    """
    env = os.environ
    if job_addresses is None:
        job_addresses = env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in env:
        num_processes = int(env["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in env:
        process_id = int(env["KERAS_DISTRIBUTION_PROCESS_ID"])
    coordinator = job_addresses
    if job_addresses and "," in job_addresses:
        addresses = [a.strip() for a in job_addresses.split(",")]
        if num_processes is not None and num_processes != len(addresses):
            raise ValueError(f"initialize: job_addresses lists {len(addresses)} jobs but num_processes={num_processes}")
        coordinator = addresses[0]
    if num_processes is not None and process_id is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"initialize: process_id must be in [0, {num_processes}), got {process_id}")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id, **kwargs
    )
