"""Keras 3's file formats, both ways: `.weights.h5`, `.keras` and legacy `.h5` written by Keras
load into jnet with the same predictions, and files jnet writes load into Keras."""

import json
import os

import h5py
import jax
import keras
import numpy as np
import pytest

import jnet
from jnet.models.saving import CheckpointError


def _allow():
    """Keras relies on implicit rank promotion, which jnet's tests make an error."""
    return jax.numpy_rank_promotion("allow")


def _predict(model, x, keras_model=False):
    if keras_model:
        with _allow():
            return jax.tree_util.tree_map(np.asarray, model.predict(x, verbose=0))
    return jax.tree_util.tree_map(np.asarray, model.predict(x, verbose=0))


def _keras(build):
    with _allow():
        return build(keras)


def _same_outputs(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        _close(x, y)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def _sequential_conv(lib):
    A = lib.layers
    return lib.Sequential(
        [
            lib.Input((6, 6, 3)),
            A.Conv2D(2, 3),
            A.BatchNormalization(),
            A.Flatten(),
            A.Dense(3, activation="relu"),
            A.Dense(2),
        ]
    )


def _recurrent_attention(lib):
    A = lib.layers
    inp = lib.Input((4, 6))
    x = A.LSTM(3, return_sequences=True)(inp)
    x = A.GRU(2, return_sequences=True)(x)
    x = A.Bidirectional(A.LSTM(2, return_sequences=True))(x)
    x = A.MultiHeadAttention(2, 3)(x, x)
    x = A.LayerNormalization()(x)
    nested = lib.Sequential([A.Dense(2), A.Dense(2)])
    return lib.Model(inp, nested(x))


def _embedding(lib):
    A = lib.layers
    return lib.Sequential([lib.Input((5,), dtype="int32"), A.Embedding(10, 4), A.SimpleRNN(3), A.Dense(1)])


def _two_inputs(lib):
    A = lib.layers
    a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
    h = A.Concatenate()([A.Dense(4, activation="tanh")(a), A.Dense(4)(b)])
    inner_in = lib.Input((8,))
    inner = lib.Model(inner_in, A.Dense(2)(inner_in))
    return lib.Model([a, b], [inner(h), A.Dense(1, activation="sigmoid")(h)])


ARCHS = {
    "sequential_conv": (_sequential_conv, lambda r: r.randn(2, 6, 6, 3)),
    "recurrent_attention": (_recurrent_attention, lambda r: r.randn(2, 4, 6)),
    "embedding": (_embedding, lambda r: r.randint(0, 10, (2, 5))),
    "two_inputs_nested": (_two_inputs, lambda r: [r.randn(2, 3), r.randn(2, 2)]),
}


def _data(name):
    x = ARCHS[name][1](np.random.RandomState(0))
    return (
        [a.astype("float32") for a in x]
        if isinstance(x, list)
        else (x.astype("float32") if x.dtype.kind == "f" else x.astype("int32"))
    )


def _perturb_batchnorm_stats(model):
    """Non-default moving statistics, so a swapped weight order would show in predictions."""
    for v in model.weights:
        if "moving" in v.path:
            v.assign(np.random.RandomState(1).uniform(0.5, 1.5, v.shape).astype("float32"))


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_weights_h5_from_keras(tmp_path, name):
    km, jm = _keras(ARCHS[name][0]), ARCHS[name][0](jnet)
    with _allow():
        _perturb_batchnorm_stats(km)
        km.save_weights(tmp_path / "k.weights.h5")
    jm.load_weights(tmp_path / "k.weights.h5")
    x = _data(name)
    _same_outputs(_predict(jm, x), _predict(km, x, keras_model=True))


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_weights_h5_to_keras(tmp_path, name):
    km, jm = _keras(ARCHS[name][0]), ARCHS[name][0](jnet)
    jm.build(None)
    _perturb_batchnorm_stats(jm)
    jm.save_weights(tmp_path / "j.weights.h5")
    with h5py.File(tmp_path / "j.weights.h5") as f:  # a real HDF5 file in Keras's layout
        assert "vars" in f
    with _allow():
        km.load_weights(tmp_path / "j.weights.h5")
    x = _data(name)
    _same_outputs(_predict(jm, x), _predict(km, x, keras_model=True))


def test_weights_h5_subclassed_model_both_ways(tmp_path):
    def make(lib):
        A = lib.layers

        class Tower(lib.Model):
            def __init__(self):
                super().__init__()
                self.zeta = A.Dense(2)
                self.alpha = A.Dense(3, activation="relu")
                self.blocks = [A.Dense(3), A.Dense(3)]

            def call(self, x):
                return self.zeta(self.blocks[1](self.blocks[0](self.alpha(x))))

        model = Tower()
        model(np.ones((1, 4), "float32"))
        return model

    km, jm = _keras(make), make(jnet)
    x = np.random.RandomState(0).randn(3, 4).astype("float32")
    km.save_weights(tmp_path / "k.weights.h5")
    jm.load_weights(tmp_path / "k.weights.h5")
    _close(_predict(jm, x), _predict(km, x, keras_model=True))
    jm2 = make(jnet)
    jm2.save_weights(tmp_path / "j.weights.h5")
    km.load_weights(tmp_path / "j.weights.h5")
    _close(_predict(km, x, keras_model=True), _predict(jm2, x))


def test_weights_h5_mismatch_lists_paths_and_keeps_model(tmp_path):
    A = jnet.layers
    small = jnet.Sequential([jnet.Input((3,)), A.Dense(2), A.Dense(1)])
    small.save_weights(tmp_path / "w.weights.h5")
    other = jnet.Sequential([jnet.Input((3,)), A.Dense(4), A.Dense(1)])
    before = [np.asarray(w) for w in other.get_weights()]
    with pytest.raises(CheckpointError) as err:
        other.load_weights(tmp_path / "w.weights.h5")
    assert "layers/dense/vars/0" in str(err.value) and "(3, 4)" in str(err.value) and "(3, 2)" in str(err.value)
    for b, a in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="Skipped 3 mismatched"):
        other.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(other.get_weights()[3], small.get_weights()[3])  # the one weight that fits loaded


