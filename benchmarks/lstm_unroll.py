"""Times LSTM forward+backward for several `unroll` values on the current JAX backend.

It justifies `jnet.layers.default_unroll()` (1 on CPU, 10 on GPU). Run:

    python benchmarks/lstm_unroll.py [--batch 32 --steps 100 --features 64 --units 128 --iters 50]

Prints one line per unroll value: milliseconds per fwd+bwd step and steps/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jnet import layers  # noqa: E402


def time_unroll(unroll, x, iters):
    layer = layers.LSTM(args.units, return_sequences=False, unroll=unroll)
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(x.shape, x.dtype))

    def loss(params, x):
        out, _ = layer.apply({"params": params, "state": {}}, x)
        return jnp.sum(out ** 2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    jax.block_until_ready(grad(variables["params"], x))  # compile
    best = float("inf")
    for _ in range(3):  # best of 3 rounds: the machine may be shared
        start = time.perf_counter()
        for _ in range(iters):
            out = grad(variables["params"], x)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - start) / iters)
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--unrolls", type=str, default="1,2,5,10")
    args = parser.parse_args()

    x = jax.random.normal(jax.random.key(1), (args.batch, args.steps, args.features))
    print(f"backend={jax.default_backend()} device={jax.devices()[0].device_kind} "
          f"LSTM fwd+bwd batch={args.batch} T={args.steps} {args.features}->{args.units}; "
          f"default unroll here = {layers.default_unroll()}")
    results = {}
    for unroll in (int(u) for u in args.unrolls.split(",")):
        sec = time_unroll(unroll, x, args.iters)
        results[unroll] = sec
        print(f"unroll={unroll:3d}  {sec * 1e3:8.3f} ms/step  {1 / sec:9.1f} steps/s")
    best = min(results, key=results.get)
    print(f"fastest: unroll={best}")
