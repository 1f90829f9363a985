"""The host side of training: epochs, chunks, callbacks, validation and prediction.

The `Trainer` (one per `compile`) holds the state owner (`train_state.StateOwner`) and the
cached compiled functions. Train, evaluate and predict are each written once, over the
data-source protocol of `engine.sources` (device-resident arrays, host streams, generators).
It never syncs with the device inside a chunk: after each compiled chunk it reads the running
metrics once (a few scalars), calls the per-batch callbacks, and checks `stop_training`.

Exact stops. The compiled loop leaves at the first batch whose loss is not finite and undoes
that step (`steps.guarded_train_step`), so training ends there with the weights from before it,
whatever the chunk size. Callbacks that override batch hooks get one call per batch, so a
`stop_training` set in a batch hook takes effect at that batch, as in Keras.

Chunk size: `engine.chunking` (how many steps per compiled call, and which steps run loop-free).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jnet.engine import distribute
from jnet.engine import steps as S
from jnet.engine.chunking import ChunkSizer, loop_slows_down
from jnet.engine.compiled import CompiledFns
from jnet.engine.custom_step import CustomFns, custom_steps
from jnet.engine.train_state import (
    StateOwner,
    TrainState,
    copy_tree,
    distinct_buffers,
    key_data,
    next_inference_call,
    strong_types,
    with_learning_rate,
)
from jnet.layers.rnn_state import stateful_layers


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
    for k in order or logs:
        v = logs[k]
        v = np.asarray(v)
        out[k] = float(v) if v.ndim == 0 else v
    return out


class Trainer:
    """Training machinery bound to one compiled model."""

    def __init__(self, model, plan_factory, optimizer, steps_per_execution="auto"):
        self.model = model
        self.plan_factory = plan_factory  # trainable mask -> StepPlan
        self.optimizer = optimizer
        self.steps_per_execution = steps_per_execution
        self.plan = None
        self.custom = None  # CustomSteps when the model writes its own train/test/predict step
        self._mask_key = None
        self._fns = {}
        # The one owner of the training state: the compiled calls swap `state.ts`; the model,
        # the optimizer and callbacks reach it through its methods.
        self.state = StateOwner()
        # A stateful model's layer state after the last `evaluate` / `predict` (None otherwise).
        self.carried_state = None
        # The compiled metrics' states after the last training epoch or evaluation (Keras's
        # metric objects hold them: `compile` users read them from their own objects).
        self.last_metric_states = None
        self.stateful = []  # the model's stateful layers, with the resets already seen
        self._resets_seen = {}
        self.train_sizer = ChunkSizer(steps_per_execution)
        self.eval_sizer = ChunkSizer(steps_per_execution)
        self._lr_written = None
        self.last_run = None
        self.warned_ran_out = False  # this fit already said its data ran out (one warning is enough)
        optimizer.attach_state(self.state, model)

    @property
    def ts(self) -> TrainState:
        """The current `TrainState` (held by `self.state`)."""
        return self.state.ts

    @ts.setter
    def ts(self, value):
        self.state.ts = value

    # ------------------------------------------------------------------ state

    def _ensure_plan(self, params):
        mask = self.model.trainable_mask(params)
        key = tuple(jax.tree_util.tree_leaves(mask)), jax.tree_util.tree_structure(mask)
        if self.plan is None or key != self._mask_key:
            self.plan = self.plan_factory(mask)
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
        dist = distribute.current()  # part of the key: set_distribution between fits recompiles
        if (batch_size, dist) not in self._fns:
            fns = CompiledFns(self.plan, batch_size, dist)
            self._fns[(batch_size, dist)] = (
                fns if self.custom is None else CustomFns(self.custom, fns, batch_size, dist)
            )
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
            ts = TrainState(
                params, state, opt_state, self._fresh_metrics(plan), key_data(jrng.next_key()), jnp.zeros([], jnp.int32)
            )
            self._lr_written = None
        else:
            ts = self.ts._replace(params=params, state=state, metrics=self._fresh_metrics(plan))
        self.ts = dist.place_variables(ts)
        self.stateful = stateful_layers(self.model)
        self._resets_seen = {id(layer): layer.state_resets for layer in self.stateful}
        self.warned_ran_out = False
        return self.ts

    def pick_up_resets(self):
        """Copy into the live train state the carried states of stateful layers reset since the
        last look (`reset_state()` from a callback during `fit`: the layers' variables are not
        the live arrays then)."""
        reset = [layer for layer in self.stateful if layer.state_resets != self._resets_seen.get(id(layer))]
        if not reset or self.ts is None:
            return
        ids = {id(v) for layer in reset for v in layer.states}
        for layer in reset:
            self._resets_seen[id(layer)] = layer.state_resets
        tree = self.model.variable_tree()["state"]
        state = jax.tree_util.tree_map(
            lambda v, a: jnp.asarray(v.value, a.dtype) if id(v) in ids else a, tree, self.ts.state
        )
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
        if opt.injected_learning_rate is not None and self._lr_written != opt.learning_rate_version:
            opt_state = with_learning_rate(self.ts.opt_state, opt.injected_learning_rate)
            self.ts = distribute.current().place_variables(self.ts._replace(opt_state=opt_state))
            self.learning_rate_written()

    def learning_rate_written(self):
        """Note that the state holds the optimizer's current learning rate (e.g. one a restored
        state brought), so it is not written again until it changes."""
        self._lr_written = self.optimizer.learning_rate_version

    def _choose_single_steps(self, sizer, sizers, trace_step):
        """Before `sizer`'s first call: switch `sizers` to loop-free single steps if the step
        runs slower inside the loop (`chunking.loop_slows_down`). `trace_step()` traces the
        chunked step (the trace is cached: the call that follows does not trace again). Made
        once per sizer, for device-resident and streamed chunks alike."""
        if sizer.decided or sizer.calls > 0:
            return
        sizer.decided = True
        if (
            not sizer.single
            and sizer.fixed is None
            and jax.default_backend() == "cpu"
            and loop_slows_down(trace_step())
        ):
            for s in sizers:
                s.start_single()

    # ------------------------------------------------------------------ training

    def run_train(self, fns, arrays, index, n_rows, start, n, single=False):
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
        """`run_train` with the logs as Python floats; returns `(logs, steps run)` and, on a
        non-finite loss, stops training at that batch with a warning."""
        logs = self.run_train(fns, arrays, index, n_rows, start, n, single)
        (steps_run, finite), logs = jax.device_get((self.last_run, logs))
        logs = to_python(logs, self.log_names())
        if not finite:
            warnings.warn(
                f"fit: the loss became {logs.get('loss')} at epoch {epoch + 1}, batch {batch + int(steps_run) - 1}; "
                "training stopped there, and the weights are those before that "
                "batch",
                RuntimeWarning,
                stacklevel=4,
            )
            self.model.stop_training = True
        return logs, int(steps_run)

    def train_epoch(self, source, epoch, callbacks, shuffle, steps_per_epoch=None, start_batch=0):
        """One epoch; returns the epoch's logs (None if the data ran out before any step). An
        epoch that ends before `steps_per_epoch` steps warns as Keras ("Your input ran out of data").

        Callbacks that ask for train batches (`callbacks.wants_batches("train")`) get one call per
        batch: with `steps_per_execution="auto"` each compiled call then runs one step."""
        self.reset_metrics()
        logs = None
        per_batch = self.train_sizer.fixed is None and callbacks.wants_batches("train")
        sizer = self.train_sizer
        b = start_batch  # the batch number callbacks see
        for chunk in source.chunks(
            self.ts.rng, epoch, int(self.ts.step), start_batch, steps_per_epoch, shuffle, resume=True
        ):
            fns = self.fns(chunk.batch_size)
            self._choose_single_steps(
                sizer,
                (sizer, self.eval_sizer),
                partial(fns.train_jaxpr, self.ts, chunk.arrays, chunk.index, chunk.n_rows, chunk.start, 1),
            )
            i = chunk.start
            while i < chunk.stop:
                n = _call_size(chunk, i, sizer, per_batch)
                callbacks.on_train_batch_begin(b)
                t0 = time.perf_counter()
                logs, ran = self._train_call(
                    fns, chunk.arrays, chunk.index, chunk.n_rows, i, n, epoch, b, single=sizer.single
                )
                if chunk.sized:
                    sizer.observe(ran, time.perf_counter() - t0)
                i, b = i + ran, b + ran
                callbacks.on_train_batch_end(b - 1, logs)
                if self.model.stop_training:
                    break
            if self.model.stop_training:
                break
        if steps_per_epoch is not None and logs is not None and b < steps_per_epoch and not self.model.stop_training:
            # Keras's warning, word for word: the epoch ended before `steps_per_epoch` steps.
            warnings.warn(
                "Your input ran out of data; interrupting training. Make sure that your dataset or "
                "generator can generate at least `steps_per_epoch * epochs` batches. You may need to "
                "use the `.repeat()` function when building your dataset.",
                UserWarning,
                stacklevel=3,
            )
            self.warned_ran_out = True
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
        sizer = self.eval_sizer
        logs = None
        b = 0
        call = next_inference_call(self.model)  # fresh keys for layers that draw in inference
        for chunk in source.chunks(limit=steps):
            fns = self.fns(chunk.batch_size)
            self._choose_single_steps(
                sizer,
                (sizer,),
                partial(
                    fns.eval_jaxpr,
                    metrics,
                    params,
                    state,
                    chunk.arrays,
                    chunk.index,
                    chunk.n_rows,
                    chunk.start,
                    1,
                    (call, b - chunk.start),
                ),
            )
            i = chunk.start
            while i < chunk.stop:
                n = _call_size(chunk, i, sizer, per_batch)
                callbacks.on_test_batch_begin(b)
                t0 = time.perf_counter()
                if sizer.single:
                    out = fns.eval_one(
                        metrics, params, state, chunk.arrays, chunk.index, chunk.n_rows, i, (call, b - i)
                    )
                else:
                    out = fns.eval(metrics, params, state, chunk.arrays, chunk.index, chunk.n_rows, i, n, (call, b - i))
                metrics, logs, state = _eval_out(out, state)
                logs = to_python(logs, self.log_names(test=True))
                if chunk.sized:
                    sizer.observe(n, time.perf_counter() - t0)
                i, b = i + n, b + n
                callbacks.on_test_batch_end(b - 1, logs)
        self._store_metrics(metrics, test=True)
        self.carried_state = None if state is variables["state"] else state
        return logs

    def validate(self, source, callbacks, steps=None):
        """`fit`'s validation pass at the end of an epoch, as Keras runs it: the test hooks fire
        on fit's callbacks, and the results come back prefixed with `val_`."""
        callbacks.on_test_begin()
        self.pick_up_resets()
        variables = {"params": self.ts.params, "state": self.ts.state}
        logs = self.evaluate(source, variables, callbacks, steps=steps) or {}
        if self.carried_state is not None:  # a stateful model: validation continues its states
            self.ts = self.ts._replace(state=self.carried_state)
            self.carried_state = None
        callbacks.on_test_end(logs)
        return {f"val_{k}": v for k, v in logs.items()}

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
        call = next_inference_call(self.model)  # fresh keys for layers that draw in inference
        for chunk in source.chunks(limit=steps):
            if chunk.sized:  # output buffers of `capacity` batches per call
                capacity = 1 if per_batch else min(chunk.stop - chunk.start, self.eval_sizer.fixed or 64)
            else:
                capacity = chunk.n_rows // chunk.batch_size
            fn = self.fns(chunk.batch_size).predict(capacity)
            i = chunk.start
            while i < chunk.stop:
                n = 1 if per_batch else min(capacity, chunk.stop - i)
                callbacks.on_predict_batch_begin(b)
                bufs, state = _predict_out(
                    fn(params, state, chunk.arrays, chunk.index, chunk.n_rows, i, n, (call, b - i)), state
                )
                pieces.append(chunk.kept_rows(i, n, jax.device_get(bufs)))
                i, b = i + n, b + n
                callbacks.on_predict_batch_end(b - 1, {"outputs": structure(pieces[-1])})
        if not pieces:
            raise ValueError("predict: the data produced no batches")
        self.carried_state = None if state is variables["state"] else state
        return [np.concatenate(parts, axis=0) for parts in zip(*pieces)]