def test_weights_h5_rejects_other_formats(tmp_path):
    model = jnet.Sequential([jnet.Input((3,)), jnet.layers.Dense(2)])
    bad = tmp_path / "x.weights.h5"
    bad.write_bytes(b"PK\x03\x04 not hdf5")
    with pytest.raises(CheckpointError, match="not an HDF5 file"):
        model.load_weights(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        model.load_weights(tmp_path / "missing.weights.h5")


# --------------------------------------------------------------------------- .keras archives


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_keras_archive_from_keras(tmp_path, name):
    km = _keras(ARCHS[name][0])
    with _allow():
        _perturb_batchnorm_stats(km)
        km.save(tmp_path / "k.keras")
    jm = jnet.models.load_model(tmp_path / "k.keras")
    assert type(jm).__name__ == type(km).__name__.replace("Functional", "Model")
    x = _data(name)
    _same_outputs(_predict(jm, x), _predict(km, x, keras_model=True))


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_keras_archive_to_keras(tmp_path, name):
    import zipfile

    jm = ARCHS[name][0](jnet)
    jm.build(None)
    _perturb_batchnorm_stats(jm)
    jm.save(tmp_path / "j.keras")
    with zipfile.ZipFile(tmp_path / "j.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    with _allow():
        km = keras.models.load_model(tmp_path / "j.keras")
    x = _data(name)
    _same_outputs(_predict(km, x, keras_model=True), _predict(jm, x))
    again = jnet.models.load_model(tmp_path / "j.keras")  # and back into jnet
    _same_outputs(_predict(again, x), _predict(jm, x))


def test_keras_archive_compile_config_both_ways(tmp_path):
    x = np.random.RandomState(0).randn(8, 3).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    with _allow():
        km = _sequential_dense(keras)
        km.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        km.save(tmp_path / "k.keras")
        k_eval = km.evaluate(x, y, verbose=0)
    jm = jnet.models.load_model(tmp_path / "k.keras")
    assert jm.compiled and type(jm.optimizer).__name__ == "Adam"
    np.testing.assert_allclose(jm.evaluate(x, y, verbose=0), k_eval, rtol=1e-5)

    jm.save(tmp_path / "j.keras")
    with _allow():
        back = keras.models.load_model(tmp_path / "j.keras")
        assert back.optimizer.__class__.__name__ == "Adam" and back.loss == "mse"
        np.testing.assert_allclose(back.evaluate(x, y, verbose=0), k_eval, rtol=1e-5)


def _sequential_dense(lib):
    A = lib.layers
    return lib.Sequential([lib.Input((3,)), A.Dense(4, activation="relu"), A.Dense(1)])


@jnet.saving.register_keras_serializable(package="formats_test")
class Scale(jnet.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * jax.numpy.reshape(self.w.value, (1, -1)) * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="formats_test")
class KScale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_keras_archive_custom_layers_through_registration_and_custom_objects(tmp_path):
    x = np.random.RandomState(0).randn(2, 3).astype("float32")
    with _allow():
        inp = keras.Input((3,))
        km = keras.Model(inp, keras.layers.Dense(2)(KScale(3.0)(inp)))
        km.layers[1].w.assign(np.array([1.0, 2.0, 3.0], "float32"))
        km.save(tmp_path / "k.keras")
    with pytest.raises(CheckpointError, match="KScale"):
        jnet.models.load_model(tmp_path / "k.keras")  # Keras's class is not jnet's
    jm = jnet.models.load_model(tmp_path / "k.keras", custom_objects={"formats_test>KScale": Scale})
    _close(_predict(jm, x), _predict(km, x, keras_model=True))

    inp = jnet.Input((3,))
    model = jnet.Model(inp, jnet.layers.Dense(2)(Scale(0.5)(inp)))
    model.save(tmp_path / "j.keras")
    loaded = jnet.models.load_model(tmp_path / "j.keras")  # registered: found by name
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].factor == 0.5
    _close(_predict(loaded, x), _predict(model, x))


def _double(x):
    return x * 2.0


def test_keras_archive_refuses_lambda_unless_unsafe_also_nested(tmp_path):
    inp = jnet.Input((2, 3))
    model = jnet.Model(inp, jnet.layers.TimeDistributed(jnet.layers.Lambda(_double))(inp))
    model.save(tmp_path / "lam.keras")
    with pytest.raises(CheckpointError, match="safe_mode"):
        jnet.models.load_model(tmp_path / "lam.keras")
    loaded = jnet.models.load_model(tmp_path / "lam.keras", safe_mode=False)
    x = np.random.RandomState(0).randn(1, 2, 3).astype("float32")
    _close(_predict(loaded, x), 2.0 * x)


def test_keras_archive_bad_files(tmp_path):
    import zipfile

    not_zip = tmp_path / "a.keras"
    not_zip.write_bytes(b"\x89HDF\r\n\x1a\n not a zip")
    with pytest.raises(CheckpointError, match="not a Keras archive"):
        jnet.models.load_model(not_zip)
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.h5", b"\0" * (1 << 22))
    with pytest.raises(CheckpointError, match="declares 4194304 bytes"):  # refused before reading
        jnet.models.load_model(bomb)
    with zipfile.ZipFile(tmp_path / "bomb.ckpt", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("jnet.json", "{}")
        zf.writestr("arrays/a0", b"\0" * (1 << 22))
    with pytest.raises(CheckpointError, match="declares 4194304 bytes"):  # jnet's own checkpoints too
        jnet.models.load_model(tmp_path / "bomb.ckpt")
    newer = tmp_path / "newer.keras"
    with zipfile.ZipFile(newer, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("metadata.json", '{"keras_version": "4.0.0"}')
    with pytest.raises(CheckpointError, match="Keras 4.0.0"):
        jnet.models.load_model(newer)
    unknown = tmp_path / "unknown.keras"
    with zipfile.ZipFile(unknown, "w") as zf:
        zf.writestr(
            "config.json",
            json.dumps({"module": "keras.layers", "class_name": "NoSuchLayer", "config": {}, "registered_name": None}),
        )
        zf.writestr("metadata.json", '{"keras_version": "3.5.0"}')
    with pytest.raises(CheckpointError, match="NoSuchLayer"):
        jnet.models.load_model(unknown)


# --------------------------------------------------------------------------- legacy .h5


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_legacy_h5_both_ways(tmp_path, name):
    x = _data(name)
    with _allow():
        km = ARCHS[name][0](keras)
        _perturb_batchnorm_stats(km)
        # Keras 3.15 cannot read back its own legacy file with a loss given by name ("mse")
        km.compile(optimizer="adam", loss=keras.losses.MeanSquaredError())
        km.save(tmp_path / "k.h5")
    expected = _predict(km, x, keras_model=True)
    jm = jnet.models.load_model(tmp_path / "k.h5")
    assert jm.compiled and "MeanSquaredError" in json.dumps(jm.get_compile_config()["loss"])
    _same_outputs(_predict(jm, x), expected)
    fresh = ARCHS[name][0](jnet)
    fresh.load_weights(tmp_path / "k.h5")  # weights of a whole-model file
    _same_outputs(_predict(fresh, x), expected)

    jm.save(tmp_path / "j.h5")
    jm.save_weights(tmp_path / "jw.h5")
    with _allow():
        back = keras.models.load_model(tmp_path / "j.h5")
        _same_outputs(_predict(back, x, keras_model=True), expected)
        other = ARCHS[name][0](keras)
        other.load_weights(tmp_path / "jw.h5")
        _same_outputs(_predict(other, x, keras_model=True), expected)


def test_legacy_h5_tf_keras_style_file(tmp_path):
    """A file as tf.keras 2 wrote it: calls as `[layer, node, tensor, kwargs]` lists, the input
    shape as `batch_input_shape`, weight names with `:0`."""
    rng = np.random.RandomState(0)
    kernel, bias = rng.randn(3, 2).astype("float32"), rng.randn(2).astype("float32")
    config = {
        "class_name": "Model",
        "config": {
            "name": "model",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "input_1",
                    "inbound_nodes": [],
                    "config": {
                        "batch_input_shape": [None, 3],
                        "dtype": "float32",
                        "sparse": False,
                        "ragged": False,
                        "name": "input_1",
                    },
                },
                {
                    "class_name": "Dense",
                    "name": "dense",
                    "inbound_nodes": [[["input_1", 0, 0, {}]]],
                    "config": {
                        "name": "dense",
                        "trainable": True,
                        "dtype": "float32",
                        "units": 2,
                        "activation": "relu",
                        "use_bias": True,
                        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                        "bias_initializer": {"class_name": "Zeros", "config": {}},
                        "kernel_regularizer": None,
                        "bias_regularizer": None,
                        "activity_regularizer": None,
                        "kernel_constraint": None,
                        "bias_constraint": None,
                    },
                },
            ],
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["dense", 0, 0]],
        },
    }
    path = tmp_path / "tf_keras.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([b"input_1", b"dense"])
        weights.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        dense = weights.create_group("dense")
        dense.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        dense.create_dataset("dense/kernel:0", data=kernel)
        dense.create_dataset("dense/bias:0", data=bias)
    model = jnet.models.load_model(path)
    x = rng.randn(4, 3).astype("float32")
    _close(_predict(model, x), np.maximum(x @ kernel + bias, 0.0))


