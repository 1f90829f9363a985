"""Wrappers around other layers over the time axis: `Bidirectional` (a recurrent layer run
both ways, outputs merged) and `TimeDistributed` (a layer applied to every timestep)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers import batch_rows
from jnet.layers.base import Layer, deserialize, serialize, to_snake_case
from jnet.layers.recurrent import RNNBase, _first_mask

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _copy_layer(layer, **changes):
    config = serialize(layer)
    config["config"].update(changes)
    return deserialize(config)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards, and merges the outputs.

    Args:
        layer: an `RNN`/`LSTM`/`GRU`/`SimpleRNN` instance (its config is copied).
        merge_mode: "concat" (default), "sum", "mul", "ave", or None (a list of both outputs).
        backward_layer: optional layer for the backward direction (default: a copy of `layer`
            with `go_backwards` flipped). Must agree with `layer` on `return_sequences` and
            `return_state`.

    Params: `{"forward_layer": ..., "backward_layer": ...}` (Keras's weight order: forward first).

    Output: the merged output; with `return_state`, `(output, *forward_states, *backward_states)`.
    `initial_state` is forward states then backward states.

    Example:
    ```python
    y = jnet.layers.Bidirectional(jnet.layers.LSTM(16, return_sequences=True))(x)   # (batch, T, 32)
    ```
    """

    layer: Any
    merge_mode: Any = "concat"
    backward_layer: Any = None

    supports_masking = True
    _untracked = ("layer", "backward_layer")  # the arguments; the weights are in the copies

    def check_config(self):
        if not isinstance(self.layer, RNNBase):
            raise ValueError(
                f"{self._label}: layer must be a recurrent layer (RNN, LSTM, GRU, SimpleRNN), got {self.layer!r}"
            )
        if self.backward_layer is not None and not isinstance(self.backward_layer, RNNBase):
            raise ValueError(f"{self._label}: backward_layer must be a recurrent layer, got {self.backward_layer!r}")
        if self.merge_mode not in _MERGE_MODES:
            raise ValueError(f"{self._label}: merge_mode must be one of {_MERGE_MODES}, got {self.merge_mode!r}")
        seq = self.layer.return_sequences
        base = self.layer.name or to_snake_case(type(self.layer).__name__)
        # Keras forces zero outputs at masked steps when returning sequences, so the two
        # directions line up on padded positions.
        self._forward = _copy_layer(self.layer, zero_output_for_mask=seq, name=f"forward_{base}")
        if self.backward_layer is None:
            self._backward = _copy_layer(
                self.layer, go_backwards=not self.layer.go_backwards, zero_output_for_mask=seq, name=f"backward_{base}"
            )
        else:
            self._backward = _copy_layer(self.backward_layer, zero_output_for_mask=seq)
        if self._forward.go_backwards == self._backward.go_backwards:
            raise ValueError(f"{self._label}: the forward and backward layers must differ in go_backwards")
        for attr in ("return_sequences", "return_state"):
            if getattr(self._forward, attr) != getattr(self._backward, attr):
                raise ValueError(f"{self._label}: layer and backward_layer must agree on {attr}")

    @property
    def return_sequences(self):
        return self._forward.return_sequences

    @property
    def return_state(self):
        return self._forward.return_state

    @property
    def stateful(self):
        return self._forward.stateful

    def reset_state(self):
        """Reset both directions' carried states (stateful layers only), as Keras."""
        self._forward.reset_state()
        self._backward.reset_state()

    reset_states = reset_state

    def check_inputs(self, spec, initial_state=None):
        try:
            self._forward.check_inputs(spec)
        except ValueError as err:
            raise ValueError(f"{self._label}: {err}") from None

    @property
    def forward_layer(self):
        return self._forward

    @property
    def backward_layer_copy(self):
        return self._backward

    def build(self, sequences_shape, initial_state_shape=None):
        spec = jax.ShapeDtypeStruct(tuple(sequences_shape), jnp.float32)
        self._forward._maybe_build((spec,), {})
        self._backward._maybe_build((spec,), {})

    def compute_mask(self, inputs, mask=None):
        mask = _first_mask(mask)
        if self.return_sequences:
            out_mask = [mask, mask] if self.merge_mode is None else mask
        else:
            out_mask = [None, None] if self.merge_mode is None else None
        if self.return_state:
            n = len(self._forward.state_sizes) + len(self._backward.state_sizes)
            head = out_mask if isinstance(out_mask, list) else [out_mask]
            return head + [None] * n
        return out_mask

    def call(self, sequences, initial_state=None, training=False, rng=None, mask=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        kf = kb = None
        if rng is not None:
            kf, kb = jax.random.split(rng)
        y = self._forward.call(sequences, fwd_state, training=training, rng=kf, mask=mask)
        y_rev = self._backward.call(sequences, bwd_state, training=training, rng=kb, mask=mask)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)  # back to input time order
        if self.merge_mode == "concat":
            out = jnp.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:
            out = [y, y_rev]
        if self.return_state:
            return (*out, *states) if self.merge_mode is None else (out, *states)
        return out


