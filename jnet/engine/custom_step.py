"""User-written Keras-style steps (`train_step(state, data)`, `test_step`, `predict_step`) inside
the compiled, fused loop.

jnet's `TrainState` keeps params/state as pytrees keyed by layer; a Keras step sees lists in
`model.trainable_variables` / `model.non_trainable_variables` order, the optimizer state as a
flat list (optax state of the trainable list) and the metric states as one flat list
(`model.metrics_variables`). `CustomSteps` converts at the step boundary, inside the trace, so
the conversion costs nothing at run time.

Batches reach a user step without padding rows (the step cannot know about them): full
batches run fused, `n` per compiled call; a smaller last batch runs as a one-step call of its
own size (compiled once per size, as Keras retraces for it).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jnet.core.trees import bind_pairs as _bind_pairs
from jnet.core.trees import zip_map as _zip_map
from jnet.core.variables import call_scope
from jnet.engine.train_state import TrainState, inference_key, step_key

# Model methods whose override routes a loop through the model's own (Keras-style) step.
_TRAIN_HOOKS = ("train_step", "compute_loss", "compute_loss_and_updates", "compute_metrics")
_TEST_HOOKS = ("test_step", "compute_loss", "compute_metrics")


def _overridden(model, names) -> bool:
    for name in names:
        fn = getattr(type(model), name, None)
        if fn is not None and not getattr(fn, "_jnet_default_step", False) and not _is_mixin_default(fn, name):
            return True
    return False


def _is_mixin_default(fn, name) -> bool:
    # The mixin's own compute_* methods are defaults too (marked by module, no import upward).
    return getattr(fn, "__module__", "") == "jnet.models.step_api"


def custom_steps(model):
    """A `CustomSteps` when the model overrides a step (or what the default step calls), else None."""
    train = _overridden(model, _TRAIN_HOOKS)
    test = _overridden(model, _TEST_HOOKS)
    predict = _overridden(model, ("predict_step",))
    return CustomSteps(model, train, test, predict) if (train or test or predict) else None


def _flat_logs(logs, out=None) -> dict:
    out = {} if out is None else out
    for k, v in dict(logs).items():
        if isinstance(v, dict):
            _flat_logs(v, out)
        else:
            out[k] = jnp.asarray(v)
    return out


def _match(new, old, what, where):
    new = list(new)
    if len(new) != len(old):
        raise ValueError(f"{where} returned {len(new)} {what}, expected {len(old)}")
    out = []
    for i, (n, o) in enumerate(zip(new, old)):
        n = jnp.asarray(n)
        if n.shape != o.shape:
            raise ValueError(f"{where} returned {what}[{i}] of shape {n.shape}, expected {o.shape}")
        out.append(n.astype(o.dtype))
    return out


class CustomSteps:
    """Which loops run the model's own steps, and the conversions they need."""

    def __init__(self, model, train, test, predict):
        self.model = model
        self.train, self.test, self.predict = train, test, predict
        self.log_order = {"train": None, "test": None}

    # ------------------------------------------------------------------ conversions

    def to_lists(self, params, state):
        m = self.model
        found = {id(v): a for v, a in _bind_pairs(m.variable_tree(), {"params": params, "state": state}, _label(m))}
        return [found[id(v)] for v in m.trainable_variables], [found[id(v)] for v in m.non_trainable_variables]

    def from_lists(self, tv, ntv, params, state, where):
        m = self.model
        tv = _match(tv, [v for v in self.to_lists(params, state)[0]], "trainable_variables", where)
        ntv = _match(ntv, self.to_lists(params, state)[1], "non_trainable_variables", where)
        new = {id(v): a for v, a in zip(m.trainable_variables, tv)}
        new.update({id(v): a for v, a in zip(m.non_trainable_variables, ntv)})
        tree = m.variable_tree()
        pick = lambda v, a: new.get(id(v), a)  # noqa: E731
        return _zip_map(pick, tree["params"], params), _zip_map(pick, tree["state"], state)

    def init_opt_state(self, tx, params, state):
        """The optax state of the trainable list (what `optimizer.stateless_apply` expects)."""
        tv, _ = self.to_lists(params, state)
        self.model.optimizer.bind_variables(self.model.trainable_variables)
        return jax.jit(tx.init)(tv)

    def fresh_metrics(self) -> list:
        return [leaf for m in self.model.metrics for leaf in m.stateless_reset_state()]

    def store_metrics(self, metrics_variables):
        """Leave the final metric states on the metric objects (`tracker.result()` after fit)."""
        leaves, pos = list(metrics_variables), 0
        for m in self.model.metrics:
            k = len(jax.eval_shape(m.stateless_reset_state))
            m.assign_variables(leaves[pos : pos + k])
            pos += k

    def data(self, batch):
        """Keras's `data` for a batch of lists: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
        from jnet.utils import pack_x_y_sample_weight

        xb, yb, swb = batch
        return pack_x_y_sample_weight(self.model.structure_inputs(list(xb)), self._outputs(yb), self._outputs(swb))

    def _outputs(self, values):
        if not values or all(v is None for v in values):
            return None
        return self.model.structure_outputs(list(values))

    def _record_order(self, which, logs):
        self.log_order[which] = list(logs)

    # ------------------------------------------------------------------ one step, purely

    def train_one(self, ts, batch):
        m = self.model
        where = f"{type(m).__name__}.train_step"
        tv, ntv = self.to_lists(ts.params, ts.state)
        opt_leaves, opt_def = jax.tree_util.tree_flatten(ts.opt_state)
        # An ambient key: stateless_call inside the step draws dropout keys from it.
        with call_scope(training=True, rng=step_key(ts.rng, ts.step)):
            out = m.train_step((tv, ntv, opt_leaves, list(ts.metrics)), self.data(batch))
        logs, new = _split(out, 4, where)
        params, state = self.from_lists(new[0], new[1], ts.params, ts.state, where)
        opt_state = jax.tree_util.tree_unflatten(opt_def, _match(new[2], opt_leaves, "optimizer_variables", where))
        metrics = _match(new[3], ts.metrics, "metrics_variables", where)
        logs = _flat_logs(logs)
        self._record_order("train", logs)
        return TrainState(params, state, opt_state, metrics, ts.rng, ts.step + 1), logs

    def test_one(self, metrics, params, state, batch, rng=None):
        m = self.model
        where = f"{type(m).__name__}.test_step"
        tv, ntv = self.to_lists(params, state)
        # The batch's key (`train_state.inference_key`): layers that draw in inference use it.
        with call_scope(training=False, rng=rng):
            out = m.test_step((tv, ntv, list(metrics)), self.data(batch))
        logs, new = _split(out, 3, where)
        logs = _flat_logs(logs)
        self._record_order("test", logs)
        return _match(new[2], metrics, "metrics_variables", where), logs

    def predict_one(self, params, state, xb, rng=None):
        m = self.model
        tv, ntv = self.to_lists(params, state)
        with call_scope(training=False, rng=rng):
            out = m.predict_step((tv, ntv), self.data((xb, [], [])))
        return [jnp.asarray(p) for p in m.flatten_outputs(out)]


def _label(model) -> str:
    return f"{type(model).__name__} '{model.name}'"


def _split(out, n, where):
    if not (
        isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[1], (tuple, list)) and len(out[1]) == n
    ):
        raise ValueError(f"{where} must return (logs, state) with state a tuple of {n} lists; got {type(out).__name__}")
    if not isinstance(out[0], dict):
        raise ValueError(f"{where} must return logs as a dict, got {type(out[0]).__name__}")
    return out[0], out[1]


# --------------------------------------------------------------------------- compiled functions


def _rows(data, index, row_start, size, dist):
    x, y, sw, _ = data
    idx = jax.lax.dynamic_slice_in_dim(index, row_start, size)

    def take(a):
        return None if a is None else jnp.take(a, idx, axis=0, mode="clip")

    xb, yb, swb, _ = dist.constrain_batch(
        ([take(a) for a in x], [take(a) for a in y], [take(a) for a in sw], jnp.ones((size,), bool))
    )
    return xb, yb, swb


def _train_chunk(custom, bs, dist, ts, data, index, start, n):
    def one(ts, step):
        return custom.train_one(ts, _rows(data, index, step * bs, bs, dist))

    logs0 = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(one, ts, start)[1])
    return jax.lax.fori_loop(0, n, lambda i, c: one(c[0], start + i), (ts, logs0))


def _train_single(custom, bs, size, dist, ts, data, index, step):
    return custom.train_one(ts, _rows(data, index, step * bs, size, dist))


def _eval_chunk(custom, bs, dist, metrics, params, state, draws, data, index, start, n):
    def one(metrics, step):
        return custom.test_one(
            metrics, params, state, _rows(data, index, step * bs, bs, dist), inference_key(draws, step)
        )

    logs0 = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(one, metrics, start)[1])
    return jax.lax.fori_loop(0, n, lambda i, c: one(c[0], start + i), (metrics, logs0))


def _eval_single(custom, bs, size, dist, metrics, params, state, draws, data, index, step):
    return custom.test_one(
        metrics, params, state, _rows(data, index, step * bs, size, dist), inference_key(draws, step)
    )


def _predict_chunk(custom, bs, capacity, dist, params, state, data, index, n_rows, start, n, draws):
    def one(step):
        return custom.predict_one(params, state, _rows(data, index, step * bs, bs, dist)[0], inference_key(draws, step))

    specs = jax.eval_shape(one, start)
    buffers = [jnp.zeros((capacity * bs,) + tuple(s.shape[1:]), s.dtype) for s in specs]

    def body(i, buffers):
        return [
            jax.lax.dynamic_update_slice_in_dim(b, p.astype(b.dtype), i * bs, axis=0)
            for b, p in zip(buffers, one(start + i))
        ]

    return jax.lax.fori_loop(0, n, body, buffers)


def _batch_rows(data, n_rows, bs, start, n) -> list:
    """Real rows in each batch `start .. start + n` (host ints): padding is at a batch's end."""
    row_valid = None if data[3] is None else np.asarray(data[3])
    counts = []
    for step in range(start, start + n):
        lo = step * bs
        if row_valid is None:
            counts.append(max(0, min(bs, n_rows - lo)))
            continue
        v = np.asarray(row_valid[lo : lo + bs])
        k = int(v.sum())
        if not v[:k].all():
            raise ValueError("custom train_step/test_step: a streamed batch has padding rows before real ones")
        counts.append(k)
    return counts


