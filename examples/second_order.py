"""First- vs second-order optimisation on scikit-learn's diabetes regression, Keras-style.

Full-batch problems with few parameters are where second-order methods shine. The same small
MLP (10 → 32 → 1, tanh), from the same initial weights, is trained four ways with nothing but
`compile` / `fit`, and the training-loss curves are plotted:

- gradient descent: `SGD` with `batch_size` = the whole data set (one update per epoch),
- SGD: minibatches of 32 (14 updates per epoch),
- L-BFGS: `jnet.optimizers.LBFGS()` (optax's, zoom line search),
- Newton–CG: `jnet.optimizers.NewtonCG()` — conjugate gradients on Hessian-vector products
  (never forming the Hessian), then a backtracking line search.

jnet runs the last two full-batch (one iteration per epoch), since their line searches
evaluate the loss on the whole problem.

    python examples/second_order.py                 # ~30 s on a laptop CPU; writes a PNG
    python examples/second_order.py --quick         # a few epochs, for CI
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import jnet
from jnet import layers


def load_diabetes_standardized():
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    return x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)


def build_model():
    return jnet.Sequential([jnet.Input(shape=(10,)), layers.Dense(32, activation="tanh"), layers.Dense(1)])


class FullDataLoss(jnet.callbacks.Callback):
    """Records the MSE on the whole data set before training and after every epoch.

    History's `loss` is the mean over the epoch's minibatches while the weights move, which
    is not comparable across batch sizes; this is. It evaluates the pure model function on the
    live variables (`model.apply(model.current_variables(), x)`), jitted once.
    """

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.values = jnp.asarray(x), jnp.asarray(y), []
        self._mse = None

    def _record(self):
        if self._mse is None:
            model = self.model
            self._mse = jax.jit(lambda v, x, y: jnp.mean((model.apply(v, x)[0] - y) ** 2))
        self.values.append(float(self._mse(self.model.current_variables(), self.x, self.y)))

    def on_train_begin(self, logs=None):
        self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._record()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs only (CI)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per method (default 200)")
    parser.add_argument("--out", default=os.path.join("runs", "second_order"), help="folder for the loss-curve PNG")
    args = parser.parse_args(argv)
    epochs = args.epochs or (4 if args.quick else 200)

    x, y = load_diabetes_standardized()
    jnet.utils.set_random_seed(0)
    initial = build_model()
    initial_weights = initial.get_weights()
    print(f"diabetes: {x.shape[0]} samples, {x.shape[1]} features; model has {initial.count_params()} parameters")

    methods = [
        ("gradient descent", jnet.optimizers.SGD(learning_rate=0.1), len(x)),
        ("SGD (batch 32)", jnet.optimizers.SGD(learning_rate=0.05), 32),
        ("L-BFGS", jnet.optimizers.LBFGS(), len(x)),
        ("Newton-CG", jnet.optimizers.NewtonCG(), len(x)),
    ]
    curves = {}
    for name, optimizer, batch_size in methods:
        model = build_model()
        model.set_weights(initial_weights)  # every method starts from the same point
        model.compile(optimizer=optimizer, loss="mse")
        tracker = FullDataLoss(x, y)
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[tracker])
        seconds = time.perf_counter() - t0
        curves[name] = tracker.values
        print(
            f"{name:18s} training MSE {tracker.values[0]:.4f} -> {tracker.values[-1]:.4f} "
            f"in {epochs} epochs ({seconds:.2f} s)"
        )

    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        ax.plot(np.arange(len(curve)), curve, label=name, marker="o" if len(curve) < 60 else None, markersize=3)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch (one pass over the 442 samples)")
    ax.set_ylabel("training MSE (standardized target)")
    ax.set_title("diabetes regression, MLP 10-32-1: first vs second order")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "loss_curves.png")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"loss curves written to {path}")
    return curves


if __name__ == "__main__":
    main()
