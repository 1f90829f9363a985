"""StringLookup and TextVectorization without TensorFlow (Keras's versions need it): against
hand-computed vocabularies and outputs following Keras's rules."""

import json

import numpy as np
import pytest

import jnet
from jnet import layers
from jnet.layers.base import deserialize, serialize


def _np(x):
    return np.asarray(x)


def _roundtrip(layer):
    return deserialize(json.loads(json.dumps(serialize(layer))))


def test_string_lookup_vocabulary_oov_mask_and_invert():
    lk = layers.StringLookup(vocabulary=["a", "b", "c"])
    assert lk.get_vocabulary() == ["[UNK]", "a", "b", "c"] and lk.vocabulary_size() == 4
    np.testing.assert_array_equal(_np(lk(np.array([["a", "c"], ["d", "b"]]))), [[1, 3], [0, 2]])
    np.testing.assert_array_equal(_np(lk([b"a", b"zz"])), [1, 0])  # bytes decode
    masked = layers.StringLookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=2)
    assert masked.get_vocabulary() == ["", "[UNK]", "[UNK]", "a", "b"]
    out = _np(masked(np.array(["", "a", "b", "x", "x", "y"])))
    assert list(out[:3]) == [0, 3, 4] and out[3] == out[4] and 1 <= out[3] <= 2 and 1 <= out[5] <= 2
    inv = layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)
    assert inv(np.array([0, 1, 3, 7])).tolist() == ["[UNK]", "a", "c", "[UNK]"]


def test_string_lookup_adapt_encodings_and_config():
    lk = layers.StringLookup()
    lk.adapt(np.array(["x", "y", "y", "z", "z", "z", "w"]))
    assert lk.get_vocabulary() == ["[UNK]", "z", "y", "x", "w"]  # by count; ties: larger string first
    clone = _roundtrip(lk)
    assert clone.get_vocabulary() == lk.get_vocabulary()
    np.testing.assert_array_equal(_np(clone(["z", "q"])), [1, 0])
    mh = layers.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")
    np.testing.assert_array_equal(_np(mh([["a", "a", "q"], ["b", "b", "b"]])), [[1, 1, 0], [0, 0, 1]])
    oh = layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")
    np.testing.assert_array_equal(_np(oh(["b", "q"])), [[0, 0, 1], [1, 0, 0]])
    cnt = layers.StringLookup(vocabulary=["a", "b"], output_mode="count", max_tokens=5, pad_to_max_tokens=True)
    np.testing.assert_array_equal(_np(cnt([["a", "a", "q"]])), [[1, 2, 0, 0, 0]])


