"""`timeseries_dataset_from_array`: sliding windows over a sequence, batched (Keras semantics)."""

from __future__ import annotations

import numpy as np

from jnet.utils.dataset import Dataset


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"timeseries_dataset_from_array: {name} must be an int, got {v!r}")


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Creates a dataset of sliding windows over a time series, as Keras's function of that name.

    Window `i` starts at row `start_index + i * sequence_stride` and holds `sequence_length`
    rows taken every `sampling_rate` steps: `data[p], data[p + r], ..., data[p + (L - 1) r]`.
    Its target is `targets[p]` (`targets[start_index + i * sequence_stride]`), so to predict the
    value after a window pass `targets=data[sequence_length:]`.

    Args:
        data: array (or array-like) of rows, `(steps, ...)`.
        targets: array of targets aligned with `data`, or `None` (then only windows are yielded).
        sequence_length: rows per window.
        sequence_stride: rows between the starts of successive windows.
        sampling_rate: step between rows inside a window.
        batch_size: windows per batch; `None` yields single windows.
        shuffle: visit the windows in a random order (a new one each epoch).
        seed: seed of that order.
        start_index, end_index: use only `data[start_index:end_index]` (end excluded).

    Returns:
        A `jnet.utils.Dataset` yielding `(windows, targets)` batches (or `windows`), windows
        shaped `(batch, sequence_length, ...)`. `model.fit` takes it directly.

    Example:
    ```python
    ds = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3, batch_size=2)
    next(iter(ds))   # [[0, 1, 2], [1, 2, 3]]
    ```
    """
    data = np.asarray(data)
    n = len(data)
    for name, v in (
        ("sequence_length", sequence_length),
        ("sequence_stride", sequence_stride),
        ("sampling_rate", sampling_rate),
    ):
        _positive_int(name, v)
    if sequence_length <= 0:
        raise ValueError(f"timeseries_dataset_from_array: sequence_length must be > 0, got {sequence_length}")
    if start_index:
        if start_index < 0:
            raise ValueError(f"timeseries_dataset_from_array: start_index must be >= 0, got {start_index}")
        if start_index >= n:
            raise ValueError(
                f"timeseries_dataset_from_array: start_index={start_index} must be lower than the "
                f"length of the data ({n})"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"timeseries_dataset_from_array: end_index={end_index} must be higher than start_index={start_index}"
            )
        if end_index >= n:
            raise ValueError(
                f"timeseries_dataset_from_array: end_index={end_index} must be lower than the length of the data ({n})"
            )
        if end_index <= 0:
            raise ValueError(f"timeseries_dataset_from_array: end_index must be > 0, got {end_index}")
    for name, v in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if v <= 0:
            raise ValueError(f"timeseries_dataset_from_array: {name} must be > 0, got {v}")
        if v >= n:
            raise ValueError(
                f"timeseries_dataset_from_array: {name}={v} must be lower than the length of the data ({n})"
            )
    start = start_index or 0
    end = end_index or n
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride) + start
    if len(starts) == 0:
        raise ValueError(
            f"timeseries_dataset_from_array: no window of sequence_length={sequence_length} and "
            f"sampling_rate={sampling_rate} fits in the {end - start} rows given"
        )
    offsets = np.arange(sequence_length) * sampling_rate

    def take_rows(idx):
        p = starts[idx]
        windows = data[p[:, None] + offsets[None, :]]
        return windows if targets is None else (windows, targets[p])

    return Dataset(take_rows, len(starts), batch_size, shuffle, seed)
