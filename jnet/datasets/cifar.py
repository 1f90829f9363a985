"""Reading the CIFAR "python version" batch files (shared by `cifar10` and `cifar100`)."""

from __future__ import annotations

import numpy as np

from jnet.datasets.keras_files import ArrayUnpickler


def load_batch(fpath, label_key="labels"):
    """One CIFAR batch file: `(images (n, 3, 32, 32) uint8, labels list)`.

    The official files are Python pickles (written by Python 2, hence `encoding="bytes"`);
    they are read with an unpickler that only rebuilds NumPy arrays.
    """
    with open(fpath, "rb") as f:
        d = ArrayUnpickler(f, encoding="bytes").load()
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise ValueError(
            f"cifar: {fpath!r} is not a CIFAR batch file (keys {sorted(d)}, expected 'data' and {label_key!r})"
        )
    data = np.asarray(d["data"])
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]
