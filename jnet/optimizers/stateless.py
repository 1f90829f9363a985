"""Keras 3's stateless optimizer API on jnet's optax-based optimizers.

Keras's JAX backend hands a custom `train_step` the optimizer's state as a flat list of arrays
(`optimizer_variables`) and updates it with `optimizer.stateless_apply`. Here that list is the
leaves of the optax state of `optimizer.tx` initialised on the list of trainable variables:

```python
trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
```
"""

from __future__ import annotations

import weakref

import jax
import jax.numpy as jnp
import optax

from jnet.optimizers import ema as _ema


class StatelessOptimizerMixin:
    """`build(var_list)`, `variables` and `stateless_apply` (Keras names and semantics)."""

    _built_variables = None  # the Variables this optimizer updates (constraints come from them)
    _held_opt_state = None
    _state_owner = None  # the engine's owner of the training state (`attach_state`)

    _model_ref = None  # the model this optimizer trains (`attach_state`), for the EMA swaps

    def attach_state(self, owner, model=None):
        """Read the optimizer state and step count from `owner` (the engine's
        `jnet.engine.train_state.StateOwner`, with `optimizer_state()` and `step()`): what
        `variables`, `iterations` and a raw optax learning rate report during and after `fit`.
        `model` (held weakly) is the model trained: `finalize_variable_values` and
        `jnet.callbacks.SwapEMAWeights` write its weights."""
        self._state_owner = owner
        self._model_ref = None if model is None else weakref.ref(model)

    # ------------------------------------------------------------------ moving average

    def _ema_parts(self, label):
        model = None if self._model_ref is None else self._model_ref()
        average = _ema.find_ema(self.live_state())
        if model is None or average is None:
            raise ValueError(
                f"{label}: the optimizer holds no moving average of the weights yet; create it with "
                "use_ema=True and train the model with it (fit or train_on_batch) first"
            )
        variables = model.current_variables()
        return model, variables, average

    def _write_average(self, average):
        owner = self._state_owner
        owner.ts = owner.ts._replace(opt_state=_ema.replace_ema(owner.ts.opt_state, average))

    def moving_average(self):
        """The moving average of the weights (`use_ema=True`), a tree in the structure of
        `model.current_variables()["params"]`, or None before training."""
        return _ema.find_ema(self.live_state())

    def finalize_variable_values(self, var_list):
        """Set the final value of the model's variables (Keras: `fit` calls it at its end).

        With `use_ema=True`, each variable of `var_list` (Variables of the model this optimizer
        trains, e.g. `model.trainable_weights`) is overwritten with its moving average; else
        nothing changes.
        """
        if _ema.find_ema(self.live_state()) is None or self._model_ref is None:
            return
        model, variables, average = self._ema_parts(f"{type(self).__name__}.finalize_variable_values")
        ids = {id(v) for v in var_list}
        tree = model.variable_tree()["params"]
        leaves, treedef = jax.tree_util.tree_flatten(tree, is_leaf=lambda v: hasattr(v, "assign"))
        params = jax.tree_util.tree_leaves(variables["params"])
        averages = jax.tree_util.tree_leaves(average)
        new = [jnp.asarray(a, p.dtype) if id(v) in ids else p for v, p, a in zip(leaves, params, averages)]
        model.assign_variables({"params": jax.tree_util.tree_unflatten(treedef, new), "state": variables["state"]})

    def swap_moving_average(self, keep_average=False):
        """Exchange the model's trainable weights with their moving average (what
        `jnet.callbacks.SwapEMAWeights` does around evaluation). With `keep_average`, the average
        is then set to the weights now in the model (Keras's EMA finalisation before the end of
        `fit`), instead of to the weights swapped out."""
        model, variables, average = self._ema_parts(f"{type(self).__name__}: swapping the EMA weights")
        params = variables["params"]
        mask = model.trainable_mask(params)
        swapped_in = jax.tree_util.tree_map(lambda p, a, m: jnp.asarray(a, p.dtype) if m else p, params, average, mask)
        source = swapped_in if keep_average else params
        new_average = jax.tree_util.tree_map(lambda s, a, m: jnp.array(s, a.dtype) if m else a, source, average, mask)
        model.assign_variables({"params": swapped_in, "state": variables["state"]})
        self._write_average(new_average)

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