class _Runner:
    """Host side of one loop: fused calls over full batches, one-step calls for smaller ones."""

    def __init__(self, chunk, single, bs):
        self.chunk, self.single, self.bs = chunk, single, bs  # single: size -> jitted one-step fn
        self._single = {}

    def one(self, size):
        if size not in self._single:
            self._single[size] = self.single(size)
        return self._single[size]

    def run(self, carry, args, data, index, n_rows, start, n, fused=True):
        counts = _batch_rows(data, n_rows, self.bs, start, n)
        logs, i = None, 0
        while i < n:
            if counts[i] == self.bs and fused:
                j = i
                while j < n and counts[j] == self.bs:
                    j += 1
                carry, logs = self.chunk(carry, *args, data, index, start + i, j - i)
                i = j
                continue
            if counts[i] > 0:
                carry, logs = self.one(counts[i])(carry, *args, data, index, start + i)
            i += 1
        return carry, logs


class _Single:
    """One step per call, `(carry, *args, data, index, n_rows, start)` as `CompiledFns`'s
    `train_one` / `eval_one`."""

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, carry, *rest):
        *args, data, index, n_rows, start = rest
        return self.runner.run(carry, tuple(args), data, index, n_rows, start, 1, fused=False)


class CustomFns:
    """Drop-in for `CompiledFns`: the model's own steps where overridden, jnet's elsewhere."""

    def __init__(self, custom, default, batch_size, dist):
        self.custom, self.default, self.batch_size = custom, default, batch_size
        bs = batch_size
        if custom.train:
            self._train = _Runner(
                jax.jit(partial(_train_chunk, custom, bs, dist), donate_argnums=0),
                lambda size: jax.jit(partial(_train_single, custom, bs, size, dist), donate_argnums=0),
                bs,
            )
            self.train_one = _AllRan(_Single(self._train))
        else:
            self.train, self.train_one = default.train, default.train_one
        if custom.test:
            self._eval = _Runner(
                jax.jit(partial(_eval_chunk, custom, bs, dist), donate_argnums=0),
                lambda size: jax.jit(partial(_eval_single, custom, bs, size, dist), donate_argnums=0),
                bs,
            )
            self.eval_one = self._eval_one
        else:
            self.eval, self.eval_one = default.eval, default.eval_one
        self._predict = {}

    def train(self, ts, data, index, n_rows, start, n):
        return _all_ran(self._train.run(ts, (), data, index, n_rows, start, n), n)

    def eval(self, metrics, params, state, data, index, n_rows, start, n, draws):
        return self._eval.run(metrics, (params, state, draws), data, index, n_rows, start, n)

    def _eval_one(self, metrics, params, state, data, index, n_rows, start, draws):
        return self._eval.run(metrics, (params, state, draws), data, index, n_rows, start, 1, fused=False)

    def train_jaxpr(self, ts, data, index, n_rows, start, n):
        """The traced training chunk, as `CompiledFns.train_jaxpr`."""
        if not self.custom.train:
            return self.default.train_jaxpr(ts, data, index, n_rows, start, n)
        return self._train.chunk.trace(ts, data, index, start, n).jaxpr

    def eval_jaxpr(self, metrics, params, state, data, index, n_rows, start, n, draws):
        """The traced evaluation chunk, as `CompiledFns.eval_jaxpr`."""
        if not self.custom.test:
            return self.default.eval_jaxpr(metrics, params, state, data, index, n_rows, start, n, draws)
        return self._eval.chunk.trace(metrics, params, state, draws, data, index, start, n).jaxpr

    def predict(self, capacity):
        if not self.custom.predict:
            return self.default.predict(capacity)
        if capacity not in self._predict:
            self._predict[capacity] = jax.jit(
                partial(_predict_chunk, self.custom, self.batch_size, capacity, self.default.dist)
            )
        return self._predict[capacity]


class _AllRan:
    """A user's single train step, called as jnet's `train_one` is."""

    def __init__(self, single):
        self.single = single

    def __call__(self, *args):
        return _all_ran(self.single(*args), 1)


def _all_ran(result, n):
    """A user's train step as the trainer reads jnet's: `(ts, logs, steps run, finite)`. jnet's
    own step stops at a non-finite loss; a user's step decides that itself, so all `n` ran."""
    ts, logs = result
    return ts, logs, jnp.asarray(n, jnp.int32), jnp.asarray(True)
