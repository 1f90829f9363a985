"""Convolutional LSTMs (Shi et al., 2015): ConvLSTM1D/2D/3D, Keras 3's arguments and weights.

An LSTM whose input and recurrent transforms are convolutions, so the states are feature
maps: `(batch, *spatial, filters)`. The input convolution does not depend on the state, so
it runs once over every timestep before the `lax.scan` over time; each step then does the
recurrent convolution (stride 1, `"same"` padding) and the gates. Gate order i, f, c, o and
the weight shapes are Keras's (`kernel` `(*kernel_size, in_channels, 4 * filters)`,
`recurrent_kernel` `(*kernel_size, filters, 4 * filters)`, `bias` `(4 * filters,)`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet import activations, initializers, regularizers
from jnet.layers import _spatial as sp
from jnet.layers.base import Layer

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]


def _dropout_mask(rng, rate, shape, dtype):
    keep = jax.random.bernoulli(rng, 1.0 - rate, shape)
    return jnp.where(keep, jnp.asarray(1.0 / (1.0 - rate), dtype), jnp.zeros((), dtype))


class _ConvLSTM(Layer):
    # Keras keeps these weights in a ConvLSTMCell sublayer (`cell`): its weight files say so.
    _keras_vars_in = "cell"

    filters: int
    kernel_size: Any
    strides: Any = 1
    padding: str = "valid"
    data_format: Any = None
    dilation_rate: Any = 1
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
    seed: Any = None
    return_sequences: bool = False
    return_state: bool = False
    go_backwards: bool = False
    stateful: bool = False

    rank = 2
    supports_masking = True

    def check_config(self):
        label = self._label
        if isinstance(self.filters, bool) or not isinstance(self.filters, int) or self.filters <= 0:
            raise ValueError(f"{label}: filters must be a positive int, got {self.filters!r}")
        self.kernel_size = sp.normalize_tuple(self.kernel_size, self.rank, "kernel_size", label)
        self.strides = sp.normalize_tuple(self.strides, self.rank, "strides", label)
        self.dilation_rate = sp.normalize_tuple(self.dilation_rate, self.rank, "dilation_rate", label)
        self.padding = sp.normalize_padding(self.padding, label)
        self.data_format = sp.normalize_data_format(self.data_format, label)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{label}: strides > 1 and dilation_rate > 1 cannot be combined")
        for name in ("dropout", "recurrent_dropout"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"{label}: {name} must be a float in [0, 1), got {v!r}")
        if self.stateful:
            raise ValueError(
                f"{label}: stateful=True is not available for jnet's ConvLSTM layers; carry the "
                "states yourself with return_state=True and initial_state="
            )
        activations.get(self.activation)
        activations.get(self.recurrent_activation)
        for name in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            initializers.get(getattr(self, name))
        for name in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer"):
            regularizers.get(getattr(self, name))

    # ------------------------------------------------------------------ shapes
    def _step_spec(self, shape):
        return (shape[0],) + tuple(shape[2:])

    def check_inputs(self, spec, initial_state=None):
        shape = tuple(spec.shape)
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"{self._label}: expected input of rank {self.rank + 3} (batch, time, "
                f"{sp.layout(self.rank, self.data_format)[8:]}, got shape {shape}"
            )
        step = self._step_spec(shape)
        sp.check_spatial_input(
            self._label,
            jax.ShapeDtypeStruct(tuple(1 if d is None else d for d in step), spec.dtype),
            self.rank,
            self.data_format,
        )
        if any(step[a] is None for a in sp.spatial_axes(self.rank, self.data_format)):
            raise ValueError(f"{self._label}: the spatial axes must be known, got shape {shape}")
        if self.padding == "valid":
            sp.check_windows_fit(
                self._label,
                jax.ShapeDtypeStruct(step, spec.dtype),
                self.rank,
                self.data_format,
                [sp.effective_size(k, d) for k, d in zip(self.kernel_size, self.dilation_rate)],
                "kernel",
            )

    def build(self, sequences_shape, initial_state_shape=None):
        channels = self._step_spec(sequences_shape)[sp.channel_axis(self.data_format)]
        f = self.filters
        self.kernel = self.add_weight(
            self.kernel_size + (channels, 4 * f),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            self.kernel_size + (f, 4 * f),
            self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            init = initializers.get(self.bias_initializer)
            if self.unit_forget_bias:

                def forget_bias_one(key, shape, dtype, init=init):  # Keras: ones for the forget gate
                    return jnp.concatenate([init(key, (f,), dtype), jnp.ones((f,), dtype), init(key, (2 * f,), dtype)])

                init = forget_bias_one
            self.bias = self.add_weight(
                (4 * f,), init, name="bias", regularizer=self.bias_regularizer, constraint=self.bias_constraint
            )

    # ------------------------------------------------------------------ compute
    def _conv(self, x, kernel, strides, padding, dilation):
        return jax.lax.conv_general_dilated(
            x,
            kernel,
            window_strides=strides,
            padding=padding.upper(),
            rhs_dilation=dilation,
            dimension_numbers=sp.conv_dimension_numbers(self.rank, self.data_format),
        )

    def _bias_shape(self):
        n = self.rank + 2
        return (
            (1,) * (n - 1) + (4 * self.filters,)
            if self.data_format == "channels_last"
            else (1, 4 * self.filters) + (1,) * self.rank
        )

    def _state_shape(self, batch, step_shape):
        spec = jax.eval_shape(
            lambda x: self._conv(
                x,
                jnp.zeros(
                    self.kernel_size + (step_shape[sp.channel_axis(self.data_format)], self.filters), jnp.float32
                ),
                self.strides,
                self.padding,
                self.dilation_rate,
            ),
            jax.ShapeDtypeStruct((batch,) + tuple(step_shape[1:]), jnp.float32),
        )
        return tuple(spec.shape)

    def call(self, sequences, initial_state=None, training=False, rng=None, mask=None):
        self.check_inputs(jax.ShapeDtypeStruct(sequences.shape, sequences.dtype))
        dtype = self.compute_dtype
        x = sequences.astype(dtype)
        batch, steps = x.shape[:2]
        state_shape = self._state_shape(batch, self._step_spec(x.shape))
        if initial_state is None:
            h0 = c0 = jnp.zeros(state_shape, dtype)
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != 2 or any(tuple(s.shape) != state_shape for s in states):
                raise ValueError(
                    f"{self._label}: initial_state must be [h, c], each of shape {state_shape}, got "
                    f"{[tuple(jnp.shape(s)) for s in states]}"
                )
            h0, c0 = (jnp.asarray(s).astype(dtype) for s in states)
        kernel, rec_kernel = self.kernel.value.astype(dtype), self.recurrent_kernel.value.astype(dtype)
        in_mask = rec_mask = None
        if training and (self.dropout > 0 or self.recurrent_dropout > 0):
            if rng is None:
                raise ValueError(
                    f"{self._label}: dropout in training needs an rng (apply(..., training=True, rng=key))"
                )
            if self.seed is not None:
                rng = jax.random.fold_in(rng, self.seed)
            k_in, k_rec = jax.random.split(rng)
            if self.dropout > 0:  # one mask per sequence, shared by the gates and the steps
                in_mask = _dropout_mask(k_in, self.dropout, (batch,) + x.shape[2:], dtype)
            if self.recurrent_dropout > 0:
                rec_mask = _dropout_mask(k_rec, self.recurrent_dropout, state_shape, dtype)
        if in_mask is not None:
            x = x * in_mask[:, None]
        # The input convolution for every step at once (batch and time merged).
        flat = jnp.reshape(x, (batch * steps,) + x.shape[2:])
        xp = self._conv(flat, kernel, self.strides, self.padding, self.dilation_rate)
        if self.bias is not None:
            xp = xp + jnp.reshape(self.bias.value.astype(dtype), self._bias_shape())
        xp = jnp.swapaxes(jnp.reshape(xp, (batch, steps) + xp.shape[1:]), 0, 1)
        tmask = None
        if mask is not None:
            mask = mask[0] if isinstance(mask, (list, tuple)) else mask
            if tuple(mask.shape) != (batch, steps):
                raise ValueError(
                    f"{self._label}: the mask must have shape (batch, timesteps) = {(batch, steps)}, "
                    f"got {tuple(mask.shape)}"
                )
            tmask = jnp.swapaxes(mask.astype(bool), 0, 1)
        if self.go_backwards:
            xp = jnp.flip(xp, 0)
            tmask = None if tmask is None else jnp.flip(tmask, 0)
        act = activations.get(self.activation)
        rec_act = activations.get(self.recurrent_activation)
        axis = sp.channel_axis(self.data_format)
        ones = (1,) * self.rank

        def step(carry, inp):
            h, c = carry
            xp_t, m_t = inp
            h_in = h if rec_mask is None else h * rec_mask
            z = xp_t + self._conv(h_in, rec_kernel, ones, "same", ones)
            zi, zf, zc, zo = jnp.split(z, 4, axis=axis)
            i, f, o = rec_act(zi), rec_act(zf), rec_act(zo)
            c_new = f * c + i * act(zc)
            h_new = o * act(c_new)
            if m_t is not None:  # masked steps keep the previous states (and output)
                keep = jnp.reshape(m_t, (batch,) + (1,) * (h.ndim - 1))
                h_new, c_new = jnp.where(keep, h_new, h), jnp.where(keep, c_new, c)
            return (h_new, c_new), h_new

        (h, c), hs = jax.lax.scan(step, (h0, c0), (xp, tmask))
        output = jnp.swapaxes(hs, 0, 1) if self.return_sequences else h
        return (output, h, c) if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        out = mask if self.return_sequences else None
        return [out, None, None] if self.return_state else out


_DOC = """Convolutional LSTM over sequences of {what}.

    Args:
        filters: number of output feature maps.
        kernel_size: int or tuple of {rank} int(s).
        strides, padding (`"valid"` / `"same"`), data_format, dilation_rate: of the input
            convolution (the recurrent one is stride 1, `"same"`).
        activation (tanh), recurrent_activation (sigmoid), use_bias, kernel_initializer,
        recurrent_initializer (orthogonal), bias_initializer, unit_forget_bias (the forget
        gate's bias starts at 1), kernel/recurrent/bias regularizers and constraints.
        dropout, recurrent_dropout: rates of one mask per sequence on the inputs and on the
            recurrent state, shared by the four gates.
        seed: optional int folded into the dropout key.
        return_sequences, return_state, go_backwards: as for `LSTM`.
        stateful: must be False (jnet carries no ConvLSTM state between calls; use
            `return_state=True` and `initial_state=`).

    Input shape:
        `(batch, time, {layout})` (channels first with `data_format="channels_first"`).

    Output shape:
        `(batch, [time,] {out_layout})`; with `return_state`, also the final `h` and `c`.

    Example:
    ```python
    y = jnet.layers.{name}(filters=8, kernel_size={example}, padding="same")(x)
    ```
    """


def _make(name, rank):
    layouts = {
        1: ("steps, channels", "new_steps, filters"),
        2: ("rows, cols, channels", "new_rows, new_cols, filters"),
        3: ("d1, d2, d3, channels", "new_d1, new_d2, new_d3, filters"),
    }
    what = {1: "1D signals", 2: "images", 3: "volumes"}[rank]
    doc = _DOC.format(what=what, rank=rank, layout=layouts[rank][0], out_layout=layouts[rank][1], name=name, example=3)
    return type(name, (_ConvLSTM,), {"__doc__": doc, "__module__": __name__, "rank": rank, "__annotations__": {}})


ConvLSTM1D = _make("ConvLSTM1D", 1)
ConvLSTM2D = _make("ConvLSTM2D", 2)
ConvLSTM3D = _make("ConvLSTM3D", 3)
