"""MobileNet (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications", 2017), as `keras.applications.mobilenet`."""

from __future__ import annotations

import warnings

from jnet.applications import imagenet_utils
from jnet.applications.builder import check_pooling, finish, image_input, pool
from jnet.applications.weights import WeightsFile, check_weights

__all__ = ["MobileNet", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}


def weights_file(alpha, rows, include_top) -> WeightsFile:
    """Keras publishes one file per width and resolution (no hash is recorded for them)."""
    fname = f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf{'' if include_top else '_no_top'}.h5"
    return WeightsFile(fname, BASE_WEIGHT_PATH + fname, None)


def _rows_cols(input_shape):
    from jnet import backend

    if backend.image_data_format() == "channels_first":
        return input_shape[1], input_shape[2]
    return input_shape[0], input_shape[1]


def MobileNet(
    input_shape=None,
    alpha=1.0,
    depth_multiplier=1,
    dropout=1e-3,
    include_top=True,  # noqa: N802
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """Instantiates the MobileNet architecture, as `keras.applications.MobileNet`.

    Args:
        input_shape: optional shape, e.g. `(224, 224, 3)`; 3 channels and at least 32x32.
            ImageNet weights exist for square inputs of 128, 160, 192 and 224 (other shapes
            get the 224 weights, with a warning, as in Keras).
        alpha: width multiplier: scales the number of filters of every layer (ImageNet weights
            for 0.25, 0.5, 0.75 and 1.0).
        depth_multiplier: depth multiplier of the depthwise convolutions (1 with ImageNet weights).
        dropout: dropout rate before the classifier.
        include_top: whether to include the classifier (a 1x1 convolution) at the top.
        weights: `None`, `"imagenet"` (Keras's published file for `alpha` and the input
            size, fetched into Keras's cache) or a weights file's path.
        input_tensor: optional symbolic tensor (from `jnet.Input` or a layer) as the input.
        pooling: with `include_top=False`: `None` (4D features), `"avg"` or `"max"`.
        classes: number of classes, only with `include_top=True` and no `weights`.
        classifier_activation: the top layer's activation (`None` for logits); only `None` or
            `"softmax"` with pretrained weights.
        name: the model's name; default `mobilenet_<alpha>_<rows>` as Keras.

    Returns:
        A `jnet.Model`; feed it images through `jnet.applications.mobilenet.preprocess_input`.

    Example:
    ```python
    model = jnet.applications.MobileNet(weights=None, alpha=0.25, input_shape=(128, 128, 3), classes=10)
    ```
    """
    from jnet import backend, layers

    where = "MobileNet"
    check_weights(weights, include_top, classes, where)
    check_pooling(pooling, include_top, where)
    default_size = 224
    if input_shape is not None:
        rows, cols = _rows_cols(input_shape)
        if rows == cols and rows in (128, 160, 192, 224):
            default_size = rows
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    rows, cols = _rows_cols(input_shape)
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError(
                "MobileNet: if imagenet weights are being loaded, depth multiplier must be 1. "
                f"Received depth_multiplier={depth_multiplier}"
            )
        if alpha not in _ALPHA_TEXT:
            raise ValueError(
                "MobileNet: if imagenet weights are being loaded, alpha can be one of `0.25`, `0.50`, "
                f"`0.75` or `1.0` only. Received alpha={alpha}"
            )
        if rows != cols or rows not in (128, 160, 192, 224):
            rows = 224
            warnings.warn(
                "`input_shape` is undefined or non-square, or `rows` is not in [128, 160, 192, 224]. "
                "Weights for input shape (224, 224) will be loaded as the default.",
                stacklevel=2,
            )
    img_input = image_input(input_tensor, input_shape, where)

    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for block_id, (filters, stride) in enumerate(plan, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride), block_id=block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"
    file = weights_file(alpha, rows, include_top) if weights == "imagenet" else None
    return finish(img_input, input_tensor, x, name, weights, file, where)


def _channel_axis():
    from jnet import backend

    return 1 if backend.image_data_format() == "channels_first" else -1


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    from jnet import layers

    x = layers.Conv2D(int(filters * alpha), kernel, padding="same", use_bias=False, strides=strides, name="conv1")(
        inputs
    )
    x = layers.BatchNormalization(axis=_channel_axis(), name="conv1_bn")(x)
    return layers.ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1, strides=(1, 1), block_id=1):
    """Depthwise 3x3 convolution, BatchNorm, ReLU6, then pointwise 1x1 convolution, BatchNorm, ReLU6."""
    from jnet import layers

    x = inputs
    if strides != (1, 1):
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D(
        (3, 3),
        padding="same" if strides == (1, 1) else "valid",
        depth_multiplier=depth_multiplier,
        strides=strides,
        use_bias=False,
        name=f"conv_dw_{block_id}",
    )(x)
    x = layers.BatchNormalization(axis=_channel_axis(), name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(
        int(pointwise_conv_filters * alpha),
        (1, 1),
        padding="same",
        use_bias=False,
        strides=(1, 1),
        name=f"conv_pw_{block_id}",
    )(x)
    x = layers.BatchNormalization(axis=_channel_axis(), name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def preprocess_input(x, data_format=None):
    """MobileNet's preprocessing: `imagenet_utils.preprocess_input` in `"tf"` mode (pixels in
    [0, 255] scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
