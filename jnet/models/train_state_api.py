"""The model's side of the training state: `get_train_state` / `set_train_state` (what
checkpoints exchange), `resume_at` (what `BackupAndRestore` calls), and the live variables
during `fit` (`current_variables()` reads them from the engine's `StateOwner`)."""

from __future__ import annotations

import jax

from jnet.engine import distribute
from jnet.engine.steps import loss_log_names
from jnet.engine.train_state import TrainState, copy_tree, find_hyperparams


class TrainStateMixin:
    """`metrics_names`, `get_train_state`, `set_train_state`, `resume_at` and the live
    variables, over the trainer's `StateOwner`."""

    @property
    def metrics_names(self) -> list:
        if self._trainer is None or self._trainer.plan is None:
            return ["loss"] if self.compiled else []
        plan = self._trainer.plan
        return loss_log_names(plan) + [log for o in plan.outputs for log, _, _ in o.metrics]

    def _live_variables(self):
        """The training state's variables while `fit` runs (None otherwise)."""
        return None if self._trainer is None else self._trainer.state.variables()

    def _set_live_variables(self, value) -> bool:
        return self._trainer is not None and self._trainer.state.set_variables(value)

    def resume_at(self, epoch, batch=0):
        """Make the `fit` now starting continue at `epoch` (0-based), batch `batch`, instead of
        `initial_epoch` (jnet; `BackupAndRestore` calls it from `on_train_begin` after restoring
        a backup with `set_train_state`)."""
        self._require_compiled("resume_at")
        self._get_trainer(self._y_shapes).state.resume_at(epoch, batch)

    def _sync_from_trainer(self):
        """During `fit`, copy the live training arrays into the layers' variables (a copy: the
        next step donates the live buffers)."""
        live = self._live_variables()
        if live is not None:
            from jnet.layers.base import Layer

            Layer.assign_variables(self, copy_tree(live))

    def _push_to_trainer(self):
        """During `fit`, make the layers' variables the live training arrays."""
        if self._live_variables() is not None:
            from jnet.layers.base import Layer

            self._set_live_variables(Layer.current_variables(self))

    def get_train_state(self) -> TrainState:
        """A copy of everything training changes: params, state, optimizer state, metric
        states, rng and step (a pytree of arrays, e.g. for orbax)."""
        self._require_compiled("get_train_state")
        trainer = self._get_trainer(self._y_shapes)
        if trainer.ts is None:
            trainer.init_state()
        ts = trainer.ts
        variables = self.current_variables()
        return copy_tree(ts._replace(params=variables["params"], state=variables["state"]))

    def set_train_state(self, tree):
        """Replace the train state (same structure as `get_train_state()`)."""
        self._require_compiled("set_train_state")
        trainer = self._get_trainer(self._y_shapes)
        if trainer.ts is None:
            trainer.init_state()
        if not isinstance(tree, TrainState):
            tree = TrainState(*tree) if isinstance(tree, (tuple, list)) else TrainState(**tree)
        current = trainer.ts
        if jax.tree_util.tree_structure(tree.params) != jax.tree_util.tree_structure(current.params):
            raise ValueError(f"{self._label}.set_train_state: params structure does not match the model's")
        if jax.tree_util.tree_structure(tree.opt_state) != jax.tree_util.tree_structure(current.opt_state):
            raise ValueError(
                f"{self._label}.set_train_state: optimizer state structure does not match "
                f"(was it saved with a different optimizer?)"
            )
        if tree.metrics is None or jax.tree_util.tree_structure(tree.metrics) != jax.tree_util.tree_structure(
            current.metrics
        ):
            tree = tree._replace(metrics=current.metrics)
        new = copy_tree(tree)
        new = distribute.current().place_variables(new)
        trainer.ts = new
        # The restored optimizer state carries the learning rate: adopt it (a later
        # `optimizer.learning_rate = ...` still overrides it).
        hp = find_hyperparams(new.opt_state)
        if hp is not None and "learning_rate" in hp and self.optimizer.injected_learning_rate is not None:
            self.optimizer.learning_rate = float(hp["learning_rate"])
        trainer.learning_rate_written()
        if not trainer.state.active:
            self.assign_variables({"params": new.params, "state": new.state})
            trainer.ts = new._replace(params=copy_tree(new.params), state=copy_tree(new.state))
