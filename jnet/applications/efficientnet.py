"""EfficientNetB0 to B7 (`keras.applications.efficientnet`), with Keras's layer names.

Reference: [EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks](
https://arxiv.org/abs/1905.11946) (ICML 2019).

The input scaling is part of the model (a `Rescaling` and a `Normalization` layer), so the
models take float pixels in `[0, 255]` and `preprocess_input` passes its input through.
"""

from __future__ import annotations

import copy
import math

from jnet import backend, layers
from jnet.applications import imagenet_utils
from jnet.applications.builder import app_doc, finish, pool, prepare_input, variant
from jnet.applications.weights import WeightsFile

__all__ = [
    "EfficientNetB0",
    "EfficientNetB1",
    "EfficientNetB2",
    "EfficientNetB3",
    "EfficientNetB4",
    "EfficientNetB5",
    "EfficientNetB6",
    "EfficientNetB7",
    "decode_predictions",
    "preprocess_input",
]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"

# Keras's published files' md5 (with top, without top).
WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}

# (kernel_size, repeats, filters_in, filters_out, expand_ratio, strides); every stage of B0 keeps
# the identity skip and squeezes to a quarter of its input filters.
_STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
DEFAULT_BLOCKS_ARGS = [
    {
        "kernel_size": k,
        "repeats": r,
        "filters_in": fi,
        "filters_out": fo,
        "expand_ratio": e,
        "id_skip": True,
        "strides": s,
        "se_ratio": 0.25,
    }
    for k, r, fi, fo, e, s in _STAGES
]

CONV_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}

IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]

# (width_coefficient, depth_coefficient, default_size, dropout_rate) per variant.
_VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}


