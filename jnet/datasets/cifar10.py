"""CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes."""

from __future__ import annotations

import os

import numpy as np

from jnet.datasets.cifar import load_batch
from jnet.datasets.keras_files import fetch

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
DIRNAME = "cifar-10-batches-py"


def load_data():
    """Loads CIFAR-10, as `keras.datasets.cifar10.load_data`.

    Uses Keras's cache (`~/.keras/datasets/cifar-10-batches-py-target/cifar-10-batches-py`, or
    the older `~/.keras/datasets/cifar-10-batches-py`) when present; otherwise downloads the
    archive through `jnet.utils.get_file`. Classes: airplane, automobile, bird, cat, deer, dog,
    frog, horse, ship, truck.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 32, 32, 3)` (channels last)
        and uint8 labels `(n, 1)`.

    Raises:
        OSError: offline and not cached.

    Example:
    ```python
    (x_train, y_train), (x_test, y_test) = jnet.datasets.cifar10.load_data()
    ```
    """
    root = fetch(
        "cifar10",
        DIRNAME + "-target",
        ORIGIN,
        FILE_HASH,
        extract=True,
        existing=(os.path.join(DIRNAME + "-target", DIRNAME), DIRNAME),
    )
    path = root if os.path.basename(root) == DIRNAME else os.path.join(root, DIRNAME)
    xs, ys = [], []
    for i in range(1, 6):
        x, y = load_batch(os.path.join(path, f"data_batch_{i}"))
        xs.append(x)
        ys.append(np.asarray(y, dtype="uint8"))
    x_test, y_test = load_batch(os.path.join(path, "test_batch"))
    x_train = np.concatenate(xs).astype("uint8").transpose(0, 2, 3, 1)
    x_test = np.asarray(x_test, dtype="uint8").transpose(0, 2, 3, 1)
    y_train = np.concatenate(ys).reshape(-1, 1)
    y_test = np.asarray(y_test, dtype="uint8").reshape(-1, 1)
    return (x_train, y_train), (x_test, y_test)
