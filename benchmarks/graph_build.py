"""Graph-model building and eager-call speed: jnet against Keras 3 (JAX backend), in one process.

For each application model (`weights=None`, inputs `(size, size, 3)`, a batch of `--batch`):
the time to construct the model (every layer call on symbolic tensors infers its output
shape), the first and second eager call `model(x)` on arrays, and the first `predict(x)`.
Each framework gets a fresh model; the second eager call shows what is left once compiled.

    python benchmarks/graph_build.py [--models ResNet50,EfficientNetB0] [--size 64] [--batch 2]
                                     [--frameworks jnet,keras]

A measurement, not a test (a few minutes on a busy CPU): run it once. Not part of
`python -m benchmarks`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402

COLUMNS = ("build s", "1st call s", "2nd call s", "1st predict s")


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(jax.tree_util.tree_leaves(out))
    return time.perf_counter() - t0, out


def measure(framework: str, name: str, x: np.ndarray) -> tuple:
    if framework == "keras":
        import keras as lib
    else:
        import jnet as lib
    with jax.numpy_rank_promotion("allow"):
        build_s, model = _timed(
            lambda: getattr(lib.applications, name)(weights=None, input_shape=x.shape[1:], classes=10)
        )
        first_s, y1 = _timed(lambda: model(x))
        second_s, _ = _timed(lambda: model(x))
        predict_s, y2 = _timed(lambda: model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(y1), np.asarray(y2), rtol=1e-4, atol=1e-5)
    return build_s, first_s, second_s, predict_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ResNet50,EfficientNetB0")
    parser.add_argument("--frameworks", default="jnet,keras")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args(argv)
    x = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3)).astype(np.float32)
    rows = []
    for name in args.models.split(","):
        for framework in args.frameworks.split(","):
            rows.append((name, framework, measure(framework, name, x)))
            print(f"{name:16s} {framework:6s} " + "  ".join(f"{v:8.2f}" for v in rows[-1][2]), flush=True)
    print(f"\nbackend {jax.default_backend()}, input {x.shape}, load average {os.getloadavg()[0]:.1f}\n")
    print("| model | framework | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for name, framework, values in rows:
        print(f"| {name} | {framework} | " + " | ".join(f"{v:.2f}" for v in values) + " |")


if __name__ == "__main__":
    main()
