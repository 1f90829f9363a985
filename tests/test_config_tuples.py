"""Layer configs keep Keras's Python types: tuple-valued arguments (kernel sizes, strides, pool
sizes, paddings, target shapes) come back from `get_config()` as tuples, as in Keras 3, so code
such as keras.io's ConvMixer example (`layer.get_config()["kernel_size"] == (5, 5)`) works; JSON
saving still writes them as arrays and loading accepts those."""

import json

import pytest

from jnet import layers

keras = pytest.importorskip("keras")

CASES = [
    ("DepthwiseConv2D", (5,), {}),
    ("SeparableConv2D", (4, 3), {"strides": 2}),
    ("Conv2DTranspose", (2, 3), {"strides": 2, "output_padding": 1}),
    ("MaxPooling2D", (), {}),
    ("UpSampling2D", (), {}),
    ("ZeroPadding2D", (), {}),
    ("Cropping2D", (), {}),
    ("Reshape", ((2, 3),), {}),
    ("Permute", ((2, 1),), {}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[c[0] for c in CASES])
def test_tuple_config_values_match_keras(name, args, kwargs):
    config = getattr(layers, name)(*args, **kwargs).get_config()
    keras_config = getattr(keras.layers, name)(*args, **kwargs).get_config()
    tuples = {k: v for k, v in keras_config.items() if isinstance(v, tuple)}
    assert tuples
    for key, value in tuples.items():
        assert config[key] == value and type(config[key]) is tuple, key
    # The JSON round trip (lists) rebuilds the same layer config.
    restored = getattr(layers, name).from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