def test_seed_style_simple_weights_h5_is_hdf5_and_mismatch_is_listed(tmp_path):
    model = jnet.Sequential([jnet.Input((4,)), jnet.layers.Dense(3), jnet.layers.Dense(1)])
    path = tmp_path / "simple_weights.h5"
    model.save_weights(path)
    assert h5py.is_hdf5(path)
    with h5py.File(path) as f:
        assert [n.decode() for n in f.attrs["layer_names"]] == ["dense", "dense_1"]
    other = jnet.Sequential([jnet.Input((4,)), jnet.layers.Dense(5), jnet.layers.Dense(1)])
    before = other.get_weights()
    with pytest.raises(CheckpointError, match=r"dense/kernel.*\(4, 5\).*\(4, 3\)"):
        other.load_weights(path)
    for a, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match="holds weights for 2 layer"):
        jnet.Sequential([jnet.Input((4,)), jnet.layers.Dense(1)]).load_weights(path)
    with pytest.raises(CheckpointError, match="weights only"):
        jnet.models.load_model(path)


def test_other_names_stay_jnet_checkpoints(tmp_path):
    import zipfile

    model = jnet.Sequential([jnet.Input((2,)), jnet.layers.Dense(1)])
    model.save(tmp_path / "model.ckpt")
    with zipfile.ZipFile(tmp_path / "model.ckpt") as zf:
        assert "jnet.json" in zf.namelist()
    loaded = jnet.models.load_model(tmp_path / "model.ckpt")
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="save_weights"):
        model.save(tmp_path / "model.weights.h5")


