"""Keras example "Image similarity estimation using a Siamese Network with a contrastive loss"
(keras-io examples/vision/siamese_contrastive.py, Keras 3 version), ported with `import jnet as
keras`, `from jnet import layers, ops`. `make_pairs`, the embedding network shared by two towers,
the `Lambda` Euclidean distance, the contrastive loss and the training code are the example's;
tiny random "digits" (16 images, 4 classes) stand in for MNIST, 1 epoch. Left out: the matplotlib
plots. Like the example, the pairs are (n, 28, 28) arrays fed to (28, 28, 1) inputs (Keras 3's
functional models add the missing channel axis). Training is deterministic once the pairs are
drawn, so it is compared with Keras 3 on copied weights."""

import random

import numpy as np
import pytest
from guide_util import fit_both, frameworks, guide_broadcasting  # noqa: F401

JNET, KERAS = frameworks()

epochs = 1
batch_size = 16
margin = 1  # Margin for constrastive loss.


def make_pairs(x, y):
    """Creates a tuple containing image pairs with corresponding label.

    Arguments:
        x: List containing images, each index in this list corresponds to one image.
        y: List containing labels, each label with datatype of `int`.

    Returns:
        Tuple containing two numpy arrays as (pairs_of_samples, labels),
        where pairs_of_samples' shape is (2len(x), 2,n_features_dims) and
        labels are a binary array of shape (2len(x)).
    """

    num_classes = max(y) + 1
    digit_indices = [np.where(y == i)[0] for i in range(num_classes)]

    pairs = []
    labels = []

    for idx1 in range(len(x)):
        # add a matching example
        x1 = x[idx1]
        label1 = y[idx1]
        idx2 = random.choice(digit_indices[label1])
        x2 = x[idx2]

        pairs += [[x1, x2]]
        labels += [0]

        # add a non-matching example
        label2 = random.randint(0, num_classes - 1)
        while label2 == label1:
            label2 = random.randint(0, num_classes - 1)

        idx2 = random.choice(digit_indices[label2])
        x2 = x[idx2]

        pairs += [[x1, x2]]
        labels += [1]

    return np.array(pairs), np.array(labels).astype("float32")


def make_siamese(keras, layers, ops):
    # Provided two tensors t1 and t2
    # Euclidean distance = sqrt(sum(square(t1-t2)))
    def euclidean_distance(vects):
        """Find the Euclidean distance between two vectors.

        Arguments:
            vects: List containing two tensors of same length.

        Returns:
            Tensor containing euclidean distance
            (as floating point value) between vectors.
        """

        x, y = vects
        sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
        return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))

    input = keras.layers.Input((28, 28, 1))
    x = keras.layers.BatchNormalization()(input)
    x = keras.layers.Conv2D(4, (5, 5), activation="tanh")(x)
    x = keras.layers.AveragePooling2D(pool_size=(2, 2))(x)
    x = keras.layers.Conv2D(16, (5, 5), activation="tanh")(x)
    x = keras.layers.AveragePooling2D(pool_size=(2, 2))(x)
    x = keras.layers.Flatten()(x)

    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dense(10, activation="tanh")(x)
    embedding_network = keras.Model(input, x)

    input_1 = keras.layers.Input((28, 28, 1))
    input_2 = keras.layers.Input((28, 28, 1))

    # As mentioned above, Siamese Network share weights between
    # tower networks (sister networks). To allow this, we will use
    # same embedding network for both tower networks.
    tower_1 = embedding_network(input_1)
    tower_2 = embedding_network(input_2)

    merge_layer = keras.layers.Lambda(euclidean_distance, output_shape=(1,))([tower_1, tower_2])
    normal_layer = keras.layers.BatchNormalization()(merge_layer)
    output_layer = keras.layers.Dense(1, activation="sigmoid")(normal_layer)
    siamese = keras.Model(inputs=[input_1, input_2], outputs=output_layer)
    return siamese


def loss(ops, margin=1):
    """Provides 'contrastive_loss' an enclosing scope with variable 'margin'.

    Arguments:
        margin: Integer, defines the baseline for distance for which pairs
                should be classified as dissimilar. - (default is 1).

    Returns:
        'contrastive_loss' function with data ('margin') attached.
    """

    # Contrastive loss = mean( (1-true_value) * square(prediction) +
    #                         true_value * square( max(margin-prediction, 0) ))
    def contrastive_loss(y_true, y_pred):
        """Calculates the contrastive loss.

        Arguments:
            y_true: List of labels, each label is of type float32.
            y_pred: List of predictions of same length as of y_true,
                    each label is of type float32.

        Returns:
            A tensor containing contrastive loss as floating point value.
        """

        square_pred = ops.square(y_pred)
        margin_square = ops.square(ops.maximum(margin - (y_pred), 0))
        return ops.mean((1 - y_true) * square_pred + (y_true) * margin_square)

    return contrastive_loss


def test_siamese_contrastive_matches_keras():
    random.seed(0)
    rng = np.random.default_rng(0)
    x_train = (rng.random((12, 28, 28)) * 255).astype("float32")
    y_train = np.arange(12) % 4
    x_val = (rng.random((4, 28, 28)) * 255).astype("float32")
    y_val = np.arange(4) % 4

    # make train pairs
    pairs_train, labels_train = make_pairs(x_train, y_train)
    # make validation pairs
    pairs_val, labels_val = make_pairs(x_val, y_val)
    assert pairs_train.shape == (24, 2, 28, 28) and labels_train.tolist() == [0.0, 1.0] * 12

    x_train_1 = pairs_train[:, 0]  # x_train_1.shape is (24, 28, 28)
    x_train_2 = pairs_train[:, 1]
    x_val_1 = pairs_val[:, 0]
    x_val_2 = pairs_val[:, 1]

    # 24 pairs in batches of 16: jnet pads the last batch, and the loss returns one value per
    # batch, so jnet warns and computes that batch's loss row by row (exact for this mean).
    with pytest.warns(UserWarning, match="one value for the whole batch"):
        siamese, ksiamese, jh, kh = fit_both(
            make_siamese,
            lambda keras: dict(loss=loss(keras.ops, margin=margin), optimizer="RMSprop", metrics=["accuracy"]),
            [x_train_1, x_train_2],
            labels_train,
            dict(validation_data=([x_val_1, x_val_2], labels_val), batch_size=batch_size, epochs=epochs),
            rtol=2e-4,
            atol=2e-5,
        )
    assert set(jh) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # Both towers are one embedding network: one set of weights (2 BatchNormalization layers).
    assert len(siamese.layers[2].weights) == len(ksiamese.layers[2].weights) == 14
    predictions = siamese.predict([x_val_1, x_val_2], verbose=0)
    assert predictions.shape == (8, 1)
