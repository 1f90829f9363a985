"""EfficientNetV2B0-B3, S, M and L (`keras.applications.efficientnet_v2`), with Keras's layer
names.

Reference: [EfficientNetV2: Smaller Models and Faster Training](https://arxiv.org/abs/2104.00298)
(ICML 2021).

By default the input scaling is part of the model (`include_preprocessing=True`): the models take
float pixels in `[0, 255]` and `preprocess_input` passes its input through. Without it they
expect pixels already scaled to `[-1, 1]`.
"""

from __future__ import annotations

import copy
import math

from jnet import backend, layers
from jnet.applications import imagenet_utils
from jnet.applications.builder import app_doc, finish, pool, prepare_input
from jnet.applications.weights import WeightsFile

__all__ = [
    "EfficientNetV2B0",
    "EfficientNetV2B1",
    "EfficientNetV2B2",
    "EfficientNetV2B3",
    "EfficientNetV2L",
    "EfficientNetV2M",
    "EfficientNetV2S",
    "decode_predictions",
    "preprocess_input",
]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"

# Keras's published files' md5 (with top, without top).
WEIGHTS_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "-s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "-m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "-l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}

_KEYS = (
    "kernel_size",
    "num_repeat",
    "input_filters",
    "output_filters",
    "expand_ratio",
    "se_ratio",
    "strides",
    "conv_type",
)
# One row per stage, in `_KEYS` order; conv_type 1 is the fused block, 0 the MBConv block.
_STAGES = {
    "efficientnetv2-s": (
        (3, 2, 24, 24, 1, 0.0, 1, 1),
        (3, 4, 24, 48, 4, 0.0, 2, 1),
        (3, 4, 48, 64, 4, 0, 2, 1),
        (3, 6, 64, 128, 4, 0.25, 2, 0),
        (3, 9, 128, 160, 6, 0.25, 1, 0),
        (3, 15, 160, 256, 6, 0.25, 2, 0),
    ),
    "efficientnetv2-m": (
        (3, 3, 24, 24, 1, 0, 1, 1),
        (3, 5, 24, 48, 4, 0, 2, 1),
        (3, 5, 48, 80, 4, 0, 2, 1),
        (3, 7, 80, 160, 4, 0.25, 2, 0),
        (3, 14, 160, 176, 6, 0.25, 1, 0),
        (3, 18, 176, 304, 6, 0.25, 2, 0),
        (3, 5, 304, 512, 6, 0.25, 1, 0),
    ),
    "efficientnetv2-l": (
        (3, 4, 32, 32, 1, 0, 1, 1),
        (3, 7, 32, 64, 4, 0, 2, 1),
        (3, 7, 64, 96, 4, 0, 2, 1),
        (3, 10, 96, 192, 4, 0.25, 2, 0),
        (3, 19, 192, 224, 6, 0.25, 1, 0),
        (3, 25, 224, 384, 6, 0.25, 2, 0),
        (3, 7, 384, 640, 6, 0.25, 1, 0),
    ),
}
# B0 to B3 share one base table (their coefficients scale it).
_B_STAGES = (
    (3, 1, 32, 16, 1, 0, 1, 1),
    (3, 2, 16, 32, 4, 0, 2, 1),
    (3, 2, 32, 48, 4, 0, 2, 1),
    (3, 3, 48, 96, 4, 0.25, 2, 0),
    (3, 5, 96, 112, 6, 0.25, 1, 0),
    (3, 8, 112, 192, 6, 0.25, 2, 0),
)
_STAGES.update({f"efficientnetv2-b{i}": _B_STAGES for i in range(4)})
DEFAULT_BLOCKS_ARGS = {name: [dict(zip(_KEYS, row)) for row in rows] for name, rows in _STAGES.items()}

CONV_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}

# variant -> (width_coefficient, depth_coefficient, default_size, model name)
_VARIANTS = {
    "b0": (1.0, 1.0, 224, "efficientnetv2-b0"),
    "b1": (1.0, 1.1, 240, "efficientnetv2-b1"),
    "b2": (1.1, 1.2, 260, "efficientnetv2-b2"),
    "b3": (1.2, 1.4, 300, "efficientnetv2-b3"),
    "-s": (1.0, 1.0, 384, "efficientnetv2-s"),
    "-m": (1.0, 1.0, 480, "efficientnetv2-m"),
    "-l": (1.0, 1.0, 480, "efficientnetv2-l"),
}


