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


def _forward(cell_fn, additive, unroll, xp, kernel, bias, states, mask, save):
    def body(carry, inp):
        xp_t, m_t = inp
        r_t = jnp.matmul(carry[0], kernel)
        if bias is not None:
            r_t = r_t + bias[None]
        new = _masked_step(cell_fn, additive, xp_t, r_t, carry, m_t)
        # For the reverse loop: every state after the step, and r_t (or, for an additive
        # cell, the pre-activation xp_t + r_t it computed anyway).
        saved = (new, (xp_t + r_t) if additive else r_t) if save else ([new[0]], None)
        return new, saved

    final, (seqs, rs) = jax.lax.scan(body, list(states), (xp, mask), unroll=unroll)
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
        unroll: steps per scan iteration. Static.
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
    prev = [_shift(s0, seq) for s0, seq in zip(states0, seqs)]
    d_hs, d_final = cotangents
    kernel_t = kernel.T

    def body(d_states, inp):
        xp_t, r_t, prev_t, m_t, dh_t = inp
        d_states = [d_states[0] + dh_t] + list(d_states[1:])
        if additive:  # r_t holds z_t = xp_t + r_t, the cell's only input besides the states
            _, vjp = jax.vjp(lambda z, s: _masked_step(cell_fn, True, z, None, s, m_t), r_t, prev_t)
            d_r, d_prev = vjp(d_states)
            d_xp = None
        else:
            _, vjp = jax.vjp(lambda x, r, s: _masked_step(cell_fn, False, x, r, s, m_t), xp_t, r_t, prev_t)
            d_xp, d_r, d_prev = vjp(d_states)
        d_prev = list(d_prev)
        d_prev[0] = d_prev[0] + jnp.matmul(d_r, kernel_t)  # the one sequential matmul
        return d_prev, (d_xp, d_r)

    d_states0, (d_xp, d_rs) = jax.lax.scan(
        body, list(d_final), (xp, rs, prev, mask, d_hs), reverse=True, unroll=unroll)
    # The recurrent kernel's gradient for all timesteps at once: sum_t h_{t-1}^T dr_t.
    d_kernel = jnp.einsum("tbu,tbg->ug", prev[0], d_rs)
    d_bias = None if bias is None else jnp.sum(d_rs, axis=(0, 1)).astype(bias.dtype)
    return (d_rs if additive else d_xp), d_kernel.astype(kernel.dtype), d_bias, d_states0, None


linear_recurrence.defvjp(_fwd, _bwd)
