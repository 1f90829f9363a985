"""Keras guide "Working with preprocessing layers" (keras-io guides/preprocessing_layers.py),
ported with `import jnet as keras`, `from jnet import layers`; the guide's layer and model code
is unchanged. `tf.constant(...)` becomes a numpy array and `dataset.batch(2).map(...)` the
vectorized arrays the map would yield. Compared with Keras 3 (JAX backend) where Keras runs
without TensorFlow (Normalization, CategoryEncoding); the lookup, hashing and text layers need
TensorFlow in Keras 3, so they are checked against closed forms and the guide's printed output.
Left out: the augmentation recipe's ResNet50 fit on CIFAR-10 (the augmentation stage itself is
checked; a ResNet50 compile is too slow for the test budget) and the `tf.data` pipelines."""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

ADAPT_TEXT = np.array(
    [
        "The Brain is wider than the Sky",
        "For put them side by side",
        "The one the other will contain",
        "With ease and You beside",
    ]
)
TRAIN_TEXT = np.array(["The Brain is deeper than the sea", "for if they are held Blue to Blue"])
TRAIN_Y = np.array([1, 0])


def test_adapt_normalization_like_keras():
    data = np.array([[0.1, 0.2, 0.3], [0.8, 0.9, 1.0], [1.5, 1.6, 1.7]])
    layer = layers.Normalization()
    layer.adapt(data)
    normalized_data = layer(data)
    np.testing.assert_allclose(np.asarray(normalized_data).mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(normalized_data).std(), 1.0, atol=1e-5)
    klayer = KERAS[1].Normalization()
    klayer.adapt(data)
    with keras_ok():
        np.testing.assert_allclose(np.asarray(normalized_data), np.asarray(klayer(data)), rtol=1e-5, atol=1e-6)


def test_adapt_text_vectorization_on_a_list_of_strings():
    data = [
        "ξεῖν᾽, ἦ τοι μὲν ὄνειροι ἀμήχανοι ἀκριτόμυθοι",
        "γίγνοντ᾽, οὐδέ τι πάντα τελείεται ἀνθρώποισι.",
        "δοιαὶ γάρ τε πύλαι ἀμενηνῶν εἰσὶν ὀνείρων:",
        "αἱ μὲν γὰρ κεράεσσι τετεύχαται, αἱ δ᾽ ἐλέφαντι:",
        "τῶν οἳ μέν κ᾽ ἔλθωσι διὰ πριστοῦ ἐλέφαντος,",
        "οἵ ῥ᾽ ἐλεφαίρονται, ἔπε᾽ ἀκράαντα φέροντες:",
        "οἱ δὲ διὰ ξεστῶν κεράων ἔλθωσι θύραζε,",
        "οἵ ῥ᾽ ἔτυμα κραίνουσι, βροτῶν ὅτε κέν τις ἴδηται.",
    ]
    layer = layers.TextVectorization()
    layer.adapt(data)
    vectorized_text = np.asarray(layer(data))
    # Each sentence's ids spell its lowercased words without punctuation, padded with 0.
    vocab = layer.get_vocabulary()
    punct = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'
    for row, sentence in zip(vectorized_text, data):
        words = sentence.lower().translate(str.maketrans("", "", punct)).split()
        assert [vocab[i] for i in row[: len(words)]] == words
        assert not row[len(words) :].any()
    assert vectorized_text.shape == (8, 9)  # padded to the longest sentence
    # The most frequent words come first (μὲν, αἱ, ἔλθωσι, ... appear twice).
    assert {"μὲν", "αἱ", "ἔλθωσι"} <= set(vocab[2:12])


def test_string_lookup_with_precomputed_vocabulary():
    vocab = ["a", "b", "c", "d"]
    data = np.array([["a", "c", "d"], ["d", "z", "b"]])
    layer = layers.StringLookup(vocabulary=vocab)
    vectorized_data = layer(data)
    np.testing.assert_array_equal(np.asarray(vectorized_data), [[1, 3, 4], [4, 0, 2]])


