"""Weight regularizers (`L1`, `L2`, `L1L2`). A layer's `penalty(params)` sums them; the
trainer adds that to the loss, as Keras adds `model.losses`."""

from __future__ import annotations

import jax.numpy as jnp

from jnet.serialization import ConfigObject, register_family
from jnet.serialization_lib import family_deserialize, family_get, family_serialize


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


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2D weight towards orthogonality: `factor * 0.5 *`
    the mean absolute cosine similarity over distinct pairs of unit-normalised rows (columns).

    Args:
        factor: the penalty's scale (default 0.01).
        mode: `"rows"` (default) or `"columns"`.

    Example:
    ```python
    layer = jnet.layers.Dense(8, kernel_regularizer=jnet.regularizers.OrthogonalRegularizer(0.1))
    ```
    """

    factor: float = 0.01
    mode: str = "rows"

    def __post_init__(self):
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or self.factor < 0:
            raise ValueError(f"OrthogonalRegularizer: factor must be a float >= 0, got {self.factor!r}")
        if self.mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {self.mode!r}")

    def __call__(self, x):
        x = jnp.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer: the weight must have rank 2, got shape {tuple(x.shape)}")
        if self.mode == "columns":
            x = x.T
        # rows scaled to unit norm as Keras does: x * min(rsqrt(sum(x^2)), 1 / 1e-7)
        x = x * jnp.minimum(1.0 / jnp.sqrt(jnp.sum(jnp.square(x), axis=1, keepdims=True)), 1e7)
        size = x.shape[0]
        product = (x @ x.T) * (1.0 - jnp.eye(size, dtype=x.dtype))
        return self.factor * 0.5 * jnp.sum(jnp.abs(product)) / (size * (size - 1.0) / 2.0)


ALL = {"l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer}

l1, l2, l1_l2 = L1, L2, L1L2  # Keras's lowercase aliases
orthogonal_regularizer = OrthogonalRegularizer


def _by_name(name):
    cls = ALL.get(name) or _CLASSES.get(name)
    return None if cls is None else cls()


def get(identifier):
    """A regularizer from a Keras name, a class name, a custom object's name (registered or in a
    `custom_object_scope`), a config dict (jnet's or Keras's form), a class, or a callable;
    None stays None."""
    return family_get(identifier, "regularizers", _by_name, ALL)


def serialize(regularizer):
    """The config of `regularizer` in Keras 3's form (`jnet.saving.serialize_keras_object`)."""
    return family_serialize(regularizer)


def deserialize(config, custom_objects=None):
    """A regularizer from `serialize`'s output, a Keras 3 config, or a name."""
    return family_deserialize(config, "regularizers", custom_objects, by_name=get)


register_family("regularizers", _CLASSES)


def add_penalty(total, regularizer, value):
    """`total` plus the penalty of `regularizer` (anything `get` takes, or None) on `value`."""
    reg = get(regularizer)
    return total if reg is None else total + reg(value)
