"""`jnet.applications`: the shared pieces (preprocessing, decoding, weights fetching, argument
checks) against Keras 3, and the families built here, each through the table-driven checks of
`tests/fixtures/applications/harness.py` (parameter counts against Keras, Keras-saved weights
predicting the same in jnet, bad arguments)."""

import hashlib
import json
import os

import jax
import numpy as np
import pytest

import jnet
from fixtures.applications import harness
from jnet.applications import imagenet_utils, weights as app_weights

# ----------------------------------------------------------------------------- shared pieces


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [3, 4])
def test_preprocess_input_matches_keras(mode, data_format, rank):
    from keras.applications import imagenet_utils as kiu

    shape = (2, 5, 4, 3) if data_format == "channels_last" else (2, 3, 5, 4)
    x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
    if rank == 3:
        x = x[0]
    expected = kiu.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(imagenet_utils.preprocess_input(x.copy(), data_format, mode), expected, rtol=1e-6)
    got = imagenet_utils.preprocess_input(jax.numpy.asarray(x), data_format, mode)
    assert isinstance(got, jax.Array)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


def test_preprocess_input_integer_and_in_place_as_keras():
    from keras.applications import imagenet_utils as kiu

    x = np.arange(2 * 2 * 2 * 3, dtype="uint8").reshape(2, 2, 2, 3)
    got = jnet.applications.vgg16.preprocess_input(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, kiu.preprocess_input(x.copy(), mode="caffe"), rtol=1e-6)
    y = np.full((1, 2, 2, 3), 255.0, "float32")
    jnet.applications.imagenet_utils.preprocess_input(y, mode="tf")
    assert np.all(y == 1.0)  # a float NumPy array is written over, as in Keras


def test_preprocess_input_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="bgr")
    with pytest.raises(ValueError, match="data_format"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), data_format="nhwc")


def _fake_class_index():
    return {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}


@pytest.fixture
def class_index(tmp_path, monkeypatch):
    """A class index file in a temporary Keras cache, with the module's hash set to its own, so
    `decode_predictions` goes through `get_file` and never the network."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    os.makedirs(tmp_path / "models")
    path = tmp_path / "models" / "imagenet_class_index.json"
    path.write_text(json.dumps(_fake_class_index()))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(path.read_bytes()).hexdigest())
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", "http://127.0.0.1:9/never-downloaded.json")
    return _fake_class_index()


def test_decode_predictions_matches_keras(class_index, monkeypatch):
    import keras.src.applications.imagenet_utils as kiu

    monkeypatch.setattr(kiu, "CLASS_INDEX", class_index)
    preds = np.random.default_rng(0).random((3, 1000)).astype("float32")
    got = jnet.applications.resnet50.decode_predictions(preds, top=4) if hasattr(jnet.applications, "resnet50") \
        else imagenet_utils.decode_predictions(preds, top=4)
    assert got == kiu.decode_predictions(preds, top=4)
    assert got[0][0][:2] == tuple(class_index[str(int(preds[0].argmax()))])
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        imagenet_utils.decode_predictions(preds[:, :10])


def test_keras_names_and_constants():
    import keras.src.applications.imagenet_utils as kiu
    import keras.src.applications.vgg16 as kvgg

    assert (imagenet_utils.CLASS_INDEX_PATH, imagenet_utils.CLASS_INDEX_HASH) == (
        kiu.CLASS_INDEX_PATH, "c2c37ea517e94d9795004a39431a14cb")
    assert jnet.applications.vgg16.WEIGHTS.origin == kvgg.WEIGHTS_PATH
    assert jnet.applications.vgg16.WEIGHTS_NO_TOP.origin == kvgg.WEIGHTS_PATH_NO_TOP


@pytest.mark.parametrize("args", [
    ((None, 224, 32, "channels_last", True, "imagenet")),
    ((None, 224, 32, "channels_last", False, None)),
    (((100, 120, 3), 224, 32, "channels_last", False, "imagenet")),
    (((3, 100, None), 224, 32, "channels_first", False, None)),
    (((224, 224, 1), 224, 32, "channels_last", True, None)),
])
def test_obtain_input_shape_matches_keras(args):
    from keras.src.applications import imagenet_utils as kiu

    assert imagenet_utils.obtain_input_shape(*args) == kiu.obtain_input_shape(*args)


def test_missing_weights_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    file = app_weights.WeightsFile("nothing_here.h5", "http://127.0.0.1:9/nothing_here.h5", "0" * 32)
    with pytest.raises(OSError, match=r"VGG16\(weights='imagenet'\).*nothing_here\.h5.*place it at .*models"):
        app_weights.fetch(file, "VGG16")


def test_imagenet_weights_come_from_keras_cache(tmp_path, monkeypatch):
    """A file already in Keras's cache (matching the published hash) is loaded, not downloaded."""
    import keras

    from fixtures.applications.harness import save_keras_legacy_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    os.makedirs(tmp_path / "models")
    with jax.numpy_rank_promotion("allow"):
        kmodel = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    target = tmp_path / "models" / jnet.applications.vgg16.WEIGHTS_NO_TOP.fname
    save_keras_legacy_weights(kmodel, str(target))
    digest = hashlib.md5(target.read_bytes()).hexdigest()
    file = jnet.applications.vgg16.WEIGHTS_NO_TOP._replace(file_hash=digest, origin="http://127.0.0.1:9/x.h5")
    monkeypatch.setattr(jnet.applications.vgg16, "WEIGHTS_NO_TOP", file)
    model = jnet.applications.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    np.testing.assert_array_equal(model.get_layer("block5_conv3").kernel.numpy(),
                                  np.asarray(kmodel.get_layer("block5_conv3").kernel))


def test_input_tensor_is_used():
    inp = jnet.Input((32, 32, 3), name="img")
    x = jnet.layers.Rescaling(1 / 255.0, name="scale")(inp)
    model = jnet.applications.VGG16(weights=None, include_top=False, input_tensor=x, pooling="avg")
    assert model.inputs[0] is inp and model.get_layer("scale") is not None
    assert model.output.shape == (None, 512)


# ----------------------------------------------------------------------------- VGG

VGG = ["VGG16", "VGG19"]


@pytest.mark.parametrize("name", VGG)
@pytest.mark.parametrize("include_top", [True, False])
def test_vgg_param_counts(name, include_top):
    harness.check_param_counts(name, include_top)


def test_vgg16_live_against_keras():
    harness.check_param_counts_live("VGG16", include_top=False, input_shape=(32, 32, 3), pooling="max")


def test_vgg16_keras_weights(tmp_path):
    harness.check_keras_weights("VGG16", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg"), tmp_path)


@pytest.mark.parametrize("name", VGG)
def test_vgg_bad_arguments(name):
    harness.check_bad_arguments(name)
