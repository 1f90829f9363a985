"""California housing prices (1990 census): 20,640 block groups, 8 features, value in $."""

from __future__ import annotations

import numpy as np

from jnet.datasets.housing import check_test_split, shuffle_split
from jnet.datasets.keras_files import KERAS_ORIGIN, fetch

ORIGIN = KERAS_ORIGIN + "california_housing.npz"
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Loads the California housing dataset, as `keras.datasets.california_housing.load_data`.

    Args:
        version: `"large"` (all 20,640 samples) or `"small"` (the first 600).
        path: file name in Keras's cache (`~/.keras/datasets`); downloaded if missing.
        test_split: fraction of the shuffled samples used as the test set.
        seed: seed of the shuffle.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: features `(n, 8)`, targets `(n,)` in dollars.

    Raises:
        OSError: offline and not cached.
    """
    check_test_split("california_housing", test_split)
    if version not in ("small", "large"):
        raise ValueError(f"california_housing.load_data: version must be 'small' or 'large', got {version!r}")
    with np.load(fetch("california_housing", path, ORIGIN, FILE_HASH), allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return shuffle_split(x, y, test_split, seed)
