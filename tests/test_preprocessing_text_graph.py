"""String inputs in graph models: `jnet.Input(dtype="string")` feeds a string layer that runs on the
host; the compiled graph is fed its numeric output. Multi-input models with string and numeric
inputs in fit / evaluate / predict / model(x), dict inputs, saving (jnet's format and .keras) with
the vocabularies inside, a fresh process predicting raw strings, and the errors."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import jnet
from jnet import layers

WORDS = {0: "crash error fail broken bug".split(), 1: "feature add request nice want".split()}


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    title = np.array([" ".join(rng.choice(WORDS[c], 3)) for c in y], dtype=object)
    body = np.array([" ".join(rng.choice(WORDS[c] + ["the", "a"], 5)) for c in y], dtype=object)
    tags = np.stack([y, 1 - y, rng.random(n)], axis=1).astype("float32") * 0.0  # uninformative
    return {"title": title, "body": body[:, None], "tags": tags}, y


def _model():
    x, _ = _data(32)
    title_vec = layers.TextVectorization(max_tokens=20, output_sequence_length=4, name="title_vec")
    title_vec.adapt(x["title"])
    body_vec = layers.TextVectorization(max_tokens=20, output_mode="multi_hot", name="body_vec")
    body_vec.adapt(x["body"][:, 0])
    title = jnet.Input(shape=(), dtype="string", name="title")
    body = jnet.Input(shape=(1,), dtype="string", name="body")  # Keras's (1,) form works too
    tags = jnet.Input(shape=(3,), name="tags")
    t = layers.GlobalAveragePooling1D()(layers.Embedding(20, 4, mask_zero=True)(title_vec(title)))
    b = layers.Dense(4, activation="relu")(body_vec(body))  # multi-hot: (None, vocabulary size)
    out = layers.Dense(2, activation="softmax", name="dept")(layers.concatenate([t, b, tags]))
    model = jnet.Model({"title": title, "body": body, "tags": tags}, out)
    model.compile(optimizer=jnet.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, title_vec, body_vec


def test_string_input_specs_and_summary():
    model, title_vec, body_vec = _model()
    title = model.inputs[0]
    assert title.dtype == np.dtype(object) and title.shape == (None,) and "dtype=string" in repr(title)
    assert title_vec.output.shape == (None, 4) and body_vec.output.shape == (None, body_vec.vocabulary_size())
    lines = []
    model.summary(print_fn=lines.append)
    assert any(
        "title_vec (TextVectorization)" in line and "(None, 4)" in line and "unbuilt" not in line
        for line in "\n".join(lines).splitlines()
    )


def test_multi_input_model_trains_and_predicts_on_raw_strings():
    model, title_vec, body_vec = _model()
    x, y = _data(64, seed=1)
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0, validation_split=0.25)
    assert history.history["accuracy"][-1] > 0.9 and len(history.history["val_loss"]) == 15
    x_test, y_test = _data(16, seed=2)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc > 0.9
    probs = model.predict(x_test, verbose=0)
    # The host stage ran first: the same model fed the string layers' output directly agrees.
    pre = dict(x_test, title=np.asarray(title_vec(x_test["title"])), body=np.asarray(body_vec(x_test["body"])))
    np.testing.assert_allclose(model.predict(pre, verbose=0), probs, rtol=1e-6)
    # a direct call, a list in input order, lists of str, and the on-batch methods
    np.testing.assert_allclose(np.asarray(model(x_test)), probs, rtol=1e-5, atol=1e-6)
    as_list = [list(x_test["title"]), x_test["body"], x_test["tags"]]
    np.testing.assert_allclose(model.predict(as_list, verbose=0), probs, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x_test), probs, rtol=1e-6)
    assert np.isfinite(model.train_on_batch(x_test, y_test)[0])
    assert np.isfinite(model.test_on_batch(x_test, y_test)[0])
    # a generator of raw batches
    gen = ((dict(x_test), y_test) for _ in range(2))
    assert np.isfinite(model.evaluate(gen, steps=2, verbose=0)[0])


def test_saved_string_model_predicts_raw_strings_in_a_fresh_process(tmp_path):
    model, _, _ = _model()
    x, y = _data(64, seed=1)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    new = {
        "title": ["crash fail bug", "add feature please"],
        "body": np.array([["broken"], ["nice"]], dtype=object),
        "tags": np.zeros((2, 3), "float32"),
    }
    expected = model.predict(new, verbose=0)
    keras_path, jnet_path = str(tmp_path / "m.keras"), str(tmp_path / "m.jnet")
    model.save(keras_path)
    model.save(jnet_path)
    with zipfile.ZipFile(keras_path) as z:  # Keras's config names the dtype; the vocabulary is inside
        config = json.loads(z.read("config.json"))
    entries = {e["name"]: e for e in config["config"]["layers"]}
    assert entries["title"]["config"]["dtype"] == "string"
    assert "crash" in entries["title_vec"]["config"]["vocabulary"]
    code = (
        "import sys, numpy as np, jnet\n"
        "new = {'title': ['crash fail bug', 'add feature please'],\n"
        "       'body': np.array([['broken'], ['nice']], dtype=object), 'tags': np.zeros((2, 3), 'float32')}\n"
        "for i, path in enumerate(sys.argv[1:3]):\n"
        "    np.save(sys.argv[3] + f'/p{i}.npy', jnet.models.load_model(path).predict(new, verbose=0))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(jnet.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", code, keras_path, jnet_path, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for i in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"p{i}.npy"), expected, rtol=1e-5, atol=1e-7)


def test_hashing_and_string_lookup_on_string_inputs():
    city = jnet.Input(shape=(1,), dtype="string", name="city")
    color = jnet.Input(shape=(), dtype="string", name="color")
    hashing = layers.Hashing(num_bins=5, output_mode="one_hot")
    lookup = layers.StringLookup(vocabulary=["red", "blue"], output_mode="one_hot")
    h, c = hashing(city), lookup(color)
    assert h.shape == (None, 5) and c.shape == (None, 3)
    model = jnet.Model([city, color], layers.concatenate([layers.Flatten()(h), c]))
    cities, colors = np.array([["paris"], ["rome"], ["oslo"]]), np.array(["red", "green", "blue"])
    out = model.predict([cities, colors], verbose=0)
    np.testing.assert_array_equal(out[:, :5], np.asarray(hashing(cities)).reshape(3, 5))
    np.testing.assert_array_equal(out[:, 5:], [[0, 1, 0], [1, 0, 0], [0, 0, 1]])  # column 0: OOV
    fields = jnet.Input(shape=(3,), dtype="string")  # several strings per sample: multi-hot over them
    multi = jnet.Model(fields, layers.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")(fields))
    np.testing.assert_array_equal(
        multi.predict(np.array([["a", "a", "z"], ["b", "a", "b"]]), verbose=0), [[1, 1, 0], [0, 1, 1]]
    )


def test_sequential_with_a_string_input():
    model = jnet.Sequential(
        [
            jnet.Input(shape=(1,), dtype="string"),
            layers.TextVectorization(vocabulary=["a", "b"], output_mode="count"),
            layers.Dense(1, kernel_initializer="ones", use_bias=False),
        ]
    )
    # counts per row: [UNK], a, b -> the all-ones kernel sums them
    np.testing.assert_allclose(model.predict(np.array([["a a b"], ["c"]]), verbose=0), [[3.0], [1.0]])


def test_string_input_errors():
    title = jnet.Input(shape=(), dtype="string", name="title")
    with pytest.raises(ValueError, match="Dense 'dense'.*input 'title' holds strings.*TextVectorization"):
        layers.Dense(3)(title)
    with pytest.raises(ValueError, match="input 'title' holds strings"):
        title + 1
    vec = layers.TextVectorization(max_tokens=10, output_sequence_length=3)
    vec.adapt(["a b", "c"])
    other = layers.TextVectorization(max_tokens=10, output_sequence_length=3)
    other.adapt(["a b", "c"])
    two = jnet.Model(title, [vec(title), other(title)])  # one input, two string layers: fed packed
    got = two.predict(["a b", "c"], verbose=0)
    for g, layer in zip(got, (vec, other)):
        np.testing.assert_array_equal(g, np.asarray(layer(["a b", "c"])))
    with pytest.raises(ValueError, match="string input 'unused' feeds no layer"):
        jnet.Model([title, jnet.Input(shape=(), dtype="string", name="unused")], vec(title))
    with pytest.raises(ValueError, match="multi_hot.*needs the vocabulary.*adapt"):
        layers.TextVectorization(output_mode="multi_hot")(jnet.Input(shape=(), dtype="string"))
    with pytest.raises(ValueError, match="invert=True.*output of predict"):
        layers.StringLookup(vocabulary=["a"], invert=True)(jnet.Input(shape=(), dtype="int32"))

    title = jnet.Input(shape=(), dtype="string", name="title")
    tags = jnet.Input(shape=(2,), name="tags")
    ids = layers.Flatten()(layers.Embedding(10, 2)(vec(title)))
    model = jnet.Model({"title": title, "tags": tags}, layers.Dense(1)(layers.concatenate([ids, tags])))
    with pytest.raises(ValueError, match="input 'title' takes strings .*got an array of dtype float64"):
        model.predict({"title": np.zeros((2,)), "tags": np.zeros((2, 2))}, verbose=0)
    with pytest.raises(ValueError, match="input 'tags' takes float32 values of shape \\(2,\\), got strings"):
        model.predict({"title": ["a"], "tags": ["x"]}, verbose=0)
    with pytest.raises(ValueError, match="input 'title' takes a batch of strings, got one string 'a b'"):
        model({"title": "a b", "tags": np.zeros((1, 2))})
    with pytest.raises(ValueError, match="missing \\['tags'\\]"):
        model.predict({"title": ["a b"]}, verbose=0)
    assert model.predict({"title": ["a b"], "tags": np.zeros((1, 2))}, verbose=0).shape == (1, 1)
