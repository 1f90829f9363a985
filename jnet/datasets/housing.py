"""The shuffle-and-split shared by `boston_housing` and `california_housing` (Keras's rules)."""

from __future__ import annotations

import numpy as np


def check_test_split(dataset, test_split):
    if not 0 <= test_split < 1:
        raise ValueError(f"{dataset}.load_data: test_split must be in [0, 1), got {test_split}")


def shuffle_split(x, y, test_split, seed):
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