class TimeDistributed(Layer):
    """Applies `layer` to every timestep: input (batch, T, ...) -> (batch, T, ...).

    The batch and time axes are merged into one, so the wrapped layer runs once on
    (batch * T, ...) (same result as Keras's per-step loop for stateless layers, one kernel
    launch instead of T). Params and state are the wrapped layer's own (so Keras weights copy
    over as for the inner layer). A mask (batch, T) is passed to the inner layer per step and
    passes through.

    Example:
    ```python
    y = jnet.layers.TimeDistributed(jnet.layers.Dense(8))(x)   # (batch, 10, 16) -> (batch, 10, 8)
    ```
    """

    layer: Any

    supports_masking = True
    _inline_sublayers = ("layer",)  # the wrapped layer's weights are this layer's

    def check_config(self):
        if not isinstance(self.layer, Layer):
            raise ValueError(f"{self._label}: layer must be a jnet layer, got {self.layer!r}")

    def _step_spec(self, spec):
        return jax.ShapeDtypeStruct(
            (None if spec.shape[0] is None else spec.shape[0] * (spec.shape[1] or 1),) + tuple(spec.shape[2:]),
            spec.dtype,
        )

    def check_inputs(self, spec):
        if len(spec.shape) < 3:
            raise ValueError(
                f"{self._label}: expected input of rank >= 3 (batch, timesteps, ...), got shape {spec.shape}"
            )
        self.layer.check_inputs(self._step_spec(spec))

    def build(self, input_shape):
        step = self._step_spec(jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))
        if hasattr(self.layer, "_ensure_graph") and not self.layer.built:
            self.layer._ensure_graph(
                (jax.ShapeDtypeStruct(tuple(1 if d is None else d for d in step.shape), step.dtype),)
            )
        else:
            self.layer._maybe_build((step,), {})

    def call(self, x, training=False, rng=None, mask=None):
        if x.ndim < 3:
            raise ValueError(f"{self._label}: expected input of rank >= 3 (batch, timesteps, ...), got shape {x.shape}")
        b, t = x.shape[:2]
        inner_mask = None
        mask = _first_mask(mask)
        if mask is not None:
            if tuple(mask.shape[:2]) != (b, t):
                raise ValueError(
                    f"{self._label}: the mask must start with (batch, timesteps) = {(b, t)}, got {tuple(mask.shape)}"
                )
            inner_mask = jnp.reshape(mask, (b * t,) + tuple(mask.shape[2:]))
        flat = jnp.reshape(x, (b * t,) + tuple(x.shape[2:]))
        rows = batch_rows.current()
        if rows is not None and rows.shape == (b,):  # the batch's padding rows, for every step
            rows = jnp.repeat(rows, t)
        with batch_rows.valid_rows(rows):
            out, _ = self.layer._call_with_mask((flat,), {}, inner_mask, training=training, rng=rng)
        return jax.tree_util.tree_map(lambda o: jnp.reshape(o, (b, t) + tuple(o.shape[1:])), out)
