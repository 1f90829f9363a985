"""Pipeline: a series of preprocessing layers applied as one layer (Keras's `Pipeline`)."""

from __future__ import annotations

from typing import Any

import jax

from jnet.core.symbolic import is_symbolic
from jnet.core.variables import current_scope
from jnet.layers.base import Layer

__all__ = ["Pipeline"]


class Pipeline(Layer):
    """Applies `layers` in order, e.g. an augmentation pipeline. Unlike a `Sequential` model
    it is a plain layer: no `fit`/`predict`, just one call that threads `training` (and the
    random key, split per layer) through.

    Args:
        layers: a list of layers.

    As in Keras, calling it directly on arrays applies augmentation (`training` defaults to
    True there); inside a model it follows the model's `training`.

    Example:
    ```python
    augment = jnet.layers.Pipeline([jnet.layers.RandomFlip(), jnet.layers.RandomRotation(0.1)])
    ```
    """

    layers: Any = None

    def check_config(self):
        if not isinstance(self.layers, (list, tuple)) or not all(isinstance(layer, Layer) for layer in self.layers):
            raise ValueError(f"{self._label}: layers must be a list of layers, got {self.layers!r}")
        self.layers = list(self.layers)

    def __call__(self, *args, **kwargs):
        symbolic = any(is_symbolic(a) for a in jax.tree_util.tree_leaves(args, is_leaf=is_symbolic))
        if "training" not in kwargs and current_scope() is None and not symbolic:
            kwargs["training"] = True
        return super().__call__(*args, **kwargs)

    def call(self, inputs, training=False, rng=None):
        keys = [None] * len(self.layers) if rng is None else list(jax.random.split(rng, len(self.layers)))
        for layer, key in zip(self.layers, keys):
            inputs = layer(inputs, training=training, rng=key)  # each layer its own stream
        return inputs