def test_image_augmentation_stage():
    # Create a data augmentation stage with horizontal flipping, rotations, zooms
    data_augmentation = keras.Sequential(
        [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1)]
    )
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(data_augmentation(x)), x)  # inactive at inference
    augmented = np.asarray(data_augmentation(x, training=True))
    assert augmented.shape == x.shape and not np.allclose(augmented, x)
    inputs = keras.Input(shape=x.shape[1:])
    scaled = keras.Model(inputs, layers.Rescaling(1.0 / 255)(inputs))(x)
    np.testing.assert_allclose(np.asarray(scaled), x / 255, rtol=1e-6)


def test_normalizing_numerical_features_like_keras():
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, (32, 4, 4, 3)).astype("uint8")  # a tiny CIFAR-10 stand-in
    y_train = rng.integers(0, 10, (32, 1))
    x_train = x_train.reshape((len(x_train), -1))
    input_shape = x_train.shape[1:]
    classes = 10

    def run(keras, layers):
        # Create a Normalization layer and set its internal state using the training data
        normalizer = layers.Normalization()
        normalizer.adapt(x_train)

        # Create a model that include the normalization layer
        inputs = keras.Input(shape=input_shape)
        x = normalizer(inputs)
        outputs = layers.Dense(classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        return model

    model = run(keras, layers)
    with keras_ok():
        kmodel = run(KERAS[0], KERAS[1])
        kmodel.layers[-1].set_weights([np.asarray(w) for w in model.layers[-1].get_weights()])
        np.testing.assert_allclose(
            model.predict(x_train, verbose=0), kmodel.predict(x_train, verbose=0), rtol=1e-4, atol=1e-6
        )
    # Train the model
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    kmodel.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x_train, y_train, shuffle=False, verbose=0)
    with keras_ok():
        khistory = kmodel.fit(x_train, y_train, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], khistory.history["loss"], rtol=1e-4)


