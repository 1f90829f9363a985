"""Finding Keras's dataset files: Keras's cache first (both the Keras 3 and the older layouts),
then a download through `jnet.utils.get_file`; and reading them safely.

Some of Keras's dataset files hold pickled data (the CIFAR batches, the ragged word-id arrays
of imdb.npz and reuters.npz). They are read with an unpickler that only rebuilds NumPy arrays
(as Keras does), so a tampered file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np

from jnet.utils.file_utils import get_file, keras_home

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and NumPy arrays."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a dataset file (only NumPy arrays "
            "are allowed); the file may be corrupted or malicious"
        )


def _read_npy(buffer):
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array (ragged sequences): pickled, so unpickle it restrictedly
        buffer.seek(0)
        version = np.lib.format.read_magic(buffer)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(buffer)
        else:
            np.lib.format.read_array_header_2_0(buffer)
        return ArrayUnpickler(buffer).load()


def load_npz(path) -> dict:
    """The arrays of an `.npz` file, object arrays included, without arbitrary unpickling."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as raw:
                    out[member[:-4]] = _read_npy(io.BytesIO(raw.read()))
    return out


def fetch(dataset, fname, origin, file_hash, extract=False, existing=()):
    """The path of a dataset file (or extracted folder): a folder in `existing` (relative to
    Keras's cache, `~/.keras/datasets`) that is already there, else `get_file`'s result.

    Raises:
        OSError: offline and not cached, naming the dataset and where to put the file.
    """
    datadir = os.path.join(keras_home(), "datasets")
    for rel in existing:
        candidate = os.path.join(datadir, rel)
        if os.path.exists(candidate):
            return candidate
    try:
        return get_file(fname=fname, origin=origin, file_hash=file_hash, extract=extract)
    except OSError as e:
        raise OSError(f"{dataset}.load_data: {e}") from None
