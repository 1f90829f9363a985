"""MobileNetV3Small and MobileNetV3Large (Howard et al., "Searching for MobileNetV3", ICCV 2019),
as `keras.applications.mobilenet_v3`. The models rescale their input themselves
(`include_preprocessing=True`), so `preprocess_input` returns its argument unchanged."""

from __future__ import annotations

import warnings

from jnet.applications import imagenet_utils
from jnet.applications.builder import check_pooling, finish, image_input
from jnet.applications.mobilenet_v2 import _make_divisible
from jnet.applications.weights import WeightsFile, check_weights

__all__ = ["MobileNetV3Large", "MobileNetV3Small", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
# Keras's (top, notop) md5 hashes of the published files.
WEIGHTS_HASHES = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}


def weights_file(model_type, minimalistic, alpha, include_top) -> WeightsFile:
    model_name = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
    fname = f"weights_mobilenet_v3_{model_name}{'' if include_top else '_no_top_v2'}.h5"
    return WeightsFile(fname, BASE_WEIGHT_PATH + fname, WEIGHTS_HASHES[model_name][0 if include_top else 1])


def _depth(v, divisor=8, min_value=None):
    return _make_divisible(v, divisor, min_value)


def _channel_axis():
    from jnet import backend

    return 1 if backend.image_data_format() == "channels_first" else -1


def _relu(x):
    from jnet import layers

    return layers.ReLU()(x)


def _hard_sigmoid(x):
    from jnet import layers

    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _hard_swish(x):
    from jnet import layers

    return layers.Activation("hard_swish")(x)


def _build(
    stack_fn,
    last_point_ch,
    input_shape,
    alpha,
    model_type,
    minimalistic,
    include_top,
    weights,
    input_tensor,
    classes,
    pooling,
    dropout_rate,
    classifier_activation,
    include_preprocessing,
    name,
    where,
):
    from jnet import backend, layers
    from jnet.applications.mobilenet_v2 import _spatial

    check_weights(weights, include_top, classes, where)
    check_pooling(pooling, include_top, where)
    if input_tensor is not None:
        image_input(input_tensor, input_shape, where)  # a concrete array: the clear error
        if input_shape is not None and _spatial(input_tensor.shape, True) != _spatial(input_shape, False):
            raise ValueError(
                f"{where}: `input_shape` and `input_tensor` disagree on the image size; Received "
                f"input_shape={input_shape}, input_tensor.shape={tuple(input_tensor.shape)}"
            )
        if input_shape is None:
            rows, cols = _spatial(input_tensor.shape, True)
            input_shape = (3, cols, rows) if backend.image_data_format() == "channels_first" else (cols, rows, 3)
    if input_shape is None:
        input_shape = (None, None, 3) if backend.image_data_format() == "channels_last" else (3, None, None)
    rows, cols = _spatial(input_shape, False)
    if rows and cols and (rows < 32 or cols < 32):
        raise ValueError(f"{where}: input size must be at least 32x32; Received `input_shape={input_shape}`")
    if weights == "imagenet":
        if (not minimalistic and alpha not in (0.75, 1.0)) or (minimalistic and alpha != 1.0):
            raise ValueError(
                f"{where}: if imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for "
                f"non minimalistic or `1.0` for minimalistic only. Received alpha={alpha}"
            )
        if rows != cols or rows != 224:
            warnings.warn(
                "`input_shape` is undefined or non-square, or `rows` is not 224. Weights for input shape "
                "(224, 224) will be loaded as the default.",
                stacklevel=3,
            )
    img_input = image_input(input_tensor, input_shape, where)
    kernel, activation, se_ratio = (3, _relu, None) if minimalistic else (5, _hard_swish, 0.25)

    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(16, kernel_size=3, strides=(2, 2), padding="same", use_bias=False, name="conv")(x)
    x = layers.BatchNormalization(axis=_channel_axis(), epsilon=1e-3, momentum=0.999, name="conv_bn")(x)
    x = activation(x)
    x = stack_fn(x, kernel, activation, se_ratio)
    last_conv_ch = _depth(x.shape[_channel_axis()] * 6)
    if alpha > 1.0:
        last_point_ch = _depth(last_point_ch * alpha)
    x = layers.Conv2D(last_conv_ch, kernel_size=1, padding="same", use_bias=False, name="conv_1")(x)
    x = layers.BatchNormalization(axis=_channel_axis(), epsilon=1e-3, momentum=0.999, name="conv_1_bn")(x)
    x = activation(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(last_point_ch, kernel_size=1, padding="same", use_bias=True, name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, kernel_size=1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    file = weights_file(model_type, minimalistic, alpha, include_top) if weights == "imagenet" else None
    return finish(img_input, input_tensor, x, name, weights, file, where)


def _se_block(inputs, filters, se_ratio, prefix):
    from jnet import layers

    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs)
    x = layers.Conv2D(_depth(filters * se_ratio), kernel_size=1, padding="same", name=f"{prefix}squeeze_excite_conv")(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = _hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(x, expansion, filters, kernel_size, stride, se_ratio, activation, block_id):
    from jnet import layers

    channel_axis = _channel_axis()
    shortcut = x
    prefix = "expanded_conv_"
    infilters = x.shape[channel_axis]
    if block_id:
        prefix = f"expanded_conv_{block_id}_"
        x = layers.Conv2D(
            _depth(infilters * expansion), kernel_size=1, padding="same", use_bias=False, name=f"{prefix}expand"
        )(x)
        x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}expand_bn")(x)
        x = activation(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad")(x)
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding="same" if stride == 1 else "valid",
        use_bias=False,
        name=f"{prefix}depthwise",
    )(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}depthwise_bn")(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, _depth(infilters * expansion), se_ratio, prefix)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}project_bn")(x)
    if stride == 1 and infilters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


