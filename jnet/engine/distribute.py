"""The distribution hook: how the engine places variables and batches on devices.

The engine routes every placement through `current()`. The default `Distribution` is one
device and a no-op everywhere; `jnet.distribution` (DataParallel, ModelParallel) subclasses it
with `jax.sharding` shardings.
"""

from __future__ import annotations


class Distribution:
    """Default: one device, everything a no-op."""

    # The global batch must divide by this (the number of data-parallel replicas).
    batch_multiple = 1

    def place_variables(self, tree):
        """Variables (any pytree) -> device arrays with their shardings."""
        return tree

    def place_batch(self, tree):
        """A host batch -> (sharded) device arrays."""
        return tree

    def constrain_batch(self, tree):
        """Inside jit: pin a batch's sharding (`with_sharding_constraint`)."""
        return tree


_DEFAULT = Distribution()
_current: Distribution | None = None


def current() -> Distribution:
    """The distribution in effect (the no-op default when none is set)."""
    return _DEFAULT if _current is None else _current


def set_current(dist_or_none) -> None:
    """Make `dist_or_none` current; `None` restores the default."""
    global _current
    if dist_or_none is not None and not isinstance(dist_or_none, Distribution):
        raise TypeError(f"set_current expects a jnet Distribution or None, got {type(dist_or_none).__name__}")
    _current = dist_or_none
