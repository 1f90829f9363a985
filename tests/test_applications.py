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
from fixtures.applications import harness

import jnet
from jnet.applications import imagenet_utils
from jnet.applications import weights as app_weights

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
    got = jnet.applications.resnet50.decode_predictions(preds, top=4)
    assert got == kiu.decode_predictions(preds, top=4)
    assert got[0][0][:2] == tuple(class_index[str(int(preds[0].argmax()))])
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        imagenet_utils.decode_predictions(preds[:, :10])


def test_keras_urls_and_hashes():
    """Same URLs, file names and hashes as Keras, so a file either one downloaded serves both."""
    import keras.src.applications as ka

    assert (imagenet_utils.CLASS_INDEX_PATH, imagenet_utils.CLASS_INDEX_HASH) == (
        ka.imagenet_utils.CLASS_INDEX_PATH,
        "c2c37ea517e94d9795004a39431a14cb",
    )
    apps = jnet.applications
    for mod, kmod in [(apps.vgg16, ka.vgg16), (apps.vgg19, ka.vgg19)]:
        assert (mod.WEIGHTS.origin, mod.WEIGHTS_NO_TOP.origin) == (kmod.WEIGHTS_PATH, kmod.WEIGHTS_PATH_NO_TOP)
    assert apps.resnet.BASE_WEIGHTS_PATH == ka.resnet.BASE_WEIGHTS_PATH
    assert all(apps.resnet.WEIGHTS_HASHES[k] == ka.resnet.WEIGHTS_HASHES[k] for k in apps.resnet.WEIGHTS_HASHES)
    assert apps.resnet.weights_file("resnet50", False).fname == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert apps.mobilenet_v3.WEIGHTS_HASHES == ka.mobilenet_v3.WEIGHTS_HASHES
    assert apps.mobilenet_v3.weights_file("small", False, 1.0, False).origin == (
        ka.mobilenet_v3.BASE_WEIGHT_PATH + "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
    )
    assert (
        apps.mobilenet.weights_file(0.25, 128, True).origin == ka.mobilenet.BASE_WEIGHT_PATH + "mobilenet_2_5_128_tf.h5"
    )
    assert apps.mobilenet_v2.weights_file(0.35, 96, False).origin == (
        ka.mobilenet_v2.BASE_WEIGHT_PATH + "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    )
    assert apps.densenet.weights_file(121, True) == (
        "densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        ka.densenet.DENSENET121_WEIGHT_PATH,
        "9d60b8095a5708f2dcce2bca79d332c7",
    )


def test_family_preprocessing_modes():
    from keras import applications as kapps

    x = np.random.default_rng(1).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    for module in [
        "vgg16",
        "vgg19",
        "resnet",
        "resnet50",
        "resnet_v2",
        "mobilenet",
        "mobilenet_v2",
        "mobilenet_v3",
        "densenet",
    ]:
        got = getattr(jnet.applications, module).preprocess_input(x.copy())
        np.testing.assert_allclose(got, getattr(kapps, module).preprocess_input(x.copy()), rtol=1e-6, err_msg=module)


@pytest.mark.parametrize(
    "args",
    [
        ((None, 224, 32, "channels_last", True, "imagenet")),
        ((None, 224, 32, "channels_last", False, None)),
        (((100, 120, 3), 224, 32, "channels_last", False, "imagenet")),
        (((3, 100, None), 224, 32, "channels_first", False, None)),
        (((224, 224, 1), 224, 32, "channels_last", True, None)),
    ],
)
def test_obtain_input_shape_matches_keras(args):
    from keras.src.applications import imagenet_utils as kiu

    assert imagenet_utils.obtain_input_shape(*args) == kiu.obtain_input_shape(*args)


def test_missing_weights_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    file = app_weights.WeightsFile("nothing_here.h5", "http://127.0.0.1:9/nothing_here.h5", "0" * 32)
    with pytest.raises(OSError, match=r"VGG16\(weights='imagenet'\).*nothing_here\.h5.*place it at .*models"):
        app_weights.fetch(file, "VGG16")


def test_imagenet_weights_come_from_keras_cache(tmp_path, monkeypatch):
    """A file already in Keras's cache (matching the published hash; here the file's own, as
    the published one cannot be fetched) is loaded, not downloaded."""
    import keras
    from fixtures.applications.harness import save_keras_legacy_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    os.makedirs(tmp_path / "models")
    with harness.keras_building():
        kmodel = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    target = tmp_path / "models" / jnet.applications.vgg16.WEIGHTS_NO_TOP.fname
    save_keras_legacy_weights(kmodel, str(target))
    digest = hashlib.md5(target.read_bytes()).hexdigest()
    file = jnet.applications.vgg16.WEIGHTS_NO_TOP._replace(file_hash=digest, origin="http://127.0.0.1:9/x.h5")
    monkeypatch.setattr(jnet.applications.vgg16, "WEIGHTS_NO_TOP", file)
    model = jnet.applications.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    np.testing.assert_array_equal(
        model.get_layer("block5_conv3").kernel.numpy(), np.asarray(kmodel.get_layer("block5_conv3").kernel)
    )


def test_input_tensor_is_used():
    inp = jnet.Input((32, 32, 3), name="img")
    x = jnet.layers.Rescaling(1 / 255.0, name="scale")(inp)
    model = jnet.applications.VGG16(weights=None, include_top=False, input_tensor=x, pooling="avg")
    assert model.inputs[0] is inp and model.get_layer("scale") is not None
    assert model.output.shape == (None, 512)


# ----------------------------------------------------------------------------- the families
# Each family: parameter counts (trainable and not, include_top True and False) against the
# counts Keras 3 wrote into param_counts.json; the smallest variants also built live in Keras
# (same counts, layer names in the same order, same model name); Keras-saved weights predicting
# the same in jnet for a few. The deepest variants build slowly, so they run with `-m slow`.

slow = pytest.mark.slow
PARAM_COUNT_CASES = [
    "VGG16",
    "VGG19",
    "ResNet50",
    "ResNet50V2",
    "MobileNet",
    "MobileNetV2",
    "MobileNetV3Small",
    "MobileNetV3Large",
    "DenseNet121",
    pytest.param("ResNet101", marks=slow),
    pytest.param("ResNet152", marks=slow),
    pytest.param("ResNet101V2", marks=slow),
    pytest.param("ResNet152V2", marks=slow),
    pytest.param("DenseNet169", marks=slow),
    pytest.param("DenseNet201", marks=slow),
]
LIVE_CASES = [
    ("VGG16", dict(include_top=False, input_shape=(32, 32, 3), pooling="max")),
    ("ResNet50", dict(include_top=False, input_shape=(32, 32, 3))),
    ("MobileNetV3Small", dict(include_top=True)),
    ("DenseNet121", dict(include_top=False, input_shape=(32, 32, 3))),
    pytest.param("ResNet50V2", dict(include_top=False, input_shape=(32, 32, 3)), marks=slow),
    pytest.param("MobileNet", dict(alpha=0.25, input_shape=(128, 128, 3)), marks=slow),
    pytest.param("MobileNetV2", dict(alpha=0.35, include_top=False, input_shape=(32, 32, 3)), marks=slow),
    pytest.param("MobileNetV3Large", dict(include_top=False, minimalistic=True, input_shape=(32, 32, 3)), marks=slow),
]
WEIGHTS_CASES = [
    ("VGG16", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")),
    ("ResNet50", dict(include_top=False, input_shape=(32, 32, 3))),
    ("MobileNetV3Small", dict(input_shape=(32, 32, 3), classes=7)),
    pytest.param("ResNet50V2", dict(include_top=True, input_shape=(32, 32, 3), classes=5), marks=slow),
    pytest.param("MobileNet", dict(alpha=0.25, input_shape=(32, 32, 3), classes=3, dropout=0.0), marks=slow),
    pytest.param(
        "MobileNetV2", dict(alpha=0.35, include_top=False, input_shape=(32, 32, 3), pooling="avg"), marks=slow
    ),
    pytest.param("DenseNet121", dict(include_top=False, input_shape=(32, 32, 3), pooling="max"), marks=slow),
]


@pytest.mark.parametrize("include_top", [True, False])
@pytest.mark.parametrize("name", PARAM_COUNT_CASES)
def test_param_counts_match_keras(name, include_top):
    harness.check_param_counts(name, include_top)


@pytest.mark.parametrize("name, kwargs", LIVE_CASES)
def test_small_variants_match_keras_live(name, kwargs):
    harness.check_param_counts_live(name, **kwargs)


@pytest.mark.parametrize("name, kwargs", WEIGHTS_CASES)
def test_keras_saved_weights_predict_the_same(name, kwargs, tmp_path):
    harness.check_keras_weights(name, kwargs, tmp_path)


@pytest.mark.parametrize("name", ["VGG16", "ResNet50", "ResNet50V2", "DenseNet121"])
def test_bad_arguments(name):
    harness.check_bad_arguments(name)


def test_mobilenet_family_argument_checks():
    apps = jnet.applications
    with pytest.raises(ValueError, match="alpha"):
        apps.MobileNet(weights="imagenet", alpha=0.3)
    with pytest.raises(ValueError, match="depth multiplier"):
        apps.MobileNet(weights="imagenet", depth_multiplier=2)
    with pytest.raises(ValueError, match="alpha"):
        apps.MobileNetV2(weights="imagenet", alpha=0.3)
    with pytest.raises(ValueError, match="alpha"):
        apps.MobileNetV3Small(weights="imagenet", alpha=0.5)
    with pytest.raises(ValueError, match="minimalistic"):
        apps.MobileNetV3Large(weights="imagenet", minimalistic=True, alpha=0.75)
    with pytest.raises(ValueError, match="at least 32x32"):
        apps.MobileNetV3Small(weights=None, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="disagree"):
        apps.MobileNetV2(weights=None, input_shape=(64, 64, 3), input_tensor=jnet.Input((32, 32, 3)))
    assert apps.MobileNet(weights=None, alpha=0.25, input_shape=(128, 128, 3)).name == "mobilenet_0.25_128"
    assert apps.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3)).name == "mobilenetv2_0.35_96"


