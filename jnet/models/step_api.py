"""Keras 3's JAX-backend step API on `jnet.Model`: what a custom `train_step` builds on.

Overriding `train_step(self, state, data)`, `test_step` or `predict_step` (or `compute_loss`,
`compute_metrics`) makes `fit` / `evaluate` / `predict` run your step inside jnet's compiled,
fused loop (`jnet.engine.custom_step`). The step sees Keras's state lists:

- `train_step`: `state = (trainable_variables, non_trainable_variables, optimizer_variables,
  metrics_variables)`, returns `(logs, new_state)`;
- `test_step`: `state = (trainable_variables, non_trainable_variables, metrics_variables)`;
- `predict_step`: `state = (trainable_variables, non_trainable_variables)`, returns outputs.

Lists follow `model.trainable_variables`, `model.non_trainable_variables`,
`optimizer.variables` and `model.metrics_variables` (the `variables` of each of `model.metrics`).

Example (Keras's guide "Customizing what happens in fit() with JAX"):
```python
class CustomModel(jnet.Model):
    def train_step(self, state, data):
        tv, ntv, opt_vars, metric_vars = state
        x, y, sample_weight = jnet.utils.unpack_x_y_sample_weight(data)

        def loss_fn(tv, ntv):
            y_pred, ntv = self.stateless_call(tv, ntv, x, training=True)
            return self.compute_loss(x, y, y_pred, sample_weight), (y_pred, ntv)

        (loss, (y_pred, ntv)), grads = jax.value_and_grad(loss_fn, has_aux=True)(tv, ntv)
        tv, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, tv)
        ...
        return logs, (tv, ntv, opt_vars, new_metric_vars)
```
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp

from jnet.core.variables import VariableScope
from jnet.metrics import Mean, Metric
from jnet.metrics.stateless import bound_states
from jnet.models import subclassed_inputs


def _default_step(fn):
    fn._jnet_default_step = True
    return fn


def _call_compute_loss(model, x, y, y_pred, sample_weight, training):
    """`model.compute_loss(...)`, passing `training=` only to an override that takes it: Keras 3.0's
    signature was `compute_loss(x, y, y_pred, sample_weight, allow_empty=False)`, and Keras still
    calls such overrides (as in the example "Knowledge Distillation") without `training`."""
    try:
        params = inspect.signature(model.compute_loss).parameters
    except (TypeError, ValueError):
        params = {"training": None}
    takes_training = "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    if takes_training:
        return model.compute_loss(x, y, y_pred, sample_weight, training=training)
    return model.compute_loss(x, y, y_pred, sample_weight)


def per_output(model, value, what="y"):
    """`value` (one array, a list, or a dict by output name) as a list per model output."""
    names = model.output_names
    if value is None:
        return [None] * len(names)
    if isinstance(value, dict):
        missing = [k for k in names if k not in value]
        if missing:
            raise ValueError(f"{model._label}: {what} is a dict without the output(s) {missing}; expected keys {names}")
        return [value[k] for k in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"{model._label}: {what} has {len(value)} entries for {len(names)} outputs {names}")
        return list(value)
    if len(names) != 1:
        raise ValueError(f"{model._label}: {what} is one array but the model has {len(names)} outputs {names}")
    return [value]


class CompileMetrics(Metric):
    """The metrics given to `compile`, as one metric (Keras's `compile_metrics`): its result is
    a dict `{log name: value}`."""

    def __init__(self, model, outputs):
        super().__init__(name="compile_metrics")
        self._model = model
        self._entries = [(i, log, m, weighted) for i, o in enumerate(outputs) for log, m, weighted in o.metrics]

    def init(self):
        return {log: m.init() for _, log, m, _ in self._entries}

    def update(self, state, y_true, y_pred, sample_weight=None):
        ys = per_output(self._model, y_true, "y")
        ps = per_output(self._model, y_pred, "y_pred")
        sws = per_output(self._model, sample_weight, "sample_weight")
        state = dict(state)
        for i, log, m, weighted in self._entries:
            state[log] = m.update(state[log], ys[i], ps[i], sample_weight=sws[i] if weighted else None)
        return state

    def result(self, state):
        return {log: m.result(state[log]) for _, log, m, _ in self._entries}


class KerasStepsMixin:
    """`metrics`, `compute_loss`, `stateless_compute_loss` and the default Keras-style steps."""

    _forward_losses = None

    # ------------------------------------------------------------------ what the engine reads

    def variable_tree(self) -> dict:
        """`{"params": ..., "state": ...}` of the model's `Variable` objects, in the structure of
        `current_variables()` (trainable weights under params, the rest under state)."""
        return self._variable_tree()

    def flatten_inputs(self, *inputs) -> list:
        """Model inputs given positionally, as a list or as a dict by input name -> a list in
        `input_names` order (a clear error when they do not match the model's inputs)."""
        return self._flat_inputs(inputs)

    def structure_inputs(self, flat: list):
        """A list in `input_names` order -> the structure the model was built with (one array,
        a list, or a dict by input name)."""
        graph = self._graph
        if graph is None and self._is_subclassed() and len(flat) > 1:
            args = subclassed_inputs.structure(self, flat)
            return args[0] if len(args) == 1 else args
        if len(flat) == 1:
            return flat[0]
        if graph is not None and graph.input_kind == "dict":
            return dict(zip(graph.input_keys, flat))
        return list(flat)

    def structure_outputs(self, flat: list):
        """A list per output -> the model's output structure (one, a list, a dict); the inverse
        of `flatten_outputs`."""
        return self._structure(flat)

    # ------------------------------------------------------------------ compiled pieces

    def _compiled_outputs(self) -> list:
        """The compiled `OutputPlan`s (losses and metrics per output); [] when not compiled."""
        if not getattr(self, "compiled", False):
            return []
        trainer = self._get_trainer(self._y_shapes)
        plan = trainer.plan
        return plan.outputs if plan is not None else trainer.plan_factory(None).outputs

    def _compile_metrics(self):
        outputs = self._compiled_outputs()
        if not any(o.metrics for o in outputs):
            return None
        cached = self.__dict__.get("_compile_metrics_cache")
        if cached is None or cached[0] is not outputs:
            cached = (outputs, CompileMetrics(self, outputs))
            self.__dict__["_compile_metrics_cache"] = cached
        return cached[1]

    @property
    def _loss_tracker(self):
        tracker = self.__dict__.get("_loss_tracker_metric")
        if tracker is None:
            tracker = self.__dict__["_loss_tracker_metric"] = Mean(name="loss")
        return tracker

    @property
    def metrics(self) -> list:
        """Keras's `model.metrics`: the loss tracker and the compiled metrics (once compiled),
        then metric objects held as public attributes of the model. Override it to list your
        own trackers."""
        out = []
        if getattr(self, "compiled", False):
            out.append(self._loss_tracker)
            cm = self._compile_metrics()
            if cm is not None:
                out.append(cm)
        seen = {id(m) for m in out}
        for key, value in list(self.__dict__.items()):
            if not key.startswith("_") and isinstance(value, Metric) and id(value) not in seen:
                seen.add(id(value))
                out.append(value)
        return out

    @property
    def metrics_variables(self) -> list:
        """The `variables` of every metric in `model.metrics`, concatenated."""
        return [v for m in self.metrics for v in m.variables]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    # ------------------------------------------------------------------ losses

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss (Keras 3): the compiled losses (weighted by `loss_weights`) plus the
        model's losses (`add_loss`, activity and weight regularizers). Override to customise.

        Args:
            x: the input batch (unused by the default).
            y: targets (an array, or a list / dict per output).
            y_pred: the model's outputs for `x`.
            sample_weight: optional sample weights (an array, or per output).
            training: whether this is a training step (unused by the default).

        Returns:
            A scalar.
        """
        del x, training
        total = jnp.zeros((), jnp.float32)
        outputs = self._compiled_outputs()
        if outputs:
            ys = per_output(self, y, "y")
            ps = per_output(self, y_pred, "y_pred")
            sws = per_output(self, sample_weight, "sample_weight")
            for o, t, p, w in zip(outputs, ys, ps, sws):
                if o.loss is not None:
                    value = o.loss(
                        t, p.astype(jnp.float32) if p.dtype in (jnp.bfloat16, jnp.float16) else p, sample_weight=w
                    )
                    total = total + o.weight * value
        for loss in self._model_losses():
            total = total + jnp.sum(jnp.asarray(loss, jnp.float32))
        return total

    def _model_losses(self) -> list:
        """Losses added during the forward pass (when it reported them) plus the weight
        regularizers' penalties on the (scope-bound) trainable weights, as Keras's `model.losses`."""
        forward = list(self._forward_losses or [])
        return forward + [v.regularizer(v.value) for v in self.trainable_weights if v.regularizer is not None]

    def stateless_compute_loss(
        self,
        trainable_variables,
        non_trainable_variables,
        metrics_variables,
        x=None,
        y=None,
        y_pred=None,
        sample_weight=None,
        training=True,
    ):
        """`compute_loss` with the given arrays bound: `(loss, (trainable_variables,
        non_trainable_variables, metrics_variables))` (the latter updated if `compute_loss`
        updates metrics, as an override may)."""
        bindings = _bindings(self, trainable_variables, non_trainable_variables, "stateless_compute_loss")
        with VariableScope(bindings, training=training) as scope, bound_states(self.metrics, metrics_variables) as read:
            loss = _call_compute_loss(self, x, y, y_pred, sample_weight, training)
            new_metrics = read()
            new_nt = [scope.lookup(v) for v in self.non_trainable_variables]
        return loss, (list(trainable_variables), new_nt, new_metrics)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with a batch and return every metric's result (Keras)."""
        del x
        cm = self._compile_metrics()
        if cm is not None:
            cm.update_state(y, y_pred, sample_weight=sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """`{name: result}` of `model.metrics`; dict results (compiled metrics) are merged in."""
        logs = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                logs.update(r)
            else:
                logs[m.name] = r
        return logs

    # ------------------------------------------------------------------ the default steps

    def compute_loss_and_updates(
        self,
        trainable_variables,
        non_trainable_variables,
        metrics_variables,
        x,
        y,
        sample_weight,
        training=False,
        optimizer_variables=None,
    ):
        """Forward pass and loss, purely (for `jax.value_and_grad`): `(loss, (loss, y_pred,
        non_trainable_variables, metrics_variables))`."""
        del optimizer_variables
        y_pred, nt, losses = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training, return_losses=True
        )
        self._forward_losses = losses
        try:
            loss, (_, nt, mv) = self.stateless_compute_loss(
                trainable_variables,
                nt,
                metrics_variables,
                x=x,
                y=y,
                y_pred=y_pred,
                sample_weight=sample_weight,
                training=training,
            )
        finally:
            self._forward_losses = None
        return loss, (loss, y_pred, nt, mv)

    def _update_metrics_variables(self, metrics_variables, loss, x, y, y_pred, sample_weight):
        metrics = self.metrics
        with bound_states(metrics, metrics_variables) as read:
            batch = jax.tree_util.tree_leaves(x)[0].shape[0]
            if any(m is self._loss_tracker for m in metrics):  # not when `metrics` is overridden
                self._loss_tracker.update_state(loss, sample_weight=batch)
            logs = self.compute_metrics(x, y, y_pred, sample_weight)
            return logs, read()

    @_default_step
    def train_step(self, state, data):
        """One training step (Keras's JAX `train_step`): `(logs, new_state)`."""
        from jnet.utils import unpack_x_y_sample_weight

        tv, ntv, opt_vars, mv = state
        x, y, sw = unpack_x_y_sample_weight(data)
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (_, (loss, y_pred, ntv, mv)), grads = grad_fn(
            tv, ntv, mv, x, y, sw, training=True, optimizer_variables=opt_vars
        )
        tv, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, tv)
        logs, mv = self._update_metrics_variables(mv, loss, x, y, y_pred, sw)
        return logs, (tv, ntv, opt_vars, mv)

    @_default_step
    def test_step(self, state, data):
        """One evaluation step (Keras's JAX `test_step`): `(logs, new_state)`."""
        from jnet.utils import unpack_x_y_sample_weight

        tv, ntv, mv = state
        x, y, sw = unpack_x_y_sample_weight(data)
        _, (loss, y_pred, ntv, mv) = self.compute_loss_and_updates(tv, ntv, mv, x, y, sw, training=False)
        logs, mv = self._update_metrics_variables(mv, loss, x, y, y_pred, sw)
        return logs, (tv, ntv, mv)

    @_default_step
    def predict_step(self, state, data):
        """One prediction step (Keras's JAX `predict_step`): the outputs for the batch."""
        from jnet.utils import unpack_x_y_sample_weight

        tv, ntv = state
        x, _, _ = unpack_x_y_sample_weight(data)
        y_pred, _ = self.stateless_call(tv, ntv, x, training=False)
        return y_pred


def _bindings(model, trainable_variables, non_trainable_variables, where) -> dict:
    bindings = {}
    for group, arrays, what in (
        (model.trainable_variables, trainable_variables, "trainable_variables"),
        (model.non_trainable_variables, non_trainable_variables, "non_trainable_variables"),
    ):
        arrays = list(arrays)
        if len(arrays) != len(group):
            raise ValueError(f"{model._label}.{where}: expected {len(group)} {what}, got {len(arrays)}")
        bindings.update({id(v): a for v, a in zip(group, arrays)})
    return bindings
