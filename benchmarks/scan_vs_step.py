"""Micro-benchmark: K training steps as K jitted calls vs one `lax.scan` vs an unrolled scan.

jnet's engine fuses steps with `lax.scan` (`steps_per_execution`). On XLA:CPU a while loop
around convolutions measured several times slower per step than separate calls (2 shared
cores, jax 0.10.2: CNN step 157 ms per call, 811 ms inside scan, 159 ms unrolled), while
for MLPs the fused loop wins by removing dispatch. This script measures that trade-off for
any workload on the current machine:

    python -m benchmarks.scan_vs_step --workload cnn --steps 3
"""

import argparse
import time

import jax
import jax.numpy as jnp
import optax

from benchmarks import jax_loop
from benchmarks.workloads import WORKLOADS, make_data


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default="cnn", choices=list(WORKLOADS))
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args(argv)
    w = WORKLOADS[args.workload]
    bs, k = w.batch_size, args.steps
    x, y = jax.device_put(make_data(w, bs * k))
    init, loss_fn = jax_loop.model_fns(w)
    tx = optax.adam(1e-3)
    params = init(jax.random.key(0))
    carry = (params, tx.init(params))

    def step(carry, i):
        params, opt_state = carry
        xb, yb = jax.tree_util.tree_map(lambda a: jax.lax.dynamic_slice_in_dim(a, i * bs, bs), (x, y))
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    one = jax.jit(step)

    def per_call(c):
        for i in range(k):
            c, loss = one(c, i)
        return c, loss

    variants = {
        "one jit call per step": per_call,
        "lax.scan": jax.jit(lambda c: jax.lax.scan(step, c, jnp.arange(k))),
        "lax.scan unroll=True": jax.jit(lambda c: jax.lax.scan(step, c, jnp.arange(k), unroll=True)),
    }
    print(f"{w.name} on {jax.devices()[0].device_kind}, {k} steps of batch {bs}:")
    for name, fn in variants.items():
        jax.block_until_ready(fn(carry))  # compile
        t0 = time.perf_counter()
        jax.block_until_ready(fn(carry))
        print(f"  {name:24s} {(time.perf_counter() - t0) / k * 1000:9.1f} ms/step")


if __name__ == "__main__":
    main()
