"""MNIST from local files (Keras's `load_data()` shape, no download)."""

import os

import numpy as np

from jnet.datasets.idx import load_idx_dataset

DEFAULT_PATHS = ("/usr/share/datasets/mnist", "~/.keras/datasets/mnist.npz", "~/.keras/datasets/mnist")

HOW_TO_GET = (
    "Download the four *-ubyte.gz files from a mirror of http://yann.lecun.com/exdb/mnist/ "
    "(or Keras's mnist.npz) and pass the folder (or the .npz file) as path=, or set JNET_MNIST."
)


def _load_npz(path):
    with np.load(path) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(f"mnist: {path!r} lacks arrays {sorted(missing)}")
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def load_data(path=None):
    """Load MNIST: 60,000 training and 10,000 test 28×28 grayscale digit images.

    Args:
        path: a folder with the four IDX files (`train-images-idx3-ubyte[.gz]`, ...), or a
            Keras-style `mnist.npz`. Default: the `JNET_MNIST` environment variable, else the
            first of /usr/share/datasets/mnist, ~/.keras/datasets/mnist.npz,
            ~/.keras/datasets/mnist that exists.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 28, 28)`, uint8 labels `(n,)`.

    Raises:
        FileNotFoundError: when no files are found, saying how to get them.
    """
    if path is None:
        path = os.environ.get("JNET_MNIST")
    if path is None:
        found = [p for p in map(os.path.expanduser, DEFAULT_PATHS) if os.path.exists(p)]
        path = found[0] if found else os.path.expanduser(DEFAULT_PATHS[0])
    path = os.path.expanduser(path)
    if os.path.isfile(path) and path.endswith(".npz"):
        return _load_npz(path)
    return load_idx_dataset(path, "mnist", HOW_TO_GET)
