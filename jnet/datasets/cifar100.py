"""CIFAR-100: 50,000 training and 10,000 test 32x32 colour images in 100 fine / 20 coarse classes."""

from __future__ import annotations

import os

import numpy as np

from jnet.datasets.cifar import load_batch
from jnet.datasets.keras_files import fetch

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
DIRNAME = "cifar-100-python"


def load_data(label_mode="fine"):
    """Loads CIFAR-100, as `keras.datasets.cifar100.load_data`.

    Uses Keras's cache (`~/.keras/datasets/cifar-100-python-target/cifar-100-python`, or the
    older `~/.keras/datasets/cifar-100-python`) when present; otherwise downloads the archive
    through `jnet.utils.get_file`.

    Args:
        label_mode: `"fine"` (100 classes) or `"coarse"` (20 superclasses).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 32, 32, 3)` and labels `(n, 1)`.

    Raises:
        OSError: offline and not cached.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    root = fetch(
        "cifar100",
        DIRNAME + "-target",
        ORIGIN,
        FILE_HASH,
        extract=True,
        existing=(os.path.join(DIRNAME + "-target", DIRNAME), DIRNAME),
    )
    path = root if os.path.basename(root) == DIRNAME else os.path.join(root, DIRNAME)
    key = f"{label_mode}_labels"
    x_train, y_train = load_batch(os.path.join(path, "train"), label_key=key)
    x_test, y_test = load_batch(os.path.join(path, "test"), label_key=key)
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1), y_test)
