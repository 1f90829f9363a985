"""Weight constraints (`MaxNorm`, `MinMaxNorm`, `NonNeg`, `UnitNorm`), Keras 3's formulas.

A layer takes them as `kernel_constraint=`, `bias_constraint=`, ... (Keras's argument names).
The trainer applies each to its weight after every optimizer step, as Keras does, and only to
trainable weights. `layer.constrain(params)` / `model.constrain(params)` apply them by hand
(in your own training loop).

Example:
```python
layer = jnet.layers.Dense(64, kernel_constraint=jnet.constraints.MaxNorm(3.0))
```
"""

from __future__ import annotations

import jax.numpy as jnp

from jnet.serialization import ConfigObject, register_family
from jnet.serialization_lib import family_deserialize, family_get, family_serialize

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "serialize",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "unit_norm",
]

_EPSILON = 1e-7  # Keras's backend.epsilon()


def _norms(w, axis):
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=axis, keepdims=True))


class Constraint(ConfigObject, family=True):
    """Base of the constraints: `constraint(w)` returns the projected weight."""


class MaxNorm(Constraint):
    """Scales each slice along `axis` (default 0: the inputs of each unit of a Dense kernel)
    down to norm at most `max_value`."""

    max_value: float = 2.0
    axis: int = 0

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return w * (jnp.clip(norms, 0, self.max_value) / (_EPSILON + norms))


class MinMaxNorm(Constraint):
    """Keeps each slice's norm in [`min_value`, `max_value`], moving it there at `rate`."""

    min_value: float = 0.0
    max_value: float = 1.0
    rate: float = 1.0
    axis: int = 0

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * jnp.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(Constraint):
    """Scales each slice along `axis` to norm 1."""

    axis: int = 0

    def __call__(self, w):
        return w / (_EPSILON + _norms(w, self.axis))


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm  # Keras's lowercase aliases

ALL = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}
_CLASSES = {"MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm}


def _by_name(name):
    cls = ALL.get(name) or _CLASSES.get(name)
    return None if cls is None else cls()


def get(identifier):
    """A constraint from a Keras name, a class name, a custom object's name (registered or in a
    `custom_object_scope`), a config dict (jnet's or Keras's form), a class, or a callable;
    None stays None."""
    return family_get(identifier, "constraints", _by_name, ALL)


def serialize(constraint):
    """The config of `constraint` in Keras 3's form (`jnet.saving.serialize_keras_object`)."""
    return family_serialize(constraint)


def deserialize(config, custom_objects=None):
    """A constraint from `serialize`'s output, a Keras 3 config, or a name."""
    return family_deserialize(config, "constraints", custom_objects, by_name=get)


register_family("constraints", _CLASSES)