def test_weights_file_of_another_model_is_a_clear_error(tmp_path):
    import keras

    from jnet.models.saving import CheckpointError

    with harness.keras_building():
        kmodel = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = harness.save_keras_legacy_weights(kmodel, str(tmp_path / "vgg16.h5"))
    with pytest.raises(CheckpointError, match="layer"):
        jnet.applications.VGG19(weights=path, include_top=False, input_shape=(32, 32, 3))


def _pretrained_like(model):
    """He-scaled kernels instead of the fresh ones, whose activations vanish through a deep
    MobileNet at initialisation (as in Keras): the frozen features must carry signal."""
    rng = np.random.default_rng(0)
    values = []
    for w in model.weights:
        if w.path.endswith("kernel"):
            fan_in = int(np.prod(w.shape[:-1])) if "conv_dw" not in w.path else int(np.prod(w.shape[:2]))
            values.append(rng.normal(0, np.sqrt(2.0 / fan_in), w.shape).astype("float32"))
        else:
            values.append(w.numpy())
    model.set_weights(values)


def test_frozen_base_keeps_batchnorm_in_inference_mode():
    """Keras's transfer-learning guide: a frozen base (`trainable = False`) runs its BatchNorm
    layers in inference mode even inside `fit`, its weights stay, the new head trains; after
    unfreezing, a low learning rate fine-tunes the base while `base(x, training=False)` keeps
    the moving statistics fixed."""
    base = jnet.applications.MobileNet(weights=None, alpha=0.25, include_top=False, input_shape=(32, 32, 3))
    _pretrained_like(base)
    base.trainable = False
    inputs = jnet.Input((32, 32, 3))
    x = base(inputs, training=False)
    x = jnet.layers.GlobalAveragePooling2D()(x)
    model = jnet.Model(inputs, jnet.layers.Dense(1)(x))
    assert len(model.trainable_weights) == 2
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    images, targets = rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    bn, conv, head = base.get_layer("conv1_bn"), base.get_layer("conv1"), model.layers[-1]
    mean0, kernel0, head0 = bn.moving_mean.numpy().copy(), conv.kernel.numpy().copy(), head.kernel.numpy().copy()
    model.fit(images, targets, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mean0)
    np.testing.assert_array_equal(conv.kernel.numpy(), kernel0)
    assert not np.allclose(head.kernel.numpy(), head0)
    np.testing.assert_allclose(np.asarray(base(images[:2], training=True)), np.asarray(base(images[:2])), atol=1e-5)

    base.trainable = True
    model.compile(optimizer=jnet.optimizers.Adam(1e-5), loss="mse")
    model.fit(images, targets, epochs=1, batch_size=4, verbose=0)
    assert not np.allclose(conv.kernel.numpy(), kernel0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mean0)
