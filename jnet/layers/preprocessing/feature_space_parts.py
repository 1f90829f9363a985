"""The pieces a `FeatureSpace` is made of: `Feature` (a column's dtype, preprocessor and
encoding) and `Cross` (a hashed crossing of columns), with the helpers that size and read them."""

from __future__ import annotations

import numpy as np

from jnet import backend
from jnet.layers.base import Layer
from jnet.layers.preprocessing.encoding import CategoryEncoding, HashedCrossing, Hashing, IntegerLookup
from jnet.layers.preprocessing.numeric import Discretization
from jnet.layers.preprocessing.text import StringLookup
from jnet.serialization import _REGISTRY
from jnet.serialization_lib import deserialize_keras_object, serialize_keras_object

_FEATURE_MODES = ("int", "one_hot", "float")


def _auto_name(prefix: str) -> str:
    """`prefix`, then `prefix_1`, `prefix_2`, ... (Keras's `auto_name`)."""
    n = backend.get_uid(f"feature_space:{prefix}")
    return prefix if n == 1 else f"{prefix}_{n - 1}"


class Cross:
    """A feature cross: the listed features' values hashed together into `crossing_dim` bins.

    Args:
        feature_names: the names of the crossed features (at least two).
        crossing_dim: the number of hash bins.
        output_mode: `"one_hot"` (default) or `"int"` (the bin index).
    """

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"FeatureSpace.cross: output_mode must be one of ('int', 'one_hot'), got {output_mode!r}")
        self.feature_names = tuple(feature_names)
        self.crossing_dim = crossing_dim
        self.output_mode = output_mode

    @property
    def name(self) -> str:
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {"feature_names": self.feature_names, "crossing_dim": self.crossing_dim, "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Feature:
    """One feature of a `FeatureSpace`: the dtype of its raw values, the preprocessing layer
    they go through, and how the result is encoded (`"int"`, `"one_hot"` or `"float"`)."""

    def __init__(self, dtype, preprocessor, output_mode):
        if output_mode not in _FEATURE_MODES:
            raise ValueError(f"FeatureSpace.feature: output_mode must be one of {_FEATURE_MODES}, got {output_mode!r}")
        if isinstance(preprocessor, dict):
            preprocessor = deserialize_keras_object(preprocessor)
        if not isinstance(preprocessor, Layer):
            raise ValueError(
                f"FeatureSpace.feature: preprocessor must be a jnet layer, got {type(preprocessor).__name__}"
            )
        self.dtype = dtype
        self.preprocessor = preprocessor
        self.output_mode = output_mode

    def get_config(self):
        preprocessor = serialize_keras_object(self.preprocessor)
        # The FeatureSpace builds its preprocessors itself, for the feature's dtype.
        preprocessor.pop("build_config", None)
        return {"dtype": self.dtype, "preprocessor": preprocessor, "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# Config objects of a saved FeatureSpace, found by class name when it is loaded.
_REGISTRY.setdefault("Feature", Feature)
_REGISTRY.setdefault("Cross", Cross)


def _cardinality(name, preprocessor):
    """The number of distinct ids `preprocessor` outputs, for one-hot encoding them."""
    if getattr(preprocessor, "output_mode", "int") != "int":
        raise ValueError(
            f"FeatureSpace: feature '{name}' has output_mode='one_hot', so its preprocessor must return "
            f"integer ids, but {preprocessor._label} has output_mode={preprocessor.output_mode!r}"
        )
    if isinstance(preprocessor, (IntegerLookup, StringLookup)):
        return preprocessor.vocabulary_size()
    if isinstance(preprocessor, CategoryEncoding):
        return preprocessor.num_tokens
    if isinstance(preprocessor, Discretization):
        return preprocessor._depth
    if isinstance(preprocessor, (Hashing, HashedCrossing)):
        return preprocessor.num_bins
    raise ValueError(
        f"FeatureSpace: feature '{name}' has output_mode='one_hot', but its preprocessor "
        f"{preprocessor._label} is not a standard one and the size of its output space is unknown, "
        "so it cannot be one-hot encoded. Use output_mode='int'."
    )


def _rows_of(value):
    """A raw column as a numpy array."""
    return value if isinstance(value, np.ndarray) else np.asarray(value)
