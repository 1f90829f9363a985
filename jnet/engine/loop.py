"""The host side of training: epochs, chunks, callbacks, validation and prediction.

The `Trainer` (one per `compile`) owns the train state and the cached compiled functions. It
never syncs with the device inside a chunk: after each compiled chunk it reads the running
metrics once (a few scalars), calls the per-batch callbacks, and checks `stop_training`.

Exact stops. The compiled loop leaves at the first batch whose loss is not finite and undoes
that step (`steps.guarded_train_step`), so training ends there with the weights from before it,
whatever the chunk size. Callbacks that override batch hooks get one call per batch, so a
`stop_training` set in a batch hook takes effect at that batch, as in Keras.

Chunk size. With `steps_per_execution="auto"` (the default) the trainer times the first chunks
and then runs as many steps per call as fit in about `ChunkSizer.target_seconds` (0.2 s): the
per-call dispatch cost vanishes and the progress bar still moves several times a second. An
integer `steps_per_execution` fixes the chunk size instead. Both use one compilation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jnet.engine import distribute
from jnet.engine import steps as S
from jnet.engine.compiled import CompiledFns, epoch_index, epoch_order
from jnet.engine.custom_step import CustomFns, custom_steps
from jnet.engine.train_state import (TrainState, copy_tree, distinct_buffers, key_data, strong_types,
                                     with_learning_rate)
from jnet.layers.rnn_state import stateful_layers


class ChunkSizer:
    """How many steps the next compiled call runs.

    `start_single()` makes "auto" run loop-free single steps for good: the trainer calls it
    for steps that XLA:CPU runs several times slower inside the loop (convolutions, see
    `_loop_slows_down`). That is decided from the model, not from timings: an earlier rule
    ("a step measured over 20 ms runs single") fired on load spikes of this shared machine and
    left the triage model in slow single steps with a second compilation.
    """

    target_seconds = 0.2
    max_growth = 8

    def __init__(self, steps_per_execution="auto"):
        if steps_per_execution in ("auto", None):
            self.fixed = None
        else:
            if not isinstance(steps_per_execution, int) or isinstance(steps_per_execution, bool) or steps_per_execution < 1:
                raise ValueError(f"steps_per_execution must be 'auto' or an int >= 1, got {steps_per_execution!r}")
            self.fixed = steps_per_execution
        self.per_step = None
        self.last = 1
        self.calls = 0
        self.single = False

    def next(self, remaining: int) -> int:
        if self.single:
            n = 1
        elif self.fixed is not None:
            n = self.fixed
        elif self.per_step is None:
            n = 1
        else:
            n = max(1, min(int(self.target_seconds / self.per_step), self.last * self.max_growth))
        n = max(1, min(n, remaining))
        self.last = n
        return n

    def start_single(self):
        """Run loop-free single steps from the first call ("auto" only): for steps known to
        run slower inside the loop, so the chunked loop is never compiled."""
        if self.fixed is None:
            self.single = True

    def observe(self, n: int, seconds: float):
        self.calls += 1
        if self.calls == 1 or self.fixed is not None:
            return  # the first call compiles
        per = seconds / n
        self.per_step = per if self.per_step is None else 0.5 * self.per_step + 0.5 * per


@contextlib.contextmanager
def deferred_interrupt():
    """Hold Ctrl-C while a donated state is swapped for its successor, so an interrupt can never
    land between the call (which consumed the old buffers) and keeping the new ones."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    try:
        old = signal.signal(signal.SIGINT, lambda *a: received.append(a))
    except ValueError:  # signals unavailable here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if received:
            raise KeyboardInterrupt


def to_python(logs: dict, order=None) -> dict:
    """Device logs -> Python floats (arrays for per-class results), in Keras's order."""
    out = {}
    logs = jax.device_get(logs)
    for k in (order or logs):
        v = logs[k]
        v = np.asarray(v)
        out[k] = float(v) if v.ndim == 0 else v
    return out


class DeviceSource:
    """A data set placed on the device once; batches are gathered inside the compiled loop."""

    def __init__(self, data, n_outputs, batch_size, dist, with_targets=True):
        y = (data.y if data.y is not None else [None] * n_outputs) if with_targets else []
        sw = (data.sw if data.sw is not None else [None] * n_outputs) if with_targets else []
        self.arrays = dist.place_batch((data.x, y, sw, None))
        self.n, self.batch_size = data.n, batch_size
        self.steps = math.ceil(data.n / batch_size)
        self._plain = None

    def index(self, rng=None, epoch=0, epoch_start_step=0, shuffle=False):
        padded = self.steps * self.batch_size
        if not shuffle:
            if self._plain is None:
                zeros = jnp.zeros((2,), jnp.uint32)
                self._plain = epoch_index(zeros, 0, 0, n=self.n, padded=padded, shuffle=False)
            return self._plain
        return epoch_index(rng, epoch, epoch_start_step, n=self.n, padded=padded, shuffle=True)


