"""Stateful recurrent layers: the states one batch ends with are the next batch's initial states.

With `stateful=True` an RNN keeps its states in non-trainable variables of shape (batch, units),
so the batch size must be fixed (`Input(batch_shape=(batch, T, features))` or
`Input(shape, batch_size=batch)`). `call` reads them as the initial state and `assign`s the
final states. Being variables, they are in the state tree `apply` returns, so `fit`, `evaluate`
and `predict` carry them from batch to batch and leave them in the layer at the end, as tf.keras
did. Keras 3 on JAX does not: its `fit`, `evaluate` and `predict` run the layer with the states
fixed at their value before the call (measured on Keras 3.15: a stateful LSTM predicting a
sequence in two batches gives the second batch's outputs from zero states, and the states are
zero afterwards). Direct calls (`layer(x)`, `model(x)`) agree with Keras.

As in Keras, the state variables are not in `weights` (so not in `get_weights`, weight files or
param counts), and `reset_state()` (alias `reset_states()`) zeros them. A reset made from a
callback during `fit` reaches the live training state: the training loop compares
`state_resets` counters before each compiled call (`stateful_layers` finds the layers).
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["StatefulRNNMixin", "state_shape", "stateful_layers"]


def state_shape(size) -> tuple:
    """One state's shape without the batch axis: an entry of a cell's `state_size` is an int
    (a vector state) or a tuple (a state of that shape, as tf.keras's nested cells)."""
    return tuple(int(d) for d in size) if isinstance(size, (list, tuple)) else (int(size),)


class StatefulRNNMixin:
    """The `stateful=True` behaviour of `RNNBase` and `Bidirectional` (their `stateful` field)."""

    def _build_states(self, batch, sizes):
        """Declare the carried state variables (called from `build` when stateful)."""
        if batch is None:
            raise ValueError(
                f"{self._label}: stateful=True needs a fixed batch size, but the input's batch axis is unknown. "
                "Give it with Input(batch_shape=(batch, timesteps, features)) or Input(shape, batch_size=batch)."
            )
        self.__dict__["_state_vars"] = [
            self.add_weight(
                shape=(int(batch),) + state_shape(size),
                initializer="zeros",
                dtype=self.compute_dtype,
                trainable=False,
                name="rnn_state",
            )  # Keras's name
            for size in sizes
        ]

    @property
    def states(self):
        """The carried state variables of a built stateful layer (Keras's `states`), else None."""
        return self.__dict__.get("_state_vars")

    @property
    def weights(self) -> list:
        # Keras keeps the carried states out of `weights`; they stay in the variable tree (as
        # state) so that `apply` and the training loop carry them.
        carried = {id(v) for v in self.__dict__.get("_state_vars") or ()}
        return [v for v in super().weights if id(v) not in carried]

    def _carried_states(self, batch, dtype):
        """The states to start from, checked against the batch (None when not stateful)."""
        states = self.states
        if states is None:
            return None
        fixed = states[0].shape[0]
        if batch != fixed:
            raise ValueError(
                f"{self._label}: stateful=True fixes the batch size to {fixed} (from its input shape), got a batch "
                f"of {batch} samples; pass batch_size={fixed} to fit/evaluate/predict"
            )
        return [v.value.astype(dtype) for v in states]

    def _carry_states(self, final):
        """Keep the final states for the next call."""
        for var, value in zip(self.states or (), final):
            var.assign(value)

    def reset_state(self, states=None):
        """Set the carried states to zeros, or to `states` (one (batch, size) array per state),
        as Keras's `reset_state`. From a callback during `fit`, the next step starts from them."""
        if not self.stateful:
            raise AttributeError(f"{self._label}: reset_state() needs a stateful layer (stateful=True)")
        if self.states is None:
            return  # not built yet: the states start at zero anyway
        values = (
            [None] * len(self.states)
            if states is None
            else list(states if isinstance(states, (list, tuple)) else [states])
        )
        if len(values) != len(self.states):
            raise ValueError(
                f"{self._label}.reset_state: expected {len(self.states)} state array(s), got {len(values)}"
            )
        for var, value in zip(self.states, values):
            if value is not None and tuple(value.shape) != var.shape:
                raise ValueError(
                    f"{self._label}.reset_state: a state must have shape {var.shape}, got {tuple(value.shape)}"
                )
            var.assign(jnp.zeros(var.shape, var.dtype) if value is None else jnp.asarray(value, var.dtype))
        self.__dict__["state_resets"] = self.state_resets + 1

    def reset_states(self, states=None):
        """Alias of `reset_state` (Keras keeps both names)."""
        self.reset_state(states)

    @property
    def state_resets(self) -> int:
        """How many times `reset_state` ran (the training loop watches it)."""
        return self.__dict__.get("state_resets", 0)


def stateful_layers(root) -> list:
    """The built stateful layers (those with carried `states`) inside `root`, a layer or model."""
    found, seen, todo = [], set(), [root]
    while todo:
        layer = todo.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, StatefulRNNMixin) and layer.states is not None:
            found.append(layer)
        todo.extend(layer._sublayers())
    return found
