"""Keras guide "8-bit Integer Quantization in Keras" (keras-io guides/int8_quantization_in_keras.py),
ported with `import jnet as keras`, `from jnet import layers`; the model, training, quantization
and saving code is the guide's, run on jnet and on Keras 3 with jnet's initial weights copied.
The guide's last section quantizes KerasHub's pretrained Gemma3 (a download, and KerasHub
itself): replaced by the same steps (quantize, save, reload, compare sizes) on a small
embedding + einsum-projection model built here."""

import os
import warnings

import numpy as np
import pytest
from guide_util import fit_both, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

rng = np.random.default_rng(0)
x_train = rng.random((256, 10)).astype("float32")
y_train = rng.random((256, 1)).astype("float32")
x_eval = rng.random((32, 10)).astype("float32")


def make_model(keras, layers, ops):
    # Create a simple functional model.
    inputs = keras.Input(shape=(10,))
    x = layers.Dense(32, activation="relu")(inputs)
    outputs = layers.Dense(1, name="target")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def trained():
    """The guide's model trained one epoch with Adam, on jnet and on Keras (same start)."""
    with jax_allow():
        jm, km, _, _ = fit_both(
            make_model,
            lambda keras: {"optimizer": "adam", "loss": "mse"},
            x_train,
            y_train,
            {"epochs": 1, "batch_size": 32},
        )
    return jm, km


def jax_allow():
    import jax

    return jax.numpy_rank_promotion("allow")


def test_quantizing_a_minimal_functional_model(trained):
    model, keras_model = trained
    # Baseline (FP) outputs.
    y_fp32 = model(x_eval)
    # Quantize the model in-place to INT8.
    model.quantize("int8")
    # INT8 outputs after quantization.
    y_int8 = model(x_eval)
    # Compute a simple MSE between FP and INT8 outputs.
    mse = keras.ops.mean(keras.ops.square(y_fp32 - y_int8))
    assert 0 < float(mse) < 1e-4
    with keras_ok(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that the InputLayer has no quantize
        keras_model.quantize("int8")
        np.testing.assert_allclose(np.asarray(y_int8), np.asarray(keras_model(x_eval)), atol=1e-5)


def test_saving_and_reloading_a_quantized_model(trained, tmp_path):
    model, keras_model = trained
    assert model.get_layer("target").quantization_mode == "int8"  # quantized by the test above
    y_int8 = model(x_eval)
    # Save the quantized model and reload to verify round-trip.
    model.save(tmp_path / "int8.keras")
    int8_reloaded = keras.saving.load_model(tmp_path / "int8.keras")
    y_int8_reloaded = int8_reloaded(x_eval)
    roundtrip_mse = keras.ops.mean(keras.ops.square(y_int8 - y_int8_reloaded))
    assert float(roundtrip_mse) == 0.0
    # The file is Keras's: Keras reloads it to the same outputs.
    with keras_ok():
        keras_reloaded = KERAS[0].saving.load_model(tmp_path / "int8.keras")
        np.testing.assert_allclose(np.asarray(keras_reloaded(x_eval)), np.asarray(y_int8), atol=1e-5)


def small_language_model(keras, layers):
    """Stand-in for the guide's Gemma3: token embedding, a multi-head style einsum projection
    and an output projection, big enough for the weights file to show the saving."""
    tokens = keras.Input(shape=(8,), dtype="int32")
    x = layers.Embedding(512, 64)(tokens)
    x = layers.EinsumDense("abc,cde->abde", output_shape=(8, 4, 16), bias_axes="de")(x)
    x = layers.Reshape((8, 64))(x)
    return keras.Model(tokens, layers.Dense(512)(x))


def test_quantizing_a_larger_model_saves_storage(tmp_path):
    model = small_language_model(keras, layers)
    tokens = np.random.default_rng(1).integers(0, 512, (2, 8)).astype("int32")
    y_fp32 = model(tokens)
    # Save FP32 model for size comparison.
    model.save_weights(tmp_path / "fp32.weights.h5")
    # Quantize in-place to INT8 and run again.
    model.quantize("int8")
    y_int8 = model(tokens)
    assert float(keras.ops.mean(keras.ops.square(y_fp32 - y_int8))) < 1e-4
    model.save(tmp_path / "int8.keras")
    model.save_weights(tmp_path / "int8.weights.h5")
    # Reload and compare outputs.
    reloaded = keras.saving.load_model(tmp_path / "int8.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(tokens)), np.asarray(y_int8))

    # Compute storage savings
    def bytes_to_mib(n):
        return n / (1024**2)

    fp32_size = os.path.getsize(tmp_path / "fp32.weights.h5")
    int8_size = os.path.getsize(tmp_path / "int8.weights.h5")
    reduction = 100.0 * (1.0 - (int8_size / max(fp32_size, 1)))
    assert bytes_to_mib(int8_size) < bytes_to_mib(fp32_size)
    assert reduction > 65  # int8 weights are a quarter of float32, plus the scales and biases
