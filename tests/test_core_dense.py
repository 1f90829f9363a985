import numpy as np
import pytest
from harness import check_layer

from jnet import layers


def test_dense_matches_numpy():
    x = np.random.RandomState(0).randn(4, 3).astype(np.float32)

    def ref(v, x):
        p = v["params"]
        return np.maximum(np.asarray(x) @ np.asarray(p["kernel"]) + np.asarray(p["bias"])[None], 0)

    v, y = check_layer(layers.Dense(5, activation="relu"), x, reference=ref)
    assert v["params"]["kernel"].shape == (3, 5) and v["params"]["bias"].shape == (5,)


def test_dense_bad_config_names_argument():
    with pytest.raises(ValueError, match="Dense.*units must be a positive integer"):
        layers.Dense(-1)
    with pytest.raises(ValueError, match="Unknown activation 'relux'"):
        layers.Dense(2, activation="relux")
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'"):
        layers.Dense(2, kernel_initializer="glorot")
