"""`split_dataset`: split arrays or a `Dataset` into two datasets, as `keras.utils.split_dataset`."""

from __future__ import annotations

import random

import numpy as np

from jnet.utils.dataset import Dataset, _lengths


def _sizes(left_size, right_size, total):
    """Keras's rules: ints are counts, floats fractions of `total` (rounded), None the rest."""
    for name, v in (("left_size", left_size), ("right_size", right_size)):
        if v is not None and type(v) not in (int, float):
            raise TypeError(f"split_dataset: {name} must be an int, a float or None, got {type(v).__name__}")
        if isinstance(v, int) and not 0 < v < total:
            raise ValueError(
                f"split_dataset: {name} must be a positive int smaller than {total} (the dataset "
                f"size) or a float in (0, 1); got {v}"
            )
        if isinstance(v, float) and not 0 < v < 1:
            raise ValueError(
                f"split_dataset: {name} must be a positive int smaller than {total} or a float in (0, 1); got {v}"
            )
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: give left_size or right_size (or both)")
    if isinstance(left_size, float) and isinstance(right_size, float) and left_size + right_size > 1:
        raise ValueError(f"split_dataset: left_size + right_size = {left_size + right_size} is more than 1")
    left = round(left_size * total) if isinstance(left_size, float) else left_size
    right = round(right_size * total) if isinstance(right_size, float) else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(
            f"split_dataset: left ({left}) + right ({right}) samples is more than the {total} in the dataset"
        )
    for side, n in (("left", left), ("right", right)):
        if n == 0:
            raise ValueError(
                f"split_dataset: with {total} samples, left_size={left_size} and right_size="
                f"{right_size} leave the {side} split empty"
            )
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Splits a dataset into a left and a right part.

    Args:
        dataset: a NumPy array, a tuple or list of arrays with the same number of rows (split
            row-wise together), or a `jnet.utils.Dataset` (split by samples; both parts keep
            its `batch_size`).
        left_size: int (number of samples) or float in (0, 1) (fraction, rounded); `None` takes
            what `right_size` leaves.
        right_size: the same for the right part, taken from the end.
        shuffle: shuffle the samples before splitting.
        seed: seed of that shuffle.

    Returns:
        `(left, right)`: two `jnet.utils.Dataset`s. From arrays they yield single samples
        (unbatched, as Keras's); call `.batch(n)` before `fit`.

    Example:
    ```python
    train, val = jnet.utils.split_dataset((x, y), left_size=0.8)
    model.fit(train.batch(32), validation_data=val.batch(32))
    ```
    """
    if isinstance(dataset, Dataset):
        total, batch_size, take = dataset.num_samples, dataset.batch_size, dataset.take_samples
    elif isinstance(dataset, (np.ndarray, tuple, list)):
        parts = (dataset,) if isinstance(dataset, np.ndarray) else tuple(dataset)
        if not parts:
            raise ValueError("split_dataset: dataset is empty")
        for i, a in enumerate(parts):
            if not isinstance(a, np.ndarray):
                raise ValueError(f"split_dataset: expected NumPy arrays, got {type(a).__name__} at index {i}")
        lengths = _lengths(parts, [])
        if len(set(lengths)) != 1:
            raise ValueError(f"split_dataset: the arrays have different numbers of rows {lengths}")
        total, batch_size = lengths[0], None
        whole = Dataset.from_arrays(parts[0] if isinstance(dataset, np.ndarray) else parts)
        take = whole.take_samples
    else:
        raise TypeError(
            "split_dataset: dataset must be a NumPy array, a tuple/list of arrays or a "
            f"jnet.utils.Dataset, got {type(dataset).__name__}"
        )
    if total == 0:
        raise ValueError("split_dataset: dataset is empty")
    left, right = _sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        # Keras shuffles the sample list with Python's `random` seeded with `seed`.
        random.seed(seed if seed is not None else random.randint(0, 1_000_000))
        random.shuffle(order)
    order = np.asarray(order)
    left_idx, right_idx = order[:left], order[total - right :]
    return (
        Dataset(lambda idx: take(left_idx[idx]), left, batch_size),
        Dataset(lambda idx: take(right_idx[idx]), right, batch_size),
    )
