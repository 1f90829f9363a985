"""The compiled chunk functions: many steps per call, batches gathered on the device.

Each function takes the data set (or a streamed chunk of it) as device arrays, an `index`
vector of row numbers (a shuffled permutation padded to whole batches) and runs steps
`start .. start + n` of the epoch inside one loop (training's stops early at a non-finite loss). `start` and `n` are traced, so
one compilation serves every chunk size: the engine can pick chunk sizes at run time (large
enough that dispatch costs nothing, small enough that the progress bar moves) without ever
recompiling. Rows at positions >= `n_rows` are padding: masked out of every loss, metric and
gradient, so the last partial batch needs no second compilation.

A model with stateful layers (a stateful RNN) gets evaluation and prediction functions that
also carry the layer state from batch to batch and return it: `eval` / `eval_one` return
`(metrics, logs, state)` and `predict(capacity)` returns `(buffers, state)`. Other models keep
the functions that return no state, so they pay nothing for it.

Evaluation and prediction take `draws = (call, first batch)`: the model's count of such calls
and the number of the chunk's batch 0 (traced ints). Batch `b` of call `c` runs with a key of
`(c, b)` (`train_state.inference_key`), so layers that draw in inference get fresh noise per
batch and per call from one compilation. A model that draws
nothing leaves the key unused, and XLA removes it.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jnet.engine import steps as S
from jnet.engine.train_state import inference_key
from jnet.layers.rnn_state import stateful_layers


def gather(data, index, n_rows, step, batch_size, dist):
    """Batch number `step` of the epoch: `(x, y, sample_weight, valid)`."""
    x, y, sw, row_valid = data
    start = step * batch_size
    idx = jax.lax.dynamic_slice_in_dim(index, start, batch_size)
    valid = (start + jnp.arange(batch_size, dtype=index.dtype)) < n_rows

    def take(a):
        return None if a is None else jnp.take(a, idx, axis=0, mode="clip")

    xb = [take(a) for a in x]
    yb = [take(a) for a in y]
    swb = [take(a) for a in sw]
    if row_valid is not None:
        valid = valid & take(row_valid)
    return dist.constrain_batch((xb, yb, swb, valid))


def _train_chunk(plan, batch_size, dist, ts, data, index, n_rows, start, n):
    """Steps `start .. start + n`, leaving the loop at the first non-finite loss. Returns
    `(ts, logs, steps run, finite)`: when `finite` is False the last step run was the bad one
    and was not applied (`steps.guarded_train_step`)."""

    def cond(carry):
        i, _, finite = carry
        return (i < n) & finite

    def body(carry):
        i, ts, _ = carry
        ts, finite = S.guarded_train_step(plan, ts, gather(data, index, n_rows, start + i, batch_size, dist))
        return i + 1, ts, finite

    i, ts, finite = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), ts, jnp.array(True)))
    return ts, S.metric_results(plan, ts.metrics), i, finite


def _eval_chunk_stateful(plan, batch_size, dist, metrics, params, state, data, index, n_rows, start, n, draws):
    def body(i, carry):
        batch = gather(data, index, n_rows, start + i, batch_size, dist)
        return S.stateful_eval_step(plan, params, carry[1], carry[0], batch, inference_key(draws, start + i))

    metrics, state = jax.lax.fori_loop(0, n, body, (metrics, state))
    return metrics, S.metric_results(plan, metrics), state


def _eval_one_stateful(plan, batch_size, dist, metrics, params, state, data, index, n_rows, start, draws):
    batch = gather(data, index, n_rows, start, batch_size, dist)
    metrics, state = S.stateful_eval_step(plan, params, state, metrics, batch, inference_key(draws, start))
    return metrics, S.metric_results(plan, metrics), state


def _eval_chunk(plan, batch_size, dist, metrics, params, state, data, index, n_rows, start, n, draws):
    def body(i, metrics):
        batch = gather(data, index, n_rows, start + i, batch_size, dist)
        return S.eval_step(plan, params, state, metrics, batch, inference_key(draws, start + i))

    metrics = jax.lax.fori_loop(0, n, body, metrics)
    return metrics, S.metric_results(plan, metrics)


def _train_one(plan, batch_size, dist, ts, data, index, n_rows, start):
    # Loop-free: for steps XLA:CPU runs slower inside a while loop (`chunking.loop_slows_down`).
    ts, finite = S.guarded_train_step(plan, ts, gather(data, index, n_rows, start, batch_size, dist))
    return ts, S.metric_results(plan, ts.metrics), jnp.ones((), jnp.int32), finite


def _eval_one(plan, batch_size, dist, metrics, params, state, data, index, n_rows, start, draws):
    metrics = S.eval_step(
        plan, params, state, metrics, gather(data, index, n_rows, start, batch_size, dist), inference_key(draws, start)
    )
    return metrics, S.metric_results(plan, metrics)


def _predict_chunk(plan, batch_size, capacity, dist, params, state, data, index, n_rows, start, n, draws):
    def one(step):
        x, _, _, _ = gather(data, index, n_rows, step, batch_size, dist)
        return S.predict_step(plan, params, state, x, inference_key(draws, step))

    specs = jax.eval_shape(one, start)
    buffers = [jnp.zeros((capacity * batch_size,) + tuple(s.shape[1:]), s.dtype) for s in specs]

    def body(i, buffers):
        preds = one(start + i)
        return [
            jax.lax.dynamic_update_slice_in_dim(b, p.astype(b.dtype), i * batch_size, axis=0)
            for b, p in zip(buffers, preds)
        ]

    return jax.lax.fori_loop(0, n, body, buffers)


def _predict_chunk_stateful(plan, batch_size, capacity, dist, params, state, data, index, n_rows, start, n, draws):
    def one(step, state):
        x, _, _, _ = gather(data, index, n_rows, step, batch_size, dist)
        return S.stateful_predict_step(plan, params, state, x, inference_key(draws, step))

    specs = jax.eval_shape(one, start, state)[0]
    buffers = [jnp.zeros((capacity * batch_size,) + tuple(s.shape[1:]), s.dtype) for s in specs]

    def body(i, carry):
        buffers, state = carry
        preds, state = one(start + i, state)
        return [
            jax.lax.dynamic_update_slice_in_dim(b, p.astype(b.dtype), i * batch_size, axis=0)
            for b, p in zip(buffers, preds)
        ], state

    return tuple(jax.lax.fori_loop(0, n, body, (buffers, state)))


class CompiledFns:
    """The jitted chunk functions for one compiled model and batch size (cached by the engine,
    so repeated `fit` calls and every epoch reuse the same executables)."""

    def __init__(self, plan, batch_size, dist):
        self.plan, self.batch_size, self.dist = plan, batch_size, dist
        self.stateful = bool(stateful_layers(plan.model))
        chunk, one = (_eval_chunk_stateful, _eval_one_stateful) if self.stateful else (_eval_chunk, _eval_one)
        self.train = jax.jit(partial(_train_chunk, plan, batch_size, dist), donate_argnums=0)
        self.eval = jax.jit(partial(chunk, plan, batch_size, dist), donate_argnums=0)
        # One step per call, no loop: compiled only when the chunk sizer picks single steps.
        self.train_one = jax.jit(partial(_train_one, plan, batch_size, dist), donate_argnums=0)
        self.eval_one = jax.jit(partial(one, plan, batch_size, dist), donate_argnums=0)
        self._predict = {}

    def train_jaxpr(self, ts, data, index, n_rows, start, n):
        """The traced training chunk (`train`'s arguments); tracing is cached, so the call with
        the same argument types that follows does not trace again."""
        return self.train.trace(ts, data, index, n_rows, start, n).jaxpr

    def eval_jaxpr(self, metrics, params, state, data, index, n_rows, start, n, draws):
        """The traced evaluation chunk (`eval`'s arguments), as `train_jaxpr`."""
        return self.eval.trace(metrics, params, state, data, index, n_rows, start, n, draws).jaxpr

    def predict(self, capacity):
        if capacity not in self._predict:
            fn = _predict_chunk_stateful if self.stateful else _predict_chunk
            self._predict[capacity] = jax.jit(partial(fn, self.plan, self.batch_size, capacity, self.dist))
        return self._predict[capacity]


def epoch_order(rng_data, epoch, epoch_start_step, n, shuffle):
    """Row order of one epoch as a host int32 vector: a permutation of `n` rows (or 0..n-1).

    The permutation is a function of (seed, epoch, step at the epoch's start) only, so a run
    resumed mid-epoch sees the same order, and data streamed from the host is shuffled exactly
    as the same data on the device would be. Drawn with NumPy: `jax.random.permutation` would
    cost a sort compilation per data-set size for no run-time gain.
    """
    import numpy as np

    if not shuffle:
        return np.arange(n, dtype=np.int32)
    seed = [int(v) for v in np.asarray(jax.device_get(rng_data)).ravel()] + [int(epoch), int(epoch_start_step)]
    return np.random.default_rng(seed).permutation(n).astype(np.int32)


def epoch_index(rng_data, epoch, epoch_start_step, n, padded, shuffle):
    """`epoch_order` padded with row 0 to `padded` entries (whole batches), as a device int32
    vector, sent once per epoch (4 bytes a row)."""
    import numpy as np

    order = np.zeros((padded,), np.int32)
    order[:n] = epoch_order(rng_data, epoch, epoch_start_step, n, shuffle)
    return jnp.asarray(order)
