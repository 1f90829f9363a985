"""Training steps/s of a small CNN: pure jnet init/apply + optax under `jax.jit`, against the
same model in Keras 3 on the JAX backend, in one process on the same device.

Model (batch 128, 28x28x1 inputs, 10 classes):
    Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D -> Flatten -> Dense(10)
Loss: sparse softmax cross-entropy on logits. Optimizer: Adam(1e-3) in both.

Keras is timed two ways: `train_on_batch` per step (one Python call per step, as the issue
asks) and `fit` over an in-memory array (Keras's fastest path). Synthetic data; nothing is
downloaded.

    KERAS_BACKEND=jax python benchmarks/conv_step.py [--steps 50] [--warmup 5] [--batch 128]

This is a measurement, not a test: no assertion depends on the timings.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jnet import layers  # noqa: E402


def jnet_model():
    """The CNN as a list of jnet layers plus a pure init/apply pair (Flatten is a reshape)."""
    convs = [
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
    ]
    head = layers.Dense(10)

    def init(key, x_spec):
        keys = jax.random.split(key, len(convs) + 1)
        variables, spec = [], x_spec
        for k, layer in zip(keys, convs):
            variables.append(layer.init(k, spec))
            spec = layer.output_spec(spec)
        flat = jax.ShapeDtypeStruct((spec.shape[0], int(np.prod(spec.shape[1:]))), spec.dtype)
        variables.append(head.init(keys[-1], flat))
        return [v["params"] for v in variables]

    def apply(params, x):
        for p, layer in zip(params, convs):
            x, _ = layer.apply({"params": p}, x)
        x = jnp.reshape(x, (x.shape[0], -1))
        return head.apply({"params": params[-1]}, x)[0]

    return init, apply


def jnet_runner(x, y):
    """`run(n)` does n training steps and returns the last loss (synced)."""
    init, apply = jnet_model()
    params = init(jax.random.key(0), jax.ShapeDtypeStruct((1,) + x.shape[1:], jnp.float32))
    tx = optax.adam(1e-3)
    state = {"params": params, "opt": tx.init(params)}

    def loss_fn(params, x, y):
        logits = apply(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    x, y = jax.device_put(x), jax.device_put(y)

    def run(n):
        loss = None
        for _ in range(n):
            state["params"], state["opt"], loss = step(state["params"], state["opt"], x, y)
        return float(loss)  # one sync at the end, as a training loop would per chunk

    return run


def keras_model():
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def keras_train_on_batch_runner(x, y):
    model = keras_model()

    def run(n):
        loss = None
        for _ in range(n):
            loss = model.train_on_batch(x, y)  # returns a Python float: syncs every step
        return float(loss)

    return run


def keras_fit_runner(x, y, sizes):
    model = keras_model()
    # the n-batch arrays are built here, outside the timed region
    data = {n: (np.tile(x, (n, 1, 1, 1)), np.tile(y, n)) for n in sizes}

    def run(n):
        xs, ys = data[n]
        history = model.fit(xs, ys, batch_size=x.shape[0], epochs=1, verbose=0, shuffle=False)
        return float(history.history["loss"][-1])

    return run


def measure(runners, steps, warmup, rounds):
    """Steps/s per runner: rounds interleaved (so machine load hits all runners alike); the
    best round is reported, with the median beside it. CPU seconds per step (all threads of
    this process) are also kept: on a shared machine they move less than wall time."""
    for run in runners.values():
        run(warmup)
        run(steps)  # also compiles anything that depends on the step count
    rates = {name: [] for name in runners}
    cpu = {name: [] for name in runners}
    losses = {}
    for _ in range(rounds):
        for name, run in runners.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            losses[name] = run(steps)
            rates[name].append(steps / (time.perf_counter() - start))
            cpu[name].append((time.process_time() - start_cpu) / steps)
    return rates, cpu, losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rs = np.random.RandomState(0)
    x = rs.rand(args.batch, 28, 28, 1).astype(np.float32)
    y = rs.randint(0, 10, size=(args.batch,)).astype(np.int32)

    print(
        f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}, "
        f"batch {args.batch}, {args.rounds} rounds of {args.steps} steps after {args.warmup} warm-up steps"
    )
    runners = {
        "jnet init/apply + optax (jit)": jnet_runner(x, y),
        "keras train_on_batch": keras_train_on_batch_runner(x, y),
        "keras fit": keras_fit_runner(x, y, (args.warmup, args.steps)),
    }
    rates, cpu, losses = measure(runners, args.steps, args.warmup, args.rounds)
    best = {name: max(r) for name, r in rates.items()}
    cpu_best = {name: min(c) for name, c in cpu.items()}
    ref = "jnet init/apply + optax (jit)"
    print(
        f"{'run':<32}{'best steps/s':>13}{'median':>8}{'jnet speedup':>14}"
        f"{'CPU ms/step':>13}{'jnet speedup (CPU)':>20}{'last loss':>11}"
    )
    for name in runners:
        print(
            f"{name:<32}{best[name]:>13.1f}{float(np.median(rates[name])):>8.1f}{best[ref] / best[name]:>13.2f}x"
            f"{1e3 * cpu_best[name]:>13.1f}{cpu_best[name] / cpu_best[ref]:>19.2f}x{losses[name]:>11.4f}"
        )


if __name__ == "__main__":
    main()
