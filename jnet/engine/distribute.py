"""The distribution hook: every placement of variables and batches goes through `current()`.

The default `Distribution` is one device and does nothing. `jnet.distribution` (DataParallel,
ModelParallel, ...) subclasses it to shard batches and variables over a device mesh; the
engine calls the same three methods either way.
"""

from __future__ import annotations

import jax


class Distribution:
    """One device: placement is a plain `device_put`, constraints are no-ops."""

    batch_multiple = 1  # the global batch size must divide by this

    def place_variables(self, tree):
        """Variables (params, state, optimizer state) -> device arrays, sharded as wanted."""
        return tree

    def place_batch(self, tree):
        """A host batch (or whole device-resident data set) -> device arrays."""
        return jax.device_put(tree)

    def constrain_batch(self, tree):
        """Inside jit: a gathered batch -> the same batch with sharding constraints."""
        return tree


_current = {"dist": None}
_DEFAULT = Distribution()


def current() -> Distribution:
    return _current["dist"] or _DEFAULT


def set_current(dist) -> None:
    if dist is not None and not isinstance(dist, Distribution):
        raise TypeError(f"set_current expects a jnet Distribution or None, got {type(dist).__name__}")
    _current["dist"] = dist
