"""The `weights=` argument of every application: `None`, `"imagenet"` or a file path.

`"imagenet"` fetches Keras's published file through `jnet.utils.get_file` under the same file
name, URL and hash as `keras.applications`, into Keras's cache folder (`~/.keras/models/`), so a
file Keras already downloaded is reused and a file jnet downloads serves Keras too. The files
are Keras's legacy HDF5 weight files; `model.load_weights` reads them by layer order, which is
why the builders create Keras's layers in Keras's order under Keras's names.
"""

from __future__ import annotations

import os
from typing import NamedTuple

__all__ = ["WeightsFile", "check_weights", "fetch", "load_weights"]


class WeightsFile(NamedTuple):
    """One published weights file: its cache name, its URL and Keras's hash of it."""

    fname: str
    origin: str
    file_hash: str


def check_weights(weights, include_top, classes, where):
    """Keras's checks of `weights` against `include_top`/`classes`.

    Raises:
        ValueError: `weights` is neither `None`, `"imagenet"` nor an existing file, or
            `"imagenet"` with `include_top=True` and `classes != 1000`.
    """
    if not (
        weights is None
        or weights == "imagenet"
        or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))
    ):
        raise ValueError(
            f"{where}: the `weights` argument should be either `None` (random initialization), "
            "'imagenet' (pre-training on ImageNet), or the path to the weights file to be loaded. "
            f"Received: weights={weights!r}"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            f"{where}: if using `weights='imagenet'` with `include_top=True`, `classes` should be 1000. "
            f"Received: classes={classes}"
        )


def fetch(file: WeightsFile, where: str) -> str:
    """The local path of a published weights file, downloaded into Keras's cache if missing.

    Raises:
        OSError: the file is not cached and cannot be downloaded, saying where to place it.
    """
    from jnet.utils import get_file
    from jnet.utils.file_utils import keras_home

    try:
        return get_file(file.fname, file.origin, cache_subdir="models", file_hash=file.file_hash)
    except OSError as err:
        place = os.path.join(os.path.expanduser(keras_home()), "models", file.fname)
        raise OSError(
            f"{where}(weights='imagenet') needs Keras's weights file {file.fname!r}, which is not cached "
            f"and could not be downloaded from {file.origin} ({err}). Download it elsewhere and place it "
            f"at {place}, or pass its path as weights=..."
        ) from err


def load_weights(model, weights, file: WeightsFile | None, where: str):
    """Load `weights` (`None`, `"imagenet"` with its published `file`, or a path) into `model`."""
    if weights is None:
        return model
    if weights == "imagenet":
        if file is None:
            raise ValueError(
                f"{where}: no ImageNet weights are published for this configuration; use weights=None or a path"
            )
        path = fetch(file, where)
    else:
        path = os.fspath(weights)
    model.load_weights(path)
    return model
