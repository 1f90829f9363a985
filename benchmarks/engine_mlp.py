"""Steady-state training steps/s: jnet `fit` vs a hand-written jax.jit + optax loop vs Keras 3 `fit`.

Run from the repository root:  python benchmarks/engine_mlp.py [--epochs 3] [--only small|mnist]

All three train the same MLP with Adam and sparse categorical cross-entropy on the same random
data, with default settings (jnet: steps_per_execution="auto"), in one process. The first epoch
of each (compilation) is excluded; steps/s = steps of the timed epochs / wall time, best of
`--repeats` interleaved runs. On a shared, loaded machine wall time is noisy: `--cpu` also
reports steps per CPU-second of this process (all threads), which measures work done.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

CASES = {
    "small": dict(sizes=(32, 64, 64, 10), batch=32, n=32 * 512),  # dispatch-bound
    "mnist": dict(sizes=(784, 512, 512, 10), batch=128, n=128 * 128),
}


class Timer:
    """Wall and process CPU time of the timed region."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *a):
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c


def data(sizes, n):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, sizes[0])).astype("float32")
    y = rng.integers(0, sizes[-1], n).astype("int32")
    return x, y


def bench_jnet(sizes, batch, x, y, epochs):
    import jnet
    from jnet import layers

    model = jnet.Sequential(
        [layers.Dense(sizes[1], activation="relu", input_shape=(sizes[0],))]
        + [layers.Dense(s, activation="relu") for s in sizes[2:-1]]
        + [layers.Dense(sizes[-1], activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # compile + warm up
    with Timer() as t:
        model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
    return epochs * (len(x) // batch), t


def bench_handwritten(sizes, batch, x, y, epochs):
    keys = jax.random.split(jax.random.key(0), len(sizes) - 1)
    params = [
        {"w": jax.random.normal(k, (a, b)) * (2 / a) ** 0.5, "b": jnp.zeros(b)}
        for k, a, b in zip(keys, sizes[:-1], sizes[1:])
    ]
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    def loss_fn(params, xb, yb):
        h = xb
        for i, p in enumerate(params):
            h = h @ p["w"] + p["b"]
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return optax.softmax_cross_entropy_with_integer_labels(h, yb).mean()

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    steps = len(x) // batch
    xb = [jnp.asarray(x[i * batch : (i + 1) * batch]) for i in range(steps)]
    yb = [jnp.asarray(y[i * batch : (i + 1) * batch]) for i in range(steps)]
    for i in range(steps):  # compile + warm up
        params, opt_state, loss = step(params, opt_state, xb[i], yb[i])
    loss.block_until_ready()
    with Timer() as t:
        for _ in range(epochs):
            for i in range(steps):
                params, opt_state, loss = step(params, opt_state, xb[i], yb[i])
        loss.block_until_ready()
    return epochs * steps, t


def bench_keras(sizes, batch, x, y, epochs):
    import keras

    model = keras.Sequential(
        [keras.Input((sizes[0],))]
        + [keras.layers.Dense(s, activation="relu") for s in sizes[1:-1]]
        + [keras.layers.Dense(sizes[-1], activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    with Timer() as t:
        model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
    return epochs * (len(x) // batch), t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--only", choices=sorted(CASES))
    ap.add_argument("--skip-keras", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many timed runs (noisy machines)")
    ap.add_argument("--cpu", action="store_true", help="also report steps per CPU-second")
    args = ap.parse_args()
    print(f"device: {jax.devices()[0].device_kind}, {os.cpu_count()} CPUs")
    for name, case in CASES.items():
        if args.only and name != args.only:
            continue
        x, y = data(case["sizes"], case["n"])
        fns = {"jnet fit": bench_jnet, "hand-written jit+optax": bench_handwritten}
        if not args.skip_keras:
            fns["keras 3 fit (jax)"] = bench_keras
        res = {k: 0.0 for k in fns}
        cpu = {k: 0.0 for k in fns}
        for _ in range(args.repeats):  # interleaved, best of: load spikes hit all alike
            for k, fn in fns.items():
                steps, t = fn(case["sizes"], case["batch"], x, y, args.epochs)
                res[k] = max(res[k], steps / t.wall)
                cpu[k] = max(cpu[k], steps / t.cpu)
        arch = "-".join(map(str, case["sizes"]))
        print(
            f"\nMLP {arch}, batch {case['batch']}:" + ("   (wall steps/s | steps per CPU-second)" if args.cpu else "")
        )
        for k, v in res.items():
            extra = f" | {cpu[k]:8.0f}" if args.cpu else ""
            print(f"  {k:24s} {v:8.0f}{extra}   ({v / res['jnet fit']:.2f}x jnet)")
        for label, table in (("wall", res), ("cpu", cpu)) if args.cpu else (("wall", res),):
            line = f"  [{label}] jnet / hand-written = {table['jnet fit'] / table['hand-written jit+optax']:.2f}x"
            if "keras 3 fit (jax)" in table:
                line += f", jnet / keras = {table['jnet fit'] / table['keras 3 fit (jax)']:.2f}x"
            print(line)


if __name__ == "__main__":
    main()
