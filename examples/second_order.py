"""First- vs second-order optimisation of a jnet model on scikit-learn's diabetes regression.

Full-batch problems with few parameters are where second-order methods shine. This example
fits the same small MLP (10 → 32 → 1, tanh) four ways from the same initial weights and plots
the training loss per iteration:

- gradient descent (full batch, fixed step),
- SGD (minibatches of 32; one iteration = one update),
- L-BFGS (optax's, with a zoom line search),
- Newton–CG: each step solves `H d = -g` by conjugate gradients using only Hessian-vector
  products (`jax.jvp` of `jax.grad`, never forming H), stops CG at negative curvature
  (the model is not convex), then backtracks.

The parameters are the model's pytree flattened into one vector (`ravel_pytree`), so any jnet
model works the same way.

    python examples/second_order.py                 # ~20 s on a laptop CPU; writes a PNG
    python examples/second_order.py --quick         # a few iterations, for CI
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import jnet
from jnet import layers


def load_diabetes_standardized():
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    return x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)


def gradient_descent(loss, grad, w, iters, lr):
    history = [float(loss(w))]
    step = jax.jit(lambda w: w - lr * grad(w))
    for _ in range(iters):
        w = step(w)
        history.append(float(loss(w)))
    return history


def sgd(loss, batch_loss, w, iters, lr, n, batch_size, seed=0):
    history = [float(loss(w))]
    step = jax.jit(lambda w, idx: w - lr * jax.grad(batch_loss)(w, idx))
    rng = np.random.default_rng(seed)
    for _ in range(iters):
        w = step(w, rng.integers(0, n, batch_size))
        history.append(float(loss(w)))
    return history


def lbfgs(loss, w, iters):
    opt = optax.lbfgs()
    state = opt.init(w)
    value_and_grad = optax.value_and_grad_from_state(loss)

    @jax.jit
    def step(w, state):
        value, g = value_and_grad(w, state=state)
        updates, state = opt.update(g, state, w, value=value, grad=g, value_fn=loss)
        return optax.apply_updates(w, updates), state

    history = [float(loss(w))]
    for _ in range(iters):
        w, state = step(w, state)
        history.append(float(loss(w)))
    return history


def newton_cg(loss, grad, w, iters, cg_iters=50, tol=1e-6):
    """Truncated Newton: CG on H d = -g with Hessian-vector products, then a backtracking line search."""
    hvp = jax.jit(lambda w, v: jax.jvp(grad, (w,), (v,))[1])

    @jax.jit
    def direction(w):
        g = grad(w)

        def body(carry):
            i, d, r, p, rr, done = carry
            hp = hvp(w, p)
            curv = p @ hp
            # Negative curvature: stop and keep the direction found so far (or -g at the start).
            neg = curv <= 1e-10 * (p @ p)
            alpha = rr / jnp.where(neg, 1.0, curv)
            d_new = jnp.where(neg, d, d + alpha * p)
            r_new = r - alpha * hp
            rr_new = r_new @ r_new
            p_new = r_new + (rr_new / rr) * p
            stop = neg | (jnp.sqrt(rr_new) < tol * jnp.linalg.norm(g))
            return i + 1, d_new, jnp.where(neg, r, r_new), p_new, jnp.where(neg, rr, rr_new), stop

        init = (0, jnp.zeros_like(g), -g, -g, g @ g, False)
        _, d, *_ = jax.lax.while_loop(lambda c: (c[0] < cg_iters) & ~c[5], body, init)
        d = jnp.where(jnp.all(d == 0), -g, d)
        return d, g

    history = [float(loss(w))]
    for _ in range(iters):
        d, g = direction(w)
        f0, slope, t = history[-1], float(g @ d), 1.0
        if slope >= 0:  # not a descent direction (can happen far from a minimum): use -g
            d, slope = -g, -float(g @ g)
        while float(loss(w + t * d)) > f0 + 1e-4 * t * slope and t > 1e-8:
            t *= 0.5
        w = w + t * d
        history.append(float(loss(w)))
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few iterations only (CI)")
    parser.add_argument("--iters", type=int, default=None, help="iterations per method")
    parser.add_argument("--out", default="runs/second_order", help="folder for the loss-curve PNG")
    args = parser.parse_args(argv)
    iters = args.iters or (5 if args.quick else 200)

    x, y = load_diabetes_standardized()
    model = jnet.Sequential([jnet.Input(shape=(10,)), layers.Dense(32, activation="tanh"), layers.Dense(1)])
    variables = model.init(jax.random.key(0))
    w0, unravel = ravel_pytree(variables["params"])
    state = variables["state"]
    print(f"diabetes: {x.shape[0]} samples, {x.shape[1]} features; model has {w0.size} parameters")
    x_dev, y_dev = jnp.asarray(x), jnp.asarray(y)

    def loss_on(w, xb, yb):
        pred, _ = model.apply({"params": unravel(w), "state": state}, xb)
        return jnp.mean((pred - yb) ** 2)

    loss = jax.jit(lambda w: loss_on(w, x_dev, y_dev))
    grad = jax.jit(jax.grad(loss))
    batch_loss = lambda w, idx: loss_on(w, x_dev[idx], y_dev[idx])  # noqa: E731

    runs = {}
    for name, fn in [
        ("gradient descent", lambda: gradient_descent(loss, grad, w0, iters, lr=0.1)),
        ("SGD (batch 32)", lambda: sgd(loss, batch_loss, w0, iters, lr=0.05, n=len(x), batch_size=32)),
        ("L-BFGS", lambda: lbfgs(loss, w0, iters)),
        ("Newton-CG", lambda: newton_cg(loss, grad, w0, min(iters, 50))),
    ]:
        t0 = time.perf_counter()
        runs[name] = fn()
        print(f"{name:18s} final MSE {runs[name][-1]:.4f} after {len(runs[name]) - 1:4d} iterations "
              f"({time.perf_counter() - t0:.2f} s)")

    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, hist in runs.items():
        ax.plot(np.arange(len(hist)), hist, label=name, marker="o" if len(hist) < 60 else None, markersize=3)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("log")
    ax.set_xlabel("iteration (parameter updates)")
    ax.set_ylabel("training MSE (standardized target)")
    ax.set_title("diabetes regression, MLP 10-32-1: first vs second order")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "loss_curves.png")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"loss curves written to {path}")
    return runs


if __name__ == "__main__":
    main()
