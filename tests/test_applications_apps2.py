"""`jnet.applications`: EfficientNet, EfficientNetV2, ConvNeXt, Xception, InceptionV3,
InceptionResNetV2 and NASNet against
Keras 3 (parameter counts, layer names, Keras-saved weights predicting the same, preprocessing,
argument checks), through `tests/fixtures/applications/harness.py`.

The smallest variant of each family is compared with a live Keras model at a small input (built
shape-only: Keras declares the variables without creating arrays); every variant against
`param_counts_apps2.json`, which Keras 3 wrote (`make_param_counts_apps2.py`). jnet builds
shape-only too (no weight array exists until one is read), but the largest graphs still take a
while to trace, so they run with the slow tests."""

import json
import os

import jax
import numpy as np
import pytest
from fixtures.applications import harness

import jnet

TABLE = os.path.join(os.path.dirname(__file__), "fixtures", "applications", "param_counts_apps2.json")

# (name, small input size) of each family's smallest variant, compared live with Keras.
SMALLEST = [
    ("EfficientNetB0", 32),
    ("EfficientNetV2B0", 32),
    ("ConvNeXtTiny", 32),
    ("Xception", 71),
    ("InceptionV3", 75),
    ("InceptionResNetV2", 75),
    ("NASNetMobile", 32),
]
# The other variants, against the Keras-written table; the big graphs only with the slow tests.
FAST_TABLE = ["EfficientNetB1", "EfficientNetV2B1"]
SLOW_TABLE = [
    "EfficientNetB2",
    "EfficientNetB3",
    "EfficientNetB4",
    "EfficientNetB5",
    "EfficientNetB6",
    "EfficientNetB7",
    "EfficientNetV2B2",
    "EfficientNetV2B3",
    "EfficientNetV2S",
    "EfficientNetV2M",
    "EfficientNetV2L",
    "ConvNeXtSmall",
    "ConvNeXtBase",
    "ConvNeXtLarge",
    "ConvNeXtXLarge",
    "NASNetLarge",
]


def _table():
    with open(TABLE) as f:
        return json.load(f)


def _check_table(name):
    table = _table()
    for top in (True, False):
        model = harness.jnet_builder(name)(weights=None, include_top=top, input_shape=(32, 32, 3))
        key = f"{name}/{'top' if top else 'notop'}"
        assert harness.param_counts(model) == table[key], key


def _keras_shapes_only(name, **kwargs):
    """Keras's model with every variable declared but no array created (Keras's
    `StatelessScope(initialize_variables=False)`): its counts, names and shapes, in seconds."""
    import keras
    from keras.src.backend.common.stateless_scope import StatelessScope

    with jax.numpy_rank_promotion("allow"), StatelessScope(initialize_variables=False):
        return getattr(keras.applications, name)(weights=None, **kwargs)


# ----------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("name,size", SMALLEST)
def test_smallest_variant_live_against_keras(name, size):
    """Counts, layer names (in Keras's order) and model name equal a live Keras model's."""
    kmodel = _keras_shapes_only(name, input_shape=(size, size, 3))
    jmodel = harness.jnet_builder(name)(weights=None, input_shape=(size, size, 3))
    assert harness.param_counts(jmodel) == harness.param_counts(kmodel)
    assert harness.layer_names(jmodel) == harness.layer_names(kmodel)
    assert jmodel.name == kmodel.name
    # The weights' shapes in Keras's weight order.
    assert [tuple(w.shape) for w in jmodel.weights] == [tuple(w.shape) for w in kmodel.weights]


@pytest.mark.parametrize("name", FAST_TABLE)
def test_param_counts_table(name):
    _check_table(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_TABLE)
