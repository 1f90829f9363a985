"""`layers.ReversibleEmbedding` against Keras 3: forward and reverse calls, tied and untied
weights, the soft cap, masks, configs and `.keras` files both ways."""

import jax
import numpy as np
import pytest

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)
IDS = np.array([[1, 2, 0], [3, 4, 5]], np.int32)


def _allow():
    return jax.numpy_rank_promotion("allow")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"tie_weights": False, "logit_soft_cap": 2.0, "mask_zero": True},
        {"reverse_dtype": "float32", "logit_soft_cap": 0.5},
    ],
)
def test_matches_keras(kwargs):
    ours = layers.ReversibleEmbedding(6, 4, **kwargs)
    ours(IDS)
    weights = [RS.randn(*w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs = keras.layers.ReversibleEmbedding(6, 4, **kwargs)
    theirs.build()
    theirs.set_weights(weights)
    hidden = ours(IDS)
    logits = ours(hidden, reverse=True)
    with _allow():
        khidden = theirs(IDS)
        klogits = theirs(khidden, reverse=True)
    np.testing.assert_allclose(np.asarray(hidden), np.asarray(khidden), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(klogits), rtol=1e-5, atol=1e-6)
    assert logits.shape == (2, 3, 6)
    if kwargs.get("logit_soft_cap"):
        assert np.abs(np.asarray(logits)).max() <= kwargs["logit_soft_cap"]
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    config = ours.get_config()
    for key in ("input_dim", "output_dim", "tie_weights", "reverse_dtype", "logit_soft_cap", "mask_zero"):
        assert config[key] == theirs.get_config()[key], key
    clone = layers.ReversibleEmbedding.from_config(config)
    assert clone.get_config() == config


def test_masks_and_errors():
    embed = layers.ReversibleEmbedding(7, 4, mask_zero=True)
    ids = jnet.Input((None,), dtype="int32")
    hidden = embed(ids)
    logits = embed(hidden, reverse=True)
    model = jnet.Model(ids, [hidden, logits])
    np.testing.assert_array_equal(np.asarray(embed.compute_mask(IDS)), IDS != 0)
    assert embed.compute_mask(np.zeros((2, 3, 4), np.float32)) is None
    out_h, out_l = model.predict(IDS, verbose=0)
    assert out_h.shape == (2, 3, 4) and out_l.shape == (2, 3, 7)
    with pytest.raises(ValueError, match="output_dim"):
        embed(np.zeros((2, 5), np.float32), reverse=True)
    with pytest.raises(ValueError, match="logit_soft_cap"):
        layers.ReversibleEmbedding(7, 4, logit_soft_cap=-1.0)


def _language_model(lib, tie_weights):
    ids = lib.Input((5,), dtype="int32")
    embed = lib.layers.ReversibleEmbedding(9, 4, tie_weights=tie_weights, name="embed")
    x = lib.layers.Dense(4, activation="tanh")(embed(ids))
    return lib.Model(ids, embed(x, reverse=True))


def test_trains_and_saves_both_ways(tmp_path):
    x = RS.randint(0, 9, (8, 5)).astype(np.int32)
    model = _language_model(jnet, tie_weights=False)  # both weights travel
    model.compile(optimizer="adam", loss=jnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    embed = model.get_layer("embed")
    before = embed.get_weights()[1].copy()
    model.train_on_batch(x, x)  # the untied reverse_embeddings train too
    assert not np.allclose(before, embed.get_weights()[1])
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "j.keras")
    with _allow():
        theirs = keras.models.load_model(tmp_path / "j.keras", compile=False)
        np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), expected, rtol=1e-5, atol=1e-6)
        theirs.set_weights([w * 1.5 for w in theirs.get_weights()])
        again = np.asarray(theirs.predict(x, verbose=0))
        theirs.save(tmp_path / "k.keras")
    back = jnet.models.load_model(tmp_path / "k.keras", compile=False)
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), again, rtol=1e-5, atol=1e-6)
