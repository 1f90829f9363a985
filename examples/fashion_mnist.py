"""Fashion-MNIST with a Sequential MLP and a small CNN — the Keras classics, on jnet.

Reads the standard IDX files from disk (never downloads): Debian/Ubuntu's
`dataset-fashion-mnist` package installs them in /usr/share/datasets/fashion-mnist, or pass
`--path` to a folder holding the four `*-ubyte.gz` files. Without them the example says how to
get them and falls back to scikit-learn's 8×8 digits so it still runs.

    python examples/fashion_mnist.py               # ~1-2 min on 2 CPU cores
    python examples/fashion_mnist.py --quick       # seconds, for CI
"""

import argparse
import sys
import time

import numpy as np

import jnet
from jnet import layers
from jnet.datasets import digits, fashion_mnist


def load(path, quick):
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path)
        names, scale = fashion_mnist.CLASS_NAMES, 255.0
        print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images")
    except FileNotFoundError as e:
        print(f"{e}\n-> falling back to scikit-learn's 8x8 digits so the example still runs.", file=sys.stderr)
        (x_train, y_train), (x_test, y_test) = digits.load_data()
        names, scale = [str(i) for i in range(10)], 16.0
        print(f"digits: {len(x_train)} training and {len(x_test)} test images")
    if quick:
        x_train, y_train, x_test, y_test = x_train[:1024], y_train[:1024], x_test[:256], y_test[:256]
    x_train = (x_train.astype(np.float32) / scale)[..., None]  # (n, rows, cols, 1): channels last
    x_test = (x_test.astype(np.float32) / scale)[..., None]
    return (x_train, y_train.astype(np.int32)), (x_test, y_test.astype(np.int32)), names


def mlp(image_shape, units):
    model = jnet.Sequential(
        [
            layers.Input(shape=image_shape),
            layers.Flatten(),
            layers.Dense(units, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ],
        name="mlp",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def cnn(image_shape, filters):
    model = jnet.Sequential(
        [
            layers.Input(shape=image_shape),
            layers.Conv2D(filters, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(2 * filters, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
        name="cnn",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--path", default=None, help=f"folder with the Fashion-MNIST IDX files (default {fashion_mnist.DEFAULT_PATH})"
    )
    parser.add_argument("--quick", action="store_true", help="small subset and models, for CI")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model (default 5 MLP, 2 CNN)")
    parser.add_argument(
        "--cnn-samples",
        type=int,
        default=10000,
        help="training images for the CNN (the full set is slow on a laptop CPU)",
    )
    args = parser.parse_args(argv)
    jnet.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test), names = load(args.path, args.quick)
    verbose = 0 if args.quick else "auto"
    results = {}

    for name, model, n_train, epochs in [
        (
            "MLP",
            mlp(x_train.shape[1:], 32 if args.quick else 256),
            len(x_train),
            args.epochs or (1 if args.quick else 5),
        ),
        (
            "CNN",
            cnn(x_train.shape[1:], 4 if args.quick else 16),
            min(len(x_train), args.cnn_samples),
            args.epochs or (1 if args.quick else 2),
        ),
    ]:
        print(f"\n=== {name} ===")
        model.summary()
        t0 = time.perf_counter()
        model.fit(
            x_train[:n_train], y_train[:n_train], batch_size=128, epochs=epochs, validation_split=0.1, verbose=verbose
        )
        loss, acc = model.evaluate(x_test, y_test, batch_size=128, verbose=0)  # the validation step, reused
        results[name] = acc
        print(
            f"{name}: test accuracy {acc:.4f} (loss {loss:.4f}) after {epochs} epoch(s) on {n_train} images, "
            f"{time.perf_counter() - t0:.1f} s"
        )

    probs = model.predict(x_test[:8], verbose=0)
    print("\nCNN on the first test images:")
    for p, label in zip(probs, y_test[:8]):
        print(f"  predicted {names[int(np.argmax(p))]:12s} true {names[int(label)]}")
    return results


if __name__ == "__main__":
    main()
