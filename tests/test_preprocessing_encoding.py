"""CategoryEncoding (against Keras 3), Hashing and IntegerLookup (Keras's need TensorFlow:
against hand-computed vocabularies and indices)."""

import json

import jax
import keras
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers
from jnet.layers.base import deserialize, serialize

IDS = np.array([[0, 1], [2, 2], [3, 0]])


def _np(x):
    return np.asarray(x)


def _roundtrip(layer):
    return deserialize(json.loads(json.dumps(serialize(layer))))


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_matches_keras(mode):
    for x in [IDS, IDS[:, :1], IDS[:, 0], np.array(2)]:
        a = _np(layers.CategoryEncoding(4, output_mode=mode)(x))
        b = _np(keras.layers.CategoryEncoding(4, output_mode=mode)(x))
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    check_layer(
        layers.CategoryEncoding(4, output_mode=mode),
        IDS,
        grad=False,
        reference=lambda v, x: _np(keras.layers.CategoryEncoding(4, output_mode=mode)(np.asarray(x))),
    )


def test_category_encoding_count_weights_and_errors():
    w = np.array([[0.5, 1.0], [2.0, 3.0], [1.0, 1.0]], "float32")
    a = _np(layers.CategoryEncoding(4, output_mode="count")(IDS, count_weights=w))
    b = _np(keras.layers.CategoryEncoding(4, output_mode="count")(IDS, count_weights=w))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="CategoryEncoding.*output_mode"):
        layers.CategoryEncoding(4, output_mode="int")
    with pytest.raises(ValueError, match="CategoryEncoding.*num_tokens"):
        layers.CategoryEncoding()
    with pytest.raises(ValueError, match="CategoryEncoding.*count_weights"):
        layers.CategoryEncoding(4)(IDS, count_weights=w)
    with pytest.raises(ValueError, match="CategoryEncoding.*strings"):
        layers.CategoryEncoding(4)(np.array(["a"]))


def test_hashing_is_stable_uniform_and_masks():
    h = layers.Hashing(num_bins=7)
    x = np.arange(7000).reshape(-1, 1)
    bins = _np(h(x))
    assert bins.shape == x.shape and bins.dtype == np.int32 and bins.min() == 0 and bins.max() == 6
    assert np.all(np.abs(np.bincount(bins.ravel()) / 1000 - 1) < 0.15)  # uniform-ish
    np.testing.assert_array_equal(_np(jax.jit(h)(x)), bins)  # compiled == eager
    np.testing.assert_array_equal(_np(_roundtrip(h)(x)), bins)  # stable across instances
    assert not np.array_equal(_np(layers.Hashing(7, salt=[1, 2])(x)), bins)
    m = _np(layers.Hashing(num_bins=4, mask_value=0)(np.array([0, 1, 2, 3, 0, 5])))
    assert m[0] == 0 and m[4] == 0 and np.all(m[[1, 2, 3, 5]] >= 1) and m.max() <= 3
    s = _np(h(np.array([["a"], ["b"], ["a"]])))  # strings: hashed on the host, eagerly
    assert s.shape == (3, 1) and s[0, 0] == s[2, 0] and 0 <= s.min() and s.max() < 7
    oh = _np(layers.Hashing(num_bins=3, output_mode="one_hot")(np.array([5, 6])))
    assert oh.shape == (2, 3) and np.all(oh.sum(-1) == 1)
    with pytest.raises(ValueError, match="Hashing.*num_bins"):
        layers.Hashing(num_bins=0)
    with pytest.raises(ValueError, match="Hashing.*salt"):
        layers.Hashing(3, salt="x")
    with pytest.raises(ValueError, match="Hashing.*integer or string"):
        h(np.array([0.5], "float32"))


def test_integer_lookup_adapt_orders_by_frequency_like_keras():
    lookup = layers.IntegerLookup()
    lookup.adapt(np.array([12, 36, 1138, 42, 42, 36, 36]))
    # counts 36:3, 42:2, then the ties 1138, 12 with the larger value first (Keras's lexsort)
    assert lookup.get_vocabulary() == [-1, 36, 42, 1138, 12]
    assert lookup.get_vocabulary(include_special_tokens=False) == [36, 42, 1138, 12]
    assert lookup.vocabulary_size() == 5
    np.testing.assert_array_equal(_np(lookup(np.array([42, 1138, 7, 36]))), [2, 3, 0, 1])
    np.testing.assert_array_equal(_np(jax.jit(lookup)(np.array([42, 7]))), [2, 0])
    clone = _roundtrip(lookup)  # the learned vocabulary lives in the config
    assert clone.get_vocabulary() == lookup.get_vocabulary()
    small = layers.IntegerLookup(max_tokens=3)
    small.adapt([np.array([1, 1, 2, 2, 2]), np.array([3])])  # iterable of batches
    assert small.get_vocabulary() == [-1, 2, 1]