def test_param_counts_table_big_variants(name):
    _check_table(name)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("EfficientNetB0", dict(include_top=False, pooling="max")),
        ("EfficientNetV2S", dict(include_top=False, pooling="avg")),  # Rescaling to [-1, 1], fused stem blocks
        ("EfficientNetV2B0", dict(include_top=False, include_preprocessing=False)),
        ("ConvNeXtTiny", dict(include_top=False, pooling="avg", include_preprocessing=False)),
        ("Xception", dict(include_top=False, pooling="max", classes=7)),
    ],
)
def test_headless_variants_against_keras(name, kwargs):
    shape = (75, 75, 3) if name == "Xception" else (32, 32, 3)
    kmodel = _keras_shapes_only(name, input_shape=shape, **kwargs)
    jmodel = harness.jnet_builder(name)(weights=None, input_shape=shape, **kwargs)
    assert harness.param_counts(jmodel) == harness.param_counts(kmodel)
    assert harness.layer_names(jmodel) == harness.layer_names(kmodel)
    assert jmodel.output.shape == tuple(kmodel.output.shape)


# ----------------------------------------------------------------------------- Keras's weights


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("EfficientNetB0", dict(input_shape=(32, 32, 3))),
        ("ConvNeXtTiny", dict(include_top=False, pooling="avg", input_shape=(32, 32, 3))),
    ],
)
def test_keras_weights_predict_the_same(name, kwargs, tmp_path):
    harness.check_keras_weights(name, kwargs, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("EfficientNetV2B0", dict(input_shape=(32, 32, 3))),
        ("Xception", dict(include_top=False, pooling="avg", input_shape=(71, 71, 3))),
        ("InceptionV3", dict(include_top=False, input_shape=(75, 75, 3))),
        ("InceptionResNetV2", dict(include_top=False, pooling="max", input_shape=(75, 75, 3))),
        ("NASNetMobile", dict(include_top=False, pooling="avg", input_shape=(32, 32, 3))),
    ],
)
def test_keras_weights_predict_the_same_more_families(name, kwargs, tmp_path):
    harness.check_keras_weights(name, kwargs, tmp_path)


# ----------------------------------------------------------------------------- preprocessing, decoding


@pytest.mark.parametrize(
    "module",
    ["efficientnet", "efficientnet_v2", "convnext", "xception", "inception_v3", "inception_resnet_v2", "nasnet"],
)
def test_preprocess_input_matches_keras(module):
    import importlib

    kmod = importlib.import_module(f"keras.applications.{module}")
    jmod = getattr(jnet.applications, module)
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 5, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(jmod.preprocess_input(x.copy())), kmod.preprocess_input(x.copy()), rtol=1e-6, atol=1e-6
    )
    assert jmod.decode_predictions.__module__ == jmod.__name__


def test_tf_mode_preprocessing_values():
    x = np.array([[[[0.0, 127.5, 255.0]]]], "float32")
    np.testing.assert_allclose(jnet.applications.xception.preprocess_input(x.copy()), [[[[-1.0, 0.0, 1.0]]]])
    for module in ("inception_v3", "inception_resnet_v2", "nasnet"):
        np.testing.assert_allclose(
            getattr(jnet.applications, module).preprocess_input(x.copy()), [[[[-1.0, 0.0, 1.0]]]]
        )