class Trainer:
    """Training machinery bound to one compiled model."""

    def __init__(self, model, plan_factory, optimizer, steps_per_execution="auto"):
        self.model = model
        self._plan_factory = plan_factory      # trainable mask -> StepPlan
        self.optimizer = optimizer
        self.steps_per_execution = steps_per_execution
        self.plan = None
        self.custom = None     # CustomSteps when the model writes its own train/test/predict step
        self._mask_key = None
        self._fns = {}
        self.ts = None
        self.live = False
        # A stateful model's layer state after the last `evaluate` / `predict` (None otherwise).
        self.carried_state = None
        # The compiled metrics' states after the last training epoch or evaluation (Keras's
        # metric objects hold them: `compile` users read them from their own objects).
        self.last_metric_states = None
        self._stateful = []          # the model's stateful layers, with the resets already seen
        self._resets_seen = {}
        self.train_sizer = ChunkSizer(steps_per_execution)
        self.eval_sizer = ChunkSizer(steps_per_execution)
        self._lr_written = None
        self.last_run = None
        optimizer._state_reader = lambda: None if self.ts is None else self.ts.opt_state
        optimizer._step_reader = lambda: 0 if self.ts is None else self.ts.step

    # ------------------------------------------------------------------ state

    def _ensure_plan(self, params):
        mask = self.model.trainable_mask(params)
        key = tuple(jax.tree_util.tree_leaves(mask)), jax.tree_util.tree_structure(mask)
        if self.plan is None or key != self._mask_key:
            self.plan = self._plan_factory(mask)
            self.custom = custom_steps(self.model)
            self._mask_key = key
            self._fns = {}
        return self.plan

    def log_names(self, test=False) -> list:
        """Log keys in Keras's order: loss, per-output losses, then metrics (a custom step's
        logs keep the order it wrote them in)."""
        plan = self.plan
        custom = self.custom
        if custom is not None and (custom.test if test else custom.train):
            return custom.log_order["test" if test else "train"]
        return S.loss_log_names(plan) + [log for o in plan.outputs for log, _, _ in o.metrics]

    def fns(self, batch_size) -> CompiledFns:
        dist = distribute.current()   # part of the key: set_distribution between fits recompiles
        if (batch_size, dist) not in self._fns:
            fns = CompiledFns(self.plan, batch_size, dist)
            self._fns[(batch_size, dist)] = fns if self.custom is None else CustomFns(self.custom, fns, batch_size, dist)
        return self._fns[(batch_size, dist)]

    def init_state(self):
        """The train state for the model's current variables (new optimizer state if none)."""
        from jnet.utils import rng as jrng

        variables = self.model.current_variables()
        plan = self._ensure_plan(variables["params"])
        dist = distribute.current()
        params, state = copy_tree((variables["params"], variables["state"]))
        if self.ts is None:
            if self.custom is not None and self.custom.train:
                opt_state = self.custom.init_opt_state(self.plan.tx, params, state)
            else:
                opt_state = _init_opt_state(self.plan.tx, params)
            opt_state = distinct_buffers(strong_types(opt_state))
            ts = TrainState(params, state, opt_state, self._fresh_metrics(plan), key_data(jrng.next_key()),
                            jnp.zeros([], jnp.int32))
            self._lr_written = None
        else:
            ts = self.ts._replace(params=params, state=state, metrics=self._fresh_metrics(plan))
        self.ts = dist.place_variables(ts)
        self._stateful = stateful_layers(self.model)
        self._resets_seen = {id(layer): layer.state_resets for layer in self._stateful}
        return self.ts

    def pick_up_resets(self):
        """Copy into the live train state the carried states of stateful layers reset since the
        last look (`reset_state()` from a callback during `fit`: the layers' variables are not
        the live arrays then)."""
        reset = [layer for layer in self._stateful if layer.state_resets != self._resets_seen.get(id(layer))]
        if not reset or self.ts is None:
            return
        ids = {id(v) for layer in reset for v in layer.states}
        for layer in reset:
            self._resets_seen[id(layer)] = layer.state_resets
        tree = self.model._variable_tree()["state"]
        state = jax.tree_util.tree_map(lambda v, a: jnp.asarray(v.value, a.dtype) if id(v) in ids else a,
                                       tree, self.ts.state)
        self.ts = distribute.current().place_variables(self.ts._replace(state=state))

    def _fresh_metrics(self, plan, test=False):
        # Donated every call: no leaf may share a buffer with another.
        custom = self.custom
        if custom is not None and (custom.test if test else custom.train):
            return distinct_buffers(custom.fresh_metrics())
        return distinct_buffers(S.init_metrics(plan))

    def _store_metrics(self, metrics, test=False):
        self.last_metric_states = metrics
        custom = self.custom
        if custom is not None and (custom.test if test else custom.train):
            custom.store_metrics(copy_tree(metrics))

    def reset_metrics(self):
        # Placed like the rest of the state: a new sharding would recompile the step.
        self.ts = distribute.current().place_variables(self.ts._replace(metrics=self._fresh_metrics(self.plan)))

    def _write_learning_rate(self):
        opt = self.optimizer
        if opt.injected_learning_rate is not None and self._lr_written != opt._lr_version:
            opt_state = with_learning_rate(self.ts.opt_state, opt.injected_learning_rate)
            self.ts = distribute.current().place_variables(self.ts._replace(opt_state=opt_state))
            self._lr_written = opt._lr_version

    def _choose_single_steps(self, sizer, sizers, lower_step):
        """Before `sizer`'s first call: switch `sizers` to loop-free single steps if the model's
        step runs slower inside the loop (`_loop_slows_down`)."""
        if sizer.calls == 0 and not sizer.single and _loop_slows_down(self.model, lower_step):
            for s in sizers:
                s.start_single()

    # ------------------------------------------------------------------ training

    def _run_train(self, fns, arrays, index, n_rows, start, n, single=False):
        """Run up to `n` steps; returns the logs. `self.last_run` is then `(steps run, finite)`
        as device scalars: `finite` False means the last step run had a non-finite loss and
        was undone (the compiled loop stops there)."""
        self._write_learning_rate()
        self.pick_up_resets()
        with deferred_interrupt():
            if single:
                ts, logs, steps_run, finite = fns.train_one(self.ts, arrays, index, n_rows, start)
            else:
                ts, logs, steps_run, finite = fns.train(self.ts, arrays, index, n_rows, start, n)
            self.ts = ts
        self.last_run = (steps_run, finite)
        return logs

    def _train_call(self, fns, arrays, index, n_rows, start, n, epoch, batch, single=False):
        """`_run_train` with the logs as Python floats; returns `(logs, steps run)` and, on a
        non-finite loss, stops training at that batch with a warning."""
        logs = self._run_train(fns, arrays, index, n_rows, start, n, single)
        (steps_run, finite), logs = jax.device_get((self.last_run, logs))
        logs = to_python(logs, self.log_names())
        if not finite:
            warnings.warn(f"fit: the loss became {logs.get('loss')} at epoch {epoch + 1}, batch {batch + int(steps_run) - 1}; "
                          "training stopped there, and the weights are those before that "
                          "batch", RuntimeWarning, stacklevel=4)
            self.model.stop_training = True
        return logs, int(steps_run)

    def train_epoch(self, source, epoch, callbacks, shuffle, steps_per_epoch=None, start_batch=0):
        """One epoch; returns the epoch's logs (None if the data ran out before any step).

        Callbacks that ask for train batches (`callbacks.wants_batches("train")`) get one call per
        batch: with `steps_per_execution="auto"` each compiled call then runs one step."""
        self.reset_metrics()
        logs = None
        model = self.model
        per_batch = self.train_sizer.fixed is None and callbacks.wants_batches("train")
        if isinstance(source, DeviceSource):
            steps = source.steps if steps_per_epoch is None else min(steps_per_epoch, source.steps)
            epoch_start_step = int(self.ts.step) - start_batch
            index = source.index(self.ts.rng, epoch, epoch_start_step, shuffle)
            fns = self.fns(source.batch_size)
            self._choose_single_steps(self.train_sizer, (self.train_sizer, self.eval_sizer),
                                      lambda: fns.train_one.lower(self.ts, source.arrays, index, source.n, start_batch))
            b = start_batch
            while b < steps:
                n = 1 if per_batch else self.train_sizer.next(steps - b)
                callbacks.on_train_batch_begin(b)
                t0 = time.perf_counter()
                logs, ran = self._train_call(fns, source.arrays, index, source.n, b, n, epoch, b,
                                             single=self.train_sizer.single)
                self.train_sizer.observe(ran, time.perf_counter() - t0)
                b += ran
                callbacks.on_train_batch_end(b - 1, logs)
                if model.stop_training:
                    break
            self._store_metrics(self.ts.metrics)
            return logs
        b = start_batch
        limit = None if steps_per_epoch is None else steps_per_epoch - start_batch
        order = None
        if shuffle and source.n_rows is not None:  # host arrays: shuffled as on the device
            order = epoch_order(self.ts.rng, epoch, int(self.ts.step) - start_batch, source.n_rows, True)
        for arrays, n, batch_size in source.chunks(limit=limit, skip=start_batch, order=order):
            fns = self.fns(batch_size)
            index = _arange(source.capacity * batch_size)
            stopped = False
            for first, count in _calls(n, per_batch):
                callbacks.on_train_batch_begin(b)
                logs, ran = self._train_call(fns, arrays, index, source.capacity * batch_size, first, count,
                                             epoch, b)
                b += ran
                callbacks.on_train_batch_end(b - 1, logs)
                if model.stop_training:
                    stopped = True
                    break
            if stopped:
                break
        self._store_metrics(self.ts.metrics)
        return logs

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, source, variables, callbacks=None, steps=None):
        """The metric results over `source` (None if it yields no batch); test batch hooks as
        `train_epoch`'s train batch hooks."""
        plan = self._ensure_plan(variables["params"])
        metrics = self._fresh_metrics(plan, test=True)
        params, state = variables["params"], variables["state"]
        callbacks = callbacks if callbacks is not None else _NO_CALLBACKS
        per_batch = self.eval_sizer.fixed is None and callbacks.wants_batches("test")
        logs = None
        b = 0
        if isinstance(source, DeviceSource):
            total = source.steps if steps is None else min(steps, source.steps)
            index = source.index()
            fns = self.fns(source.batch_size)
            self._choose_single_steps(self.eval_sizer, (self.eval_sizer,),
                                      lambda: fns.eval_one.lower(metrics, params, state, source.arrays, index, source.n, 0))
            while b < total:
                n = 1 if per_batch else self.eval_sizer.next(total - b)
                callbacks.on_test_batch_begin(b)
                t0 = time.perf_counter()
                if self.eval_sizer.single:
                    out = fns.eval_one(metrics, params, state, source.arrays, index, source.n, b)
                else:
                    out = fns.eval(metrics, params, state, source.arrays, index, source.n, b, n)
                metrics, logs, state = _eval_out(out, state)
                logs = to_python(logs, self.log_names(test=True))
                self.eval_sizer.observe(n, time.perf_counter() - t0)
                b += n
                callbacks.on_test_batch_end(b - 1, logs)
            self._store_metrics(metrics, test=True)
            self.carried_state = None if state is variables["state"] else state
            return logs
        for arrays, n, batch_size in source.chunks(limit=steps):
            fns = self.fns(batch_size)
            index = _arange(source.capacity * batch_size)
            for first, count in _calls(n, per_batch):
                callbacks.on_test_batch_begin(b)
                out = fns.eval(metrics, params, state, arrays, index, source.capacity * batch_size, first, count)
                metrics, logs, state = _eval_out(out, state)
                logs = to_python(logs, self.log_names(test=True))
                b += count
                callbacks.on_test_batch_end(b - 1, logs)
        self._store_metrics(metrics, test=True)
        self.carried_state = None if state is variables["state"] else state
        return logs

    # ------------------------------------------------------------------ prediction

    def predict(self, source, variables, callbacks=None, steps=None, structure=list):
        """Flat list of numpy outputs (one per model output), padding removed. Predict batch
        hooks get `{"outputs": structure(batch outputs)}` (the model's output structure, as
        Keras), one call per batch when a callback asks for predict batches."""
        self._ensure_plan(variables["params"])
        params, state = variables["params"], variables["state"]
        callbacks = callbacks if callbacks is not None else _NO_CALLBACKS
        per_batch = self.eval_sizer.fixed is None and callbacks.wants_batches("predict")
        pieces = []
        b = 0
        if isinstance(source, DeviceSource):
            total = source.steps if steps is None else min(steps, source.steps)
            capacity = 1 if per_batch else min(total, self.eval_sizer.fixed or 64)
            index = source.index()
            fn = self.fns(source.batch_size).predict(capacity)
            while b < total:
                n = min(capacity, total - b)
                callbacks.on_predict_batch_begin(b)
                bufs, state = _predict_out(fn(params, state, source.arrays, index, source.n, b, n), state)
                rows = min(n * source.batch_size, source.n - b * source.batch_size)
                pieces.append([np.asarray(x[:rows]) for x in jax.device_get(bufs)])
                b += n
                callbacks.on_predict_batch_end(b - 1, {"outputs": structure(pieces[-1])})
        else:
            for arrays, n, batch_size in source.chunks(limit=steps):
                fn = self.fns(batch_size).predict(source.capacity)
                index = _arange(source.capacity * batch_size)
                valid = np.asarray(arrays[3])
                for first, count in _calls(n, per_batch):
                    callbacks.on_predict_batch_begin(b)
                    bufs, state = _predict_out(fn(params, state, arrays, index, source.capacity * batch_size, first,
                                                 count), state)
                    bufs = jax.device_get(bufs)
                    rows = slice(0, count * batch_size)
                    keep = valid[first * batch_size:(first + count) * batch_size]
                    pieces.append([np.asarray(x[rows])[keep] for x in bufs])
                    b += count
                    callbacks.on_predict_batch_end(b - 1, {"outputs": structure(pieces[-1])})
        if not pieces:
            raise ValueError("predict: the data produced no batches")
        self.carried_state = None if state is variables["state"] else state
        return [np.concatenate(parts, axis=0) for parts in zip(*pieces)]


