"""Recurrent layers: RNN over a cell, SimpleRNN, LSTM, GRU (the wrappers Bidirectional and
TimeDistributed are in `rnn_wrappers.py`, the cells in `rnn_cells.py`).

The time loop is one `lax.scan`. For the built-in cells (SimpleRNN, LSTM, GRU with
`reset_after=True`, no recurrent dropout) it is `recurrence.linear_recurrence`: the input
projection `x @ kernel + bias` runs once over all timesteps before the loop, and a hand-written
backward pass keeps only `dh @ recurrent_kernel.T` in the reverse loop and computes the kernels'
gradients as single big matmuls after it. On the 2-core CPU that runs LSTM fwd+bwd (batch 32,
T=100, 64->128) in 36 ms against 50 ms for autodiff of the scan and 52 ms for Keras 3
(`benchmarks/lstm_unroll.py --keras`). With a mask, steps padded in every sample of the batch
(the head or tail of sequences padded to the data set's longest) are not run at all: the
triage benchmark's bodies are padded to 96 tokens but its batches use 63 on average. Other
cells go through autodiff of the scan.

Two more speed choices are made per backend, both measured (`benchmarks/lstm_unroll.py`):

- `unroll` (steps per scan iteration): on an H100 LSTM fwd+bwd at T=100 ran 2.84 ms at
  unroll=1 and 1.31 ms at unroll=10, so accelerators default to 10; on CPU unroll=1 was
  fastest, so CPU defaults to 1. `unroll=int` (or True / False) overrides it.
- for the autodiff path, the input projection: on accelerators it runs once over all
  timesteps before the loop (one big matmul); on CPU it stays in the step, which ran that path
  1.6x faster there (see `HOIST_INPUTS`).

`stateful=True` carries each batch's final states over to the next (`rnn_state.py`). Masking
follows Keras's JAX backend: at a masked step the state is carried forward unchanged and the
output is the previous output (the first state), or zeros with `zero_output_for_mask=True`
(Bidirectional sets that when returning sequences). So a right-padded sequence gives the same
final output as the unpadded one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.base import Layer, expand_to, is_spec_leaf
from jnet.layers.recurrence import linear_recurrence
from jnet.layers.rnn_cells import GRUCell, LSTMCell, RNNCellBase, SimpleRNNCell, cell_state_sizes
from jnet.layers.rnn_cells import __all__ as _cell_names
from jnet.layers.rnn_state import StatefulRNNMixin, state_shape, stateful_layers  # noqa: F401  (re-exported)

__all__ = list(_cell_names) + ["RNN", "SimpleRNN", "LSTM", "GRU", "default_unroll", "hoist_inputs"]


def default_unroll() -> int:
    """Steps per scan iteration when `unroll=None`: 1 on CPU, 10 on accelerators."""
    return 1 if jax.default_backend() == "cpu" else 10


# Whether the input projection runs as one matmul over all timesteps before the loop (None:
# per backend). On GPU one big matmul beats T small ones; on CPU (XLA, one core) the projection
# inside the step ran LSTM fwd+bwd 1.6x faster (45 vs 72 ms, batch 32, T=100, 64->128),
# because the hoisted (T, batch, 4*units) buffer and its gradient cost more memory traffic
# than the small per-step matmul saves. `benchmarks/lstm_unroll.py --hoist` measures both.
HOIST_INPUTS = None


# Whether the built-in cells run through `linear_recurrence` (hand-written backward pass) when
# they can (no recurrent dropout; GRU with reset_after). Off: the step is differentiated by
# autodiff of `lax.scan`, as for custom cells. The triage model trains 1.4x faster with it on
# CPU (`python -m benchmarks --workloads lstm_triage`); tests compare both paths.
FUSED_LOOP = True


def hoist_inputs() -> bool:
    """Whether recurrent layers hoist the input projection out of the time loop."""
    return jax.default_backend() != "cpu" if HOIST_INPUTS is None else bool(HOIST_INPUTS)


def _resolve_unroll(unroll, steps: int) -> int:
    if unroll is None:
        n = default_unroll()
    elif unroll is True:
        n = steps
    elif unroll is False:
        n = 1
    else:
        n = int(unroll)
    return max(1, min(n, max(steps, 1)))


def _first_mask(mask):
    if isinstance(mask, (list, tuple)):
        leaves = [m for m in mask if m is not None]
        return leaves[0] if leaves else None
    return mask


def _where(m_t, new, old):
    """`new` where the step's mask `m_t` (batch, 1) is set, else `old`, for outputs and states
    of any rank."""
    return jnp.where(jnp.reshape(m_t, m_t.shape[:1] + (1,) * (new.ndim - 1)), new, old)


def scan_rnn(
    step,
    xs,
    states,
    mask,
    *,
    go_backwards=False,
    return_sequences=False,
    zero_output_for_mask=False,
    unroll=1,
    output_is_state=False,
):
    """Run `step(x_t, states) -> (out, new_states)` over time-major `xs` (T, batch, ...).

    `xs`, the states and the step's output may be trees (a custom cell with nested inputs).
    `mask` is None or bool (T, batch, 1). Returns `(last_output, outputs or None,
    final_states)`; `outputs` is (T, batch, ...) in processing order (reversed when
    `go_backwards`, as Keras). `output_is_state`: the step's output is always its first new
    state (the built-in cells' `h`), so the loop need not carry the output separately.
    """
    if go_backwards:
        xs = jax.tree_util.tree_map(lambda a: jnp.flip(a, 0), xs)
        mask = None if mask is None else jnp.flip(mask, 0)
    steps = jax.tree_util.tree_leaves(xs)[0].shape[0]
    if output_is_state and not zero_output_for_mask:

        def state_body(prev_states, inp):
            x_t, m_t = inp
            new_states = list(step(x_t, prev_states)[1])
            if m_t is not None:  # masked steps keep the previous state (and so the output)
                new_states = [_where(m_t, n, s) for n, s in zip(new_states, prev_states)]
            return new_states, (new_states[0] if return_sequences else None)

        final, ys = jax.lax.scan(state_body, list(states), (xs, mask), unroll=_resolve_unroll(unroll, steps))
        return final[0], ys, final
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
    out_spec = jax.eval_shape(lambda x, s: step(x, s)[0], x0, states)
    last0 = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), out_spec)

    def body(carry, inp):
        prev_states, prev_out = carry
        x_t, m_t = inp
        out, new_states = step(x_t, prev_states)
        new_states = list(new_states)
        if m_t is not None:
            if zero_output_for_mask:
                prev_out = jax.tree_util.tree_map(jnp.zeros_like, out)
            elif not isinstance(out, (list, tuple)) and _same_spec(prev_states[0], out):
                # Keras takes the first state as the previous output (an initial state shows
                # through masked first steps); a cell whose output is not shaped like its first
                # state (StackedRNNCells) repeats its carried previous output instead.
                prev_out = prev_states[0]
            out = jax.tree_util.tree_map(lambda o, p: _where(m_t, o, p), out, prev_out)
            new_states = jax.tree_util.tree_map(lambda n, s: _where(m_t, n, s), new_states, list(prev_states))
        return (new_states, out), (out if return_sequences else None)

    (final, last), ys = jax.lax.scan(body, (list(states), last0), (xs, mask), unroll=_resolve_unroll(unroll, steps))
    return last, ys, final


def _same_spec(a, b) -> bool:
    return (
        not isinstance(a, (list, tuple, dict))
        and jnp.shape(a) == jnp.shape(b)
        and jnp.result_type(a) == jnp.result_type(b)
    )


class RNNBase(StatefulRNNMixin, Layer):
    """The loop shared by `RNN`, `SimpleRNN`, `LSTM` and `GRU`: subclasses give `cell`."""

    supports_masking = True
    # The cell's weights are the layer's (`{"kernel", "recurrent_kernel", "bias"}`), as in
    # Keras's weight lists and files.
    _inline_sublayers = ("cell", "_cell")

    def _check_rnn_config(self):
        u = self.unroll
        if not (u is None or isinstance(u, bool) or (isinstance(u, int) and u > 0)):
            raise ValueError(f"{self._label}: unroll must be None (per backend), a bool or a positive int, got {u!r}")

    def check_config(self):
        self._check_rnn_config()
        self.cell  # noqa: B018 - builds and validates the cell's config

    @property
    def state_sizes(self) -> list:
        return cell_state_sizes(self.cell)

    def check_inputs(self, spec, initial_state=None):
        if not is_spec_leaf(spec):  # nested inputs of a custom cell: (batch, timesteps, ...) each
            leaves = jax.tree_util.tree_leaves(spec, is_leaf=is_spec_leaf)
            if not leaves or any(len(s.shape) < 3 for s in leaves):
                raise ValueError(
                    f"{self._label}: each nested input must have shape (batch, timesteps, ...), got "
                    f"{[tuple(s.shape) for s in leaves]}"
                )
            if len({tuple(s.shape[:2]) for s in leaves if None not in s.shape[:2]}) > 1:
                raise ValueError(
                    f"{self._label}: nested inputs must agree on (batch, timesteps), got "
                    f"{[tuple(s.shape) for s in leaves]}"
                )
            return
        if len(spec.shape) != 3:
            raise ValueError(
                f"{self._label}: expected input of rank 3 (batch, timesteps, features), got shape "
                f"{spec.shape}. A 2D input needs a time axis (e.g. Reshape, or Embedding for token ids)."
            )
        if spec.shape[-1] is None:
            raise ValueError(f"{self._label}: the feature axis must be known, got shape {spec.shape}")

    def build(self, sequences_shape, initial_state_shape=None):
        nested = not isinstance(sequences_shape[0], (int, type(None)))
        shapes = list(sequences_shape) if nested else [sequences_shape]
        batch = shapes[0][0]
        steps = [jax.ShapeDtypeStruct((batch,) + tuple(s[2:]), jnp.float32) for s in shapes]
        states = [jax.ShapeDtypeStruct((batch,) + state_shape(s), self.compute_dtype) for s in self.state_sizes]
        self.cell._maybe_build((type(sequences_shape)(steps) if nested else steps[0], states), {})
        if self.stateful:
            self._build_states(batch, self.state_sizes)

    # ------------------------------------------------------------------ masks
    def compute_mask(self, inputs, mask=None):
        mask = _first_mask(mask)
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(self.state_sizes)
        return out_mask

    def _check_mask(self, mask, x):
        mask = _first_mask(mask)
        x = jax.tree_util.tree_leaves(x)[0]
        if mask is None:
            return None
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"{self._label}: the mask must have shape (batch, timesteps) = {tuple(x.shape[:2])}, "
                f"got {tuple(mask.shape)}"
            )
        return mask.astype(bool)

    def _initial_states(self, initial_state, batch, dtype):
        sizes = self.state_sizes
        if initial_state is None and self.states is not None:
            return self._carried_states(batch, dtype)
        if initial_state is None:
            return [jnp.zeros((batch,) + state_shape(s), dtype) for s in sizes]
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != len(sizes):
            raise ValueError(
                f"{self._label}: initial_state needs {len(sizes)} array(s) (sizes {sizes}), got {len(states)}"
            )
        for i, (s, size) in enumerate(zip(states, sizes)):
            if tuple(s.shape) != (batch,) + state_shape(size):
                raise ValueError(
                    f"{self._label}: initial_state[{i}] must have shape {(batch,) + state_shape(size)}, "
                    f"got {tuple(s.shape)}"
                )
        return [jnp.asarray(s).astype(dtype) for s in states]

    # ------------------------------------------------------------------ call
    def call(self, sequences, initial_state=None, training=False, rng=None, mask=None):
        cell = self.cell
        dtype = self.compute_dtype
        if not hasattr(sequences, "ndim") or sequences.ndim != 3:
            self.check_inputs(jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), sequences))
            if isinstance(cell, RNNCellBase):
                raise ValueError(f"{self._label}: nested inputs need a custom cell, not {type(cell).__name__}")
        x = jax.tree_util.tree_map(lambda a: a.astype(dtype), sequences)
        batch = jax.tree_util.tree_leaves(x)[0].shape[0]
        mask = self._check_mask(mask, x)
        states = self._initial_states(initial_state, batch, dtype)
        xs = jax.tree_util.tree_map(lambda a: jnp.swapaxes(a, 0, 1), x)  # time-major for the scan
        tmask = None if mask is None else jnp.swapaxes(mask, 0, 1)[:, :, None]

        if isinstance(cell, RNNCellBase):
            params = cell._own_values()
            in_mask, rec_mask = cell.dropout_masks(training, rng, batch, x.shape[-1], dtype)
            if in_mask is not None:
                xs = xs * expand_to(in_mask, xs.ndim)
            fused = None if rec_mask is not None or not FUSED_LOOP else cell.fused(params)
            if fused is not None:
                output, final = self._run_fused(fused, cell.project(params, xs), params, states, tmask)
                self._carry_states(final)
                return (output, *final) if self.return_state else output
            if hoist_inputs():
                xs = cell.project(params, xs)  # one matmul for every timestep

                def step(xp_t, s):
                    return cell.step(params, xp_t, s, rec_mask)
            else:

                def step(x_t, s):
                    return cell.step(params, cell.project(params, x_t), s, rec_mask)
        else:

            def step(x_t, s):
                out, new = cell._invoke((x_t, s), {}, training, None, rng)
                return out, list(new) if isinstance(new, (list, tuple)) else [new]

        last, ys, final = scan_rnn(
            step,
            xs,
            states,
            tmask,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask,
            unroll=self.unroll,
            output_is_state=isinstance(cell, RNNCellBase),
        )
        output = jax.tree_util.tree_map(lambda y: jnp.swapaxes(y, 0, 1), ys) if self.return_sequences else last
        self._carry_states(final)
        if self.return_state:
            return (output, *final)
        return output

    def _run_fused(self, fused, xp, params, states, tmask):
        """The built-in cells' loop: `linear_recurrence` (hand-written backward pass)."""
        cell_fn, additive, rec_bias = fused
        if self.go_backwards:
            xp = jnp.flip(xp, 0)
            tmask = None if tmask is None else jnp.flip(tmask, 0)
        kernel = params["recurrent_kernel"].astype(xp.dtype)
        hs, final = linear_recurrence(
            cell_fn, additive, _resolve_unroll(self.unroll, xp.shape[0]), xp, kernel, rec_bias, states, tmask
        )
        if self.zero_output_for_mask and tmask is not None:
            hs = jnp.where(tmask, hs, jnp.zeros((), hs.dtype))
        if self.return_sequences:
            return jnp.swapaxes(hs, 0, 1), final
        return (hs[-1] if self.zero_output_for_mask else final[0]), final


class RNN(RNNBase):
    """Base class for recurrent layers: runs `cell` over the time axis.

    Args:
        cell: an RNN cell (`SimpleRNNCell`, `LSTMCell`, `GRUCell`, or any layer whose
            `call(x_t, states)` returns `(output, new_states)` and that has a
            `state_size` attribute). A custom cell may take nested inputs (the layer is
            called on a tuple of (batch, T, ...) arrays; the cell gets a tuple per step) and
            states of any shape: an entry of `state_size` is an int (a (batch, n) state) or a
            tuple (a (batch, *tuple) state), as tf.keras's nested cells (Keras 3 refuses them).
        return_sequences: return the output of every step (batch, T, units) instead of the last.
        return_state: also return the final states: `(output, *states)`.
        go_backwards: process the sequence in reverse (sequence outputs come in reversed order,
            as Keras).
        stateful: each batch's final states are the next batch's initial states (sample `i`
            continues sample `i`) until `reset_state()`; needs a fixed batch size
            (`Input(batch_shape=...)`). Unlike Keras 3 on JAX, also in fit/evaluate/predict.
        unroll: steps per scan iteration; `None` picks per backend (1 on CPU, 10 on GPU/TPU),
            `True` unrolls fully, `False` is 1.
        zero_output_for_mask: output zeros at masked steps instead of the previous output.

    Call args: `sequences` (batch, T, features); `initial_state` (list of (batch, size)
    arrays; with `stateful` it replaces the carried states for the call); `mask` bool (batch, T) (from `Embedding(mask_zero=True)` / `Masking`); `training`;
    `rng` (needed for dropout in training).

    Example:
    ```python
    layer = jnet.layers.RNN(jnet.layers.LSTMCell(32), return_sequences=True)
    ```
    """

    cell: Any
    return_sequences: bool = False
    return_state: bool = False
    go_backwards: bool = False
    stateful: bool = False
    unroll: Any = None
    zero_output_for_mask: bool = False

    def check_config(self):
        self._check_rnn_config()
        if not isinstance(self.cell, Layer) or not hasattr(self.cell, "state_size"):
            raise ValueError(f"{self._label}: cell must be a jnet layer with a state_size, got {self.cell!r}")


# ---------------------------------------------------------------------- the named layers


class _NamedRNN(RNNBase):
    """SimpleRNN, LSTM, GRU: `RNN` over a built-in cell. A subclass sets `_cell_class`; its
    fields are made from the cell's arguments and `RNN`'s loop arguments, so the layer takes
    (and forwards) exactly what its cell does."""

    _cell_class = None
    _late_args = ()  # cell arguments Keras lists after `unroll` (GRU's reset_after)

    def __init_subclass__(cls, **kwargs):
        if "_cell_class" in cls.__dict__:  # a user subclass of LSTM keeps LSTM's fields
            cell = [f for f in dataclasses.fields(cls._cell_class) if not f.kw_only]
            loop = [f for f in dataclasses.fields(RNN) if not f.kw_only and f.name != "cell"]
            # Keras's order: cell arguments, loop arguments, late cell arguments; then
            # zero_output_for_mask (jnet's own) last.
            fields = (
                [f for f in cell if f.name not in cls._late_args]
                + loop[:-1]
                + [f for f in cell if f.name in cls._late_args]
                + loop[-1:]
            )
            cls.__annotations__ = {f.name: f.type for f in fields}
            for f in fields:
                if f.default is not dataclasses.MISSING:
                    setattr(cls, f.name, f.default)
            cls._cell_args = tuple(f.name for f in cell)
        super().__init_subclass__(**kwargs)

    @property
    def cell(self):
        """The cell, made once from this layer's cell arguments (Keras names it `<layer>_cell`)."""
        cell = self.__dict__.get("_cell")
        if cell is None:
            kwargs = {f: getattr(self, f) for f in self._cell_args}
            cell = self._cell_class(**kwargs, dtype=self.dtype, name=f"{self.name or 'rnn'}_cell")
            self.__dict__["_cell"] = cell
        return cell


class SimpleRNN(_NamedRNN):
    """Fully connected RNN: `h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)`.

    Args: `units` and the `SimpleRNNCell` arguments (activation tanh, kernel glorot_uniform,
    recurrent orthogonal), then `return_sequences`, `return_state`, `go_backwards`,
    `stateful`, `unroll`, `zero_output_for_mask` as `RNN`.

    Input shape: (batch, T, features). Output shape: (batch, units), or (batch, T, units) with
    `return_sequences`; with `return_state` a tuple `(output, h)`.

    Example:
    ```python
    y, _ = jnet.layers.SimpleRNN(4).apply(variables, x)   # x (2, 5, 3) -> y (2, 4)
    ```
    """

    _cell_class = SimpleRNNCell


class LSTM(_NamedRNN):
    """Long Short-Term Memory layer (Hochreiter 1997), Keras 3 defaults and layout.

    Args: `units`, `activation` ("tanh"), `recurrent_activation` ("sigmoid"), `use_bias`,
    initializers, `unit_forget_bias` (True), regularizers, `dropout`, `recurrent_dropout`,
    then `return_sequences`, `return_state`, `go_backwards`, `stateful`, `unroll`,
    `zero_output_for_mask` as `RNN`.

    Params: `kernel` (features, 4u), `recurrent_kernel` (u, 4u), `bias` (4u,), gates i, f, c, o.

    Input shape: (batch, T, features). Output: (batch, units) or (batch, T, units); with
    `return_state`, `(output, h, c)`. `initial_state=[h, c]` as in Keras.

    Example:
    ```python
    tokens = jnet.Input((None,), dtype="int32")
    x = jnet.layers.Embedding(1000, 16, mask_zero=True)(tokens)
    h = jnet.layers.LSTM(32)(x)          # padding (id 0) is skipped
    ```
    """

    _cell_class = LSTMCell


class GRU(_NamedRNN):
    """Gated Recurrent Unit (Cho et al. 2014), Keras 3 defaults (`reset_after=True`).

    Args: `units`, `activation` ("tanh"), `recurrent_activation` ("sigmoid"), `use_bias`,
    initializers, regularizers, `dropout`, `recurrent_dropout`, `return_sequences`,
    `return_state`, `go_backwards`, `stateful`, `unroll`, `reset_after`, `zero_output_for_mask`.

    Params: `kernel` (features, 3u), `recurrent_kernel` (u, 3u), `bias` (2, 3u) with
    `reset_after` else (3u,); gates z, r, h.

    Example:
    ```python
    y, _ = jnet.layers.GRU(8, return_sequences=True).apply(variables, x)   # (batch, T, 8)
    ```
    """

    _cell_class = GRUCell
    _late_args = ("reset_after",)
