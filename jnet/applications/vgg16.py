"""VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), as `keras.applications.vgg16`; VGG19 shares the builder."""

from __future__ import annotations

from jnet.applications import imagenet_utils
from jnet.applications.builder import classifier, finish, pool, prepare_input
from jnet.applications.weights import WeightsFile

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
WEIGHTS = WeightsFile(
    "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
    _BASE + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
    "64373286793e3c8b2b4e3219cbf3544b",
)
WEIGHTS_NO_TOP = WeightsFile(
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    _BASE + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "6d6bbae143d832006294945121d1f1fc",
)


def build_vgg(
    convs_per_block,
    where,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
    files,
):
    """A VGG network with `convs_per_block[i]` 3x3 convolutions in block i+1 (VGG16: 2, 2, 3, 3, 3)."""
    from jnet import layers

    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, 224, 32
    )
    x = img_input
    for block, (n, filters) in enumerate(zip(convs_per_block, (64, 128, 256, 512, 512)), start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = classifier(x, classes, classifier_activation, weights)
    else:
        x = pool(x, pooling)
    return finish(img_input, input_tensor, x, name, weights, files[0] if include_top else files[1], where)


def VGG16(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
):
    """Instantiates the VGG16 model, as `keras.applications.VGG16`.

    Args:
        include_top: whether to include the 3 fully-connected layers at the top.
        weights: `None` (random initialization), `"imagenet"` (Keras's published ImageNet
            weights, fetched into Keras's cache) or the path of a weights file.
        input_tensor: optional symbolic tensor (from `jnet.Input` or a layer) to use as input.
        input_shape: optional shape tuple, only with `include_top=False` (else it must be
            `(224, 224, 3)`); 3 channels, at least 32x32.
        pooling: with `include_top=False`: `None` (the last convolutional block's 4D output),
            `"avg"` or `"max"` (global pooling to 2D).
        classes: number of classes, only with `include_top=True` and no `weights`.
        classifier_activation: activation of the top layer (`None` for logits); only `None` or
            `"softmax"` with pretrained weights.
        name: the model's name.

    Returns:
        A `jnet.Model`. Inputs go through `jnet.applications.vgg16.preprocess_input` first.

    Example:
    ```python
    base = jnet.applications.VGG16(include_top=False, weights="imagenet", input_shape=(150, 150, 3))
    ```
    """
    return build_vgg(
        (2, 2, 3, 3, 3),
        "VGG16",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        (WEIGHTS, WEIGHTS_NO_TOP),
    )


def preprocess_input(x, data_format=None):
    """VGG16's preprocessing: `imagenet_utils.preprocess_input` in `"caffe"` mode (RGB to BGR,
    minus the ImageNet channel means), on pixels in [0, 255]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
