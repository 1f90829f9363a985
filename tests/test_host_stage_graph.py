"""The host stage of graph models beyond one string layer per string `Input`: shape ops on
strings (`ops.expand_dims`, `reshape`, `squeeze`, `concatenate`, indexing) before a string layer,
one string input feeding several string layers (their outputs packed into one feed), strings of
two inputs joined before one lookup, saving and loading such models, and the errors. Numbers are
checked against encodings computed by hand (Keras 3's StringLookup needs TensorFlow)."""

import numpy as np
import pytest

import jnet
from jnet import layers, ops

COLORS = ["red", "green", "blue"]


def test_shape_ops_run_on_string_arrays_with_numpy():
    words = np.array(["a", "b", "c", "d"], dtype=object)
    out = ops.expand_dims(words, -1)
    assert isinstance(out, np.ndarray) and out.shape == (4, 1) and out[2, 0] == "c"
    assert ops.reshape(words, (None, 2)).tolist() == [["a", "b"], ["c", "d"]]
    assert ops.squeeze(out, axis=-1).tolist() == ["a", "b", "c", "d"]
    assert ops.numpy.concatenate([out, out], axis=1).shape == (4, 2)
    assert ops.stack([words, words], axis=1)[3].tolist() == ["d", "d"]
    assert ops.convert_to_tensor(["x", "y"], dtype="string").tolist() == ["x", "y"]
    with pytest.raises(ValueError, match="squeeze: axis 0 .* does not have length 1"):
        ops.squeeze(out, axis=0)
    with pytest.raises(ValueError, match="strings cannot be converted to dtype 'float32'"):
        ops.convert_to_tensor(words, dtype="float32")
    np.testing.assert_array_equal(ops.expand_dims(np.arange(2), -1), [[0], [1]])  # numbers: still jax


def _wide_and_deep():
    """Like keras-io's wide & deep model: one string input through expand_dims into a one-hot
    lookup, and straight into an index lookup + Embedding; a numeric input beside them."""
    color = jnet.Input(shape=(), dtype="string", name="color")
    size = jnet.Input(shape=(), name="size")
    wide = layers.StringLookup(vocabulary=COLORS, mask_token=None, num_oov_indices=0, output_mode="binary")(
        ops.expand_dims(color, -1)
    )
    index = layers.StringLookup(vocabulary=COLORS, mask_token=None, num_oov_indices=0, name="index")(color)
    deep = layers.Embedding(3, 2, embeddings_initializer="uniform", name="emb")(index)
    features = layers.concatenate([wide, deep, ops.expand_dims(size, -1)])
    model = jnet.Model({"color": color, "size": size}, layers.Dense(1, name="out")(features))
    return model, jnet.Model(model.inputs, features)


@pytest.fixture(scope="module")
def wide_and_deep():
    return _wide_and_deep()