def EfficientNet(
    width_coefficient,
    depth_coefficient,
    default_size,
    dropout_rate=0.2,
    drop_connect_rate=0.2,
    depth_divisor=8,
    activation="swish",
    blocks_args="default",
    name="efficientnet",
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    weights_name=None,
):
    """Instantiates the EfficientNet architecture from its scaling coefficients (Keras's
    `keras.src.applications.efficientnet.EfficientNet`; the public names are the B0-B7
    functions).

    Args:
        width_coefficient: scales the number of filters.
        depth_coefficient: scales the number of blocks per stage.
        default_size: the default input image size.
        dropout_rate: dropout before the classifier.
        drop_connect_rate: the largest drop rate on the residual branches (it grows linearly
            over the blocks).
        depth_divisor: filter counts are rounded to a multiple of this.
        activation: the activation of the convolutions.
        blocks_args: `"default"` or a list of dicts, one per stage, like `DEFAULT_BLOCKS_ARGS`.
        name, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation: as in `EfficientNetB0`.
        weights_name: the variant key (`"b0"` ...) whose published weights `"imagenet"` loads.

    Returns:
        A `jnet.Model`.
    """
    where = f"EfficientNet{weights_name.upper()}" if weights_name else "EfficientNet"
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS
    blocks_args = copy.deepcopy(blocks_args)
    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, default_size, 32
    )
    bn_axis = 3 if backend.image_data_format() == "channels_last" else 1

    def round_filters(filters):
        filters *= width_coefficient
        new = max(depth_divisor, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor)
        if new < 0.9 * filters:  # rounding down may not lose more than 10%
            new += depth_divisor
        return int(new)

    def round_repeats(repeats):
        return math.ceil(depth_coefficient * repeats)

    def body():
        x = layers.Rescaling(1.0 / 255.0)(img_input)
        x = layers.Normalization(axis=bn_axis)(x)
        if weights == "imagenet":
            # The published weights' Normalization holds the variance as the std; this extra
            # scale turns its division by sqrt(std) into the original division by std.
            x = layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB])(x)
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
        x = layers.Conv2D(
            round_filters(32),
            3,
            strides=2,
            padding="valid",
            use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name="stem_conv",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, name="stem_bn")(x)
        x = layers.Activation(activation, name="stem_activation")(x)

        b = 0
        total = float(sum(round_repeats(a["repeats"]) for a in blocks_args))
        for i, args in enumerate(blocks_args):
            if args["repeats"] <= 0:
                raise ValueError(
                    f"EfficientNet: the number of repeats must be > 0; received "
                    f"repeats={args['repeats']} in blocks_args[{i}]"
                )
            args["filters_in"] = round_filters(args["filters_in"])
            args["filters_out"] = round_filters(args["filters_out"])
            for j in range(round_repeats(args.pop("repeats"))):
                if j > 0:  # only a stage's first block changes stride and width
                    args["strides"] = 1
                    args["filters_in"] = args["filters_out"]
                x = block(
                    x,
                    activation,
                    drop_connect_rate * b / total,
                    name=f"block{i + 1}{chr(j + 97)}_",
                    bn_axis=bn_axis,
                    **args,
                )
                b += 1

        x = layers.Conv2D(
            round_filters(1280),
            1,
            padding="same",
            use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name="top_conv",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, name="top_bn")(x)
        x = layers.Activation(activation, name="top_activation")(x)
        if include_top:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            if dropout_rate > 0:
                x = layers.Dropout(dropout_rate, name="top_dropout")(x)
            imagenet_utils.validate_activation(classifier_activation, weights)
            return layers.Dense(
                classes,
                activation=classifier_activation,
                kernel_initializer=DENSE_KERNEL_INITIALIZER,
                name="predictions",
            )(x)
        return pool(x, pooling, name=f"{pooling}_pool" if pooling else None)

    file = None
    if weights_name is not None:
        fname = f"{name}.h5" if include_top else f"{name}_notop.h5"
        file = WeightsFile(fname, BASE_WEIGHTS_PATH + fname, WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return finish(img_input, input_tensor, body(), name, weights, file, where)


def block(
    inputs,
    activation="swish",
    drop_rate=0.0,
    name="",
    filters_in=32,
    filters_out=16,
    kernel_size=3,
    strides=1,
    expand_ratio=1,
    se_ratio=0.0,
    id_skip=True,
    bn_axis=3,
):
    """An inverted residual block (expand, depthwise conv, squeeze-and-excite, project)."""
    filters = filters_in * expand_ratio
    if expand_ratio != 1:
        x = layers.Conv2D(
            filters,
            1,
            padding="same",
            use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}expand_conv",
        )(inputs)
        x = layers.BatchNormalization(axis=bn_axis, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    else:
        x = inputs

    if strides == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding=conv_pad,
        use_bias=False,
        depthwise_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}dwconv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)

    if 0 < se_ratio <= 1:
        filters_se = max(1, int(filters_in * se_ratio))
        se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se_shape = (filters, 1, 1) if bn_axis == 1 else (1, 1, filters)
        se = layers.Reshape(se_shape, name=f"{name}se_reshape")(se)
        se = layers.Conv2D(
            filters_se,
            1,
            padding="same",
            activation=activation,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}se_reduce",
        )(se)
        se = layers.Conv2D(
            filters,
            1,
            padding="same",
            activation="sigmoid",
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}se_expand",
        )(se)
        x = layers.multiply([x, se], name=f"{name}se_excite")

    x = layers.Conv2D(
        filters_out,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}project_conv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


_INTRO = """
    Reference: [EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks](
    https://arxiv.org/abs/1905.11946) (ICML 2019).

    The model scales its inputs itself: it expects float pixels in `[0, 255]`.
"""


def _variant(key):
    title = f"EfficientNet{key.upper()}"
    width, depth, size, dropout = _VARIANTS[key]
    return variant(
        EfficientNet,
        title,
        f"efficientnet{key}",
        app_doc(title, size, intro=_INTRO),
        width_coefficient=width,
        depth_coefficient=depth,
        default_size=size,
        dropout_rate=dropout,
        weights_name=key,
    )


EfficientNetB0 = _variant("b0")
EfficientNetB1 = _variant("b1")
EfficientNetB2 = _variant("b2")
EfficientNetB3 = _variant("b3")
EfficientNetB4 = _variant("b4")
EfficientNetB5 = _variant("b5")
EfficientNetB6 = _variant("b6")
EfficientNetB7 = _variant("b7")


def preprocess_input(x, data_format=None):
    """Returns `x` unchanged: EfficientNet models scale their inputs themselves (Keras keeps
    this pass-through for compatibility).

    Args:
        x: a float array or tensor of pixels in `[0, 255]`.
        data_format: ignored (accepted for Keras's signature).

    Returns:
        `x`.
    """
    return x


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each prediction: as
    `jnet.applications.imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
