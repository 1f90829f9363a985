"""Keras guide "Writing a training loop from scratch in JAX" (keras-io
guides/writing_a_custom_training_loop_in_jax.py), ported with `import jnet as keras`: the guide's
`stateless_call` / `optimizer.stateless_apply` / `metric.stateless_update_state` loops, run on
jnet and on Keras 3 from the same initial weights, compared step by step.
One change on both sides: the variables enter the jitted steps as arrays (`arrays(...)`), since
current JAX refuses objects that only define `__jax_array__` as jit arguments: Keras 3.15's own
variables fail the guide's literal `state = model.trainable_variables, ...` on JAX 0.10. The guide's last
function, defined but not run there, sums its list of losses with `jax.numpy.stack` here: current
JAX refuses a Python list in `jax.numpy.sum`.
Left out: MNIST download and tf.data (tiny random digits, batched in order, instead); `print`
becomes appending to a log."""

import jax
import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
BATCH = 16


def data():
    rng = np.random.default_rng(0)
    x = rng.random((96, 784)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 96)]
    return (x[:64], y[:64]), (x[64:], y[64:])


def batches(x, y):
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]


def arrays(variables):
    """The values of Keras variables (the port's one addition: see the module docstring)."""
    return [jax.numpy.asarray(getattr(v, "value", v)) for v in variables]


def get_model(keras):
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def first_loop(keras, model, train_dataset, log):
    """The guide's first end-to-end example: loss, gradients, stateless optimizer step."""
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)

    def compute_loss_and_updates(trainable_variables, non_trainable_variables, x, y):
        y_pred, non_trainable_variables = model.stateless_call(trainable_variables, non_trainable_variables, x)
        loss = loss_fn(y, y_pred)
        return loss, non_trainable_variables

    grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)

    @jax.jit
    def train_step(state, data):
        trainable_variables, non_trainable_variables, optimizer_variables = state
        x, y = data
        (loss, non_trainable_variables), grads = grad_fn(trainable_variables, non_trainable_variables, x, y)
        trainable_variables, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables
        )
        # Return updated state
        return loss, (trainable_variables, non_trainable_variables, optimizer_variables)

    # Build optimizer variables.
    optimizer.build(model.trainable_variables)

    trainable_variables = arrays(model.trainable_variables)  # (see the module docstring)
    non_trainable_variables = arrays(model.non_trainable_variables)
    optimizer_variables = arrays(optimizer.variables)
    state = trainable_variables, non_trainable_variables, optimizer_variables

    # Training loop
    for step, data in enumerate(train_dataset):
        loss, state = train_step(state, data)
        log.append(("train loss", step, float(loss)))

    trainable_variables, non_trainable_variables, optimizer_variables = state
    for variable, value in zip(model.trainable_variables, trainable_variables):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, non_trainable_variables):
        variable.assign(value)


def metrics_loop(keras, model, train_dataset, val_dataset, log):
    """The guide's "Low-level handling of metrics" section: stateless metric updates in the
    jitted steps, results read after assigning the metric variables back."""
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.CategoricalAccuracy()
    val_acc_metric = keras.metrics.CategoricalAccuracy()

    def compute_loss_and_updates(trainable_variables, non_trainable_variables, metric_variables, x, y):
        y_pred, non_trainable_variables = model.stateless_call(trainable_variables, non_trainable_variables, x)
        loss = loss_fn(y, y_pred)
        metric_variables = train_acc_metric.stateless_update_state(metric_variables, y, y_pred)
        return loss, (non_trainable_variables, metric_variables)

    grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)

    @jax.jit
    def train_step(state, data):
        (trainable_variables, non_trainable_variables, optimizer_variables, metric_variables) = state
        x, y = data
        (loss, (non_trainable_variables, metric_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, metric_variables, x, y
        )
        trainable_variables, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables
        )
        # Return updated state
        return loss, (trainable_variables, non_trainable_variables, optimizer_variables, metric_variables)

    @jax.jit
    def eval_step(state, data):
        trainable_variables, non_trainable_variables, metric_variables = state
        x, y = data
        y_pred, non_trainable_variables = model.stateless_call(trainable_variables, non_trainable_variables, x)
        loss = loss_fn(y, y_pred)
        metric_variables = val_acc_metric.stateless_update_state(metric_variables, y, y_pred)
        return loss, (trainable_variables, non_trainable_variables, metric_variables)

    # Build optimizer variables.
    optimizer.build(model.trainable_variables)

    trainable_variables = arrays(model.trainable_variables)  # (see the module docstring)
    non_trainable_variables = arrays(model.non_trainable_variables)
    optimizer_variables = arrays(optimizer.variables)
    metric_variables = arrays(train_acc_metric.variables)
    state = (trainable_variables, non_trainable_variables, optimizer_variables, metric_variables)

    # Training loop
    for step, data in enumerate(train_dataset):
        loss, state = train_step(state, data)
        log.append(("train loss", step, float(loss)))
        _, _, _, metric_variables = state
        for variable, value in zip(train_acc_metric.variables, metric_variables):
            variable.assign(value)
        log.append(("train acc", step, float(train_acc_metric.result())))

    metric_variables = val_acc_metric.variables
    (trainable_variables, non_trainable_variables, optimizer_variables, metric_variables) = state
    state = trainable_variables, non_trainable_variables, metric_variables

    # Eval loop
    for step, data in enumerate(val_dataset):
        loss, state = eval_step(state, data)
        log.append(("val loss", step, float(loss)))
        _, _, metric_variables = state
        for variable, value in zip(val_acc_metric.variables, metric_variables):
            variable.assign(value)
        log.append(("val acc", step, float(val_acc_metric.result())))