def test_one_hot_string_and_integer_categories():
    # Define some toy data
    data = np.array([["a"], ["b"], ["c"], ["b"], ["c"], ["a"]])

    # Use StringLookup to build an index of the feature values and encode output.
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(data)

    # Convert new test data (which includes unknown feature values)
    test_data = np.array([["a"], ["b"], ["c"], ["d"], ["e"], [""]])
    encoded_data = lookup(test_data)
    # The guide's printed output: ties in frequency order the tokens in reverse, OOV is 0.
    np.testing.assert_array_equal(
        np.asarray(encoded_data), [[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]
    )

    # Define some toy data
    data = np.array([[10], [20], [20], [10], [30], [0]])

    # Use IntegerLookup to build an index of the feature values and encode output.
    lookup = layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(data)

    # Convert new test data (which includes unknown feature values)
    test_data = np.array([[10], [10], [20], [50], [60], [0]])
    encoded_data = np.asarray(lookup(test_data))
    vocab = lookup.get_vocabulary()  # Keras 3: no mask token by default, OOV (-1) at index 0
    assert vocab[0] == -1 and sorted(vocab[1:]) == [0, 10, 20, 30]
    expected = np.eye(len(vocab))[[vocab.index(v) if v in vocab else 0 for v in test_data[:, 0]]]
    np.testing.assert_array_equal(encoded_data, expected)


def test_hashing_trick_then_multi_hot_like_keras():
    # Sample data: 10,000 random integers with values between 0 and 100,000
    data = np.random.default_rng(2).integers(0, 100000, size=(10000, 1))

    # Use the Hashing layer to hash the values to the range [0, 64]
    hasher = layers.Hashing(num_bins=64, salt=1337)

    # Use the CategoryEncoding layer to multi-hot encode the hashed values
    encoder = layers.CategoryEncoding(num_tokens=64, output_mode="multi_hot")
    hashed = np.asarray(hasher(data))
    encoded_data = encoder(hashed)
    assert encoded_data.shape == (10000, 64)
    assert hashed.min() >= 0 and hashed.max() < 64 and len(np.unique(hashed)) > 50
    kencoder = KERAS[1].CategoryEncoding(num_tokens=64, output_mode="multi_hot")
    np.testing.assert_array_equal(np.asarray(encoded_data), np.asarray(kencoder(hashed)))


def test_text_as_token_indices_end_to_end():
    # Create a TextVectorization layer
    text_vectorizer = layers.TextVectorization(output_mode="int")
    # Index the vocabulary via `adapt()`
    text_vectorizer.adapt(ADAPT_TEXT)
    encoded = np.asarray(text_vectorizer(["The Brain is deeper than the sea"]))
    vocab = text_vectorizer.get_vocabulary()
    assert [vocab[i] for i in encoded[0]] == ["the", "brain", "is", "[UNK]", "than", "the", "[UNK]"]

    # Create a simple model
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(input_dim=text_vectorizer.vocabulary_size(), output_dim=16)(inputs)
    x = layers.GRU(8)(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    # The guide fits on `train_dataset.batch(2).map(lambda x, y: (text_vectorizer(x), y))`;
    # the n-gram recipe below fits the same way (a GRU compile is left out for time).
    model.compile(optimizer="rmsprop", loss="mse")

    # For inference, you can export a model that accepts strings as input
    inputs = keras.Input(shape=(1,), dtype="string")
    x = text_vectorizer(inputs)
    outputs = model(x)
    end_to_end_model = keras.Model(inputs, outputs)

    # Call the end-to-end model on test data (which includes unknown tokens)
    test_data = np.array(["The one the other will absorb"])
    test_output = end_to_end_model(test_data)
    expected = model(text_vectorizer(test_data))
    np.testing.assert_allclose(np.asarray(test_output), np.asarray(expected), rtol=1e-6)


def test_text_as_multi_hot_and_tf_idf_ngrams():
    for output_mode in ("multi_hot", "tf_idf"):  # Keras 3 spells the guide's "tf-idf" "tf_idf"
        # Instantiate TextVectorization and index all bigrams via `adapt()`
        text_vectorizer = layers.TextVectorization(output_mode=output_mode, ngrams=2)
        text_vectorizer.adapt(ADAPT_TEXT)
        vocab = text_vectorizer.get_vocabulary()
        grams = [s.lower().split() for s in ADAPT_TEXT]
        all_grams = [g for w in grams for g in w + [" ".join(p) for p in zip(w, w[1:])]]
        assert sorted(vocab[1:]) == sorted(set(all_grams))

        words = "the brain is deeper than the sea".split()
        query = words + [" ".join(p) for p in zip(words, words[1:])]
        counts = np.zeros(len(vocab))
        for g in query:
            counts[vocab.index(g) if g in vocab else 0] += 1
        encoded = np.asarray(text_vectorizer(["The Brain is deeper than the sea"]))
        if output_mode == "multi_hot":
            np.testing.assert_array_equal(encoded[0], counts > 0)
        else:
            docs = [set(w + [" ".join(p) for p in zip(w, w[1:])]) for w in grams]
            df = np.array([sum(g in d for d in docs) for g in vocab[1:]])
            idf = np.log(1 + 4 / (1 + df))
            idf = np.concatenate([[idf.mean()], idf])  # the OOV slot gets the mean idf
            np.testing.assert_allclose(encoded[0], counts * idf, rtol=1e-5)

        # Create a simple model
        inputs = keras.Input(shape=(text_vectorizer.vocabulary_size(),))
        outputs = layers.Dense(1)(inputs)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="rmsprop", loss="mse")
        if output_mode == "multi_hot":  # one fit on the vectorized strings is enough here
            history = model.fit(text_vectorizer(TRAIN_TEXT), TRAIN_Y, batch_size=2, verbose=0)
            assert np.isfinite(history.history["loss"]).all()

        # For inference, you can export a model that accepts strings as input
        inputs = keras.Input(shape=(1,), dtype="string")
        x = text_vectorizer(inputs)
        outputs = model(x)
        end_to_end_model = keras.Model(inputs, outputs)
        test_data = np.array(["The one the other will absorb"])
        test_output = end_to_end_model(test_data)
        np.testing.assert_allclose(np.asarray(test_output), np.asarray(model(text_vectorizer(test_data))), rtol=1e-6)