def _call_size(chunk, position, sizer, per_batch):
    """Steps in the next compiled call at batch `position` of `chunk`: one per call when
    callbacks ask for batches or the step runs loop-free (streamed chunks too), the sizer's
    choice for device-resident data, else the rest of the streamed chunk."""
    if per_batch or sizer.single:
        return 1
    return sizer.next(chunk.stop - position) if chunk.sized else chunk.stop - position


def _eval_out(out, state):
    """`(metrics, logs, state)` from a compiled eval call: a stateful model's return the state
    they carried as a third element (`compiled.py`), others keep `state`."""
    return out if len(out) == 3 else (*out, state)


def _predict_out(out, state):
    """`(buffers, state)` from a compiled predict call: a stateful model's return that tuple,
    others the list of buffers."""
    return out if isinstance(out, tuple) else (out, state)


class _NoCallbacks:
    """Stands in for a `CallbackList` when the caller passes none (e.g. `fit`'s validation)."""

    def wants_batches(self, phase):
        return False

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


_NO_CALLBACKS = _NoCallbacks()


def _init_opt_state(tx, params):
    """`tx.init(params)` as one compiled call: run eagerly, every zeros-like leaf of a new shape
    compiled its own tiny program (0.3 s of the triage model's first epoch). Transformations
    whose state is not all arrays are initialised eagerly."""
    try:
        return jax.jit(tx.init)(params)
    except TypeError:  # a state leaf that is not an array (e.g. a Python object)
        return tx.init(params)
