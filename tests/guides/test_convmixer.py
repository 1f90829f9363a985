"""Keras example "Image classification with ConvMixer" (keras-io examples/vision/convmixer.py),
ported with `import jnet as keras`, `from jnet import layers`. `activation_block`, `conv_stem`,
`conv_mixer_block`, `get_conv_mixer_256_8`, `run_experiment` and `visualization_plot` are the
example's (the AdamW optimizer is Keras's own, as in the Keras 3 version). The example batches
and augments CIFAR-10 with `tf.data` (`dataset.map(lambda x, y: (data_augmentation(x), y))`);
here a `keras.utils.PyDataset` over tiny random images does the same batching and mapping.
The full ConvMixer-256/8 is built to check its size and the layer indices the visualization
uses against Keras 3; a scaled-down one (8x8 images, 8 filters, depth 2) has its filters drawn
and, in slow tests, is compared with Keras on copied weights and trained for one epoch (random:
augmentation and shuffling)."""

import matplotlib
import numpy as np
import pytest
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

JNET, KERAS = frameworks()

learning_rate = 0.001
weight_decay = 0.0001
batch_size = 8
num_epochs = 1


def define(keras, layers):
    def activation_block(x):
        x = layers.Activation("gelu")(x)
        return layers.BatchNormalization()(x)

    def conv_stem(x, filters: int, patch_size: int):
        x = layers.Conv2D(filters, kernel_size=patch_size, strides=patch_size)(x)
        return activation_block(x)

    def conv_mixer_block(x, filters: int, kernel_size: int):
        # Depthwise convolution.
        x0 = x
        x = layers.DepthwiseConv2D(kernel_size=kernel_size, padding="same")(x)
        x = layers.Add()([activation_block(x), x0])  # Residual.

        # Pointwise convolution.
        x = layers.Conv2D(filters, kernel_size=1)(x)
        x = activation_block(x)

        return x

    def get_conv_mixer_256_8(image_size=32, filters=256, depth=8, kernel_size=5, patch_size=2, num_classes=10):
        """ConvMixer-256/8: https://openreview.net/pdf?id=TVHS5Y4dNvM.
        The hyperparameter values are taken from the paper.
        """
        inputs = keras.Input((image_size, image_size, 3))
        x = layers.Rescaling(scale=1.0 / 255)(inputs)

        # Extract patch embeddings.
        x = conv_stem(x, filters, patch_size)

        # ConvMixer blocks.
        for _ in range(depth):
            x = conv_mixer_block(x, filters, kernel_size)

        # Classification block.
        x = layers.GlobalAvgPool2D()(x)
        outputs = layers.Dense(num_classes, activation="softmax")(x)

        return keras.Model(inputs, outputs)

    return get_conv_mixer_256_8


def make_datasets(keras, layers, images, labels, image_size, is_train=False):
    """Stand-in for the example's `tf.data` pipeline: shuffle, batch, then map the augmentation
    over the training batches."""
    data_augmentation = keras.Sequential(
        [layers.RandomCrop(image_size, image_size), layers.RandomFlip("horizontal")], name="data_augmentation"
    )
    order = np.random.default_rng(0).permutation(len(images)) if is_train else np.arange(len(images))

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return -(-len(images) // batch_size)

        def __getitem__(self, idx):
            s = order[idx * batch_size : (idx + 1) * batch_size]
            x, y = images[s], labels[s]
            if is_train:
                x = data_augmentation(x)
            return x, y

    return Batches()


def run_experiment(keras, model, train_dataset, val_dataset, test_dataset, checkpoint_filepath):
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)

    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    checkpoint_callback = keras.callbacks.ModelCheckpoint(
        checkpoint_filepath, monitor="val_accuracy", save_best_only=True, save_weights_only=True
    )

    history = model.fit(
        train_dataset, validation_data=val_dataset, epochs=num_epochs, callbacks=[checkpoint_callback], verbose=0
    )

    model.load_weights(checkpoint_filepath)
    _, accuracy = model.evaluate(test_dataset, verbose=0)

    return history, model, accuracy


