"""Keras example "PixelCNN" (keras-io examples/generative/pixelcnn.py, the Keras 3 version),
ported with `import jnet as keras`, `from jnet import layers, ops`. `PixelConvLayer` (a Conv2D
whose kernel is masked in `call` with `self.conv.kernel.assign(self.conv.kernel * self.mask)`),
`ResidualBlock`, the model, its training and the pixel-by-pixel generation loop with
`deprocess_image` and `keras.utils.save_img` are the example's, scaled down (6x6 images, 16
filters, one residual block, 1 epoch) with random binary images in place of MNIST. Left out: the
IPython display. Training is deterministic, so (a slow test) the loss history and the final
weights are compared with Keras 3 (same code, copied weights); the masks are checked to make the
model causal and the sampling (random) for shape and values."""

import numpy as np
import pytest
from guide_util import fit_both, guide_broadcasting  # noqa: F401
from PIL import Image

import jnet as keras
from jnet import layers, ops

input_shape = (6, 6, 1)
n_residual_blocks = 1
filters = 16


def make_model(keras, layers, ops):
    # The first layer is the PixelCNN layer. This layer simply
    # builds on the 2D convolutional layer, but includes masking.
    class PixelConvLayer(layers.Layer):
        def __init__(self, mask_type, **kwargs):
            super().__init__()
            self.mask_type = mask_type
            self.conv = layers.Conv2D(**kwargs)

        def build(self, input_shape):
            # Build the conv2d layer to initialize kernel variables
            self.conv.build(input_shape)
            # Use the initialized kernel to create the mask
            kernel_shape = ops.shape(self.conv.kernel)
            self.mask = np.zeros(shape=kernel_shape)
            self.mask[: kernel_shape[0] // 2, ...] = 1.0
            self.mask[kernel_shape[0] // 2, : kernel_shape[1] // 2, ...] = 1.0
            if self.mask_type == "B":
                self.mask[kernel_shape[0] // 2, kernel_shape[1] // 2, ...] = 1.0

        def call(self, inputs):
            self.conv.kernel.assign(self.conv.kernel * self.mask)
            return self.conv(inputs)

    # Next, we build our residual block layer.
    # This is just a normal residual block, but based on the PixelConvLayer.
    class ResidualBlock(keras.layers.Layer):
        def __init__(self, filters, **kwargs):
            super().__init__(**kwargs)
            self.conv1 = keras.layers.Conv2D(filters=filters, kernel_size=1, activation="relu")
            self.pixel_conv = PixelConvLayer(
                mask_type="B", filters=filters // 2, kernel_size=3, activation="relu", padding="same"
            )
            self.conv2 = keras.layers.Conv2D(filters=filters, kernel_size=1, activation="relu")

        def call(self, inputs):
            x = self.conv1(inputs)
            x = self.pixel_conv(x)
            x = self.conv2(x)
            return keras.layers.add([inputs, x])

    inputs = keras.Input(shape=input_shape)
    x = PixelConvLayer(mask_type="A", filters=filters, kernel_size=7, activation="relu", padding="same")(inputs)

    for _ in range(n_residual_blocks):
        x = ResidualBlock(filters=filters)(x)

    for _ in range(2):
        x = PixelConvLayer(
            mask_type="B", filters=filters, kernel_size=1, strides=1, activation="relu", padding="valid"
        )(x)

    out = keras.layers.Conv2D(filters=1, kernel_size=1, strides=1, activation="sigmoid", padding="valid")(x)

    pixel_cnn = keras.Model(inputs, out)
    return pixel_cnn


def deprocess_image(x):
    # Stack the single channeled black and white image to rgb values.
    x = np.stack((x, x, x), 2)
    # Undo preprocessing
    x *= 255.0
    # Convert to uint8 and clip to the valid range [0, 255]
    x = np.clip(x, 0, 255).astype("uint8")
    return x


def binary_data():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (20, *input_shape))
    # Round all pixel values less than 33% of the max 256 value to 0
    # anything above this value gets rounded up to 1 so that all values are either
    # 0 or 1
    data = np.where(data < (0.33 * 256), 0, 1)
    data = data.astype(np.float32)
    return data


# About 10 s of CPU (compiling the training step on both frameworks): outside the default run's
# time budget; `pytest -m slow` runs it.
@pytest.mark.slow
def test_pixelcnn_trains_like_keras():
    data = binary_data()
    # The kernels are masked by `assign` inside `call`: training matches Keras's semantics for
    # that (the masked kernel is what the step uses).
    _, _, history, _ = fit_both(
        make_model,
        lambda keras: dict(optimizer=keras.optimizers.Adam(learning_rate=0.0005), loss="binary_crossentropy"),
        data,
        data,
        dict(batch_size=8, epochs=1, validation_split=0.1),
    )
    assert set(history) == {"loss", "val_loss"}


def test_pixelcnn_generates(tmp_path):
    data = binary_data()
    pixel_cnn = make_model(keras, layers, ops)
    assert pixel_cnn.input_shape == (None, *input_shape)

    # The mask makes the model causal: a pixel's probability depends only on the pixels before
    # it (row-major), so changing the last pixel leaves every other output unchanged.
    x = data[:2].copy()
    before = pixel_cnn.predict(x, verbose=0)
    x[:, -1, -1] = 1 - x[:, -1, -1]
    np.testing.assert_allclose(pixel_cnn.predict(x, verbose=0)[:, :-1], before[:, :-1], rtol=1e-6)
    x[:, 0, 0] = 1 - x[:, 0, 0]
    assert not np.allclose(pixel_cnn.predict(x, verbose=0)[:, 1:], before[:, 1:])

    # Create an empty array of pixels.
    batch = 4
    pixels = np.zeros(shape=(batch,) + (pixel_cnn.input_shape)[1:])
    batch, rows, cols, channels = pixels.shape

    # Iterate over the pixels because generation has to be done sequentially pixel by pixel.
    for row in range(rows):
        for col in range(cols):
            for channel in range(channels):
                # Feed the whole array and retrieving the pixel value probabilities for the next
                # pixel.
                probs = pixel_cnn.predict(pixels, verbose=0)[:, row, col, channel]
                # Use the probabilities to pick pixel values and append the values to the image
                # frame.
                pixels[:, row, col, channel] = ops.ceil(probs - keras.random.uniform(probs.shape))
    assert set(np.unique(pixels)) <= {0.0, 1.0}

    # Iterate over the generated images and plot them with matplotlib.
    for i, pic in enumerate(pixels):
        keras.utils.save_img(str(tmp_path / f"generated_image_{i}.png"), deprocess_image(np.squeeze(pic, -1)))
    img = np.asarray(Image.open(tmp_path / "generated_image_3.png"))
    assert img.shape == (6, 6, 3)
    np.testing.assert_array_equal(img[..., 0], (pixels[3, ..., 0] * 255).astype("uint8"))
