"""`metric.variables` as Keras 3 hands them out: variable-like handles on a metric's state.

A jnet metric keeps its state as one pytree (`init / update / result`); Keras code reads it as
a list of variables and writes results of a stateless loop back one by one:

```python
for variable, value in zip(metric.variables, metric_variables):
    variable.assign(value)
print(metric.result())
```

A `MetricVariable` is the leaf at one position of the state the metric holds: `.value` reads it,
`.assign` replaces it there. It is also a pytree node whose only child is that array, so a list
of them passes straight into `jax.jit` / `jax.grad` (and `jax.tree_util.tree_leaves` gives the
arrays), as Keras code passes `metric.variables` into its compiled steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _leaf_name(path) -> str:
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return "_".join(parts) or "variable"


class MetricVariable:
    """The array at position `index` of `metric`'s held state, with Keras's variable API
    (`value`, `assign`, `numpy`, `name`, `path`, `shape`, `dtype`, `trainable=False`)."""

    trainable = False

    def __init__(self, metric, index: int, name: str):
        self._metric = metric
        self._index = index
        self.name = name

    @property
    def path(self) -> str:
        return f"{self._metric.name}/{self.name}"

    @property
    def value(self):
        return jax.tree_util.tree_leaves(self._metric._held_state())[self._index]

    def assign(self, value):
        """Replace this entry of the metric's held state (shape must match)."""
        leaves = jax.tree_util.tree_leaves(self._metric._held_state())
        old = leaves[self._index]
        value = jnp.asarray(getattr(value, "value", value), old.dtype)
        if value.shape != old.shape:
            raise ValueError(
                f"Metric '{self._metric.name}' variable {self.name!r}: cannot assign a value of shape "
                f"{value.shape}, expected {old.shape}"
            )
        leaves[self._index] = value
        self._metric._state = self._metric._unflatten(leaves, "variables[i].assign")
        return value

    def numpy(self):
        return np.asarray(self.value)

    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def ndim(self) -> int:
        return self.value.ndim

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    def __jax_array__(self):
        return self.value

    def __float__(self):
        return float(self.value)

    def __repr__(self):
        return f"<MetricVariable path={self.path!r} shape={self.shape} dtype={self.dtype}>"


jax.tree_util.register_pytree_node(
    MetricVariable,
    lambda v: ((v.value,), None),
    # Inside a trace the handle stands for its array: what comes back is the array itself.
    lambda _, children: children[0],
)


def metric_variables(metric) -> list:
    """`metric.variables`: one `MetricVariable` per leaf of the metric's state, named by the
    leaf's key in the state (`total`, `count`, ...) or, for a Keras-style metric, by the
    variable it declared."""
    declared = metric.__dict__.get("_keras_variables")
    if declared:  # a Keras-style metric: its state is its `add_variable` variables, in order
        return [MetricVariable(metric, i, v.name) for i, v in enumerate(declared)]
    paths = jax.tree_util.tree_flatten_with_path(jax.eval_shape(metric._held_state))[0]
    return [MetricVariable(metric, i, _leaf_name(p)) for i, (p, _) in enumerate(paths)]


def unwrap(leaves) -> list:
    """Arrays from a list of `MetricVariable`s and/or arrays."""
    return [leaf.value if isinstance(leaf, MetricVariable) else leaf for leaf in leaves]
