"""Fashion-MNIST from local IDX files (Keras's `load_data()` shape, no download)."""

import os

from jnet.datasets.idx import load_idx_dataset

DEFAULT_PATH = "/usr/share/datasets/fashion-mnist"

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

HOW_TO_GET = (
    "On Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist` (installs them in "
    f"{DEFAULT_PATH}); or download the four *-ubyte.gz files from "
    "https://github.com/zalandoresearch/fashion-mnist and pass their folder as path=."
)


def load_data(path=None):
    """Load the Fashion-MNIST dataset: 60,000 training and 10,000 test 28×28 grayscale images.

    Args:
        path: folder holding `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
            `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`. Default: the
            `JNET_FASHION_MNIST` environment variable, else `/usr/share/datasets/fashion-mnist`
            (where Debian's `dataset-fashion-mnist` package puts them).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 28, 28)` in 0..255 and uint8
        labels `(n,)` in 0..9 (names in `CLASS_NAMES`).

    Raises:
        FileNotFoundError: when the files are absent, saying how to get them.

    Example:
    ```python
    (x_train, y_train), (x_test, y_test) = jnet.datasets.fashion_mnist.load_data()
    ```
    """
    path = path or os.environ.get("JNET_FASHION_MNIST") or DEFAULT_PATH
    return load_idx_dataset(os.path.expanduser(path), "fashion_mnist", HOW_TO_GET)