def losses_step(keras, log):
    """The guide's last section: a layer's `add_loss` reaches the loop through
    `stateless_call(..., return_losses=True)`."""

    class ActivityRegularizationLayer(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * jax.numpy.sum(inputs))
            return inputs

    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu")(inputs)
    # Insert activity regularization as a layer
    x = ActivityRegularizationLayer()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)

    model = keras.Model(inputs=inputs, outputs=outputs)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.CategoricalAccuracy()

    def compute_loss_and_updates(trainable_variables, non_trainable_variables, metric_variables, x, y):
        y_pred, non_trainable_variables, losses = model.stateless_call(
            trainable_variables, non_trainable_variables, x, return_losses=True
        )
        loss = loss_fn(y, y_pred)
        if losses:
            loss += jax.numpy.sum(jax.numpy.stack(losses))  # the guide: jax.numpy.sum(losses)
        metric_variables = train_acc_metric.stateless_update_state(metric_variables, y, y_pred)
        return loss, non_trainable_variables, metric_variables

    return model, compute_loss_and_updates, train_acc_metric


def run_guide(fw, weights):
    """The guide's sections in order; each model starts from `weights[section]` when given,
    else its initial weights are recorded there."""
    keras = fw[0]
    (x_train, y_train), (x_val, y_val) = data()
    train_dataset, val_dataset = batches(x_train, y_train), batches(x_val, y_val)
    log, models = [], []

    def start(section, model):
        if section in weights:
            model.set_weights(weights[section])
        else:
            weights[section] = model.get_weights()
        models.append(model)
        return model

    first_loop(keras, start("first", get_model(keras)), train_dataset, log)
    metrics_loop(keras, start("metrics", get_model(keras)), train_dataset, val_dataset, log)
    model, compute, metric = losses_step(keras, log)
    start("losses", model)
    tv, ntv = arrays(model.trainable_variables), arrays(model.non_trainable_variables)
    loss, ntv, mv = compute(tv, ntv, arrays(metric.variables), x_train[:BATCH], y_train[:BATCH])
    log.append(("loss with add_loss", 0, float(loss)))
    log.append(("acc", 0, float(metric.stateless_result(mv))))
    return log, models


def test_guide_matches_keras():
    weights = {}
    jlog, jmodels = run_guide(JNET, weights)
    with keras_ok():
        klog, kmodels = run_guide(KERAS, weights)
    assert [e[:2] for e in jlog] == [e[:2] for e in klog]
    np.testing.assert_allclose([e[2] for e in jlog], [e[2] for e in klog], rtol=1e-4, atol=1e-5)
    for jm, km in zip(jmodels, kmodels):
        for a, b in zip(jm.get_weights(), km.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # The loops trained: the losses moved, and the loop's result reached the model's variables.
    losses = [e[2] for e in jlog if e[0] == "train loss"]
    assert losses[0] != losses[3]
    assert not np.allclose(jmodels[0].get_weights()[0], weights["first"][0])
