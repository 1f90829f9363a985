"""Keras 3's stateless metric API on jnet's pure metrics.

A jnet metric's state is a pytree (`init / update / result`); Keras's JAX-backend API sees the
same state as a flat list of arrays, `metric.variables`. These methods convert between the two,
so a custom `train_step` written for Keras runs unchanged:

```python
this_vars = metric.stateless_update_state(this_vars, y, y_pred, sample_weight=sw)
logs[metric.name] = metric.stateless_result(this_vars)
```
"""

from __future__ import annotations

import contextlib

import jax

from jnet.metrics.metric_variable import metric_variables, unwrap


class StatelessMetricMixin:
    """`variables`, `stateless_update_state`, `stateless_result`, `stateless_reset_state`."""

    def _state_def(self):
        # The treedef of a fresh state: eval_shape builds no arrays and works inside a trace.
        return jax.tree_util.tree_structure(jax.eval_shape(self.init))

    def _unflatten(self, metric_variables, where):
        treedef = self._state_def()
        leaves = unwrap(metric_variables)
        if len(leaves) != treedef.num_leaves:
            raise ValueError(
                f"{type(self).__name__} '{self.name}'.{where}: expected {treedef.num_leaves} "
                f"metric variables (len(metric.variables)), got {len(leaves)}"
            )
        return jax.tree_util.tree_unflatten(treedef, leaves)

    @property
    def variables(self) -> list:
        """The state held on this metric as Keras's `metric.variables`: one variable-like
        `MetricVariable` per array (`.value`, `.assign`), usable as arrays in `jax.jit`."""
        return metric_variables(self)

    def stateless_update_state(self, metric_variables, *args, **kwargs) -> list:
        """`metric_variables` (a list like `variables`) updated with one batch; pure."""
        if not self.built and len(args) >= 2:
            self.build(tuple(jax.numpy.shape(args[0])), tuple(jax.numpy.shape(args[1])))
        state = self._unflatten(metric_variables, "stateless_update_state")
        return jax.tree_util.tree_leaves(self.update(state, *args, **kwargs))

    def stateless_result(self, metric_variables):
        """The metric's result for `metric_variables` (a list like `variables`)."""
        return self.result(self._unflatten(metric_variables, "stateless_result"))

    def stateless_reset_state(self) -> list:
        """Fresh metric variables (a list like `variables`)."""
        return jax.tree_util.tree_leaves(self.init())


@contextlib.contextmanager
def bound_states(metrics, metrics_variables):
    """Inside the block, each metric holds its slice of `metrics_variables` as its state, so
    stateful calls (`update_state`, `result()`) work on (possibly traced) arrays; yields a
    function returning the updated flat list. The metrics' own states are restored after."""
    saved = [m._state for m in metrics]
    leaves, pos = unwrap(metrics_variables), 0
    try:
        for m in metrics:
            k = m._state_def().num_leaves
            m._state = m._unflatten(leaves[pos : pos + k], "stateless scope")
            pos += k
        if pos != len(leaves):
            raise ValueError(
                f"metrics_variables has {len(leaves)} arrays but the metrics {[m.name for m in metrics]} hold {pos}"
            )
        yield lambda: [leaf for m in metrics for leaf in jax.tree_util.tree_leaves(m._held_state())]
    finally:
        for m, s in zip(metrics, saved):
            m._state = s
