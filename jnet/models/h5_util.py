"""Opening and atomically writing HDF5 files (Keras's `.weights.h5` and legacy `.h5`)."""

from __future__ import annotations

import contextlib
import os
import tempfile

from jnet.utils.checkpoint import STALE_SECONDS, remove_stale_temps  # noqa: F401 - shared with checkpoints


@contextlib.contextmanager
def atomic_h5(filepath):
    """An `h5py.File` open for writing at a temporary sibling of `filepath`, moved over it with
    `os.replace` only when the block finishes, so a failed save leaves the old file."""
    import h5py

    path = os.path.abspath(os.fspath(filepath))
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.jnet-tmp-", suffix=".h5", dir=parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        os.replace(tmp, path)
        remove_stale_temps(path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def open_h5(filepath):
    """An `h5py.File` open for reading; a missing or non-HDF5 file is a `CheckpointError`."""
    import h5py

    from jnet.models.saving import CheckpointError

    path = os.fspath(filepath) if not hasattr(filepath, "read") else filepath
    if isinstance(path, str):
        if not os.path.exists(path):
            raise CheckpointError(f"No weights file at {path!r}: the file does not exist.")
        if not h5py.is_hdf5(path):
            raise CheckpointError(
                f"{path!r} is not an HDF5 file (truncated, or written in another format), "
                "though its name promises Keras's HDF5 format."
            )
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise CheckpointError(f"{path!r} cannot be read as HDF5: {err}") from err
    with f:
        yield f


@contextlib.contextmanager
def atomic_file(filepath):
    """A binary file open for writing at a temporary sibling of `filepath`, flushed and moved
    over it with `os.replace` only when the block finishes."""
    path = os.path.abspath(os.fspath(filepath))
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.jnet-tmp-", dir=parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
        remove_stale_temps(path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