def round_filters(filters, width_coefficient, min_depth, depth_divisor):
    """Scales `filters` by the width coefficient, rounded to a multiple of `depth_divisor`."""
    filters *= width_coefficient
    minimum_depth = min_depth or depth_divisor
    return int(max(minimum_depth, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats, depth_coefficient):
    """Scales a stage's block count by the depth coefficient, rounded up."""
    return math.ceil(depth_coefficient * repeats)


def _squeeze_excite(x, name, input_filters, filters, se_ratio, activation, bn_axis):
    filters_se = max(1, int(input_filters * se_ratio))
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((filters, 1, 1) if bn_axis == 1 else (1, 1, filters), name=f"{name}se_reshape")(se)
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
    return layers.multiply([x, se], name=f"{name}se_excite")


def _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability):
    if strides == 1 and input_filters == output_filters:
        if survival_probability:
            # Keras passes the schedule's value to Dropout as the drop rate; the published
            # weights were trained that way, so it is kept.
            x = layers.Dropout(survival_probability, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def MBConvBlock(
    input_filters,
    output_filters,
    expand_ratio=1,
    kernel_size=3,
    strides=1,
    se_ratio=0.0,
    bn_momentum=0.9,
    activation="swish",
    survival_probability=0.8,
    name="",
    bn_axis=3,
):
    """MBConv block: expand 1x1, depthwise conv, squeeze-and-excite, project 1x1. Returns a
    function of the input tensor."""

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = layers.Conv2D(
                filters,
                1,
                strides=1,
                kernel_initializer=CONV_KERNEL_INITIALIZER,
                padding="same",
                use_bias=False,
                name=f"{name}expand_conv",
            )(x)
            x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name=f"{name}expand_bn")(x)
            x = layers.Activation(activation, name=f"{name}expand_activation")(x)
        x = layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            depthwise_initializer=CONV_KERNEL_INITIALIZER,
            padding="same",
            use_bias=False,
            name=f"{name}dwconv2",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name=f"{name}bn")(x)
        x = layers.Activation(activation, name=f"{name}activation")(x)
        if 0 < se_ratio <= 1:
            x = _squeeze_excite(x, name, input_filters, filters, se_ratio, activation, bn_axis)
        x = layers.Conv2D(
            output_filters,
            1,
            strides=1,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            padding="same",
            use_bias=False,
            name=f"{name}project_conv",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name=f"{name}project_bn")(x)
        return _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability)

    return apply


def FusedMBConvBlock(
    input_filters,
    output_filters,
    expand_ratio=1,
    kernel_size=3,
    strides=1,
    se_ratio=0.0,
    bn_momentum=0.9,
    activation="swish",
    survival_probability=0.8,
    name="",
    bn_axis=3,
):
    """Fused MBConv block: one full convolution in place of the expand 1x1 and the depthwise
    conv. Returns a function of the input tensor."""

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = layers.Conv2D(
                filters,
                kernel_size=kernel_size,
                strides=strides,
                kernel_initializer=CONV_KERNEL_INITIALIZER,
                padding="same",
                use_bias=False,
                name=f"{name}expand_conv",
            )(x)
            x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name=f"{name}expand_bn")(x)
            x = layers.Activation(activation, name=f"{name}expand_activation")(x)
        if 0 < se_ratio <= 1:
            x = _squeeze_excite(x, name, input_filters, filters, se_ratio, activation, bn_axis)
        fused = expand_ratio == 1  # the projection is then the block's only convolution
        x = layers.Conv2D(
            output_filters,
            kernel_size=kernel_size if fused else 1,
            strides=strides if fused else 1,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            padding="same",
            use_bias=False,
            name=f"{name}project_conv",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name=f"{name}project_bn")(x)
        if fused:
            x = layers.Activation(activation, name=f"{name}project_activation")(x)
        return _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability)

    return apply


