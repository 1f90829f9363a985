"""jnet's pure core inside your own JAX code: no compile(), no fit().

A jnet model is a pair of pure functions, `model.init(key)` -> variables and
`model.apply(variables, x)` -> (outputs, state). This example trains a small classifier on
scikit-learn's digits with a hand-written `jax.jit` + optax loop, then uses `jax.vmap` over
`jax.grad` to get per-example gradients — the building block of DP-SGD (clip each example's
gradient, then average), influence scores and gradient-noise studies — and checks that their
mean is the ordinary batch gradient.

    python examples/research_loop.py            # ~10 s on a laptop CPU
    python examples/research_loop.py --quick    # a few steps, for CI
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jnet
from jnet import layers
from jnet.datasets import digits


def build_model(hidden: int) -> jnet.Sequential:
    return jnet.Sequential(
        [
            jnet.Input(shape=(64,)),
            layers.Dense(hidden, activation="relu"),
            layers.Dropout(0.1),  # needs an explicit rng when training=True
            layers.Dense(hidden, activation="relu"),
            layers.Dense(10),  # logits
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps only (CI)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--clip", type=float, default=1.0, help="per-example gradient clip norm (DP-SGD style)")
    args = parser.parse_args(argv)
    steps = args.steps or (20 if args.quick else 1500)

    (x_train, y_train), (x_test, y_test) = digits.load_data()
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32) / 16.0
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / 16.0
    y_train, y_test = y_train.astype(np.int32), y_test.astype(np.int32)

    model = build_model(32 if args.quick else 128)
    variables = model.init(jax.random.key(0))  # {"params": {...}, "state": {...}}
    params, state = variables["params"], variables["state"]
    print("parameter tree:", jax.tree_util.tree_map(lambda a: a.shape, params))

    def loss_fn(params, x, y, rng=None):
        # training=True with an rng: dropout on (jnet splits the key per layer);
        # without an rng (the per-example gradient checks below), a deterministic pass.
        logits, _ = model.apply({"params": params, "state": state}, x, training=rng is not None, rng=rng)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    # A normal per-step loop: one jitted step, old buffers donated so XLA updates in place.
    def train_step(params, opt_state, x, y, rng):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, rng)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    train_step = jax.jit(train_step, donate_argnums=(0, 1))

    @jax.jit
    def accuracy(params, x, y):
        logits, _ = model.apply({"params": params, "state": state}, x)
        return (logits.argmax(-1) == y).mean()

    rng = np.random.default_rng(0)
    dropout_key = jax.random.key(1)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(0, len(x_train), args.batch_size)
        params, opt_state, loss = train_step(
            params, opt_state, x_train[idx], y_train[idx], jax.random.fold_in(dropout_key, step)
        )
        if step % max(1, steps // 5) == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {float(loss):.4f}")
    jax.block_until_ready(params)
    print(
        f"{steps} steps in {time.perf_counter() - t0:.2f} s; "
        f"test accuracy {float(accuracy(params, x_test, y_test)):.3f}"
    )

    # Per-example gradients: grad of the loss of ONE example, vmapped over the batch.
    def single_loss(params, x, y):
        return loss_fn(params, x[None], y[None])

    per_example_grads = jax.jit(jax.vmap(jax.grad(single_loss), in_axes=(None, 0, 0)))
    xb, yb = x_train[:32], y_train[:32]
    g = per_example_grads(params, xb, yb)  # every leaf gets a leading batch axis
    norms = jnp.sqrt(sum(jnp.sum(leaf.reshape(len(xb), -1) ** 2, axis=1) for leaf in jax.tree_util.tree_leaves(g)))
    print(
        f"per-example gradient norms: min {float(norms.min()):.3g}  median {float(jnp.median(norms)):.3g}  "
        f"max {float(norms.max()):.3g}"
    )

    # Their mean is the batch gradient (the loss is a mean over examples).
    batch_grad = jax.grad(loss_fn)(params, xb, yb)
    err = max(
        float(jnp.max(jnp.abs(a.mean(0) - b)))
        for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(batch_grad))
    )
    print(f"max |mean(per-example grads) - batch grad| = {err:.2e}")
    if err > 1e-5:
        raise SystemExit("per-example gradients do not average to the batch gradient")

    # DP-SGD's aggregation: clip each example's gradient to norm <= clip, then average.
    scale = jnp.minimum(1.0, args.clip / (norms + 1e-12))
    clipped = jax.tree_util.tree_map(lambda leaf: (leaf * scale.reshape((-1,) + (1,) * (leaf.ndim - 1))).mean(0), g)
    clipped_norm = jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(clipped)))
    print(f"clipped mean gradient norm {float(clipped_norm):.3g} (<= clip {args.clip})")
    return float(accuracy(params, x_test, y_test))


if __name__ == "__main__":
    main()