def _resume_data():
    rng = np.random.RandomState(0)
    x = rng.randn(16, 3).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


@pytest.mark.parametrize("make_optimizer", ["adam", "sgd_momentum"])
def test_keras_optimizer_state_resumes_both_ways(tmp_path, make_optimizer):
    """A Keras model trained with Adam (or SGD with momentum), saved and loaded into jnet, takes
    the same next steps as Keras; and jnet's saved state resumes in Keras the same way."""
    x, y = _resume_data()

    def optimizer(lib):
        return lib.optimizers.Adam(0.05) if make_optimizer == "adam" else lib.optimizers.SGD(0.05, momentum=0.9)

    with _allow():
        km = _sequential_dense(keras)
        km.compile(optimizer=optimizer(keras), loss=keras.losses.MeanSquaredError())
        km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        km.save(tmp_path / "k.keras")
        k_next = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    jm = jnet.models.load_model(tmp_path / "k.keras")
    jm.save(tmp_path / "j.keras")  # before training on: the state Keras had at its save
    j_next = jm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(j_next, k_next, rtol=1e-5)
    _close(jm.get_weights()[0], km.get_weights()[0])

    with _allow():
        back = keras.models.load_model(tmp_path / "j.keras")
        b_next = back.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(b_next, k_next, rtol=1e-5)