def visualization_plot(weights, idx=1, num_filters=256):
    # First, apply min-max normalization to the
    # given weights to avoid isotrophic scaling.
    p_min, p_max = weights.min(), weights.max()
    weights = (weights - p_min) / (p_max - p_min)

    # Visualize all the filters.
    plt.figure(figsize=(8, 8))
    side = int(np.ceil(np.sqrt(num_filters)))

    for i in range(num_filters):
        current_weight = weights[:, :, :, i]
        if current_weight.shape[-1] == 1:
            current_weight = current_weight.squeeze()
        ax = plt.subplot(side, side, idx)
        ax.set_xticks([])
        ax.set_yticks([])
        plt.imshow(current_weight)
        idx += 1
    plt.close("all")  # (test) the Agg backend keeps figures open otherwise
    return weights


def test_conv_mixer_256_8_layers():
    keras, layers, _ = JNET
    conv_mixer_model = define(keras, layers)()
    assert conv_mixer_model.count_params() == 602_890  # Keras 3's count
    assert len(conv_mixer_model.layers) == 63

    # First, print the indices of the convolution layers that are not
    # pointwise convolutions.
    found = []
    for i, layer in enumerate(conv_mixer_model.layers):
        if isinstance(layer, layers.DepthwiseConv2D):
            if layer.get_config()["kernel_size"] == (5, 5):
                found.append(i)
    assert found == [5, 12, 19, 26, 33, 40, 47, 54]  # as in Keras: idx = 26 is one of them

    # We first visualize the learned patch embeddings.
    patch_embeddings = conv_mixer_model.layers[2].get_weights()[0]
    assert patch_embeddings.shape == (2, 2, 3, 256)

    idx = 26  # Taking a kernel from the middle of the network.

    kernel = conv_mixer_model.layers[idx].get_weights()[0]
    kernel = np.expand_dims(kernel.squeeze(), axis=2)
    assert kernel.shape == (5, 5, 1, 256)


SMALL = dict(image_size=8, filters=8, depth=2, kernel_size=3, patch_size=2)


def small_data():
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (20, 8, 8, 3)).astype("uint8")
    y_train = rng.integers(0, 10, (20, 1)).astype("uint8")
    return x_train, y_train


def test_small_conv_mixer_visualization():
    model = define(*JNET[:2])(**SMALL)
    shown = visualization_plot(model.layers[2].get_weights()[0], num_filters=8)
    assert shown.shape == (2, 2, 3, 8) and shown.min() == 0.0 and shown.max() == 1.0


# About 5 s of CPU (building and compiling the model on both frameworks): outside the default
# run's time budget; `pytest -m slow` runs it.
@pytest.mark.slow
def test_small_conv_mixer_matches_keras():
    keras, layers, _ = JNET
    model = define(keras, layers)(**SMALL)
    x_train, _ = small_data()
    with keras_ok():
        kmodel = define(*KERAS[:2])(**SMALL)
        copy_weights(model, kmodel)
        expected = kmodel.predict(x_train[:8], verbose=0)
    np.testing.assert_allclose(model.predict(x_train[:8], verbose=0), expected, rtol=1e-4, atol=1e-6)


# About 10 s of CPU (compiling the training, evaluation and checkpoint steps): outside the
# default run's time budget; `pytest -m slow` runs it.
@pytest.mark.slow
def test_small_conv_mixer_trains(tmp_path):
    keras, layers, _ = JNET
    model = define(keras, layers)(**SMALL)
    x_train, y_train = small_data()
    train_dataset = make_datasets(keras, layers, x_train[4:], y_train[4:], 8, is_train=True)
    val_dataset = make_datasets(keras, layers, x_train[:4], y_train[:4], 8)
    test_dataset = make_datasets(keras, layers, x_train[:8], y_train[:8], 8)
    x_aug, _ = train_dataset[0]
    assert x_aug.shape == (8, 8, 8, 3)
    history, model, accuracy = run_experiment(
        keras, model, train_dataset, val_dataset, test_dataset, str(tmp_path / "checkpoint.weights.h5")
    )
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0.0 <= accuracy <= 1.0
