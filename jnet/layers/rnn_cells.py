"""Recurrent cells (SimpleRNNCell, LSTMCell, GRUCell) and the scan that runs them.

A cell is a layer that computes one time step: `call(params, inputs, states)` returns
`(output, new_states)` with `states` a list (`[h]`, or `[h, c]` for the LSTM), as in Keras.

For speed the built-in cells split a step in two (and give `fused()`, the elementwise part
that `recurrence.linear_recurrence` runs with a hand-written backward pass):

- `project(params, x)`: the input projection `x @ kernel + bias`. It does not depend on the
  state, so the recurrent layers run it **once over all timesteps** (one big matmul) before
  the loop (except the autodiff path on CPU, where it stays in the step: `recurrent.py`);
- `step(params, xp, states, rec_mask)`: the recurrent part, run inside `lax.scan`.

Parameter names, shapes and gate order are Keras's (LSTM gates i, f, c, o; GRU gates z, r, h
with a `(2, 3 * units)` bias when `reset_after=True`), so Keras weights copy over unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet import activations, initializers, regularizers
from jnet.layers.base import Layer, expand_to

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell"]


def _check_rate(layer, name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ValueError(f"{layer._label}: {name} must be a float in [0, 1), got {value!r}")


def dropout_mask(rng, rate, shape, dtype):
    """Keras's dropout mask: 0 where dropped, `1 / (1 - rate)` where kept."""
    keep = jax.random.bernoulli(rng, 1.0 - rate, shape)
    return jnp.where(keep, jnp.asarray(1.0 / (1.0 - rate), dtype), jnp.asarray(0.0, dtype))


def cell_state_sizes(cell) -> list:
    """Any cell's `state_size` (an int, or a list for several states) as a list."""
    s = cell.state_size
    return list(s) if isinstance(s, (list, tuple)) else [s]


