"""Keras example "Using pre-trained word embeddings" (keras-io
examples/nlp/pretrained_word_embeddings.py), ported with `import jnet as keras`,
`from jnet import layers`; the vectorizer, the embedding matrix, the frozen `Embedding` loaded with
`build((1,))` + `set_weights`, the 1D convnet, training and the end-to-end string model are the
example's. Left out: the Newsgroup20 and GloVe downloads (a few sentences, random vectors for
half the words). Sizes: 20000 tokens -> 40, sequence 200 -> 150 (the shortest the three
Conv1D(5) / MaxPooling1D(5) stages take), embedding 100 -> 6, 128 filters / units -> 8,
20 epochs -> 1 without the validation set (test time)."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET

class_names = ["graphics", "space", "sport"]
train_samples = [
    "this message is about computer graphics and 3D modeling",
    "the shuttle launch to space was delayed",
    "our team won the hockey game last night",
    "rendering pipelines for 3D graphics cards",
    "the orbit of the space station is low",
    "the game went to overtime and our team lost",
]
train_labels = [0, 1, 2, 0, 1, 2]


def make_model(keras, layers, embedding_layer):
    int_sequences_input = keras.Input(shape=(None,), dtype="int32")
    embedded_sequences = embedding_layer(int_sequences_input)
    x = layers.Conv1D(8, 5, activation="relu")(embedded_sequences)
    x = layers.MaxPooling1D(5)(x)
    x = layers.Conv1D(8, 5, activation="relu")(x)
    x = layers.MaxPooling1D(5)(x)
    x = layers.Conv1D(8, 5, activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    preds = layers.Dense(len(class_names), activation="softmax")(x)
    return keras.Model(int_sequences_input, preds)


def test_frozen_pretrained_embeddings_and_end_to_end_model():
    vectorizer = layers.TextVectorization(max_tokens=40, output_sequence_length=150)
    vectorizer.adapt(train_samples)
    voc = vectorizer.get_vocabulary()
    word_index = dict(zip(voc, range(len(voc))))
    test = ["the", "cat", "sat", "on", "the", "mat"]
    output = vectorizer([["the cat sat on the mat"]])
    np.testing.assert_array_equal(np.asarray(output)[0, :6], [word_index.get(w, 1) for w in test])

    rng = np.random.default_rng(0)
    embeddings_index = {w: rng.normal(size=6).astype("float32") for w in voc[2::2]}
    num_tokens = len(voc) + 2
    embedding_dim = 6
    hits = 0
    misses = 0
    embedding_matrix = np.zeros((num_tokens, embedding_dim))
    for word, i in word_index.items():
        embedding_vector = embeddings_index.get(word)
        if embedding_vector is not None:
            embedding_matrix[i] = embedding_vector
            hits += 1
        else:
            misses += 1
    assert hits == len(embeddings_index) and hits + misses == len(voc)

    def frozen_embedding(keras):
        embedding_layer = keras.layers.Embedding(num_tokens, embedding_dim, trainable=False)
        embedding_layer.build((1,))
        embedding_layer.set_weights([embedding_matrix])
        return embedding_layer

    embedding_layer = frozen_embedding(keras)
    model = make_model(keras, layers, embedding_layer)
    assert model.count_params() - sum(int(np.prod(w.shape)) for w in model.trainable_weights) == embedding_matrix.size

    x_train = np.asarray(vectorizer(np.array([[s] for s in train_samples])))
    y_train = np.array(train_labels)
    with keras_ok():
        km = make_model(KERAS[0], KERAS[1], frozen_embedding(KERAS[0]))
        copy_weights(model, km)
        np.testing.assert_allclose(np.asarray(model(x_train)), np.asarray(km(x_train)), rtol=1e-5, atol=1e-6)

    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["acc"])
    history = model.fit(x_train, y_train, batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "acc"}
    # trainable=False: the pre-trained vectors are unchanged by training.
    np.testing.assert_array_equal(np.asarray(embedding_layer.embeddings.numpy()), embedding_matrix.astype("float32"))

    string_input = keras.Input(shape=(1,), dtype="string")
    x = vectorizer(string_input)
    preds = model(x)
    end_to_end_model = keras.Model(string_input, preds)
    probabilities = end_to_end_model(
        keras.ops.convert_to_tensor([["this message is about computer graphics and 3D modeling"]])
    )
    assert class_names[np.argmax(probabilities[0])] in class_names
    np.testing.assert_allclose(np.asarray(probabilities), model.predict(x_train[:1], verbose=0), rtol=1e-5)
