"""Keras 3's stateless optimizer API on jnet's optax-based optimizers.

Keras's JAX backend hands a custom `train_step` the optimizer's state as a flat list of arrays
(`optimizer_variables`) and updates it with `optimizer.stateless_apply`. Here that list is the
leaves of the optax state of `optimizer.tx` initialised on the list of trainable variables:

```python
trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
```
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


class StatelessOptimizerMixin:
    """`build(var_list)`, `variables` and `stateless_apply` (Keras names and semantics)."""

    _built_variables = None  # the Variables this optimizer updates (constraints come from them)
    _held_opt_state = None
    _state_owner = None  # the engine's owner of the training state (`attach_state`)

    def attach_state(self, owner):
        """Read the optimizer state and step count from `owner` (the engine's
        `jnet.engine.train_state.StateOwner`, with `optimizer_state()` and `step()`): what
        `variables`, `iterations` and a raw optax learning rate report during and after `fit`."""
        self._state_owner = owner

    def live_state(self):
        """The optax state held by the attached training state (None before training)."""
        return None if self._state_owner is None else self._state_owner.optimizer_state()

    def bind_variables(self, var_list):
        """Name the Variables this optimizer updates (their constraints apply after each
        `stateless_apply`), without creating a state as `build` does."""
        self._built_variables = list(var_list)

    def build(self, var_list):
        """Create the optimizer state for `var_list` (Keras: `optimizer.build(model.trainable_variables)`)."""
        self._built_variables = list(var_list)
        arrays = [jnp.asarray(getattr(v, "value", v)) for v in self._built_variables]
        self._held_opt_state = self.tx.init(arrays)

    @property
    def variables(self) -> list:
        """The optimizer state as a flat list of arrays: the state held by the engine during
        and after `fit`, else the one made by `build` (empty before either)."""
        live = self.live_state()
        state = live if live is not None else self._held_opt_state
        return [] if state is None else jax.tree_util.tree_leaves(state)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """One optimizer step, purely: `(new_trainable_variables, new_optimizer_variables)`.

        Args:
            optimizer_variables: the flat optimizer state (`optimizer.variables`, or the third
                entry of the `state` a custom `train_step` receives).
            grads: gradients, a list matching `trainable_variables`.
            trainable_variables: the current trainable arrays (a list).
        """
        label = f"{type(self).__name__}.stateless_apply"
        if getattr(self, "needs_value_fn", False):
            raise ValueError(
                f"{label}: {type(self).__name__} needs the loss as a function of the weights "
                "(a line search); it cannot run from a custom train_step"
            )
        params = [getattr(v, "value", v) for v in trainable_variables]
        grads = list(grads)
        if len(grads) != len(params):
            raise ValueError(f"{label}: got {len(grads)} gradients for {len(params)} trainable variables")
        treedef = jax.tree_util.tree_structure(jax.eval_shape(self.tx.init, params))
        leaves = list(optimizer_variables)
        if len(leaves) != treedef.num_leaves:
            raise ValueError(
                f"{label}: expected {treedef.num_leaves} optimizer variables for these trainable "
                f"variables, got {len(leaves)}"
            )
        opt_state = jax.tree_util.tree_unflatten(treedef, leaves)
        updates, opt_state = self.tx.update(grads, opt_state, params)
        new = optax.apply_updates(params, updates)
        new = [n.astype(p.dtype) for n, p in zip(new, params)]
        built = self._built_variables
        if built is not None and len(built) == len(new):
            # Keras applies each variable's constraint after the update.
            new = [n if getattr(v, "constraint", None) is None else v.constraint(n) for v, n in zip(built, new)]
        return new, jax.tree_util.tree_leaves(opt_state)