def test_integer_lookup_mask_oov_invert_and_encodings():
    vocab = [12, 36, 1138, 42]
    lk = layers.IntegerLookup(vocabulary=vocab, mask_token=0, num_oov_indices=2)
    assert lk.get_vocabulary() == [0, -1, -1, 12, 36, 1138, 42]
    # mask -> 0; OOV -> 1 + value % 2 (Keras's floormod for integers); vocab from index 3
    np.testing.assert_array_equal(_np(lk(np.array([0, 42, 1138, 7, 8, 36]))), [0, 6, 5, 2, 1, 4])
    inv = layers.IntegerLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(_np(inv(np.array([0, 1, 2, 3, 4, 9]))), [-1, 12, 36, 1138, 42, -1])
    mh = layers.IntegerLookup(vocabulary=vocab, output_mode="multi_hot")
    np.testing.assert_array_equal(_np(mh(np.array([[12, 36, 7], [42, 42, 42]]))), [[1, 1, 1, 0, 0], [0, 0, 0, 0, 1]])
    cnt = layers.IntegerLookup(vocabulary=vocab, output_mode="count", pad_to_max_tokens=True, max_tokens=8)
    np.testing.assert_array_equal(_np(cnt(np.array([[42, 42, 7]]))), [[1, 0, 0, 0, 2, 0, 0, 0]])
    tfidf = layers.IntegerLookup(output_mode="tf_idf")
    tfidf.adapt(np.array([[1, 2, 2], [1, 3, 3], [1, 1, 4]]))
    assert tfidf.get_vocabulary() == [-1, 1, 3, 2, 4]
    idf = np.log(1 + 3 / (1 + np.array([3.0, 1, 1, 1])))  # log(1 + docs / (1 + docs with term))
    np.testing.assert_allclose(tfidf.idf_weights, idf)
    np.testing.assert_allclose(
        _np(tfidf(np.array([[1, 2, 9, 9]]))), [[2 * idf.mean(), idf[0], 0, idf[2], 0]], rtol=1e-6
    )
    check_layer(mh, np.array([[12, 36, 7], [42, 42, 42]]), grad=False)


def test_integer_lookup_in_a_model_saves_its_vocabulary(tmp_path):
    lookup = layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(np.array([3, 3, 5, 7]))
    model = jnet.Sequential([jnet.Input((), dtype="int32"), lookup, layers.Dense(2)])
    x = np.array([3, 5, 9, 7], "int32")
    expected = _np(model.predict(x, verbose=0))
    model.save(str(tmp_path / "m.keras"))
    loaded = jnet.saving.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(_np(loaded.predict(x, verbose=0)), expected, rtol=1e-6)


def test_integer_lookup_bad_input(tmp_path):
    with pytest.raises(ValueError, match="IntegerLookup.*repeated"):
        layers.IntegerLookup(vocabulary=[1, 2, 1])
    path = tmp_path / "vocab.txt"
    path.write_text("4\n5\n4\n")
    with pytest.raises(ValueError, match="IntegerLookup.*repeated"):
        layers.IntegerLookup(vocabulary=str(path))
    path.write_text("4\n5\n")
    assert layers.IntegerLookup(vocabulary=str(path)).get_vocabulary() == [-1, 4, 5]
    with pytest.raises(ValueError, match="IntegerLookup.*output_mode"):
        layers.IntegerLookup(output_mode="bogus")
    with pytest.raises(ValueError, match="IntegerLookup.*adapt.*empty"):
        layers.IntegerLookup().adapt(np.zeros((0,), "int32"))
    with pytest.raises(ValueError, match="IntegerLookup.*strings"):
        layers.IntegerLookup(vocabulary=[1])(np.array(["a"]))
    with pytest.raises(ValueError, match="IntegerLookup.*no vocabulary"):
        layers.IntegerLookup()(np.array([1]))
    with pytest.raises(ValueError, match="IntegerLookup.*num_oov_indices=0"):
        layers.IntegerLookup(vocabulary=[1, 2], num_oov_indices=0)(np.array([1, 3]))
    with pytest.raises(ValueError, match="IntegerLookup.*idf_weights"):
        layers.IntegerLookup(vocabulary=[1, 2], output_mode="tf_idf")


def test_hashed_crossing():
    cross = layers.HashedCrossing(num_bins=16)
    a, b = np.arange(2000) % 40, np.arange(2000) // 50
    bins = _np(cross((a, b)))
    assert bins.shape == (2000,) and bins.dtype == np.int32 and bins.min() >= 0 and bins.max() < 16
    pairs = {}
    for i, j, k in zip(a, b, bins):  # a function of the pair: equal pairs share a bin
        assert pairs.setdefault((i, j), k) == k
    assert len(set(bins.tolist())) == 16
    np.testing.assert_array_equal(_np(jax.jit(lambda u, v: cross((u, v)))(a, b)), bins)
    assert not np.array_equal(_np(cross((b, a))), bins)  # order-sensitive
    s = _np(cross((np.array(["a", "b", "a"]), np.array(["x", "x", "x"]))))  # strings: eagerly, on the host
    assert s[0] == s[2] and s.shape == (3,)
    oh = _np(layers.HashedCrossing(4, output_mode="one_hot")((np.array([[1], [2]]), np.array([[3], [3]]))))
    assert oh.shape == (2, 4) and np.all(oh.sum(-1) == 1)
    assert _roundtrip(cross).num_bins == 16
    with pytest.raises(ValueError, match="HashedCrossing.*at least two"):
        cross(np.array([1, 2]))
    with pytest.raises(ValueError, match="HashedCrossing.*one shape"):
        cross((np.array([1, 2]), np.array([1, 2, 3])))
    with pytest.raises(ValueError, match="HashedCrossing.*output_mode"):
        layers.HashedCrossing(4, output_mode="multi_hot")