def test_weights_files_are_keras_s():
    import keras.src.applications.convnext as kc
    import keras.src.applications.efficientnet as ke
    import keras.src.applications.efficientnet_v2 as ke2
    import keras.src.applications.inception_resnet_v2 as kirv2
    import keras.src.applications.inception_v3 as kiv3
    import keras.src.applications.nasnet as kn
    import keras.src.applications.xception as kx

    apps = jnet.applications
    assert apps.efficientnet.WEIGHTS_HASHES == ke.WEIGHTS_HASHES
    assert apps.efficientnet.BASE_WEIGHTS_PATH == ke.BASE_WEIGHTS_PATH
    assert apps.efficientnet_v2.WEIGHTS_HASHES == ke2.WEIGHTS_HASHES
    assert apps.efficientnet_v2.BASE_WEIGHTS_PATH == ke2.BASE_WEIGHTS_PATH
    assert apps.efficientnet_v2.DEFAULT_BLOCKS_ARGS == ke2.DEFAULT_BLOCKS_ARGS
    assert apps.efficientnet.DEFAULT_BLOCKS_ARGS == ke.DEFAULT_BLOCKS_ARGS
    assert apps.convnext.WEIGHTS_HASHES == kc.WEIGHTS_HASHES
    assert apps.convnext.MODEL_CONFIGS == kc.MODEL_CONFIGS
    assert [f.origin for f in apps.xception._FILES.values()] == [kx.WEIGHTS_PATH, kx.WEIGHTS_PATH_NO_TOP]
    assert [f.origin for f in apps.inception_v3._FILES.values()] == [kiv3.WEIGHTS_PATH, kiv3.WEIGHTS_PATH_NO_TOP]
    assert all(f.origin.startswith(kirv2.BASE_WEIGHT_URL) for f in apps.inception_resnet_v2._FILES.values())
    assert [f.origin for size in (224, 331) for f in apps.nasnet._FILES[size].values()] == [
        kn.NASNET_MOBILE_WEIGHT_PATH,
        kn.NASNET_MOBILE_WEIGHT_PATH_NO_TOP,
        kn.NASNET_LARGE_WEIGHT_PATH,
        kn.NASNET_LARGE_WEIGHT_PATH_NO_TOP,
    ]


# ----------------------------------------------------------------------------- ConvNeXt's own layers


def test_layer_scale_and_stochastic_depth():
    from jnet.applications.convnext import LayerScale, StochasticDepth

    scale = LayerScale(0.5, 3)
    x = np.arange(12, dtype="float32").reshape(2, 2, 1, 3)
    np.testing.assert_allclose(np.asarray(scale(x)), 0.5 * x)
    assert [w.shape for w in scale.trainable_weights] == [(3,)]

    drop = StochasticDepth(0.5)
    y = np.ones((64, 2, 2), "float32")
    np.testing.assert_array_equal(np.asarray(drop(y)), y)  # identity at inference
    out, _ = drop.apply(drop.init(jax.random.key(0), y), y, training=True, rng=jax.random.key(1))
    per_sample = np.asarray(out).reshape(64, -1)
    # Whole samples are dropped or kept (scaled by 1 / keep_prob).
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert 0 < (per_sample[:, 0] == 0).sum() < 64
    with pytest.raises(ValueError, match="drop_path_rate"):
        StochasticDepth(1.0)


# ----------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    "name,min_size",
    [("EfficientNetB0", 32), ("ConvNeXtTiny", 32), ("Xception", 71), ("InceptionV3", 75), ("NASNetMobile", 32)],
)
def test_bad_arguments(name, min_size):
    harness.check_bad_arguments(name, min_size=min_size)


def test_convnext_imagenet_checks():
    with pytest.raises(ValueError, match="convnext_tiny"):
        jnet.applications.ConvNeXtTiny(weights="imagenet", name="mine")


def test_efficientnet_v2_renamed_keeps_its_variant():
    """Keras looks the block table up by the model's name (so a renamed model fails there);
    jnet keys it on the variant."""
    model = jnet.applications.EfficientNetV2B0(
        weights=None, include_top=False, input_shape=(32, 32, 3), name="backbone"
    )
    assert model.name == "backbone"
    assert harness.param_counts(model) == _table()["EfficientNetV2B0/notop"]


def test_input_tensor_is_used():
    inp = jnet.Input((32, 32, 3), name="img")
    x = jnet.layers.Rescaling(2.0, name="scale")(inp)
    model = jnet.applications.ConvNeXtTiny(weights=None, include_top=False, input_tensor=x, pooling="max")
    assert model.inputs[0] is inp and model.get_layer("scale") is not None
    assert model.get_layer("convnext_tiny_prestem_normalization") is not None
    assert model.output.shape == (None, 768)
