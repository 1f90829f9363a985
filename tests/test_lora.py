"""LoRA on Dense, EinsumDense and Embedding (`layer.enable_lora`), against Keras 3 on copied
weights: same weights in the same order, same outputs before and after a few SGD steps, same
trainable counts, and the merged kernel in the saved file (read by Keras and by jnet)."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import jnet
from jnet import layers


def keras_ok():
    return jax.numpy_rank_promotion("allow")


def small_model(lib):
    """Embedding -> EinsumDense -> Dense: the three layers LoRA applies to."""
    L = lib.layers
    inp = lib.Input((6,), dtype="int32")
    x = L.Embedding(10, 4, name="emb")(inp)
    x = L.EinsumDense("abc,cd->abd", output_shape=(6, 5), bias_axes="d", name="ed")(x)
    x = L.Flatten(name="flat")(x)
    return lib.Model(inp, L.Dense(3, name="out")(x))


X = np.random.default_rng(1).integers(0, 10, (8, 6)).astype("int32")
Y = np.random.default_rng(2).standard_normal((8, 3)).astype("float32")


def outputs(model, keras_side=False):
    if keras_side:
        with keras_ok():
            return np.asarray(model(X))
    return np.asarray(model(X))


@pytest.fixture(scope="module")
def pair():
    """jnet and Keras models with LoRA (rank 2, alpha 4) on all three layers, same weights;
    their outputs before training."""
    jm = small_model(jnet)
    with keras_ok():
        km = small_model(keras)
    for model in (jm, km):
        for name in ("emb", "ed", "out"):
            model.get_layer(name).enable_lora(2, lora_alpha=4)
    rng = np.random.default_rng(0)
    jm.set_weights([(rng.standard_normal(w.shape) * 0.3).astype("float32") for w in jm.get_weights()])
    km.set_weights(jm.get_weights())
    return jm, km, outputs(jm), outputs(km, True)


@pytest.fixture(scope="module")
def fitted(pair):
    """The pair after two epochs of SGD (and the frozen weights before them)."""
    jm, km, _, _ = pair
    frozen = [jm.get_layer(n).weights[0].numpy() for n in ("emb", "ed", "out")]
    for model in (jm, km):
        model.compile(optimizer="sgd", loss="mse")
    jh = jm.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    with keras_ok():
        kh = km.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    return jm, km, jh, kh, frozen


def test_weights_order_counts_and_outputs_match_keras(pair):
    jm, km, jy, ky = pair
    assert [w.path for w in jm.weights] == [w.path for w in km.weights]
    assert [w.path for w in jm.trainable_weights] == [w.path for w in km.trainable_weights]
    count = lambda ws: sum(int(np.prod(w.shape)) for w in ws)  # noqa: E731
    assert count(jm.trainable_weights) == count(km.trainable_weights) == 120
    out = jm.get_layer("out")
    assert out.lora_enabled and out.lora_rank == 2 and out.lora_alpha == 4
    assert not out.kernel.trainable and out.lora_kernel_a.shape == (30, 2) and out.lora_kernel_b.shape == (2, 3)
    assert jm.get_layer("ed").lora_kernel_a.shape == (4, 2)
    np.testing.assert_allclose(jy, ky, atol=1e-5)


def test_sgd_steps_train_only_lora_and_match_keras(fitted):
    jm, km, jh, kh, frozen = fitted
    np.testing.assert_allclose(jh["loss"], kh["loss"], rtol=1e-5)
    np.testing.assert_allclose(outputs(jm), outputs(km, True), atol=1e-5)
    for before, name in zip(frozen, ("emb", "ed", "out")):
        np.testing.assert_array_equal(jm.get_layer(name).weights[0].numpy(), before)
    out = jm.get_layer("out")
    assert np.abs(out.lora_kernel_b.numpy()).max() > 0
    # The effective kernel is kernel + (alpha / rank) * a @ b.
    h = np.random.default_rng(3).standard_normal((2, 30)).astype("float32")
    merged = out.kernel.numpy() + 2.0 * out.lora_kernel_a.numpy() @ out.lora_kernel_b.numpy()
    np.testing.assert_allclose(np.asarray(out(h)), h @ merged + out.bias.numpy()[None], rtol=1e-5, atol=1e-5)


def test_saving_merges_lora_both_ways(fitted, tmp_path):
    jm, km, _, _, _ = fitted
    jm.save(tmp_path / "j.keras")
    with keras_ok():
        km.save(tmp_path / "k.keras")
        from_jnet = keras.models.load_model(tmp_path / "j.keras")
        np.testing.assert_allclose(np.asarray(from_jnet(X)), outputs(jm), atol=1e-5)
    from_keras = jnet.models.load_model(tmp_path / "k.keras")
    out = from_keras.get_layer("out")
    assert out.lora_enabled and not np.any(out.lora_kernel_b.numpy())  # LoRA restarts at zero
    np.testing.assert_allclose(outputs(from_keras), outputs(jm), atol=1e-5)
    trained = jm.get_layer("out")
    expected = trained.kernel.numpy() + 2.0 * trained.lora_kernel_a.numpy() @ trained.lora_kernel_b.numpy()
    np.testing.assert_allclose(out.kernel.numpy(), expected, atol=1e-6)
    # A model without LoRA takes the merged weights (the file holds kernel and bias only).
    plain = small_model(jnet)
    plain.load_weights(tmp_path / "j.keras")
    np.testing.assert_allclose(outputs(plain), outputs(jm), atol=1e-5)


def test_pure_core_freezes_kernel():
    layer = layers.Dense(3)
    layer.build((None, 4))
    layer.enable_lora(2, b_initializer="ones")
    variables = layer.current_variables()
    assert set(variables["params"]) == {"bias", "lora_kernel_a", "lora_kernel_b"}
    assert set(variables["state"]) == {"kernel"}
    x = jnp.ones((2, 4))
    grads = jax.grad(lambda p: jnp.sum(layer.apply({**variables, "params": p}, x)[0]))(variables["params"])
    assert float(jnp.abs(grads["lora_kernel_b"]).sum()) > 0


def test_lora_config_round_trip_and_keras_keys():
    plain = layers.Dense(3)
    with keras_ok():
        kplain = keras.layers.Dense(3)
    assert set(plain.get_config()) - {"input_shape"} == set(kplain.get_config())
    dense = layers.Dense(3, lora_rank=2, lora_alpha=8)
    dense.build((None, 4))
    assert dense.lora_enabled and dense.lora_alpha == 8 and len(dense.trainable_weights) == 3
    clone = layers.Dense.from_config(dense.get_config())
    clone.build((None, 4))
    assert clone.lora_enabled and clone.lora_rank == 2
    emb = layers.Embedding(5, 3, lora_rank=2)
    emb.build(None)
    assert [w.name for w in emb.weights] == ["embeddings", "lora_embeddings_a", "lora_embeddings_b"]
    assert emb.get_config()["lora_rank"] == 2


def test_model_has_no_enable_lora_as_in_keras():
    # Keras's Model has none (KerasHub's backbones add their own): enable it layer by layer.
    assert not hasattr(keras.Model, "enable_lora") and not hasattr(jnet.Model, "enable_lora")


def test_enable_lora_errors():
    with pytest.raises(ValueError, match="isn't built"):
        layers.Dense(3).enable_lora(2)
    layer = layers.Dense(3)
    layer.build((None, 4))
    with pytest.raises(ValueError, match="rank must be a positive integer"):
        layer.enable_lora(0)
    layer.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)
    constrained = layers.Dense(3, kernel_constraint="non_neg")
    constrained.build((None, 4))
    with pytest.raises(ValueError, match="kernel_constraint"):
        constrained.enable_lora(2)
    with pytest.raises(ValueError, match="lora_rank must be a positive integer"):
        layers.EinsumDense("ab,bc->ac", output_shape=3, lora_rank=-1)


def test_checkpoint_during_fit_holds_the_latest_merged_kernel(tmp_path):
    # ModelCheckpoint writes mid-fit, while the layer's Variables still hold the values from
    # before fit: the merged kernel must come from the live training arrays.
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 4)).astype("float32"), rng.random((16, 1)).astype("float32")
    model = jnet.Sequential([jnet.Input((4,)), jnet.layers.Dense(8), jnet.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.layers[0].enable_lora(2)
    path = str(tmp_path / "m.keras")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[jnet.callbacks.ModelCheckpoint(path)])
    loaded = jnet.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