_DOC = """Instantiates the {name} architecture, as `keras.applications.{name}`.

    Args:
        input_shape: optional shape, e.g. `(224, 224, 3)` (default `(None, None, 3)`); at least
            32x32. ImageNet weights were trained at 224x224.
        alpha: width multiplier (ImageNet weights for 0.75 and 1.0; 1.0 when minimalistic).
        minimalistic: the variant without squeeze-excite, hard-swish and 5x5 convolutions.
        include_top: whether to include the classifier (1x1 convolutions) at the top.
        weights: `None`, `"imagenet"` (Keras's published file, fetched into Keras's cache) or a
            weights file's path.
        input_tensor: optional symbolic tensor (from `jnet.Input` or a layer) as the input.
        classes: number of classes, only with `include_top=True` and no `weights`.
        pooling: with `include_top=False`: `None` (4D features), `"avg"` or `"max"`.
        dropout_rate: dropout before the last 1x1 convolution (classifier).
        classifier_activation: the top layer's activation (`None` for logits); only `None` or
            `"softmax"` with pretrained weights.
        include_preprocessing: rescale inputs from [0, 255] to [-1, 1] inside the model.
        name: the model's name.

    Returns:
        A `jnet.Model` taking pixels in [0, 255] (with `include_preprocessing=True`).

    Example:
    ```python
    model = jnet.applications.{name}(weights=None, input_shape=(96, 96, 3), classes=5)
    ```
    """


def MobileNetV3Small(
    input_shape=None,
    alpha=1.0,
    minimalistic=False,
    include_top=True,  # noqa: N802
    weights="imagenet",
    input_tensor=None,
    classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="MobileNetV3Small",
):
    def stack_fn(x, kernel, activation, se_ratio):
        def depth(d):
            return _depth(d * alpha)

        x = _inverted_res_block(x, 1, depth(16), 3, 2, se_ratio, _relu, 0)
        x = _inverted_res_block(x, 72.0 / 16, depth(24), 3, 2, None, _relu, 1)
        x = _inverted_res_block(x, 88.0 / 24, depth(24), 3, 1, None, _relu, 2)
        plan = [(4, 40, 2), (6, 40, 1), (6, 40, 1), (3, 48, 1), (3, 48, 1), (6, 96, 2), (6, 96, 1), (6, 96, 1)]
        for block_id, (expansion, filters, stride) in enumerate(plan, start=3):
            x = _inverted_res_block(x, expansion, depth(filters), kernel, stride, se_ratio, activation, block_id)
        return x

    return _build(
        stack_fn,
        1024,
        input_shape,
        alpha,
        "small",
        minimalistic,
        include_top,
        weights,
        input_tensor,
        classes,
        pooling,
        dropout_rate,
        classifier_activation,
        include_preprocessing,
        name,
        "MobileNetV3Small",
    )


def MobileNetV3Large(
    input_shape=None,
    alpha=1.0,
    minimalistic=False,
    include_top=True,  # noqa: N802
    weights="imagenet",
    input_tensor=None,
    classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="MobileNetV3Large",
):
    def stack_fn(x, kernel, activation, se_ratio):
        def depth(d):
            return _depth(d * alpha)

        # (expansion, filters, kernel, stride, se_ratio, activation) of blocks 0..14.
        plan = [
            (1, 16, 3, 1, None, _relu),
            (4, 24, 3, 2, None, _relu),
            (3, 24, 3, 1, None, _relu),
            (3, 40, kernel, 2, se_ratio, _relu),
            (3, 40, kernel, 1, se_ratio, _relu),
            (3, 40, kernel, 1, se_ratio, _relu),
            (6, 80, 3, 2, None, activation),
            (2.5, 80, 3, 1, None, activation),
            (2.3, 80, 3, 1, None, activation),
            (2.3, 80, 3, 1, None, activation),
            (6, 112, 3, 1, se_ratio, activation),
            (6, 112, 3, 1, se_ratio, activation),
            (6, 160, kernel, 2, se_ratio, activation),
            (6, 160, kernel, 1, se_ratio, activation),
            (6, 160, kernel, 1, se_ratio, activation),
        ]
        for block_id, (expansion, filters, k, stride, se, act) in enumerate(plan):
            x = _inverted_res_block(x, expansion, depth(filters), k, stride, se, act, block_id)
        return x

    return _build(
        stack_fn,
        1280,
        input_shape,
        alpha,
        "large",
        minimalistic,
        include_top,
        weights,
        input_tensor,
        classes,
        pooling,
        dropout_rate,
        classifier_activation,
        include_preprocessing,
        name,
        "MobileNetV3Large",
    )


MobileNetV3Small.__doc__ = _DOC.format(name="MobileNetV3Small")
MobileNetV3Large.__doc__ = _DOC.format(name="MobileNetV3Large")


def preprocess_input(x, data_format=None):
    """Returns `x` unchanged: MobileNetV3 models rescale their input themselves
    (`include_preprocessing=True`); kept for Keras's API, as Keras does."""
    return x


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
