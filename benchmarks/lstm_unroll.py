"""Times LSTM forward+backward for several `unroll` values on the current JAX backend.

It justifies `jnet.layers.default_unroll()` (1 on CPU, 10 on GPU), the built-in cells' fused loop
(`recurrence.linear_recurrence`, hand-written backward pass) against autodiff of the plain scan,
and, for that plain scan, `hoist_inputs()` (input projection inside the step on CPU). On a shared CPU, pin it
for stable numbers:
`XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0 python ...`
Run:

    python benchmarks/lstm_unroll.py [--batch 32 --steps 100 --features 64 --units 128 --iters 50] [--keras]
                                     [--loop fused|scan|both] [--hoist auto|on|off|both]

Prints one line per unroll value: milliseconds per fwd+bwd step and steps/s; with `--keras`,
also Keras 3's LSTM (JAX backend, `stateless_call` under the same `jax.jit(jax.grad)`).
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
from jnet.layers import recurrent  # noqa: E402


def best_time(grad, params, x, iters):
    """Best of 3 rounds of seconds per call: wall clock, and process CPU time (the fairer
    number on a shared machine when XLA runs single-threaded, see the docstring)."""
    jax.block_until_ready(grad(params, x))  # compile
    wall = cpu = float("inf")
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            out = grad(params, x)
        jax.block_until_ready(out)
        wall = min(wall, (time.perf_counter() - w0) / iters)
        cpu = min(cpu, (time.process_time() - c0) / iters)
    return wall, cpu


def time_unroll(unroll, x, iters):
    layer = layers.LSTM(args.units, return_sequences=False, unroll=unroll)
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(x.shape, x.dtype))

    def loss(params, x):
        out, _ = layer.apply({"params": params, "state": {}}, x)
        return jnp.sum(out**2)

    return best_time(jax.jit(jax.grad(loss, argnums=(0, 1))), variables["params"], x, iters)


def time_keras(x, iters):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    layer = keras.layers.LSTM(args.units)
    layer.build(x.shape)
    trainable = [v.value for v in layer.trainable_variables]
    frozen = [v.value for v in layer.non_trainable_variables]

    def loss(params, x):
        out, _ = layer.stateless_call(params, frozen, x)
        return jnp.sum(out**2)

    return best_time(jax.jit(jax.grad(loss, argnums=(0, 1))), trainable, x, iters)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--unrolls", type=str, default="1,2,5,10")
    parser.add_argument("--keras", action="store_true", help="also time Keras 3's LSTM (JAX backend)")
    parser.add_argument(
        "--loop",
        choices=("fused", "scan", "both"),
        default="both",
        help="the built-in cells' hand-written backward pass (fused, the default) and/or "
        "autodiff of the plain scan (scan)",
    )
    parser.add_argument(
        "--hoist",
        choices=("auto", "on", "off", "both"),
        default="auto",
        help="scan loop only: input projection before the loop (on), inside each step (off), per backend (auto)",
    )
    args = parser.parse_args()

    x = jax.random.normal(jax.random.key(1), (args.batch, args.steps, args.features))
    print(
        f"backend={jax.default_backend()} device={jax.devices()[0].device_kind} "
        f"LSTM fwd+bwd batch={args.batch} T={args.steps} {args.features}->{args.units}; "
        f"default unroll here = {layers.default_unroll()}"
    )
    hoists = {"auto": [None], "on": [True], "off": [False], "both": [False, True]}[args.hoist]
    configs = ([("fused", None)] if args.loop in ("fused", "both") else []) + (
        [("scan", h) for h in hoists] if args.loop in ("scan", "both") else []
    )
    results = {}
    for loop, hoist in configs:
        recurrent.FUSED_LOOP = loop == "fused"
        recurrent.HOIST_INPUTS = hoist
        label = "fused loop      " if loop == "fused" else f"scan hoist={recurrent.hoist_inputs()!s:5}"
        for unroll in (int(u) for u in args.unrolls.split(",")):
            sec, cpu = time_unroll(unroll, x, args.iters)
            results[(loop, hoist, unroll)] = sec
            print(
                f"{label} unroll={unroll:3d}  {sec * 1e3:8.2f} ms/step  {1 / sec:8.1f} steps/s  (cpu {cpu * 1e3:.2f} ms)"
            )
    recurrent.FUSED_LOOP, recurrent.HOIST_INPUTS = True, None
    best = min(results, key=results.get)
    print(
        f"fastest: {best[0]} loop, hoist={best[1]} unroll={best[2]} (default here: fused loop, "
        f"unroll={layers.default_unroll()})"
    )
    if args.keras:
        sec, cpu = time_keras(x, args.iters)
        default = results.get((configs[0][0], configs[0][1], layers.default_unroll()))
        ratio = f"; jnet default / keras wall time: {default / sec:.2f}" if default else ""
        print(
            f"keras 3 LSTM            {sec * 1e3:8.2f} ms/step  {1 / sec:8.1f} steps/s  (cpu {cpu * 1e3:.2f} ms){ratio}"
        )
