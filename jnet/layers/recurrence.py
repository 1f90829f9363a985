"""A time loop with a hand-written backward pass for the built-in recurrent cells.

The built-in cells (SimpleRNN, LSTM, GRU with `reset_after=True`) compute a step as

    r_t = h_{t-1} @ recurrent_kernel            (the only matmul that needs the state)
    new_states = elementwise(xp_t, r_t, states_{t-1})

with `xp_t = x_t @ kernel + bias` computed for every timestep before the loop. Differentiating
`lax.scan` of that step automatically accumulates the recurrent kernel's gradient inside the
reverse loop, one small `(units, batch) @ (batch, gates)` matmul and a `(units, gates)` carry
per step. `linear_recurrence` instead keeps what the reverse loop needs, runs it with only
`dr_t @ recurrent_kernel.T` (the gradient that really is sequential) and the elementwise
part's VJP, and computes the kernel's gradient after the loop as one
`(units, T * batch) @ (T * batch, gates)` matmul. The input kernel's gradient is one big matmul
too (autodiff of the hoisted projection). Measured in `benchmarks/lstm_unroll.py`.

Padding. A step masked for the whole batch leaves every state as it is, so with a mask and
`unroll=1` (the CPU default) both loops run only from the first to the last step that any
sample of the batch uses: padded batches (Keras's `pad_sequences` pads to the longest sample
of the data set, not of the batch) skip their all-padding head or tail. The outputs and
gradients are those of the full loop. With `unroll > 1` (accelerators) the loop has a fixed
length, as unrolling needs.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["linear_recurrence"]


def _masked_step(cell_fn, additive, xp_t, r_t, states, m_t):
    if not additive:
        new = list(cell_fn(xp_t, r_t, states))
    else:
        new = list(cell_fn(xp_t if r_t is None else xp_t + r_t, states))
    if m_t is not None:  # a masked step carries the previous states forward unchanged
        new = [jnp.where(m_t, n, s) for n, s in zip(new, states)]
    return new


def _bounds(mask, steps, unroll):
    """`(start, end)`: the steps the loops run, `[start, end)`. Python ints (the whole
    sequence) without a mask or when unrolling; else from the first to one past the last step
    with any unmasked sample (0, 0 when there is none)."""
    if mask is None or unroll > 1:
        return 0, steps
    used = jnp.any(mask[:, :, 0], axis=1)
    some = jnp.any(used)
    start = jnp.where(some, jnp.argmax(used), 0).astype(jnp.int32)
    end = jnp.where(some, steps - jnp.argmax(used[::-1]), 0).astype(jnp.int32)
    return start, end


def _step_index(mask, t):
    return None if mask is None else mask[t]


def _forward(cell_fn, additive, unroll, xp, kernel, bias, states, mask, save):
    """`(seqs, final, rs)`: `seqs[i]` (T, batch, size) the state i after every step (all
    states when `save`, else only `h`), `rs` (T, batch, gates) what the reverse loop needs."""
    steps = xp.shape[0]
    start, end = _bounds(mask, steps, unroll)
    keep = list(states) if save else list(states[:1])
    # Steps outside [start, end) change nothing: their entries are the initial states (before
    # `start`) and the final states (from `end`, filled in below).
    seqs = [jnp.broadcast_to(s[None], (steps,) + s.shape) for s in keep]
    gates = kernel.shape[-1]
    rs = jnp.zeros((steps, xp.shape[1], gates), xp.dtype) if save else None

    def body(t, carry):
        states, seqs, rs = carry
        xp_t = xp[t]
        r_t = jnp.matmul(states[0], kernel)
        if bias is not None:
            r_t = r_t + bias[None]
        new = _masked_step(cell_fn, additive, xp_t, r_t, states, _step_index(mask, t))
        seqs = [jax.lax.dynamic_update_index_in_dim(q, n, t, 0) for q, n in zip(seqs, new)]
        if save:  # r_t, or for an additive cell the pre-activation xp_t + r_t it computed anyway
            rs = jax.lax.dynamic_update_index_in_dim(rs, (xp_t + r_t) if additive else r_t, t, 0)
        return new, seqs, rs

    final, seqs, rs = jax.lax.fori_loop(
        start, end, body, (list(states), seqs, rs), unroll=unroll if unroll > 1 else None
    )
    if not isinstance(end, int):
        after = (jnp.arange(steps) >= end)[:, None, None]
        seqs = [jnp.where(after, f[None], q) for q, f in zip(seqs, final)]
    return seqs, final, rs


def _shift(first, seq):
    """The states before each step: `first` then all but the last of `seq`."""
    return jnp.concatenate([first[None], seq[:-1]], axis=0)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def linear_recurrence(cell_fn, additive, unroll, xp, kernel, bias, states, mask):
    """Runs `states_t = cell(xp_t, states_{t-1}[0] @ kernel + bias, states_{t-1})` over time.

    Args:
        cell_fn: the elementwise part of a step, `(xp_t, r_t, states) -> new_states` (a list;
            the first is `h`, the state multiplied by `kernel`), or `(z_t, states) ->
            new_states` with `z_t = xp_t + r_t` when `additive`. Static.
        additive: whether the cell only uses `xp_t + r_t` (SimpleRNN, LSTM). Static.
        unroll: steps per loop iteration. Static.
        xp: (T, batch, gates) time-major input projections.
        kernel: (units, gates) recurrent kernel.
        bias: None, or (gates,) recurrent bias (GRU with `reset_after`).
        states: list of (batch, size) initial states.
        mask: None, or bool (T, batch, 1): where False the states carry over unchanged.

    Returns:
        `(hs, final_states)`: `hs` (T, batch, units) the state `h` after every step.
    """
    seqs, final, _ = _forward(cell_fn, additive, unroll, xp, kernel, bias, states, mask, save=False)
    return seqs[0], final


def _fwd(cell_fn, additive, unroll, xp, kernel, bias, states, mask):
    seqs, final, rs = _forward(cell_fn, additive, unroll, xp, kernel, bias, states, mask, save=True)
    return (seqs[0], final), (None if additive else xp, kernel, bias, mask, rs, list(states), seqs)


def _bwd(cell_fn, additive, unroll, saved, cotangents):
    xp, kernel, bias, mask, rs, states0, seqs = saved
    steps = rs.shape[0]
    start, end = _bounds(mask, steps, unroll)
    prev = [_shift(s0, seq) for s0, seq in zip(states0, seqs)]
    d_hs, d_final = cotangents
    d_states = list(d_final)
    if not isinstance(end, int):
        # hs after `end` is the final h, and before `start` the initial one.
        t = jnp.arange(steps)[:, None, None]
        d_states[0] = d_states[0] + jnp.sum(jnp.where(t >= end, d_hs, 0), axis=0)
        d_head = jnp.sum(jnp.where(t < start, d_hs, 0), axis=0)
    kernel_t = kernel.T
    d_rs = jnp.zeros_like(rs)
    d_xps = None if additive else jnp.zeros_like(xp)

    def body(i, carry):
        d_states, d_rs, d_xps = carry
        t = end - 1 - i
        r_t, m_t = rs[t], _step_index(mask, t)
        prev_t = [p[t] for p in prev]
        d_states = [d_states[0] + d_hs[t]] + list(d_states[1:])
        if additive:  # r_t holds z_t = xp_t + r_t, the cell's only input besides the states
            _, vjp = jax.vjp(lambda z, s: _masked_step(cell_fn, True, z, None, s, m_t), r_t, prev_t)
            d_r, d_prev = vjp(d_states)
        else:
            _, vjp = jax.vjp(lambda x, r, s: _masked_step(cell_fn, False, x, r, s, m_t), xp[t], r_t, prev_t)
            d_xp, d_r, d_prev = vjp(d_states)
            d_xps = jax.lax.dynamic_update_index_in_dim(d_xps, d_xp, t, 0)
        d_prev = list(d_prev)
        d_prev[0] = d_prev[0] + jnp.matmul(d_r, kernel_t)  # the one sequential matmul
        return d_prev, jax.lax.dynamic_update_index_in_dim(d_rs, d_r, t, 0), d_xps

    d_states0, d_rs, d_xps = jax.lax.fori_loop(
        0, end - start, body, (d_states, d_rs, d_xps), unroll=unroll if unroll > 1 else None
    )
    if not isinstance(end, int):
        d_states0 = [d_states0[0] + d_head] + list(d_states0[1:])
    # The recurrent kernel's gradient for all timesteps at once: sum_t h_{t-1}^T dr_t.
    d_kernel = jnp.einsum("tbu,tbg->ug", prev[0], d_rs)
    d_bias = None if bias is None else jnp.sum(d_rs, axis=(0, 1)).astype(bias.dtype)
    return (d_rs if additive else d_xps), d_kernel.astype(kernel.dtype), d_bias, d_states0, None


linear_recurrence.defvjp(_fwd, _bwd)