def EfficientNetV2(
    width_coefficient,
    depth_coefficient,
    default_size,
    dropout_rate=0.2,
    drop_connect_rate=0.2,
    depth_divisor=8,
    min_depth=8,
    bn_momentum=0.9,
    activation="swish",
    blocks_args="default",
    name="efficientnetv2",
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    include_preprocessing=True,
    weights_name=None,
):
    """Instantiates the EfficientNetV2 architecture from its scaling coefficients (Keras's
    `keras.src.applications.efficientnet_v2.EfficientNetV2`).

    Args:
        width_coefficient, depth_coefficient: scale the filters and the blocks per stage.
        default_size: the default input image size.
        dropout_rate: dropout before the classifier.
        drop_connect_rate: the largest rate on the residual branches (growing over the blocks).
        depth_divisor, min_depth: filter counts are multiples of `depth_divisor`, at least
            `min_depth`.
        bn_momentum: the BatchNormalization momentum.
        activation: the activation of the convolutions.
        blocks_args: `"default"` (the table of the variant `weights_name`, else of `name`) or a
            list of per-stage dicts like `DEFAULT_BLOCKS_ARGS["efficientnetv2-s"]`.
        include_preprocessing: whether the model scales its `[0, 255]` inputs itself.
        name, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation: as in `EfficientNetV2B0`.
        weights_name: the variant key (`"b0"` ... `"b3"`, `"-s"`, `"-m"`, `"-l"`).

    Returns:
        A `jnet.Model`.
    """
    # The variant's own table and preprocessing, whatever the model is named (Keras looks both
    # up by the model's name, so a renamed model fails there).
    table = _VARIANTS[weights_name][3] if weights_name in _VARIANTS else name
    if blocks_args == "default":
        if table not in DEFAULT_BLOCKS_ARGS:
            raise ValueError(
                f"EfficientNetV2: no default blocks_args for name={name!r}; pass blocks_args "
                f"or one of {sorted(DEFAULT_BLOCKS_ARGS)}"
            )
        blocks_args = DEFAULT_BLOCKS_ARGS[table]
    blocks_args = copy.deepcopy(blocks_args)
    where = f"EfficientNetV2{weights_name.strip('-').upper()}" if weights_name in _VARIANTS else "EfficientNetV2"
    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, default_size, 32
    )
    bn_axis = 3 if backend.image_data_format() == "channels_last" else 1

    def rf(filters):
        return round_filters(filters, width_coefficient, min_depth, depth_divisor)

    def body():
        x = img_input
        if include_preprocessing:
            # Keras reads the channels off `input_shape` (the default one under `input_tensor`).
            num_channels = input_shape[bn_axis - 1]
            if table.split("-")[-1].startswith("b") and num_channels == 3:
                # B variants keep V1's ImageNet mean/std scaling.
                x = layers.Rescaling(scale=1.0 / 255)(x)
                x = layers.Normalization(
                    mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2], axis=bn_axis
                )(x)
            else:
                x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)

        x = layers.Conv2D(
            rf(blocks_args[0]["input_filters"]),
            kernel_size=3,
            strides=2,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            padding="same",
            use_bias=False,
            name="stem_conv",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name="stem_bn")(x)
        x = layers.Activation(activation, name="stem_activation")(x)

        b = 0
        total = float(sum(args["num_repeat"] for args in blocks_args))
        for i, args in enumerate(blocks_args):
            if args["num_repeat"] <= 0:
                raise ValueError(
                    f"EfficientNetV2: the number of repeats must be > 0; received "
                    f"num_repeat={args['num_repeat']} in blocks_args[{i}]"
                )
            args["input_filters"] = rf(args["input_filters"])
            args["output_filters"] = rf(args["output_filters"])
            make = {0: MBConvBlock, 1: FusedMBConvBlock}[args.pop("conv_type")]
            for j in range(round_repeats(args.pop("num_repeat"), depth_coefficient)):
                if j > 0:  # only a stage's first block changes stride and width
                    args["strides"] = 1
                    args["input_filters"] = args["output_filters"]
                x = make(
                    activation=activation,
                    bn_momentum=bn_momentum,
                    survival_probability=drop_connect_rate * b / total,
                    name=f"block{i + 1}{chr(j + 97)}_",
                    bn_axis=bn_axis,
                    **args,
                )(x)
                b += 1

        x = layers.Conv2D(
            rf(1280),
            kernel_size=1,
            strides=1,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            padding="same",
            use_bias=False,
            name="top_conv",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name="top_bn")(x)
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
                bias_initializer="zeros",
                name="predictions",
            )(x)
        return pool(x, pooling, name=f"{pooling}_pool" if pooling else None)

    file = None
    if weights_name is not None:
        fname = f"{name}.h5" if include_top else f"{name}_notop.h5"
        file = WeightsFile(fname, BASE_WEIGHTS_PATH + fname, WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return finish(img_input, input_tensor, body(), name, weights, file, where)


_INTRO = """
    Reference: [EfficientNetV2: Smaller Models and Faster Training](
    https://arxiv.org/abs/2104.00298) (ICML 2021).
"""
_PREPROCESSING_ARG = """        include_preprocessing: whether the model scales its inputs itself (then it expects
            float pixels in `[0, 255]`; without, pixels scaled to `[-1, 1]`).
"""


def _variant(key, title):
    width, depth, size, default_name = _VARIANTS[key]

    def constructor(
        include_top=True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        include_preprocessing=True,
        name=default_name,
    ):
        return EfficientNetV2(
            width_coefficient=width,
            depth_coefficient=depth,
            default_size=size,
            name=name,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            include_preprocessing=include_preprocessing,
            weights_name=key,
        )

    constructor.__name__ = constructor.__qualname__ = title
    constructor.__doc__ = app_doc(title, size, intro=_INTRO, extra_args=_PREPROCESSING_ARG)
    return constructor


EfficientNetV2B0 = _variant("b0", "EfficientNetV2B0")
EfficientNetV2B1 = _variant("b1", "EfficientNetV2B1")
EfficientNetV2B2 = _variant("b2", "EfficientNetV2B2")
EfficientNetV2B3 = _variant("b3", "EfficientNetV2B3")
EfficientNetV2S = _variant("-s", "EfficientNetV2S")
EfficientNetV2M = _variant("-m", "EfficientNetV2M")
EfficientNetV2L = _variant("-l", "EfficientNetV2L")


def preprocess_input(x, data_format=None):
    """Returns `x` unchanged: EfficientNetV2 models scale their inputs themselves (Keras keeps
    this pass-through for compatibility).

    Args:
        x: a float array or tensor.
        data_format: ignored (accepted for Keras's signature).

    Returns:
        `x`.
    """
    return x


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each prediction: as
    `jnet.applications.imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