def _eval_out(out, state):
    """`(metrics, logs, state)` from a compiled eval call: a stateful model's return the state
    they carried as a third element (`compiled.py`), others keep `state`."""
    return out if len(out) == 3 else (*out, state)


def _predict_out(out, state):
    """`(buffers, state)` from a compiled predict call: a stateful model's return that tuple,
    others the list of buffers."""
    return out if isinstance(out, tuple) else (out, state)


def _calls(n, per_batch):
    """The compiled calls for a chunk of `n` batches: `(first batch, count)` pairs, one call
    for the whole chunk or one per batch when callbacks ask for batches."""
    return [(i, 1) for i in range(n)] if per_batch else [(0, n)]


class _NoCallbacks:
    """Stands in for a `CallbackList` when the caller passes none (e.g. `fit`'s validation)."""

    def wants_batches(self, phase):
        return False

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


_NO_CALLBACKS = _NoCallbacks()


def _loop_slows_down(model, lower_step) -> bool:
    """Whether the model's step is one that XLA:CPU runs several times slower inside the
    chunk's while loop than alone: one with convolutions (a small CNN's fit ran 1.7 steps/s in
    the loop, 9.7 loop-free). Such steps run one per call from the start, so the chunked loop
    is never compiled (it cost the CNN's first epoch an extra 2-3 s of compilation).

    Found from the layers when they are all jnet's own (free); a model with layers that can
    hide a convolution (FlaxLayer, Lambda, user-defined layers) is checked on its lowered step
    (`lower_step()`, tracing only, once)."""
    if jax.default_backend() != "cpu":
        return False
    from jnet.layers.convolution import _SpatialConv
    from jnet.layers.core import Lambda
    from jnet.layers.flax_layer import FlaxLayer

    seen, todo, opaque = set(), [model], False
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, _SpatialConv):
            return True
        module = type(obj).__module__
        opaque = opaque or isinstance(obj, (FlaxLayer, Lambda)) or not module.startswith("jnet.")
        children = list(getattr(obj, "layers", None) or [])
        if dataclasses.is_dataclass(obj):
            children += [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
        children += [getattr(obj, a, None) for a in ("_forward", "_backward")]  # Bidirectional's copies
        for c in children:
            todo.extend(c if isinstance(c, (list, tuple)) else [c])
        todo = [c for c in todo if hasattr(c, "apply")]
    return opaque and "convolution" in lower_step().as_text()


def _init_opt_state(tx, params):
    """`tx.init(params)` as one compiled call: run eagerly, every zeros-like leaf of a new shape
    compiled its own tiny program (0.3 s of the triage model's first epoch). Transformations
    whose state is not all arrays are initialised eagerly."""
    try:
        return jax.jit(tx.init)(params)
    except TypeError:  # a state leaf that is not an array (e.g. a Python object)
        return tx.init(params)


_ARANGE = {}


def _arange(n):
    if n not in _ARANGE:
        _ARANGE[n] = jnp.arange(n, dtype=jnp.int32)
    return _ARANGE[n]
