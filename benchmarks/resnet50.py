"""ResNet50 training throughput: `jnet.applications.ResNet50` against `keras.applications.ResNet50`
(Keras 3, JAX backend), same architecture, same batch, same optimizer, in one process.

Both models: `weights=None`, `classes=10`, inputs `(size, size, 3)`; SGD(0.01, momentum 0.9),
sparse categorical cross-entropy. Each framework runs `train_on_batch` on one fixed synthetic
batch: `--warmup` calls (compilation) then `--steps` timed calls, the loss fetched at the end
so the device work is included. Reported: steps/s and images/s, the compile (warm-up) time,
and the parameter counts (checked equal).

    python benchmarks/resnet50.py [--batch 8] [--size 224] [--steps 10] [--warmup 2] [--frameworks jnet,keras]

A measurement, not a test, and heavy on CPU (a ResNet50 step at 224x224 is ~4 GFLOPs per
image forward): run it once. Not part of `python -m benchmarks`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402


def _count(model):
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


def run_jnet(x, y, args):
    import jnet

    model = jnet.applications.ResNet50(weights=None, classes=10, input_shape=x.shape[1:])
    model.compile(optimizer=jnet.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    return _time(model, x, y, args, "jnet")


def run_keras(x, y, args):
    import keras

    with jax.numpy_rank_promotion("allow"):
        model = keras.applications.ResNet50(weights=None, classes=10, input_shape=x.shape[1:])
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
        return _time(model, x, y, args, "keras")


def _time(model, x, y, args, label):
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss))
    seconds = time.perf_counter() - t0
    steps_per_s = args.steps / seconds
    return {
        "framework": label,
        "params": _count(model),
        "steps_per_s": steps_per_s,
        "images_per_s": steps_per_s * args.batch,
        "warmup_s": compile_s,
        "last_loss": float(np.asarray(loss)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--frameworks", default="jnet,keras")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (args.batch, args.size, args.size, 3)).astype("float32")
    y = rng.integers(0, 10, (args.batch,)).astype("int32")
    runners = {"jnet": run_jnet, "keras": run_keras}
    rows = [runners[name](x, y, args) for name in args.frameworks.split(",")]
    if len({r["params"] for r in rows}) != 1:
        raise SystemExit(f"parameter counts differ: {[(r['framework'], r['params']) for r in rows]}")
    device = jax.devices()[0]
    print(
        f"ResNet50 train_on_batch, batch {args.batch} at {args.size}x{args.size}, {args.steps} timed steps, "
        f"device {device.platform} ({device.device_kind}), load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'framework':10} {'steps/s':>9} {'images/s':>9} {'warm-up s':>10} {'vs jnet':>8}")
    base = rows[0]["steps_per_s"]
    for r in rows:
        print(
            f"{r['framework']:10} {r['steps_per_s']:9.3f} {r['images_per_s']:9.2f} {r['warmup_s']:10.1f} "
            f"{r['steps_per_s'] / base:8.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "device": str(device), "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
