"""Weight regularizers (`L1`, `L2`, `L1L2`). A layer's `penalty(params)` sums them; the
trainer adds that to the loss, as Keras adds `model.losses`."""

from __future__ import annotations

import jax.numpy as jnp

from jnet.serialization import ConfigObject, get_config_object, lookup
from jnet.serialization import serialize as serialize_object


class Regularizer(ConfigObject, family=True):
    """Base of the regularizers: a dataclass per subclass, registered by name."""


class L1L2(Regularizer):
    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        for name in ("l1", "l2"):
            if getattr(self, name) < 0:
                raise ValueError(f"{type(self).__name__}: {name} must be >= 0, got {getattr(self, name)}")

    def __call__(self, x):
        total = 0.0
        if self.l1:
            total = total + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            total = total + self.l2 * jnp.sum(jnp.square(x))
        return total


class L1(L1L2):
    def __init__(self, l1=0.01):
        L1L2.__init__(self, l1=l1, l2=0.0)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        L1L2.__init__(self, l1=0.0, l2=l2)

    def get_config(self):
        return {"l2": self.l2}


ALL = {"l1": L1, "l2": L2, "l1_l2": L1L2}
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}

l1, l2, l1_l2 = L1, L2, L1L2  # Keras's lowercase aliases


def serialize(regularizer):
    """`{"class_name": ..., "config": ...}` for a regularizer."""
    return serialize_object(regularizer)


def deserialize(config, custom_objects=None):
    """A regularizer from `serialize`'s output, or a name (no pickle, no code execution)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"regularizers.deserialize: expected a dict with 'class_name' and 'config', got {config!r}")
    cls = lookup(config["class_name"], _CLASSES, custom_objects)
    return cls.from_config(dict(config.get("config", {})))


def get(identifier):
    """A regularizer from a Keras name, a class name, a config dict, or a callable."""
    return get_config_object(identifier, "regularizer", ALL, _CLASSES)


def add_penalty(total, regularizer, value):
    """`total` plus the penalty of `regularizer` (anything `get` takes, or None) on `value`."""
    reg = get(regularizer)
    return total if reg is None else total + reg(value)