def test_one_string_input_feeds_two_lookups_through_an_op(wide_and_deep):
    model, features = wide_and_deep
    feed = model._graph.feeds[0]  # one-hot float32 (3) and int32 index (1): one int32 feed of width 4
    assert feed.shape == (None, 4) and feed.dtype == np.int32
    x = {"color": np.array(["blue", "red", "green", "blue"]), "size": np.arange(4, dtype="float32")}
    table = np.asarray(model.get_layer("emb").embeddings.value)
    idx = [2, 0, 1, 2]
    expected = np.concatenate([np.eye(3)[idx], table[idx], np.arange(4.0)[:, None]], axis=1)
    np.testing.assert_allclose(features.predict(x, verbose=0), expected, rtol=1e-6)
    green = np.concatenate([np.eye(3)[1], table[1], [1.0]])[None]
    np.testing.assert_allclose(
        np.asarray(features({"color": ["green"], "size": np.ones(1, "float32")})), green, rtol=1e-6
    )
    # training updates the embedding rows through the packed int feed
    model.compile(optimizer=jnet.optimizers.SGD(0.1), loss="mse")
    model.fit(x, np.ones((4, 1), "float32"), epochs=1, batch_size=4, verbose=0)
    assert not np.allclose(np.asarray(model.get_layer("emb").embeddings.value), table)
    # already-processed inputs pass the host stage unchanged (it is idempotent)
    from jnet.layers.preprocessing.host import run_host_stage

    once = run_host_stage(model, x)
    assert once["color"].shape == (4, 4) and run_host_stage(model, once)["color"] is once["color"]
    np.testing.assert_allclose(model.predict(once, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("fmt", ["keras", "jnet"])
def test_saved_model_with_host_ops_predicts_raw_strings(wide_and_deep, tmp_path, fmt):
    model, _ = wide_and_deep
    x = {"color": ["red", "blue"], "size": np.array([0.5, -1.0], "float32")}
    expected = model.predict(x, verbose=0)
    path = str(tmp_path / f"m.{fmt}")
    model.save(path)
    loaded = jnet.models.load_model(path, compile=False)
    assert loaded._graph.feeds[0].shape == (None, 4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)


def test_strings_of_two_inputs_joined_before_one_lookup():
    first = jnet.Input(shape=(), dtype="string", name="first")
    pair = jnet.Input(shape=(2,), dtype="string", name="pair")
    both = ops.concatenate([ops.reshape(first, (-1, 1)), pair[:, ::-1]], axis=1)  # (None, 3) strings
    lookup = layers.StringLookup(vocabulary=COLORS, output_mode="multi_hot")
    model = jnet.Model([first, pair], lookup(both))
    assert both.shape == (None, 3) and model.output.shape == (None, 4)
    # the lookup's output travels with `first`; `pair` feeds an empty (None, 0) array
    assert model._graph.feeds[1].shape == (None, 0)
    out = model.predict([np.array(["red", "pink"]), np.array([["blue", "red"], ["red", "red"]])], verbose=0)
    np.testing.assert_array_equal(out, [[0, 1, 0, 1], [1, 1, 0, 0]])  # column 0: OOV


def test_squeeze_then_two_text_vectorizations_of_fixed_length():
    text = jnet.Input(shape=(1,), dtype="string", name="text")
    flat = ops.squeeze(text, axis=-1)
    ids = layers.TextVectorization(vocabulary=["a", "b"], output_sequence_length=3)(flat)
    counts = layers.TextVectorization(vocabulary=["a", "b"], output_mode="count")(text)
    model = jnet.Model(text, [ids, counts])
    got_ids, got_counts = model.predict(np.array([["a b a"], ["c"]]), verbose=0)
    np.testing.assert_array_equal(got_ids, [[2, 3, 2], [1, 0, 0]])
    np.testing.assert_array_equal(got_counts, [[0, 2, 1], [1, 0, 0]])


def test_host_stage_errors():
    s = jnet.Input(shape=(), dtype="string", name="s")
    with pytest.raises(ValueError, match="input 's' holds strings.*expand_dims.*take strings"):
        ops.add(s, s)
    with pytest.raises(ValueError, match="Dense 'dense'.*input 's' holds strings"):
        layers.Dense(2)(ops.expand_dims(s, -1))
    with pytest.raises(ValueError, match="mixes string input 's' with numeric tensors"):
        ops.concatenate([ops.expand_dims(s, -1), jnet.Input(shape=(1,))], axis=1)
    with pytest.raises(ValueError, match="output .*expand_dims.* holds strings"):
        jnet.Model(s, ops.expand_dims(s, -1))
    a = layers.TextVectorization(vocabulary=["a"])(s)  # int mode, no fixed length: (None, None)
    b = layers.StringLookup(vocabulary=["a"])(s)
    with pytest.raises(ValueError, match="string input 's' feeds several string layers.*unknown size"):
        jnet.Model(s, [a, b])
    t = jnet.Input(shape=(), dtype="string", name="t")
    both = layers.StringLookup(vocabulary=["a"], output_mode="one_hot")(ops.stack([s, t], axis=1))
    model = jnet.Model({"s": s, "t": t}, both)
    with pytest.raises(ValueError, match="string inputs \\['s'\\] got strings but \\['t'\\] got numbers"):
        model.predict({"s": ["a"], "t": np.zeros((1, 0), "int32")}, verbose=0)
