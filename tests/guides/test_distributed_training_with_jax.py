"""Keras guide "Multi-GPU distributed training with JAX" (keras-io
guides/distributed_training_with_jax.py), ported with `import jnet as keras`: the guide's
data-parallel loop over `jax.sharding` (replicated variables, batch-sharded data), run on 4
forced CPU devices in a subprocess (XLA_FLAGS=--xla_force_host_platform_device_count=4 must be
set before JAX starts), on jnet and on Keras 3 from the same initial weights.

Changes, the same on both sides: tiny random images instead of MNIST/tf.data (batched in
order); `print` becomes a log; the variables enter `jax.device_put` as arrays (`arrays(...)`):
current JAX refuses objects that only define `__jax_array__` there and as jit arguments, Keras
3.15's variables included.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
N_DEVICES = 4


def arrays(variables):
    """The values of Keras variables (the port's one addition: see the module docstring)."""
    import jax

    return [jax.numpy.asarray(getattr(v, "value", v)) for v in variables]


def get_model(keras):
    # Make a simple convnet with batch normalization and dropout.
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(filters=12, kernel_size=3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(scale=False, center=True)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(filters=24, kernel_size=6, use_bias=False, strides=2)(x)
    x = keras.layers.BatchNormalization(scale=False, center=True)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(filters=32, kernel_size=6, padding="same", strides=2, name="large_k")(x)
    x = keras.layers.BatchNormalization(scale=False, center=True)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    return model


def get_datasets(batch_size):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (32, 28, 28, 1)).astype("float32")
    y_train = rng.integers(0, 10, 32)
    return [(x_train[i : i + batch_size], y_train[i : i + batch_size]) for i in range(0, 32, batch_size)]


def run_guide(keras, weights, log):
    import jax
    from jax.experimental import mesh_utils
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    # Config
    num_epochs = 2
    batch_size = 8

    train_data = get_datasets(batch_size)

    model = get_model(keras)
    if "initial" in weights:
        model.set_weights(weights["initial"])
    else:
        weights["initial"] = model.get_weights()
    optimizer = keras.optimizers.Adam(1e-3)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # Initialize all state with .build()
    (one_batch, one_batch_labels) = train_data[0]
    model.build(one_batch)
    optimizer.build(model.trainable_variables)

    # This is the loss function that will be differentiated.
    # Keras provides a pure functional forward pass: model.stateless_call
    def compute_loss(trainable_variables, non_trainable_variables, x, y):
        y_pred, updated_non_trainable_variables = model.stateless_call(trainable_variables, non_trainable_variables, x)
        loss_value = loss(y, y_pred)
        return loss_value, updated_non_trainable_variables

    # Function to compute gradients
    compute_gradients = jax.value_and_grad(compute_loss, has_aux=True)

    # Training step, Keras provides a pure functional optimizer.stateless_apply
    @jax.jit
    def train_step(train_state, x, y):
        trainable_variables, non_trainable_variables, optimizer_variables = train_state
        (loss_value, non_trainable_variables), grads = compute_gradients(
            trainable_variables, non_trainable_variables, x, y
        )

        trainable_variables, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables
        )

        return loss_value, (trainable_variables, non_trainable_variables, optimizer_variables)

    # Replicate the model and optimizer variable on all devices
    def get_replicated_train_state(devices):
        # All variables will be replicated on all devices
        var_mesh = Mesh(devices, axis_names=("_"))
        # In NamedSharding, axes not mentioned are replicated (all axes here)
        var_replication = NamedSharding(var_mesh, P())

        # Apply the distribution settings to the model variables
        trainable_variables = jax.device_put(arrays(model.trainable_variables), var_replication)
        non_trainable_variables = jax.device_put(arrays(model.non_trainable_variables), var_replication)
        optimizer_variables = jax.device_put(arrays(optimizer.variables), var_replication)

        # Combine all state in a tuple
        return (trainable_variables, non_trainable_variables, optimizer_variables)

    num_devices = len(jax.local_devices())
    log.append(f"Running on {num_devices} devices")
    devices = mesh_utils.create_device_mesh((num_devices,))

    # Data will be split along the batch axis
    data_mesh = Mesh(devices, axis_names=("batch",))  # naming axes of the mesh
    data_sharding = NamedSharding(data_mesh, P("batch"))  # naming axes of the partition

    train_state = get_replicated_train_state(devices)

    # Custom training loop
    for epoch in range(num_epochs):
        for data in train_data:
            x, y = data
            sharded_x = jax.device_put(x, data_sharding)
            loss_value, train_state = train_step(train_state, sharded_x, y)
            log.append(float(loss_value))
        log.append(f"Epoch {epoch} loss: {float(loss_value):.4f}")
    log.append(str(train_state[0][0].sharding.spec))  # replicated: P()

    # Post-processing model state update to write them back into the model
    trainable_variables, non_trainable_variables, optimizer_variables = train_state
    for variable, value in zip(model.trainable_variables, trainable_variables):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, non_trainable_variables):
        variable.assign(value)
    return model


def worker():
    """Both frameworks in this (4-device) process; the JSON summary is the last line."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import keras

    import jnet

    jax.config.update("jax_numpy_rank_promotion", "allow")  # the guide's code broadcasts freely
    weights, jlog, klog = {}, [], []
    jm = run_guide(jnet, weights, jlog)
    km = run_guide(keras, weights, klog)
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(jm.get_weights(), km.get_weights()))
    print(json.dumps({"jnet": jlog, "keras": klog, "weights_diff": diff}))


@pytest.mark.slow  # a fresh 4-device process importing JAX, Keras and jnet: about 10 s of CPU
def test_guide_on_four_devices_matches_keras():
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={N_DEVICES}", KERAS_BACKEND="jax")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(HERE)), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    jlog, klog = out["jnet"], out["keras"]
    assert jlog[0] == klog[0] == f"Running on {N_DEVICES} devices"
    assert [e for e in jlog if isinstance(e, str)][-1] == "P()"  # the trained variables stay replicated
    jl, kl = [e for e in jlog if isinstance(e, float)], [e for e in klog if isinstance(e, float)]
    assert len(jl) == len(kl) == 8
    np.testing.assert_allclose(jl, kl, rtol=1e-4, atol=1e-5)
    assert jl[-1] < jl[0]  # it trains
    assert out["weights_diff"] < 1e-4


if __name__ == "__main__":
    worker()
