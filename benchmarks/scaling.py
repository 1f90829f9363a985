"""Data-parallel correctness and scaling on forced CPU devices; mixed precision speed on a GPU.

    python benchmarks/scaling.py                       # both parts (the GPU part skips without a GPU)
    python benchmarks/scaling.py --devices 1 2 4 8 --epochs 2
    python benchmarks/scaling.py --skip-cpu            # only mixed_bfloat16 vs float32 on the GPU

Part 1 runs one subprocess per device count N with
`XLA_FLAGS=--xla_force_host_platform_device_count=N`: the same `fit` under `DataParallel`
on N virtual CPU devices, compared with the one-device run (losses and weights must agree to
float tolerance). The virtual devices share the same CPU cores, so steps/s there shows the
overhead of sharding, not a speed-up.

Part 2 (GPU only) times `fit` on the large MLP (784-4096-4096-4096-10, batch 1024) under the
`float32` and `mixed_bfloat16` policies.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _mlp(widths, n_in):
    import jnet

    jnet.utils.set_random_seed(0)
    layers = [jnet.layers.Dense(widths[0], activation="relu", input_shape=(n_in,))]
    layers += [jnet.layers.Dense(w, activation="relu") for w in widths[1:]]
    layers.append(jnet.layers.Dense(10, activation="softmax"))
    return jnet.Sequential(layers)


def _data(n, n_in, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype("float32")
    y = x[:, :10].argmax(axis=1).astype("int32")
    return x, y


def _timed_fit(model, x, y, batch_size, epochs):
    """(history, steps/s of the timed fit): a first 1-epoch fit compiles, the second is timed."""
    import jax

    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    jax.block_until_ready(jax.tree_util.tree_leaves(model.current_variables()))
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    jax.block_until_ready(jax.tree_util.tree_leaves(model.current_variables()))
    seconds = time.perf_counter() - start
    steps = epochs * -(-len(x) // batch_size)
    return history, steps / seconds


def cpu_worker(n_devices, epochs, batch_size):
    import jax
    import numpy as np

    import jnet
    from jnet import distribution

    assert jax.device_count() == n_devices, (jax.device_count(), n_devices)
    if n_devices > 1:
        distribution.set_distribution(distribution.DataParallel())
    x, y = _data(4096, 784)
    model = _mlp([512, 512], 784)
    # SGD: weight differences then show summation-order noise only (Adam divides tiny
    # gradients by their own tiny RMS and magnifies that noise).
    model.compile(optimizer=jnet.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    history, steps_per_s = _timed_fit(model, x, y, batch_size, epochs)
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    return {
        "n_devices": n_devices,
        "loss": history.history["loss"],
        "steps_per_s": steps_per_s,
        "weights": weights[::97].tolist(),
    }


def cpu_scaling(device_counts, epochs, batch_size):
    print(f"== data parallel on forced CPU devices (MLP 784-512-512-10, batch {batch_size}, {epochs} epochs)")
    rows = []
    for n in device_counts:
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}", JAX_PLATFORMS="cpu")
        cmd = [sys.executable, __file__, "--worker", str(n), "--epochs", str(epochs), "--batch-size", str(batch_size)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode:
            print(f"N={n}: worker failed\n{proc.stderr[-2000:]}")
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not rows:
        return
    base = rows[0]
    print(f"{'devices':>8} {'final loss':>12} {'max |dloss|':>12} {'max |dw|':>10} {'steps/s':>9}")
    for r in rows:
        dloss = max(abs(a - b) for a, b in zip(r["loss"], base["loss"]))
        dw = max(abs(a - b) for a, b in zip(r["weights"], base["weights"]))
        print(f"{r['n_devices']:>8} {r['loss'][-1]:>12.6f} {dloss:>12.2e} {dw:>10.2e} {r['steps_per_s']:>9.1f}")


def gpu_mixed_precision(epochs, batch_size):
    import jax

    import jnet

    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if not gpus:
        print("== mixed precision: no GPU, skipped")
        return
    print(f"== mixed_bfloat16 vs float32 on {gpus[0].device_kind} (MLP 784-4096x3-10, batch {batch_size})")
    x, y = _data(32768, 784)
    results = {}
    for policy in ("float32", "mixed_bfloat16"):
        jnet.mixed_precision.set_global_policy(policy)
        model = _mlp([4096, 4096, 4096], 784)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        history, steps_per_s = _timed_fit(model, x, y, batch_size, epochs)
        results[policy] = steps_per_s
        print(f"{policy:>16}: {steps_per_s:8.1f} steps/s   final loss {history.history['loss'][-1]:.4f}")
    jnet.mixed_precision.set_global_policy("float32")
    print(f"{'speed-up':>16}: {results['mixed_bfloat16'] / results['float32']:.2f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--gpu-epochs", type=int, default=3)
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-gpu", action="store_true")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(cpu_worker(args.worker, args.epochs, args.batch_size)))
        return
    if not args.skip_cpu:
        cpu_scaling(args.devices, args.epochs, args.batch_size)
    if not args.skip_gpu:
        gpu_mixed_precision(args.gpu_epochs, 1024)


if __name__ == "__main__":
    main()
