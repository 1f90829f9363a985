"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR
2018), as `keras.applications.mobilenet_v2`."""

from __future__ import annotations

import warnings

from jnet.applications import imagenet_utils
from jnet.applications.builder import check_pooling, classifier, finish, image_input, pool
from jnet.applications.weights import WeightsFile, check_weights

__all__ = ["MobileNetV2", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
# (expansion, filters, stride) of the 17 inverted residual blocks.
_BLOCKS = (
    [(1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1), (6, 64, 2)]
    + [(6, 64, 1)] * 3
    + [(6, 96, 1)] * 3
    + [(6, 160, 2), (6, 160, 1), (6, 160, 1), (6, 320, 1)]
)


def weights_file(alpha, rows, include_top) -> WeightsFile:
    """Keras publishes one file per width and resolution (no hash is recorded for them)."""
    fname = (
        f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{'' if include_top else '_no_top'}.h5"
    )
    return WeightsFile(fname, BASE_WEIGHT_PATH + fname, None)


def _spatial(shape, with_batch):
    from jnet import backend

    offset = 1 if with_batch else 0
    if backend.image_data_format() == "channels_first":
        return shape[offset + 1], shape[offset + 2]
    return shape[offset], shape[offset + 1]


def default_size(input_shape, input_tensor, sizes, where):
    """The weights' resolution implied by `input_shape` or `input_tensor` (Keras's rule: a square
    size among `sizes`, else 224); both given must agree."""
    if (
        input_shape is not None
        and input_tensor is not None
        and _spatial(input_tensor.shape, True) != _spatial(input_shape, False)
    ):
        raise ValueError(
            f"{where}: `input_shape` and `input_tensor` disagree on the image size; Received "
            f"`input_tensor.shape={tuple(input_tensor.shape)}`, `input_shape={input_shape}`"
        )
    if input_shape is not None:
        rows, cols = _spatial(input_shape, False)
    elif input_tensor is not None:
        rows, cols = _spatial(input_tensor.shape, True)
    else:
        return 224
    return rows if rows == cols and rows in sizes else 224


def _make_divisible(v, divisor, min_value=None):
    """`v` rounded to a multiple of `divisor`, never below 90% of `v` (the reference's rule)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def MobileNetV2(
    input_shape=None,
    alpha=1.0,
    include_top=True,
    weights="imagenet",
    input_tensor=None,  # noqa: N802
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """Instantiates the MobileNetV2 architecture, as `keras.applications.MobileNetV2`.

    Args:
        input_shape: optional shape, e.g. `(224, 224, 3)`; 3 channels and at least 32x32.
            ImageNet weights exist for square inputs of 96, 128, 160, 192 and 224 (other shapes
            get the 224 weights, with a warning, as in Keras).
        alpha: width multiplier (ImageNet weights for 0.35, 0.5, 0.75, 1.0, 1.3 and 1.4).
        include_top: whether to include the pooling + `Dense` classifier at the top.
        weights: `None`, `"imagenet"` (Keras's published file for `alpha` and the input
            size, fetched into Keras's cache) or a weights file's path.
        input_tensor: optional symbolic tensor (from `jnet.Input` or a layer) as the input.
        pooling: with `include_top=False`: `None` (4D features), `"avg"` or `"max"`.
        classes: number of classes, only with `include_top=True` and no `weights`.
        classifier_activation: the top layer's activation (`None` for logits); only `None` or
            `"softmax"` with pretrained weights.
        name: the model's name; default `mobilenetv2_<alpha>_<rows>` as Keras.

    Returns:
        A `jnet.Model`; feed it images through `jnet.applications.mobilenet_v2.preprocess_input`.

    Example:
    ```python
    base = jnet.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False, weights="imagenet")
    ```
    """
    from jnet import backend, layers

    where = "MobileNetV2"
    check_weights(weights, include_top, classes, where)
    check_pooling(pooling, include_top, where)
    if input_tensor is not None and not backend.is_keras_tensor(input_tensor):
        image_input(input_tensor, input_shape, where)  # raises its clear error
    size = default_size(input_shape, input_tensor, _SIZES, where)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=size,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    rows, cols = _spatial(input_shape, False)
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError(
                "MobileNetV2: if imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, "
                f"`0.75`, `1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`"
            )
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn(
                "`input_shape` is undefined or non-square, or `rows` is not in [96, 128, 160, 192, 224]. "
                "Weights for input shape (224, 224) will be loaded as the default.",
                stacklevel=2,
            )
    img_input = image_input(input_tensor, input_shape, where)
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1

    x = layers.Conv2D(
        _make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same", use_bias=False, name="Conv1"
    )(img_input)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (expansion, filters, stride) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion=expansion, stride=stride, alpha=alpha, filters=filters, block_id=block_id)
    last_block_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = classifier(x, classes, classifier_activation, weights)
    else:
        x = pool(x, pooling)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    file = weights_file(alpha, rows, include_top) if weights == "imagenet" else None
    return finish(img_input, input_tensor, x, name, weights, file, where)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """Expand (1x1), depthwise 3x3, project (1x1, linear); a residual add when shapes allow."""
    from jnet import backend, layers

    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    in_channels = inputs.shape[channel_axis]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(
            expansion * in_channels,
            kernel_size=1,
            padding="same",
            use_bias=False,
            activation=None,
            name=f"{prefix}expand",
        )(x)
        x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        kernel_size=3,
        strides=stride,
        activation=None,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(
        pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None, name=f"{prefix}project"
    )(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def preprocess_input(x, data_format=None):
    """MobileNetV2's preprocessing: `imagenet_utils.preprocess_input` in `"tf"` mode (pixels in
    [0, 255] scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