def test_string_lookup_bad_input(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("earth\nwind\nearth\n")
    with pytest.raises(ValueError, match="StringLookup.*repeated.*earth"):
        layers.StringLookup(vocabulary=str(path))
    path.write_text("earth\nwind\n")
    assert layers.StringLookup(vocabulary=str(path)).get_vocabulary() == ["[UNK]", "earth", "wind"]
    with pytest.raises(ValueError, match="StringLookup.*expects strings"):
        layers.StringLookup(vocabulary=["a"])(np.array([1.5]))
    with pytest.raises(ValueError, match="StringLookup.*adapt.*empty"):
        layers.StringLookup().adapt([])
    with pytest.raises(ValueError, match="StringLookup.*output_mode"):
        layers.StringLookup(output_mode="bogus")
    with pytest.raises(ValueError, match="StringLookup.*num_oov_indices=0"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(["a", "b"])
    with pytest.raises(ValueError, match="StringLookup.*expects strings"):
        layers.StringLookup(vocabulary=["a"])(np.array([1, 2]))


def test_text_vectorization_int_mode():
    v = layers.TextVectorization(max_tokens=1000, output_sequence_length=6)
    v.adapt(["The cat sat.", "the dog ran", "THE cat!"])
    # counts: the 3, cat 2, then sat/ran/dog once each (ties: larger string first)
    assert v.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat", "ran", "dog"]
    out = _np(v(["The cat ran, fast!", "dog"]))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[2, 3, 5, 1, 0, 0], [6, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(_np(v(["a b c d e f g the"])), [[1, 1, 1, 1, 1, 1]])  # truncated
    ragged = layers.TextVectorization(vocabulary=["x", "y"])
    np.testing.assert_array_equal(
        _np(ragged(np.array([["x y x"], ["y"], [""]]))), [[2, 3, 2], [3, 0, 0], [0, 0, 0]]
    )  # padded to the longest
    small = layers.TextVectorization(max_tokens=4)
    small.adapt(["b b b a a c"])
    assert small.get_vocabulary() == ["", "[UNK]", "b", "a"]


def test_text_vectorization_standardize_split_ngrams():
    raw = layers.TextVectorization(standardize=None, split="character", vocabulary=["A", "b"])
    np.testing.assert_array_equal(_np(raw(["Ab,"])), [[2, 3, 1]])
    lower = layers.TextVectorization(standardize="lower", vocabulary=["hi,", "there"])
    np.testing.assert_array_equal(_np(lower(["HI, There"])), [[2, 3]])
    custom = layers.TextVectorization(
        standardize=lambda texts: [t.replace("-", " ") for t in texts],
        split=lambda t: t.split(" "),
        vocabulary=["a", "b"],
    )
    np.testing.assert_array_equal(_np(custom(["a-b"])), [[2, 3]])
    bi = layers.TextVectorization(ngrams=2, output_mode="multi_hot")
    bi.adapt(["the cat sat", "the dog ran"])
    assert bi.get_vocabulary() == [
        "[UNK]",
        "the",
        "the dog",
        "the cat",
        "sat",
        "ran",
        "dog ran",
        "dog",
        "cat sat",
        "cat",
    ]
    np.testing.assert_array_equal(_np(bi(["the cat ran"])), [[1, 1, 0, 1, 0, 1, 0, 0, 0, 1]])
    only2 = layers.TextVectorization(ngrams=(2,), vocabulary=["a b", "b c"])
    np.testing.assert_array_equal(_np(only2(["a b c"])), [[2, 3]])


def test_text_vectorization_count_and_tf_idf():
    cnt = layers.TextVectorization(output_mode="count", vocabulary=["a", "b"])
    np.testing.assert_array_equal(_np(cnt(["a a b z", ""])), [[1, 2, 1], [0, 0, 0]])
    tfidf = layers.TextVectorization(output_mode="tf_idf")
    tfidf.adapt(["the cat sat", "the dog ran the"])
    assert tfidf.get_vocabulary() == ["[UNK]", "the", "sat", "ran", "dog", "cat"]
    idf = np.log(1 + 2 / (1 + np.array([2.0, 1, 1, 1, 1])))  # log(1 + docs / (1 + docs with term))
    np.testing.assert_allclose(tfidf.idf_weights, idf)
    np.testing.assert_allclose(
        _np(tfidf(["the the cat zebra"])), [[idf.mean(), 2 * idf[0], 0, 0, 0, idf[4]]], rtol=1e-6
    )
    clone = _roundtrip(tfidf)  # vocabulary and idf weights travel in the config
    np.testing.assert_allclose(_np(clone(["the cat"])), _np(tfidf(["the cat"])))


def test_text_vectorization_feeds_a_model():
    v = layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    texts = np.array(["crash on startup", "add dark mode", "crash when saving", "please add export"])
    v.adapt(texts)
    model = jnet.Sequential(
        [jnet.Input((5,), dtype="int32"), layers.Embedding(20, 4), layers.GlobalAveragePooling1D(), layers.Dense(2)]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(v(texts), np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    assert model.predict(v(["crash again"]), verbose=0).shape == (1, 2)


def test_text_vectorization_bad_input():
    with pytest.raises(ValueError, match="TextVectorization.*output_mode"):
        layers.TextVectorization(output_mode="one_hot")
    with pytest.raises(ValueError, match="TextVectorization.*standardize"):
        layers.TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="TextVectorization.*split"):
        layers.TextVectorization(split="comma")
    with pytest.raises(ValueError, match="TextVectorization.*ngrams"):
        layers.TextVectorization(ngrams=0)
    with pytest.raises(ValueError, match="TextVectorization.*output_sequence_length"):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="TextVectorization.*adapt.*empty"):
        layers.TextVectorization().adapt([])
    with pytest.raises(ValueError, match="TextVectorization.*one string"):
        layers.TextVectorization().adapt("just one text")
    with pytest.raises(ValueError, match="TextVectorization.*expects strings"):
        layers.TextVectorization(vocabulary=["a"])(np.array([1, 2]))
    with pytest.raises(ValueError, match="TextVectorization.*repeated"):
        layers.TextVectorization(vocabulary=["a", "a"])


TEXTS = np.array(["crash on startup", "add dark mode", "crash when saving", "please add export"])
LABELS = np.array([0, 1, 0, 1])


def _text_model():
    v = layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    v.adapt(TEXTS)
    model = jnet.Sequential(
        [v, layers.Embedding(20, 4), layers.GlobalAveragePooling1D(), layers.Dense(2, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, v


def test_model_fits_evaluates_and_predicts_on_raw_strings():
    model, v = _text_model()
    history = model.fit(TEXTS, LABELS, epochs=2, batch_size=2, verbose=0, validation_data=(list(TEXTS), LABELS))
    assert len(history.history["val_loss"]) == 2
    loss, acc = model.evaluate(TEXTS, LABELS, verbose=0)
    assert np.isfinite(loss) and 0 <= acc <= 1
    raw = model.predict(["crash again", "add more"], verbose=0)
    ids = v(["crash again", "add more"])
    # the host stage ran first; the compiled model saw the ids (the layer passes them through)
    inner = jnet.Sequential(model.layers[1:])
    np.testing.assert_allclose(raw, inner.predict(np.asarray(ids), verbose=0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model(np.array(["crash again", "add more"]))), raw, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(["crash again", "add more"]), raw, rtol=1e-6)
    model.train_on_batch(TEXTS[:2], LABELS[:2])


def test_saved_text_model_predicts_raw_strings_in_a_fresh_process(tmp_path):
    import os
    import subprocess
    import sys

    model, _ = _text_model()
    model.fit(TEXTS, LABELS, epochs=1, verbose=0)
    expected = model.predict(["Crash on startup", "add a mode"], verbose=0)
    path = str(tmp_path / "triage.keras")
    model.save(path)
    code = (
        "import jnet, numpy as np; m = jnet.saving.load_model({!r}); "
        "np.save({!r}, m.predict(['Crash on startup', 'add a mode'], verbose=0))".format(path, str(tmp_path / "p.npy"))
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(jnet.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, rtol=1e-6)


def test_string_lookup_as_a_host_stage_and_errors():
    lookup = layers.StringLookup(vocabulary=["red", "green", "blue"], output_mode="multi_hot")
    model = jnet.Sequential([lookup, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([["red", "blue"], ["green", "green"]])
    model.fit(x, np.zeros((2, 1)), epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (2, 1)
    plain = jnet.Sequential([layers.Dense(1)])
    with pytest.raises(ValueError, match="got strings.*TextVectorization or StringLookup"):
        plain.predict(np.array(["a", "b"]), verbose=0)
