"""jnet.backend, jnet.config and jnet.tree against keras's."""

import keras
import numpy as np
import pytest

import jnet
from jnet import backend, config, tree


def test_settings_round_trip_and_validate():
    assert backend.backend() == "jax" == config.backend()
    assert backend.floatx() == "float32" and backend.epsilon() == keras.backend.epsilon()
    assert backend.image_data_format() == "channels_last"
    try:
        config.set_floatx("float16")
        assert jnet.ops.zeros((1,)).dtype == np.float16
        config.set_epsilon(1e-3)
        assert backend.epsilon() == 1e-3
        config.set_image_data_format("channels_first")
        assert config.image_data_format() == "channels_first"
    finally:
        config.set_floatx("float32")
        config.set_epsilon(1e-7)
        config.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="set_floatx"):
        config.set_floatx("int8")
    with pytest.raises(ValueError, match="data_format"):
        config.set_image_data_format("nhwc")
    assert jnet.version() == jnet.__version__


@pytest.mark.parametrize("dtype", [None, int, float, bool, "int", "float32", np.float32, "bfloat16", "uint8"])
def test_standardize_dtype_matches_keras(dtype):
    assert backend.standardize_dtype(dtype) == keras.backend.standardize_dtype(dtype)


@pytest.mark.parametrize(
    "args",
    [
        ("int32", float),
        ("int8", "uint8"),
        (int, float),
        ("int32", "uint32"),
        ("bool",),
        (),
        ("float16", "bfloat16"),
        ("int16", "float16"),
    ],
)
def test_result_type_matches_keras(args):
    assert backend.result_type(*args) == keras.backend.result_type(*args)


def test_is_keras_tensor_and_uid():
    class Sym:
        _keras_tensor = True

    assert backend.is_keras_tensor(Sym()) and not backend.is_keras_tensor(np.ones(2))
    backend.clear_session()
    assert backend.get_uid("x") == 1 and backend.get_uid("x") == 2
    backend.clear_session()
    assert backend.get_uid("x") == 1


STRUCTS = [{"b": 2, "a": [1, None]}, (1, [2, (3,)]), [None, {"x": 1.0}]]


@pytest.mark.parametrize("s", STRUCTS)
def test_tree_matches_keras(s):
    assert tree.flatten(s) == keras.tree.flatten(s)
    assert tree.flatten_with_path(s) == keras.tree.flatten_with_path(s)
    f = lambda v: None if v is None else v * 2  # noqa: E731
    assert tree.map_structure(f, s) == keras.tree.map_structure(f, s)
    assert tree.pack_sequence_as(s, tree.flatten(s)) == s
    assert tree.lists_to_tuples(s) == keras.tree.lists_to_tuples(s)
    assert tree.is_nested(s) and not tree.is_nested(1)


def test_tree_structure_errors():
    with pytest.raises(ValueError):
        tree.assert_same_structure((1, 2), (1, (2, 3)))
    tree.assert_same_structure([1, 2], (3, 4))
    with pytest.raises(ValueError, match="leaves"):
        tree.pack_sequence_as((1, 2), [1])
