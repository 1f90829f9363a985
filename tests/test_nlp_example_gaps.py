"""Focused checks for what the ported keras-io NLP / timeseries examples needed: inputs given by
keyword, a broadcast attention mask, Keras's rule for which call gets `mask=`, a Sequential built
by its first call taking other sequence lengths, `ops.tile`'s static repeats, targets for the
outputs that have a loss, and the `keras.preprocessing` namespace."""

import jax
import numpy as np
import pytest

import jnet
from jnet import layers, ops


def test_inputs_by_keyword_build_and_run():
    att = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    q = np.random.default_rng(0).random((2, 4, 5)).astype("float32")
    v = np.random.default_rng(1).random((2, 6, 5)).astype("float32")
    by_keyword = np.asarray(att(query=q, value=v, key=v))
    np.testing.assert_allclose(by_keyword, np.asarray(att(q, v)), rtol=1e-6)
    assert by_keyword.shape == (2, 4, 5)

    class Double(layers.Layer):
        def call(self, inputs):
            return inputs * 2

    np.testing.assert_array_equal(np.asarray(Double()(inputs=np.ones((2, 4)))), 2 * np.ones((2, 4)))


def test_attention_mask_broadcasts_over_query_rows():
    att = layers.MultiHeadAttention(num_heads=1, key_dim=2)
    x = np.random.default_rng(0).random((2, 3, 4)).astype("float32")
    padding = np.array([[1, 1, 0], [1, 0, 0]], "int32")
    full = np.broadcast_to(padding[:, None, :], (2, 3, 3))
    np.testing.assert_allclose(
        np.asarray(att(x, x, attention_mask=padding[:, None, :])), np.asarray(att(x, x, attention_mask=full)), rtol=1e-6
    )
    with pytest.raises(ValueError, match="attention_mask must have shape .* or broadcast to it"):
        att(x, x, attention_mask=np.ones((2, 2, 3)))


class _Recorder(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.seen = []

    def call(self, a, b=None, mask=None, b_mask=None):
        self.seen.append((mask is not None, b_mask is not None))
        return a if b is None else a + b


def test_mask_goes_to_call_only_with_one_tensor_argument():
    """Keras 3: `mask=` is filled for a single tensor argument; with several, `<name>_mask`
    where call() names one. The output mask still follows the first input."""
    i, j = jnet.Input((None,), dtype="int32"), jnet.Input((None,), dtype="int32")
    emb = layers.Embedding(5, 2, mask_zero=True)
    one, two = _Recorder(), _Recorder()
    y = two(one(emb(i)), emb(j))
    assert y._keras_mask is not None
    model = jnet.Model([i, j], y)
    one.seen.clear(), two.seen.clear()
    model([np.array([[1, 0]]), np.array([[1, 1]])])
    assert set(one.seen) == {(True, False)} and set(two.seen) == {(False, True)}


def test_sequential_built_by_first_call_takes_other_lengths():
    seq = jnet.Sequential([layers.Dense(4), layers.Dense(2)])
    assert seq(np.ones((2, 3, 8))).shape == (2, 3, 2)
    assert seq(np.ones((2, 5, 8))).shape == (2, 5, 2)
    with pytest.raises(ValueError, match="differs in rank or last axis"):
        seq(np.ones((2, 5, 7)))
    declared = jnet.Sequential([jnet.Input((3, 8)), layers.Dense(2)])
    with pytest.raises(ValueError, match="expects shape"):
        declared(np.ones((2, 5, 8)))


def test_tile_needs_static_repeats_when_traced():
    mask = ops.ones((1, 2, 2))
    assert ops.tile(mask, (3, 1, 1)).shape == (3, 2, 2)
    assert ops.tile(mask, ops.convert_to_tensor([2, 1, 1])).shape == (2, 2, 2)  # concrete: fine

    def computed(x):
        return ops.tile(x, ops.concatenate([ops.expand_dims(x.shape[0], -1), ops.convert_to_tensor([1, 1])]))

    with pytest.raises(TypeError, match="ops.tile: repeats must be known"):
        jax.jit(computed)(mask)


def test_targets_for_outputs_with_a_loss_only():
    inputs = jnet.Input((3,))
    hidden = layers.Dense(4, name="hidden")(inputs)
    out = layers.Dense(2, name="out")(hidden)
    model = jnet.Model(inputs, [out, hidden])
    model.compile("sgd", loss=[jnet.losses.SparseCategoricalCrossentropy(from_logits=True), None])
    x, y = np.ones((4, 3), "float32"), np.array([0, 1, 0, 1])
    history = model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    logits, _ = model.predict(x, verbose=0)
    expected = -np.mean(jax.nn.log_softmax(logits)[np.arange(4), y])
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="2 outputs"):
        model.fit(x, [y, y, y], verbose=0)


