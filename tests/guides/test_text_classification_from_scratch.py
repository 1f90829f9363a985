"""Keras example "Text classification from scratch" (keras-io
examples/nlp/text_classification_from_scratch.py), ported with `import jnet as keras`,
`from jnet import layers`: the directory datasets, the adapted TextVectorization, the vectorized
datasets with `cache().prefetch()`, the Conv1D model, its compile/fit/evaluate and the raw-string
end-to-end model are the example's. Changed: `custom_standardization` works on a list of Python
strings (the example's uses `tf.strings`), `vectorize_text` expands dims with NumPy (strings stay
on the host). Sizes: the IMDB folders -> 40 short synthetic reviews, max_features 20000 -> 200,
embedding_dim 128 -> 8, sequence_length 500 -> 40, Conv1D 128 -> 8, Dense 128 -> 8, 3 epochs -> 1."""

import re
import string

import numpy as np
import pytest
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

max_features = 200
embedding_dim = 8
sequence_length = 40
batch_size = 8

GOOD = "great wonderful moving superb loved brilliant".split()
BAD = "awful boring dull terrible hated waste".split()
FILLER = "the film movie plot actors story was and it a of".split()


@pytest.fixture(scope="module")
def imdb_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("aclImdb")
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("test", 10)):
        for label, words in (("pos", GOOD), ("neg", BAD)):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n // 2):
                tokens = list(rng.choice(FILLER, 12)) + list(rng.choice(words, 3))
                rng.shuffle(tokens)
                (folder / f"{i}.txt").write_text(" ".join(tokens).capitalize() + ".<br />Really!")
    return root / "train", root / "test"


def custom_standardization(input_data):
    lowercase = [t.lower() for t in input_data]
    stripped_html = [t.replace("<br />", " ") for t in lowercase]
    return [re.sub(f"[{re.escape(string.punctuation)}]", "", t) for t in stripped_html]


def make_model(keras, layers):
    # A integer input for vocab indices.
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Conv1D(8, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(8, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return keras.Model(inputs, predictions)


def test_text_classification_from_scratch(imdb_dirs):
    train_dir, test_dir = imdb_dirs
    raw_train_ds = keras.utils.text_dataset_from_directory(
        train_dir, batch_size=batch_size, validation_split=0.2, subset="training", seed=1337, class_names=["pos", "neg"]
    )
    raw_val_ds = keras.utils.text_dataset_from_directory(
        train_dir,
        batch_size=batch_size,
        validation_split=0.2,
        subset="validation",
        seed=1337,
        class_names=["pos", "neg"],
    )
    raw_test_ds = keras.utils.text_dataset_from_directory(test_dir, batch_size=batch_size)
    assert (raw_train_ds.cardinality(), raw_val_ds.cardinality(), raw_test_ds.cardinality()) == (3, 1, 2)
    for text_batch, label_batch in raw_train_ds.take(1):
        assert "<br />" in text_batch[0] and label_batch[0] in (0, 1)

    vectorize_layer = keras.layers.TextVectorization(
        standardize=custom_standardization,
        max_tokens=max_features,
        output_mode="int",
        output_sequence_length=sequence_length,
    )
    text_ds = raw_train_ds.map(lambda x, y: x)
    vectorize_layer.adapt(text_ds)
    vocab = vectorize_layer.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"] and "really" in vocab and "<br" not in " ".join(vocab)

    def vectorize_text(text, label):
        text = np.expand_dims(text, -1)
        return vectorize_layer(text), label

    train_ds = raw_train_ds.map(vectorize_text).cache().prefetch(buffer_size=10)
    val_ds = raw_val_ds.map(vectorize_text).cache().prefetch(buffer_size=10)
    test_ds = raw_test_ds.map(vectorize_text).cache().prefetch(buffer_size=10)

    model = make_model(keras, layers)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    test_loss, test_acc = model.evaluate(test_ds, verbose=0)

    # Keras 3 on the trained weights gives the same predictions on the token ids.
    ids, labels = next(iter(test_ds))
    with keras_ok():
        km = make_model(KERAS[0], KERAS[1])
        copy_weights(model, km)
        np.testing.assert_allclose(model.predict(ids, verbose=0), km.predict(ids, verbose=0), rtol=1e-4, atol=1e-6)

    # A string input
    inputs = keras.Input(shape=(1,), dtype="string")
    # Turn strings into vocab indices
    indices = vectorize_layer(inputs)
    # Turn vocab indices into predictions
    outputs = model(indices)

    # Our end to end model
    end_to_end_model = keras.Model(inputs, outputs)
    end_to_end_model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    # Test it with `raw_test_ds`, which yields raw strings
    raw_loss, raw_acc = end_to_end_model.evaluate(raw_test_ds, verbose=0)
    np.testing.assert_allclose([raw_loss, raw_acc], [test_loss, test_acc], rtol=1e-5)