class RNNCellBase(Layer):
    """What the built-in cells share. Subclasses define their fields (in Keras's order),
    `n_gates`, `state_size`, `_build_bias`, `project` and `step`."""

    n_gates = 1

    # ------------------------------------------------------------------ config
    def check_config(self):
        if not isinstance(self.units, int) or isinstance(self.units, bool) or self.units <= 0:
            raise ValueError(f"{self._label}: units must be a positive integer, got {self.units!r}")
        activations.get(self.activation)
        activations.get(getattr(self, "recurrent_activation", None))
        for name in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            initializers.get(getattr(self, name))
        for name in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer"):
            regularizers.get(getattr(self, name))
        _check_rate(self, "dropout", self.dropout)
        _check_rate(self, "recurrent_dropout", self.recurrent_dropout)

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def state_sizes(self) -> list:
        return cell_state_sizes(self)

    # ------------------------------------------------------------------ params
    def check_inputs(self, spec, states=None):
        if len(spec.shape) != 2 or spec.shape[-1] is None:
            raise ValueError(
                f"{self._label}: a cell takes one time step of shape (batch, features) with a known "
                f"feature axis, got shape {spec.shape}"
            )

    def build(self, input_shape):
        dim, width = input_shape[-1], self.n_gates * self.units
        self.kernel = self.add_weight(
            (dim, width),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            (self.units, width),
            self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                self._bias_shape(),
                self._bias_initializer(),
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _bias_shape(self):
        return (self.n_gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    # ------------------------------------------------------------------ compute
    def _input_bias(self, params):
        return params["bias"] if self.use_bias else None

    def project(self, params, x):
        """`x @ kernel (+ input bias)` for `x` of shape `(..., features)`: the part of a step
        that does not depend on the state, hoisted out of the time loop."""
        dtype = self.compute_dtype
        y = jnp.matmul(x.astype(dtype), params["kernel"].astype(dtype))
        bias = self._input_bias(params)
        if bias is not None:
            y = y + expand_to(bias.astype(dtype), y.ndim)
        return y

    def fused(self, params):
        """The step as `(cell_fn, additive, recurrent_bias)` for `linear_recurrence`, or None
        when this configuration has no such form (then the loop differentiates `step`)."""
        return None

    def initial_state(self, batch, dtype) -> list:
        return [jnp.zeros((batch, s), dtype) for s in self.state_sizes]

    def dropout_masks(self, training, rng, batch, input_dim, dtype):
        """`(input_mask, recurrent_mask)`, each None or of shape (batch, dim). One mask per
        sequence, reused at every step and shared by the gates (Keras's implementation 2)."""
        use_in = training and self.dropout > 0
        use_rec = training and self.recurrent_dropout > 0
        if not (use_in or use_rec):
            return None, None
        if rng is None:
            raise ValueError(f"{self._label}: dropout in training needs an rng (apply(..., training=True, rng=key))")
        k_in, k_rec = jax.random.split(rng)
        in_mask = dropout_mask(k_in, self.dropout, (batch, input_dim), dtype) if use_in else None
        rec_mask = dropout_mask(k_rec, self.recurrent_dropout, (batch, self.units), dtype) if use_rec else None
        return in_mask, rec_mask

    def call(self, inputs, states, training=False, rng=None):
        """One step: `(output, new_states)`; `states` is a list of `(batch, size)` arrays."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(self.state_sizes):
            raise ValueError(f"{self._label}: expected {len(self.state_sizes)} state(s), got {len(states)}")
        dtype = self.compute_dtype
        inputs = inputs.astype(dtype)
        in_mask, rec_mask = self.dropout_masks(training, rng, inputs.shape[0], inputs.shape[-1], dtype)
        if in_mask is not None:
            inputs = inputs * in_mask
        states = [s.astype(dtype) for s in states]
        params = self._own_values()
        out, new_states = self.step(params, self.project(params, inputs), states, rec_mask)
        return out, list(new_states)


def _rec(params, dtype):
    return params["recurrent_kernel"].astype(dtype)


def _masked(h, rec_mask):
    return h if rec_mask is None else h * rec_mask


class SimpleRNNCell(RNNCellBase):
    """Cell of `SimpleRNN`: `h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)`.

    Args:
        units: positive int, size of the state.
        activation: default `"tanh"`.
        use_bias, kernel_initializer (glorot_uniform), recurrent_initializer (orthogonal),
        bias_initializer (zeros), kernel_regularizer, recurrent_regularizer, bias_regularizer:
            as in Keras.
        dropout, recurrent_dropout: fractions of the inputs / the state dropped in training
            (needs `rng`).

    Call: `cell.apply(variables, x_t, [h])` -> `(h_new, [h_new])`, `x_t` of shape (batch, features).
    """

    units: int
    activation: Any = "tanh"
    use_bias: bool = True
    kernel_initializer: Any = "glorot_uniform"
    recurrent_initializer: Any = "orthogonal"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    recurrent_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    recurrent_constraint: Any = None
    bias_constraint: Any = None
    dropout: float = 0.0
    recurrent_dropout: float = 0.0

    @property
    def state_size(self):
        return self.units

    def step(self, params, xp, states, rec_mask=None):
        dtype = xp.dtype
        h = activations.get(self.activation)(xp + jnp.matmul(_masked(states[0], rec_mask), _rec(params, dtype)))
        return h, [h]

    def fused(self, params):
        act = activations.get(self.activation)
        return (lambda z, states: [act(z)]), True, None


class LSTMCell(RNNCellBase):
    """Cell of `LSTM` (Hochreiter 1997), Keras's gate order i, f, c, o.

    Args:
        units: positive int, size of `h` and `c`.
        activation: default `"tanh"`; recurrent_activation: default `"sigmoid"`.
        unit_forget_bias: default True: the forget-gate bias starts at 1 (Jozefowicz et al.).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer, regularizers,
        dropout, recurrent_dropout: as `SimpleRNNCell`.

    Params: `kernel` (features, 4 * units), `recurrent_kernel` (units, 4 * units),
    `bias` (4 * units,).

    Call: `cell.apply(variables, x_t, [h, c])` -> `(h_new, [h_new, c_new])`.
    """

    units: int
    activation: Any = "tanh"
    recurrent_activation: Any = "sigmoid"
    use_bias: bool = True
    kernel_initializer: Any = "glorot_uniform"
    recurrent_initializer: Any = "orthogonal"
    bias_initializer: Any = "zeros"
    unit_forget_bias: bool = True
    kernel_regularizer: Any = None
    recurrent_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    recurrent_constraint: Any = None
    bias_constraint: Any = None
    dropout: float = 0.0
    recurrent_dropout: float = 0.0

    n_gates = 4

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        init = initializers.get(self.bias_initializer)
        if not self.unit_forget_bias:
            return init
        u = self.units

        def forget_bias_one(key, shape, dtype):  # Keras: ones for the forget gate's quarter
            return jnp.concatenate([init(key, (u,), dtype), jnp.ones((u,), dtype), init(key, (2 * u,), dtype)])

        return forget_bias_one

    def step(self, params, xp, states, rec_mask=None):
        h, c = states
        h, c = self._gates(xp + jnp.matmul(_masked(h, rec_mask), _rec(params, xp.dtype)), [h, c])
        return h, [h, c]

    def _gates(self, z, states):
        zi, zf, zc, zo = jnp.split(z, 4, axis=-1)
        act = activations.get(self.activation)
        rec_act = activations.get(self.recurrent_activation)
        c = rec_act(zf) * states[1] + rec_act(zi) * act(zc)
        return [rec_act(zo) * act(c), c]

    def fused(self, params):
        return self._gates, True, None


class GRUCell(RNNCellBase):
    """Cell of `GRU` (Cho et al. 2014), Keras's gate order z, r, h.

    Args:
        units: positive int, size of the state.
        activation: default `"tanh"`; recurrent_activation: default `"sigmoid"`.
        reset_after: default True (Keras 3 / cuDNN convention): the reset gate is applied
            after the recurrent matmul, and the bias has shape `(2, 3 * units)` (input bias,
            recurrent bias). False: reset before the matmul, bias `(3 * units,)`.
        use_bias, initializers, regularizers, dropout, recurrent_dropout: as `SimpleRNNCell`.

    Call: `cell.apply(variables, x_t, [h])` -> `(h_new, [h_new])`.
    """

    units: int
    activation: Any = "tanh"
    recurrent_activation: Any = "sigmoid"
    use_bias: bool = True
    kernel_initializer: Any = "glorot_uniform"
    recurrent_initializer: Any = "orthogonal"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    recurrent_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    recurrent_constraint: Any = None
    bias_constraint: Any = None
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    reset_after: bool = True

    n_gates = 3

    @property
    def state_size(self):
        return self.units

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self, params):
        if not self.use_bias:
            return None
        return params["bias"][0] if self.reset_after else params["bias"]

    def _recurrent_bias(self, params, dtype):
        return params["bias"][1].astype(dtype) if self.use_bias else None

    def _update(self, xp, inner, h):
        """The reset-after step given `inner = h @ recurrent_kernel (+ recurrent bias)`."""
        act = activations.get(self.activation)
        rec_act = activations.get(self.recurrent_activation)
        xz, xr, xh = jnp.split(xp, 3, axis=-1)
        iz, ir, ih = jnp.split(inner, 3, axis=-1)
        z, r = rec_act(xz + iz), rec_act(xr + ir)
        return [z * h + (1 - z) * act(xh + r * ih)]

    def fused(self, params):
        if not self.reset_after:
            return None
        return (
            (lambda xp, inner, states: self._update(xp, inner, states[0])),
            False,
            self._recurrent_bias(params, self.compute_dtype),
        )

    def step(self, params, xp, states, rec_mask=None):
        h = states[0]
        dtype, u = xp.dtype, self.units
        rec = _rec(params, dtype)
        hm = _masked(h, rec_mask)
        if self.reset_after:
            inner = jnp.matmul(hm, rec)
            bias = self._recurrent_bias(params, dtype)
            if bias is not None:
                inner = inner + expand_to(bias, inner.ndim)
            h = self._update(xp, inner, h)[0]
            return h, [h]
        act = activations.get(self.activation)
        rec_act = activations.get(self.recurrent_activation)
        xz, xr, xh = jnp.split(xp, 3, axis=-1)
        inner = jnp.matmul(hm, rec[:, : 2 * u])
        iz, ir = jnp.split(inner, 2, axis=-1)
        z, r = rec_act(xz + iz), rec_act(xr + ir)
        hh = act(xh + jnp.matmul(r * hm, rec[:, 2 * u :]))
        h = z * h + (1 - z) * hh
        return h, [h]