def test_preprocessing_namespace():
    padded = jnet.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=3)
    np.testing.assert_array_equal(padded, [[0, 1, 2], [0, 0, 3]])
    assert jnet.preprocessing.timeseries_dataset_from_array is jnet.utils.timeseries_dataset_from_array
    assert jnet.preprocessing.image.img_to_array is jnet.utils.img_to_array


def test_convert_to_tensor_keeps_text_on_the_host():
    text = ops.convert_to_tensor([["a b", "c"]])
    assert isinstance(text, np.ndarray) and text.dtype.kind == "U" and text.shape == (1, 2)
    assert ops.convert_to_tensor("word").shape == ()
    assert ops.convert_to_tensor([[1, 2]]).dtype == "int32"  # numbers still become jax arrays


def test_dataset_take():
    ds = jnet.utils.Dataset.from_arrays((np.arange(10), np.arange(10) * 2), batch_size=4)
    batches = list(ds.take(2))
    assert len(batches) == 2 and len(ds.take(2)) == 2
    np.testing.assert_array_equal(batches[1][0], [4, 5, 6, 7])
    assert [len(b[0]) for b in ds.take(5)] == [4, 4, 2] and len(ds.take(-1)) == len(ds) == 3
    assert len(list(ds.unbatch().take(3))) == 3
    shuffled = jnet.utils.Dataset.from_arrays(np.arange(10), batch_size=4, shuffle=True, seed=0)
    (first,) = list(shuffled.take(1))
    assert len(first) == 4 and len(set(first.tolist())) == 4
    with pytest.raises(ValueError, match="Dataset.take: count"):
        ds.take(-2)


def test_dataset_cache_replays_the_first_pass_and_cardinality():
    reads = []

    def take_rows(idx):
        reads.append(len(idx))
        return np.asarray(idx) * 10

    ds = jnet.utils.Dataset(take_rows, 10, batch_size=4, shuffle=True, seed=0)
    cached = ds.map(lambda x: x + 1).cache().map(lambda x: x * 2).prefetch(buffer_size=10)
    assert cached.cardinality() == 3 and ds.take(2).cardinality() == 2
    assert len(list(cached.take(1))) == 1 and len(reads) == 1  # a partial pass is not kept
    first = [b.tolist() for b in cached]
    second = [b.tolist() for b in cached]
    assert first == second and len(reads) == 4  # read once more (the full pass), then replayed
    assert sorted(sum(first, [])) == [(10 * i + 1) * 2 for i in range(10)]  # maps before and after
    assert [b.tolist() for b in cached.take(2)] == first[:2] and len(reads) == 4
    with pytest.raises(ValueError, match="re-batching a cached dataset"):
        ds.cache().unbatch()


def test_raw_string_model_evaluates_a_dataset_of_texts():
    vectorize = layers.TextVectorization(max_tokens=10, output_sequence_length=4)
    texts = np.array(["good film", "bad film", "good plot", "bad plot"], dtype=object)
    vectorize.adapt(texts)
    inputs = jnet.Input(shape=(1,), dtype="string")
    outputs = layers.Dense(1, activation="sigmoid")(ops.cast(vectorize(inputs), "float32"))
    model = jnet.Model(inputs, outputs)
    model.compile(loss="binary_crossentropy")
    labels = np.array([1, 0, 1, 0], "float32")
    ds = jnet.utils.Dataset.from_arrays((texts, labels), batch_size=2)
    np.testing.assert_allclose(model.evaluate(ds, verbose=0), model.evaluate(texts, labels, verbose=0), rtol=1e-6)
