"""int8 quantization (`model.quantize("int8")`, `layer.quantize`) against Keras 3 on copied
weights: the int8 kernels and scales are bit-identical, outputs agree, the `.keras` file one
writes loads in the other, and gradients flow to the inputs through a quantized layer."""

import warnings

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import jnet
from jnet import layers, quantizers


def keras_ok():
    return jax.numpy_rank_promotion("allow")


def small_model(lib):
    L = lib.layers
    inp = lib.Input((6,), dtype="int32")
    x = L.Embedding(10, 4, name="emb")(inp)
    x = L.EinsumDense("abc,cde->abde", output_shape=(6, 2, 3), bias_axes="de", name="ed")(x)
    x = L.Flatten(name="flat")(x)
    return lib.Model(inp, L.Dense(3, name="out")(x))


X = np.random.default_rng(1).integers(0, 10, (4, 6)).astype("int32")


def run(model, keras_side=False):
    with keras_ok():
        return np.asarray(model(X))


@pytest.fixture(scope="module")
def quantized():
    """jnet and Keras models with the same float weights, both quantized to int8, plus the
    float outputs."""
    jm = small_model(jnet)
    with keras_ok():
        km = small_model(keras)
    rng = np.random.default_rng(0)
    jm.set_weights([(rng.standard_normal(w.shape) * 0.3).astype("float32") for w in jm.get_weights()])
    km.set_weights(jm.get_weights())
    y_float = run(jm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns for the Flatten and input layers
        with keras_ok():
            km.quantize("int8")
    jm.quantize("int8")
    return jm, km, y_float


def test_quantized_weights_and_outputs_match_keras(quantized):
    jm, km, y_float = quantized
    assert [(w.path, np.dtype(w.dtype).name) for w in jm.weights] == [
        (w.path, np.dtype(w.dtype).name) for w in km.weights
    ]
    for a, b in zip(jm.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(a, b)
    y = run(jm)
    np.testing.assert_allclose(y, run(km, True), atol=1e-5)
    assert 0 < np.abs(y - y_float).max() < 0.1  # int8 is close to float, not equal
    out = jm.get_layer("out")
    assert out.quantization_mode == "int8" and out.dtype_policy.name == "int8_from_float32"
    assert out.kernel.dtype == jnp.int8 and out.kernel_scale.shape == (3,)
    assert jm.get_layer("ed").kernel_scale.shape == (1, 1, 2, 3)  # laid out like the output, as Keras
    assert jm.get_layer("emb").embeddings_scale.shape == (10,)
    assert jm.get_layer("flat").quantization_mode is None


def test_keras_files_load_both_ways(quantized, tmp_path):
    jm, km, _ = quantized
    jm.save(tmp_path / "j.keras")
    with keras_ok():
        km.save(tmp_path / "k.keras")
        from_jnet = keras.models.load_model(tmp_path / "j.keras")
        assert from_jnet.get_layer("out").dtype_policy.name == "int8_from_float32"
        np.testing.assert_allclose(np.asarray(from_jnet(X)), run(jm), atol=1e-5)
    from_keras = jnet.models.load_model(tmp_path / "k.keras")
    assert isinstance(from_keras.get_layer("ed").quantization_config, quantizers.Int8QuantizationConfig)
    np.testing.assert_allclose(run(from_keras), run(km, True), atol=1e-5)
    for a, b in zip(from_keras.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_abs_max_quantize_closed_form():
    x = np.array([[0.5, -1.0, 0.25], [2.0, 0.0, -0.5]], "float32")
    q, scale = quantizers.abs_max_quantize(x, axis=-1)
    np.testing.assert_allclose(np.asarray(scale)[:, 0], 127 / (np.array([1.0, 2.0]) + 1e-7), rtol=1e-6)
    # 0.5 * 127 / (1 + 1e-7) is just below 63.5: the epsilon shows.
    np.testing.assert_array_equal(np.asarray(q), [[63, -127, 32], [127, 0, -32]])
    assert q.dtype == jnp.int8
    qn, sn = quantizers.abs_max_quantize(x, axis=0, to_numpy=True)
    np.testing.assert_array_equal(np.asarray(qn), np.round(x * (127 / (np.abs(x).max(0) + 1e-7))))
    assert sn.shape == (1, 3)


def test_input_gradients_and_lora_on_quantized_layer_match_keras():
    """A trainable Dense under a quantized one: its gradient goes through Keras's custom gradient
    (the de-quantized kernel); LoRA on the quantized layer trains too."""

    def make(lib):
        return lib.Sequential([lib.Input((5,)), lib.layers.Dense(4, name="a"), lib.layers.Dense(2, name="q")])

    x = np.random.default_rng(4).standard_normal((8, 5)).astype("float32")
    y = np.random.default_rng(5).standard_normal((8, 2)).astype("float32")
    jm = make(jnet)
    with keras_ok():
        km = make(keras)
        km.set_weights(jm.get_weights())
    for model in (jm, km):
        model.get_layer("q").quantize("int8")
        model.get_layer("q").enable_lora(2)
        model.compile(optimizer="sgd", loss="mse")
    with keras_ok():
        km.set_weights(jm.get_weights())  # the same LoRA initial weights
        kh = km.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    jh = jm.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(jh["loss"], kh["loss"], rtol=1e-5)
    for a, b in zip(jm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(jm.get_layer("q").lora_kernel_b.numpy()).max() > 0


def test_weight_only_config_and_policy_setter():
    x = np.random.default_rng(6).standard_normal((3, 4)).astype("float32")
    layer = layers.Dense(2)
    layer.build((None, 4))
    with keras_ok():
        klayer = keras.layers.Dense(2)
        klayer.build((None, 4))
        klayer.set_weights(layer.get_weights())
        klayer.quantize(config=keras.quantizers.Int8QuantizationConfig(activation_quantizer=None))
    layer.quantize(config=quantizers.Int8QuantizationConfig(activation_quantizer=None))
    assert layer.inputs_quantizer is None
    with keras_ok():
        np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(klayer(x)), atol=1e-6)
    other = layers.Dense(2)
    other.build((None, 4))
    other.dtype_policy = "int8_from_float32"  # as Keras: a quantized policy quantizes a built layer
    assert other.quantization_mode == "int8" and other.kernel.dtype == jnp.int8


def test_quantize_errors_and_filters():
    with pytest.raises(ValueError, match="isn't built"):
        layers.Dense(2).quantize("int8")
    layer = layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="invalid quantization mode 'int3'"):
        layer.quantize("int3")
    layer.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("int8")
    half = layers.Dense(2, dtype="float16")
    half.build((None, 3))
    with pytest.raises(ValueError, match="float16"):
        half.quantize("int8")

    class MyDense(layers.Dense):
        pass

    model = jnet.Sequential([jnet.Input((3,)), layers.Dense(2, name="keep"), MyDense(2, name="mine")])
    with pytest.warns(UserWarning, match="MyDense does not have a `quantize` method"):
        model.quantize("int8")
    assert model.get_layer("keep").quantization_mode == "int8"
    assert model.get_layer("mine").quantization_mode is None
    filtered = jnet.Sequential([jnet.Input((3,)), layers.Dense(2, name="skip"), layers.Dense(2, name="take")])
    filtered.quantize("int8", filters="take")
    assert [layer.quantization_mode for layer in filtered.layers] == [None, "int8"]
    with pytest.raises(ValueError, match="filters must be"):
        filtered.quantize("int8", filters=3)
    assert filtered.get_quantization_layer_structure("int8") is None


class ScaledDense(layers.Dense):
    """A user's Dense with a weight of its own, which the weights file must keep."""

    def build(self, input_shape):
        super().build(input_shape)
        self.gain = self.add_weight((), "ones", name="gain")

    def call(self, x):
        return super().call(x) * self.gain.value


def test_subclass_weights_survive_the_keras_layout(tmp_path):
    model = jnet.Sequential([jnet.Input((3,)), ScaledDense(2)])
    model.layers[0].gain.assign(3.0)
    model.save_weights(tmp_path / "w.weights.h5")
    other = jnet.Sequential([jnet.Input((3,)), ScaledDense(2)])
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