def test_triage_model_keras_archive_both_ways(tmp_path):
    """The multi-input, multi-output triage model (Embedding with mask_zero, LSTMs, two heads):
    jnet -> Keras -> jnet, same predictions; Keras's graph records the mask as a NotEqual op."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples"))
    try:
        import issue_triage
    finally:
        sys.path.pop(0)
    model = issue_triage.build_model(50, title_units=8, body_units=4, embed_dim=4)
    rng = np.random.RandomState(0)
    xs = [
        rng.randint(0, 50, (2, 7)).astype("int32"),
        rng.randint(0, 50, (2, 7)).astype("int32"),
        rng.rand(2, *model.inputs[2].shape[1:]).astype("float32"),
    ]
    xs[0][:, 5:] = 0  # padding, masked
    expected = model.predict(xs, verbose=0)
    model.save(tmp_path / "triage.keras")
    with _allow():
        km = keras.models.load_model(tmp_path / "triage.keras")
        _same_outputs(_predict(km, xs, keras_model=True), expected)
        km.save(tmp_path / "triage_keras.keras")
    again = jnet.models.load_model(tmp_path / "triage_keras.keras")
    assert again.output_names == ["priority", "department"]
    _same_outputs(_predict(again, xs), expected)


def _tower_class(lib, register):
    A = lib.layers

    @register(package="formats_test", name="Tower")
    class Tower(lib.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = A.Dense(units, activation="relu")
            self.head = A.Dense(1)

        def call(self, x):
            return self.head(self.hidden(x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Tower


JTower = _tower_class(jnet, jnet.saving.register_keras_serializable)
KTower = _tower_class(keras, keras.saving.register_keras_serializable)


def test_subclassed_model_keras_archive_both_ways(tmp_path):
    x = np.random.RandomState(0).randn(4, 5).astype("float32")
    with _allow():
        km = KTower(units=4)
        km(x)
        km.save(tmp_path / "k.keras")
        expected = _predict(km, x, keras_model=True)
    jm = jnet.models.load_model(tmp_path / "k.keras")  # found by its registered name
    assert isinstance(jm, JTower) and jm.units == 4
    _close(_predict(jm, x), expected)
    jm.save(tmp_path / "j.keras")
    with _allow():
        back = keras.models.load_model(tmp_path / "j.keras")
        assert isinstance(back, KTower)
        _close(_predict(back, x, keras_model=True), expected)


@pytest.mark.parametrize("name", ["m.keras", "m.weights.h5", "m.h5", "m.ckpt"])
def test_save_removes_temp_files_of_killed_saves(tmp_path, name):
    model = jnet.Sequential([jnet.Input((2,)), jnet.layers.Dense(1)])
    stale_file, stale_dir = tmp_path / f".{name}.jnet-tmp-abc.zip", tmp_path / f".{name}.jnet-tmp-def"
    fresh = tmp_path / f".{name}.jnet-tmp-live"  # a save in progress right now: kept
    stale_file.write_bytes(b"half a file")
    stale_dir.mkdir()
    (stale_dir / "arrays").write_bytes(b"x")
    fresh.write_bytes(b"being written")
    old = os.path.getmtime(fresh) - 3600
    for p in (stale_file, stale_dir):
        os.utime(p, (old, old))
    (model.save_weights if name.endswith(".weights.h5") else model.save)(tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == sorted([name, fresh.name])


def test_save_weights_to_a_keras_name_is_refused_as_in_keras(tmp_path):
    model = jnet.Sequential([jnet.Input((2,)), jnet.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "w.keras")
    model.save(tmp_path / "m.keras")
    other = jnet.Sequential([jnet.Input((2,)), jnet.layers.Dense(1)])
    other.load_weights(tmp_path / "m.keras")  # the archive's weights, as Keras's load_weights does
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize("make_optimizer", ["adam", "sgd_momentum"])
def test_legacy_h5_optimizer_weights_both_ways(tmp_path, make_optimizer):
    """Keras trains 2 steps and saves a legacy `.h5` (its `optimizer_weights`): jnet resumes with
    Keras's next-step losses; jnet's legacy `.h5` holds the same optimizer variables, in
    Keras's order, as Keras's file. (Keras 3.15 on JAX cannot resume from any legacy `.h5`
    with optimizer weights, its own included: its loader builds the optimizer over no
    variables, so that direction is checked on the file.)"""
    x, y = _resume_data()

    def optimizer(lib):
        return lib.optimizers.Adam(0.05) if make_optimizer == "adam" else lib.optimizers.SGD(0.05, momentum=0.9)

    with _allow():
        km = _sequential_dense(keras)
        km.compile(optimizer=optimizer(keras), loss=keras.losses.MeanSquaredError())
        km.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        km.save(tmp_path / "k.h5")
        k_next = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    with h5py.File(tmp_path / "k.h5") as f:
        assert "optimizer_weights" in f and "jnet_train_state" not in f
    jm = jnet.models.load_model(tmp_path / "k.h5")
    assert int(jm.get_train_state().step) == 2
    jm.save(tmp_path / "j.h5")  # the state Keras had at its save
    saved = _predict(jm, x)
    j_next = jm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(j_next, k_next, rtol=1e-5)

    def optimizer_weights(path):
        with h5py.File(path) as f:
            group = f["optimizer_weights"]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            return names, [np.asarray(group[n]) for n in names]

    k_names, k_values = optimizer_weights(tmp_path / "k.h5")
    j_names, j_values = optimizer_weights(tmp_path / "j.h5")
    assert [n.split("/")[-1] for n in j_names[:2]] == ["iteration", "learning_rate"]
    assert [n.rsplit("_", 1)[-1] for n in j_names] == [n.rsplit("_", 1)[-1] for n in k_names]
    assert len(j_values) == len(k_values) == 2 + (2 if make_optimizer == "adam" else 1) * 4
    for a, b in zip(j_values, k_values):
        _close(a, b)
    with _allow():
        back = keras.models.load_model(tmp_path / "j.h5")  # Keras reads it (and warns, as for its own)
        _close(_predict(back, x, keras_model=True), saved)


def test_legacy_h5_optimizer_weights_that_do_not_fit_warn(tmp_path):
    x, y = _resume_data()
    with _allow():
        km = _sequential_dense(keras)
        km.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.MeanSquaredError())
        km.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        km.save(tmp_path / "k.h5")
    with h5py.File(tmp_path / "k.h5", "a") as f:  # drop one slot: the count no longer fits
        names = [n for n in f["optimizer_weights"].attrs["weight_names"]][:-1]
        f["optimizer_weights"].attrs["weight_names"] = np.asarray(
            [n if isinstance(n, bytes) else n.encode() for n in names], dtype="S"
        )
    with pytest.warns(UserWarning, match="optimizer state was not restored"):
        jm = jnet.models.load_model(tmp_path / "k.h5")
    assert int(jm.get_train_state().step) == 0
