"""Boston housing prices: 506 samples of 13 features, median value in k$ as target."""

from __future__ import annotations

import numpy as np

from jnet.datasets.housing import check_test_split, shuffle_split
from jnet.datasets.keras_files import KERAS_ORIGIN, fetch

ORIGIN = KERAS_ORIGIN + "boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Loads the Boston housing dataset, as `keras.datasets.boston_housing.load_data`.

    Args:
        path: file name in Keras's cache (`~/.keras/datasets`); downloaded if missing.
        test_split: fraction of the shuffled samples used as the test set.
        seed: seed of the shuffle.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float64 features `(n, 13)`, targets `(n,)`.

    Raises:
        OSError: offline and not cached.
    """
    check_test_split("boston_housing", test_split)
    with np.load(fetch("boston_housing", path, ORIGIN, FILE_HASH), allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return shuffle_split(x, y, test_split, seed)
