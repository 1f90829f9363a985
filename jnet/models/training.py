"""`TrainingMixin`: Keras's `compile` / `fit` / `evaluate` / `predict` on jnet's compiled engine.

The mixin turns user arguments into checked arrays and a `StepPlan` (losses, weights and
metrics per output), and hands the loops to `jnet.engine.loop.Trainer`. Everything the user
can get wrong (names, shapes, sample counts) is checked here, before anything is compiled.
"""

from __future__ import annotations

import copy
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jnet.engine import arguments as A
from jnet.engine import data as D
from jnet.engine.compile_args import (
    check_metric_name,
    compile_args_from_config,
    is_metric_leaf,
    per_output,
    serialize_tree,
)
from jnet.engine.custom_step import custom_steps
from jnet.engine.loop import Trainer
from jnet.engine.steps import OutputPlan, StepPlan, loss_log_names
from jnet.models.train_state_api import TrainStateMixin
from jnet.models.training_checks import has_own_losses, warn_padded_add_loss
from jnet.models.training_data import DataMixin


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return verbose


class TrainingMixin(TrainStateMixin, DataMixin):
    """compile / fit / evaluate / predict, and the train-state API used by checkpointing."""

    compiled = False
    optimizer = None
    stop_training = False
    history = None
    _trainer = None
    _compile_args = None

    # ------------------------------------------------------------------ compile

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution="auto",
        jit_compile=True,
        gradient_accumulation_steps=None,
    ):
        """Configure training (Keras's `compile`).

        Args:
            optimizer: a name (`"adam"`), a `jnet.optimizers` instance or an optax transformation.
            loss: a loss (name, `jnet.losses.Loss`, function) for every output, a list per
                output, or a dict keyed by output name (outputs without a loss are allowed).
                With outputs given as a dict, a list goes to them in the order they were
                written; Keras 3 pairs it with the sorted keys instead (a trap: the functional-API
                guide's own example then puts its losses on the wrong heads).
            loss_weights: a list or dict of floats weighting each output's loss in the total.
            metrics, weighted_metrics: like `loss`; each entry may be a list of metrics.
                `"accuracy"` resolves from the target/output shapes and the loss, as Keras.
            run_eagerly: run the steps without `jax.jit` (for debugging; slow).
            steps_per_execution: steps per compiled call. jnet's default `"auto"` differs from
                Keras's 1: it sizes each call to ~0.2 s of work, so dispatch overhead vanishes
                and the progress bar still moves. Results do not depend on it.
            jit_compile: accepted for Keras compatibility; jnet always compiles (see run_eagerly).
            gradient_accumulation_steps: average gradients over this many batches per update.
        """
        from jnet import losses as L
        from jnet import optimizers as O

        opt = O.get(optimizer)
        if gradient_accumulation_steps is not None and (
            not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 1
        ):
            raise ValueError(
                f"compile: gradient_accumulation_steps must be an int >= 1, got {gradient_accumulation_steps!r}"
            )
        for w in jax.tree_util.tree_leaves(loss_weights):
            if not isinstance(w, (int, float)) or isinstance(w, bool):
                raise ValueError(
                    f"compile: loss_weights must be numbers (a list or dict per output), got "
                    f"{loss_weights!r}. (The third positional argument is loss_weights, as in "
                    "Keras 3; pass metrics=... by keyword.)"
                )
        # Validate names now (before any data): unknown losses/metrics fail here.
        for entry in jax.tree_util.tree_leaves(loss, is_leaf=lambda v: v is None or is_metric_leaf(v)):
            if entry is not None and not (isinstance(entry, str) and entry.lower() in ("crossentropy", "ce")):
                L.get(entry)
        for group in (metrics, weighted_metrics):
            for entry in jax.tree_util.tree_leaves(group, is_leaf=lambda v: v is None or is_metric_leaf(v)):
                if isinstance(entry, str):
                    check_metric_name(entry)
        if self.built:
            names = self.output_names
            per_output(loss, names, "loss", is_leaf=is_metric_leaf)
            per_output(loss_weights, names, "loss_weights", is_leaf=lambda v: True)
            per_output(metrics, names, "metrics", is_leaf=is_metric_leaf)
            per_output(weighted_metrics, names, "weighted_metrics", is_leaf=is_metric_leaf)
        from jnet.engine.loop import ChunkSizer

        ChunkSizer(steps_per_execution)  # validates
        self._compile_args = dict(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=metrics,
            weighted_metrics=weighted_metrics,
            run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            gradient_accumulation_steps=gradient_accumulation_steps,
        )
        self.optimizer = opt
        self._trainer = None
        self.train_function = self.test_function = self.predict_function = None  # Keras: new compile, new steps
        self._y_shapes = None
        self.compiled = True
        self.stop_training = False

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"{self._label}: call compile(...) before {what}()")

    def _trains_without_y(self, test=False):
        """Keras runs fit/evaluate with y=None when nothing compiled needs targets: a custom
        train_step (test_step), or no compiled loss or metrics, the loss coming from add_loss or
        regularizers (the "endpoint layer" pattern)."""
        steps = custom_steps(self)
        if steps is not None and (steps.test if test else steps.train):
            return True
        args = self._compile_args
        leaves = jax.tree_util.tree_leaves(
            [args["loss"], args["metrics"], args["weighted_metrics"]], is_leaf=lambda v: v is None or is_metric_leaf(v)
        )
        return all(v is None for v in leaves)

    # ------------------------------------------------------------------ plan

    def _output_shapes(self):
        return self.output_shapes()

    def _make_plan_factory(self, y_shapes):
        """Resolve losses and metrics per output (needs target shapes for "accuracy")."""
        from jnet import losses as L
        from jnet import metrics as M

        args = self._compile_args
        names = self.output_names
        out_shapes, _ = self._output_shapes()
        losses = per_output(args["loss"], names, "loss", is_leaf=is_metric_leaf)
        weights = per_output(args["loss_weights"], names, "loss_weights", is_leaf=lambda v: True)
        mets = per_output(args["metrics"], names, "metrics", is_leaf=is_metric_leaf)
        wmets = per_output(args["weighted_metrics"], names, "weighted_metrics", is_leaf=is_metric_leaf)
        if (
            all(l is None for l in losses)
            and (custom_steps(self) is None or not custom_steps(self).train)
            and not has_own_losses(self)
        ):
            raise ValueError(
                f"{self._label}: compile() was called without a loss, and no layer adds one "
                "(add_loss, activity or weight regularizers); pass loss=... to train or evaluate"
            )
        outputs = []
        self._user_metrics = {}  # log name -> (the metric object given to compile, y shapes)
        used = set(loss_log_names(StepPlan(self, [OutputPlan(n, l) for n, l in zip(names, losses)], None, None)))
        for i, name in enumerate(names):
            y_shape = y_shapes[i] if y_shapes is not None and y_shapes[i] is not None else None
            pred_shape = tuple(1 if d is None else d for d in out_shapes[i])
            true_shape = tuple(y_shape) if y_shape is not None else pred_shape
            loss = L.get(losses[i], y_true_shape=true_shape, y_pred_shape=pred_shape) if losses[i] is not None else None
            weight = 1.0 if weights[i] is None else float(weights[i])
            plan = OutputPlan(name, loss, weight, [])
            for group, weighted in ((mets[i], False), (wmets[i], True)):
                if group is None:
                    continue
                for ident in group if isinstance(group, (list, tuple)) else [group]:
                    if ident is None:
                        continue
                    metric = M.get(
                        copy.deepcopy(ident) if not isinstance(ident, str) else ident,
                        y_true_shape=true_shape,
                        y_pred_shape=pred_shape,
                        loss=loss,
                    )
                    log = metric.name if len(names) == 1 else f"{name}_{metric.name}"
                    base, k = log, 1
                    while log in used:
                        log, k = f"{base}_{k}", k + 1
                    used.add(log)
                    plan.metrics.append((log, metric, weighted))
                    if isinstance(ident, M.Metric):
                        self._user_metrics[log] = (ident, true_shape, pred_shape)
            outputs.append(plan)
        opt = self.optimizer
        tx = opt.tx
        if args["gradient_accumulation_steps"] and args["gradient_accumulation_steps"] > 1:
            import optax

            tx = optax.MultiSteps(tx, every_k_schedule=args["gradient_accumulation_steps"])

        def factory(mask):
            return StepPlan(self, outputs, tx, mask, needs_value_fn=opt.needs_value_fn)

        return factory

    def _get_trainer(self, y_shapes=None) -> Trainer:
        """The trainer; (re)resolves losses/metrics when target shapes become known or change."""
        if self._trainer is None:
            self._trainer = Trainer(
                self, self._make_plan_factory(y_shapes), self.optimizer, self._compile_args["steps_per_execution"]
            )
            self._y_shapes = y_shapes
        elif y_shapes is not None and (
            self._y_shapes is None or list(map(_tail, y_shapes)) != list(map(_tail, self._y_shapes))
        ):
            self._trainer.plan_factory = self._make_plan_factory(y_shapes)
            self._trainer.plan = None
            self._y_shapes = y_shapes
        return self._trainer

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        check_nan=False,
    ):
        """Train the model (Keras's `fit`); returns a `History`.

        x/y may be arrays, lists, dicts keyed by input/output name, or `x` may be a generator or
        iterable of `(x, y)` / `(x, y, sample_weight)` batches, such as a `jnet.utils.PyDataset` (its
        batch order shuffled each epoch when `shuffle`) or a `jnet.utils.Dataset`. `validation_split` holds out the
        *last* fraction of the arrays (before shuffling), as Keras. `class_weight` is a dict
        `{class: weight}`, or for multi-output models a dict of such dicts keyed by output name.
        `check_nan=True` (jnet) scans the arrays for NaN/inf first and names the culprit.
        Full-batch optimizers (`LBFGS`, `NewtonCG`) take one step per epoch on all the data.
        """
        from jnet.callbacks.base import CallbackList, History
        from jnet.callbacks.progbar import ProgbarLogger

        self._require_compiled("fit")
        verbose = _resolve_verbose(verbose)
        x = self._host_inputs(x)
        if isinstance(validation_data, (tuple, list)) and validation_data:
            validation_data = (self._host_inputs(validation_data[0]),) + tuple(validation_data[1:])
        A.check_fit_args(
            x,
            y,
            sample_weight,
            batch_size=batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            validation_batch_size=validation_batch_size,
            validation_freq=validation_freq,
            validation_split=validation_split,
            validation_data=validation_data,
            class_weight=class_weight,
        )
        full_batch = self.optimizer.full_batch
        val_source = None
        if D.is_stream(x):
            if validation_split:
                raise ValueError("fit: validation_split needs arrays; with a generator pass validation_data")
            if y is not None or sample_weight is not None:
                raise ValueError("fit: when x is a generator/iterable, y and sample_weight come from its batches")
            source = self._stream(x, class_weight, shuffle=shuffle)
        else:
            if y is None and not self._trains_without_y():
                raise ValueError(
                    "fit: y is required when x is an array and compile() gave a loss or metrics "
                    "(or pass a generator of (x, y) batches)"
                )
            data = self._arrays(x, y, sample_weight, class_weight, "fit", check_nan)
            if validation_split:
                if validation_data is not None:
                    warnings.warn("fit: validation_data given; validation_split is ignored", stacklevel=2)
                else:
                    data, val = D.split_validation(data, validation_split)
                    val_source = self._source(val, validation_batch_size or batch_size or 32, len(self.output_names))
            self._check_targets(data, "fit")
            # Data smaller than a batch is one batch of its own size (as Keras), not a padded one:
            # `add_loss` values computed over the batch then see only real rows.
            bs = data.n if full_batch else min(batch_size or 32, max(data.n, 1))
            source = self._source(data, bs, len(self.output_names))
        if validation_data is not None:
            val_source = self._validation_source(validation_data, validation_batch_size or batch_size or 32, check_nan)
        trainer = self._get_trainer()
        steps = getattr(source, "steps", None) if steps_per_epoch is None else steps_per_epoch
        self.history = History()
        cb_list = list(callbacks or []) + [self.history]
        if verbose:
            cb_list.append(ProgbarLogger(verbose=verbose))
        cbs = CallbackList(cb_list, model=self, verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        trainer.init_state()
        if shuffle and trainer.stateful and not D.is_stream(x) and not full_batch:
            warnings.warn(
                "fit: the model has stateful layers, whose states carry sample i of a batch over to "
                "sample i of the next batch, but shuffle=True mixes the samples across batches; "
                "pass shuffle=False (as Keras requires for stateful RNNs)",
                UserWarning,
                stacklevel=2,
            )
        run = jax.disable_jit if self._compile_args["run_eagerly"] else _nullcontext
        logs = {}
        try:
            with run(), trainer.state.training():
                cbs.on_train_begin()
                start_batch = 0
                resume = trainer.state.take_resume_point()
                if resume is not None:
                    initial_epoch, start_batch = resume
                for epoch in range(initial_epoch, epochs):
                    cbs.on_epoch_begin(epoch)
                    epoch_logs = trainer.train_epoch(
                        source, epoch, cbs, shuffle and not full_batch, steps_per_epoch, start_batch
                    )
                    start_batch = 0
                    if epoch == initial_epoch:
                        warn_padded_add_loss(self, source)
                    if epoch_logs is None:
                        if not trainer.warned_ran_out:  # else the short epoch before said so
                            warnings.warn(
                                "fit: the training data ran out; stopping (give steps_per_epoch, or a "
                                "re-iterable data source, for more epochs)",
                                stacklevel=2,
                            )
                        break
                    logs = dict(epoch_logs)
                    if val_source is not None and (epoch + 1) % validation_freq == 0:
                        logs.update(trainer.validate(val_source, cbs, validation_steps))
                    cbs.on_epoch_end(epoch, logs)
                    if self.stop_training:
                        break
                if epochs > initial_epoch:  # Keras: with use_ema, the weights become their average
                    self.optimizer.finalize_variable_values(self.trainable_weights)
                cbs.on_train_end(logs)
        finally:
            ts = trainer.ts
            self.assign_variables({"params": ts.params, "state": ts.state})
            self._sync_user_metrics(trainer)
        return self.history

    # ------------------------------------------------------------------ evaluate / predict

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        check_nan=False,
    ):
        """Loss and metrics on the data (inference mode). Returns the loss, `[loss, *metrics]`,
        or a dict with `return_dict=True`."""
        from jnet.callbacks.base import CallbackList
        from jnet.callbacks.progbar import ProgbarLogger

        self._require_compiled("evaluate")
        verbose = _resolve_verbose(verbose)
        x = self._host_inputs(x)
        A.check_eval_args("evaluate", x, y, sample_weight, batch_size=batch_size, steps=steps)
        if D.is_stream(x):
            source = self._stream(x, where="evaluate")
            trainer = self._get_trainer()
            n_steps = steps
        else:
            data = self._arrays(x, y, sample_weight, None, "evaluate", check_nan)
            if data.y is None and not self._trains_without_y(test=True):
                raise ValueError("evaluate: y is required when compile() gave a loss or metrics")
            self._check_targets(data, "evaluate")
            trainer = self._get_trainer()
            source = self._source(data, min(batch_size or 32, max(data.n, 1)), len(self.output_names))
            n_steps = source.steps if steps is None else min(steps, source.steps)
        cb_list = list(callbacks or []) + ([ProgbarLogger(verbose=verbose)] if verbose else [])
        cbs = CallbackList(cb_list, model=self, verbose=verbose, epochs=1, steps=n_steps)
        cbs.on_test_begin()
        run = jax.disable_jit if self._compile_args["run_eagerly"] else _nullcontext
        with run():
            variables = self.current_variables()
            logs = trainer.evaluate(source, variables, cbs, steps=steps)
            self._keep_carried_state(trainer, variables)
        self._sync_user_metrics(trainer)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for `x` (batched; returns the model's output structure as numpy arrays).
        Works on uncompiled models too."""
        from jnet.callbacks.base import CallbackList
        from jnet.callbacks.progbar import ProgbarLogger

        verbose = _resolve_verbose(verbose)
        x = self._host_inputs(x)
        A.check_eval_args("predict", x, batch_size=batch_size, steps=steps)
        trainer = self._predict_trainer()
        if D.is_stream(x):
            source = self._stream(x, with_targets=False, where="predict")
            n_steps = steps
        else:
            self._ensure_built_from(x)
            data = D.ArrayData(D.flatten_inputs(self, x), None, None)
            data.n = len(data.x[0])
            if len({len(a) for a in data.x}) > 1:
                raise ValueError(f"predict: inputs have different sample counts {[len(a) for a in data.x]}")
            source = self._source(data, batch_size or 32, len(self.output_names), with_targets=False)
            n_steps = source.steps
        cb_list = list(callbacks or []) + ([ProgbarLogger(verbose=verbose)] if verbose else [])
        cbs = CallbackList(cb_list, model=self, verbose=verbose, epochs=1, steps=n_steps)
        cbs.on_predict_begin()
        run = jax.disable_jit if (self._compile_args or {}).get("run_eagerly") else _nullcontext
        with run():
            variables = self.current_variables()
            flat = trainer.predict(source, variables, cbs, steps=steps, structure=self._structure)
            self._keep_carried_state(trainer, variables)
        cbs.on_predict_end()
        return self._structure(flat)

    def _sync_user_metrics(self, trainer):
        """Give the metric objects passed to `compile` the state of the last epoch or
        evaluation (the engine runs copies of them), so `metric.result()` reads as in Keras."""
        states = trainer.last_metric_states
        if not isinstance(states, dict):
            return
        for log, (metric, true_shape, pred_shape) in self.__dict__.get("_user_metrics", {}).items():
            if log in states:
                if not metric.built:
                    metric.build(true_shape, pred_shape)
                metric._state = jax.tree_util.tree_map(jnp.array, states[log])  # a copy: the engine's are donated
        # The loss tracker and compile()'s metrics (model.metrics) hold the same, as in Keras.
        if "loss" in states and any(m is self._loss_tracker for m in self.metrics):
            self._loss_tracker._state = jax.tree_util.tree_map(jnp.array, states["loss"])
        cm = self._compile_metrics()
        if cm is not None and all(log in states for _, log, _, _ in cm._entries):
            cm._state = {log: jax.tree_util.tree_map(jnp.array, states[log]) for _, log, _, _ in cm._entries}

    def _keep_carried_state(self, trainer, variables):
        """Keep the layer state a stateful model's `evaluate` / `predict` carried (jnet carries
        it as tf.keras did; Keras 3 on JAX drops it)."""
        if trainer.carried_state is not None:
            self.assign_variables({"params": variables["params"], "state": trainer.carried_state})
            trainer.carried_state = None

    def _predict_trainer(self):
        if self.compiled:
            try:
                return self._get_trainer()
            except ValueError:
                pass
        if getattr(self, "_predictor", None) is None:
            from jnet import optimizers as O

            def factory(mask):
                return StepPlan(self, [OutputPlan(n) for n in self.output_names], None, mask)

            self._predictor = Trainer(self, factory, O.SGD())
        return self._predictor

    # ------------------------------------------------------------------ on-batch

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x = self._host_inputs(x)
        A.check_data("train_on_batch", x, y, sample_weight)
        A.check_class_weight("train_on_batch", class_weight)
        data = self._arrays(x, y, sample_weight, class_weight, "train_on_batch", False)
        self._check_targets(data, "train_on_batch")
        trainer = self._get_trainer()
        source = self._source(data, data.n, len(self.output_names))
        trainer.init_state()
        try:
            with trainer.state.training():
                fns = trainer.fns(source.batch_size)
                # One step: the loop-free step function (no chunk loop, which XLA:CPU runs
                # several times slower around convolutions).
                logs = trainer.run_train(fns, source.arrays, source.index(), source.n, 0, 1, single=True)
            from jnet.engine.loop import to_python

            logs = to_python(logs, trainer.log_names())
        finally:
            self.assign_variables({"params": trainer.ts.params, "state": trainer.ts.state})
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        x = self._host_inputs(x)
        n = len(D.flatten_inputs(self, x)[0]) if self.built else len(np.asarray(x))
        return self.evaluate(x, y, batch_size=n, verbose=0, sample_weight=sample_weight, return_dict=return_dict)

    def predict_on_batch(self, x):
        x = self._host_inputs(x)
        n = (
            len(x[0])
            if isinstance(x, (list, tuple)) and not D.is_array(x)
            else (len(next(iter(x.values()))) if isinstance(x, dict) else len(x))
        )
        return self.predict(x, batch_size=n, verbose=0)

    # ------------------------------------------------------------------ compile config

    def get_compile_config(self) -> dict:
        """A JSON-able description of the compile arguments."""
        self._require_compiled("get_compile_config")
        from jnet import optimizers as O

        args = self._compile_args
        return {
            "optimizer": O.serialize(self.optimizer),
            "loss": serialize_tree(args["loss"], "loss"),
            "loss_weights": args["loss_weights"],
            "metrics": serialize_tree(args["metrics"], "metric"),
            "weighted_metrics": serialize_tree(args["weighted_metrics"], "metric"),
            "run_eagerly": args["run_eagerly"],
            "steps_per_execution": args["steps_per_execution"],
            "jit_compile": args["jit_compile"],
            "gradient_accumulation_steps": args["gradient_accumulation_steps"],
        }

    def compile_from_config(self, config):
        """Compile from `get_compile_config()`'s dict; a bad entry raises a `ValueError` naming
        the field."""
        self.compile(**compile_args_from_config(config, check=lambda **kw: _CompileProbe().compile(**kw)))


class _CompileProbe(TrainingMixin):
    """An unbuilt stand-in that `compile` can check one argument on (no outputs to match yet)."""

    built = False
    _label = "compile_config"


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _tail(shape):
    return None if shape is None else tuple(shape[1:])
