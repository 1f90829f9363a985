"""The pure steps: `train_step(ts, batch) -> (ts, logs)`, `eval_step`, `predict_step`.

A batch is `(x, y, sample_weight, valid)`: `x` a list per model input, `y` and
`sample_weight` lists per output (None where absent) and `valid` a bool vector marking real rows
(padding rows of the last partial batch are False: they count in no loss, metric or gradient).

The loss is Keras's: the `loss_weights`-weighted sum of the per-output losses plus the
model's regularization penalty. Only trainable parameters change (`model.trainable_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import optax

from jnet.engine.train_state import TrainState, step_key
from jnet.layers import batch_rows
from jnet.mixed_precision import find_loss_scale


@dataclass
class OutputPlan:
    """What `compile` asked for, for one model output."""

    name: str
    loss: object = None  # a jnet.losses.Loss or None
    weight: float = 1.0  # loss_weights entry
    metrics: list = field(default_factory=list)  # [(log name, Metric, weighted)]


@dataclass
class StepPlan:
    model: object
    outputs: list  # [OutputPlan], in model output order
    tx: optax.GradientTransformation
    trainable: object  # pytree of Python bools over params
    needs_value_fn: bool = False

    @property
    def multi(self) -> bool:
        return len(self.outputs) > 1


# ------------------------------------------------------------------ metrics on device


def _tracker_init():
    return {"total": jnp.zeros((), jnp.float32), "count": jnp.zeros((), jnp.float32)}


def _tracker_update(s, value, weight):
    return {"total": s["total"] + value * weight, "count": s["count"] + weight}


def loss_log_names(plan: StepPlan) -> list:
    names = ["loss"]
    if plan.multi:
        names += [f"{o.name}_loss" for o in plan.outputs if o.loss is not None]
    return names


def init_metrics(plan: StepPlan) -> dict:
    states = {name: _tracker_init() for name in loss_log_names(plan)}
    for o in plan.outputs:
        for log_name, metric, _ in o.metrics:
            states[log_name] = metric.init()
    return states


def metric_results(plan: StepPlan, states: dict) -> dict:
    out = {}
    for name in loss_log_names(plan):
        s = states[name]
        out[name] = s["total"] / jnp.maximum(s["count"], 1e-12)
    for o in plan.outputs:
        for log_name, metric, _ in o.metrics:
            out[log_name] = metric.result(states[log_name])
    return out


# ------------------------------------------------------------------ forward + loss


def flat_outputs(model, outputs) -> list:
    return model.flatten_outputs(outputs)


def _float32(p):
    # Mixed precision: outputs computed in bfloat16/float16 go to losses, metrics and predict
    # in float32 (Keras computes losses in float32 too).
    return p.astype(jnp.float32) if p.dtype in (jnp.bfloat16, jnp.float16) else p


def forward(plan: StepPlan, params, state, x, training, rng):
    """`(predictions per output, new state, added losses)`: the added losses are what layers
    gave `add_loss` or their `activity_regularizer` during the call (Keras's `model.losses`)."""
    outputs, new_state, losses = plan.model.apply_with_losses(
        {"params": params, "state": state}, *x, training=training, rng=rng
    )
    added = sum((jnp.asarray(l, jnp.float32) for l in losses), jnp.zeros((), jnp.float32))
    return [_float32(p) for p in flat_outputs(plan.model, outputs)], new_state, added


def compute_loss(plan: StepPlan, params, preds, y, sw, valid, added=0.0):
    """(total loss, [per-output loss]) for one batch; padded rows are masked out."""
    total = jnp.asarray(added, jnp.float32)
    per_output = []
    for o, p, t, w in zip(plan.outputs, preds, y, sw):
        if o.loss is None:
            continue
        value = o.loss(t, p, sample_weight=w, mask=valid)
        per_output.append(value)
        total = total + o.weight * value
    penalty = plan.model.penalty(params)
    return total + jnp.asarray(penalty, jnp.float32), per_output


def update_metrics(plan: StepPlan, states, loss, per_output, preds, y, sw, valid):
    states = dict(states)
    n_valid = jnp.sum(valid.astype(jnp.float32))
    states["loss"] = _tracker_update(states["loss"], loss, n_valid)
    if plan.multi:
        values = iter(per_output)
        for o in plan.outputs:
            if o.loss is not None:
                states[f"{o.name}_loss"] = _tracker_update(states[f"{o.name}_loss"], next(values), n_valid)
    validf = valid.astype(jnp.float32)
    for o, p, t, w in zip(plan.outputs, preds, y, sw):
        for log_name, metric, weighted in o.metrics:
            weight = validf
            if weighted and w is not None:
                w = jnp.asarray(w, jnp.float32)
                weight = w * validf.reshape(validf.shape + (1,) * (w.ndim - 1))
            states[log_name] = metric.update(states[log_name], t, p, sample_weight=weight)
    return states


# ------------------------------------------------------------------ steps


def _freeze(plan, params):
    # stop_gradient on frozen leaves: their gradients are exact zeros and XLA drops the work.
    return jax.tree_util.tree_map(lambda p, m: p if m else jax.lax.stop_gradient(p), params, plan.trainable)


def _constrain(plan, params):
    # Weight constraints after the update, as Keras: trainable weights only.
    constrained = plan.model.constrain(params)
    return jax.tree_util.tree_map(lambda new, old, m: new if m else old, constrained, params, plan.trainable)


def train_step(plan: StepPlan, ts: TrainState, batch):
    """One optimizer step on `batch`; returns `(new_ts, logs)` (logs: running epoch results)."""
    new_ts, _ = _train_step(plan, ts, batch, guard=False)
    return new_ts, metric_results(plan, new_ts.metrics)


def guarded_train_step(plan: StepPlan, ts: TrainState, batch):
    """`train_step` that takes no step when the batch loss is not finite: returns `(new_ts,
    finite)`. Then parameters, optimizer and layer state and the step count stay as they were
    (the update runs under `lax.cond`, which updates the buffers in place when taken: a select
    between old and new state cost a copy of the optimizer state per step), and only the
    metrics take the batch in, so the logs show the NaN/inf loss."""
    return _train_step(plan, ts, batch, guard=True)


def _train_step(plan: StepPlan, ts: TrainState, batch, guard):
    x, y, sw, valid = batch
    rng = step_key(ts.rng, ts.step)
    # float16 loss scaling (LossScaleOptimizer): differentiate loss * scale; the optimizer's
    # transformation divides the gradients by the scale again and skips non-finite steps.
    scale = find_loss_scale(ts.opt_state)

    def loss_fn(params):
        with batch_rows.valid_rows(valid):  # padding rows stay out of batch statistics
            preds, new_state, added = forward(plan, _freeze(plan, params), ts.state, x, True, rng)
        loss, per_output = compute_loss(plan, params, preds, y, sw, valid, added)
        return loss, (per_output, preds, new_state)

    def scaled_loss_fn(params):
        loss, aux = loss_fn(params)
        return loss * scale, (loss, aux)

    if scale is None:
        (loss, (per_output, preds, new_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(ts.params)
    else:
        (_, (loss, (per_output, preds, new_state))), grads = jax.value_and_grad(scaled_loss_fn, has_aux=True)(ts.params)

    def update(params, opt_state, state, step):
        if plan.needs_value_fn:
            updates, opt_state_ = plan.tx.update(
                grads, opt_state, params, value=loss, grad=grads, value_fn=lambda p: loss_fn(p)[0]
            )
        else:
            updates, opt_state_ = plan.tx.update(grads, opt_state, params)
        updates = jax.tree_util.tree_map(lambda u, m: u if m else jnp.zeros_like(u), updates, plan.trainable)
        return _constrain(plan, optax.apply_updates(params, updates)), opt_state_, new_state, step + 1

    def keep(params, opt_state, state, step):
        return params, opt_state, state, step

    operands = (ts.params, ts.opt_state, ts.state, ts.step)
    finite = jnp.isfinite(loss)
    if guard:
        params, opt_state, state, step = jax.lax.cond(finite, update, keep, *operands)
    else:
        params, opt_state, state, step = update(*operands)
    metrics = update_metrics(plan, ts.metrics, loss, per_output, preds, y, sw, valid)
    return TrainState(params, state, opt_state, metrics, ts.rng, step), finite


def eval_step(plan: StepPlan, params, state, metrics, batch, rng=None):
    """Accumulate one batch into the evaluation metrics (inference mode). `rng`: the batch's
    key (`train_state.inference_key`), for layers that draw randomness in inference."""
    return stateful_eval_step(plan, params, state, metrics, batch, rng)[0]


def stateful_eval_step(plan: StepPlan, params, state, metrics, batch, rng=None):
    """`eval_step` that also returns the new state (a stateful RNN's carried states); for
    stateful models only, so that other models' steps return (and copy) no state."""
    x, y, sw, valid = batch
    with batch_rows.valid_rows(valid):  # activity penalties count the real rows only
        preds, new_state, added = forward(plan, params, state, x, False, rng)
    loss, per_output = compute_loss(plan, params, preds, y, sw, valid, added)
    return update_metrics(plan, metrics, loss, per_output, preds, y, sw, valid), new_state


def predict_step(plan: StepPlan, params, state, x, rng=None) -> list:
    """The predictions for one batch (`rng`: as `eval_step`'s)."""
    return stateful_predict_step(plan, params, state, x, rng)[0]


def stateful_predict_step(plan: StepPlan, params, state, x, rng=None):
    """`(predictions, new state)`: `predict_step` for stateful models."""
    preds, new_state, _ = forward(plan, params, state, x, False, rng)
    return preds, new_state
