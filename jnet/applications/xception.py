"""Xception (`keras.applications.xception`), with Keras's layer names.

Reference: [Xception: Deep Learning with Depthwise Separable Convolutions](
https://arxiv.org/abs/1610.02357) (CVPR 2017).

Inputs go through `preprocess_input` first (pixels scaled to `[-1, 1]`).
"""

from __future__ import annotations

from jnet import backend, layers
from jnet.applications import imagenet_utils
from jnet.applications.builder import app_doc, classifier, finish, pool, prepare_input, scale_to_unit_range
from jnet.applications.weights import WeightsFile

__all__ = ["Xception", "decode_predictions", "preprocess_input"]

WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "xception/xception_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_PATH_NO_TOP = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
_FILES = {
    True: WeightsFile(
        "xception_weights_tf_dim_ordering_tf_kernels.h5", WEIGHTS_PATH, "0a58e3b7378bc2990ea3b43d5981f1f6"
    ),
    False: WeightsFile(
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5", WEIGHTS_PATH_NO_TOP, "b0042744bf5b25fce3cb969f33bebb97"
    ),
}


def _sep_bn(x, filters, name, channel_axis):
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=channel_axis, name=f"{name}_bn")(x)


def _shortcut(x, filters, channel_axis):
    # Keras leaves the shortcut's layers unnamed (auto names: conv2d, batch_normalization, ...).
    r = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    return layers.BatchNormalization(axis=channel_axis)(r)


def Xception(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="xception",
):
    where = "Xception"
    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, 299, 71
    )
    bn_axis = 3 if backend.image_data_format() == "channels_last" else 1

    def body():
        channel_axis = -1 if bn_axis == 3 else 1
        x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
        x = layers.BatchNormalization(axis=channel_axis, name="block1_conv1_bn")(x)
        x = layers.Activation("relu", name="block1_conv1_act")(x)
        x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
        x = layers.BatchNormalization(axis=channel_axis, name="block1_conv2_bn")(x)
        x = layers.Activation("relu", name="block1_conv2_act")(x)

        # Entry flow: blocks 2-4 halve the size, with a strided 1x1 shortcut. Block 2 starts
        # straight from the stem's activation.
        for block, filters in ((2, 128), (3, 256), (4, 728)):
            residual = _shortcut(x, filters, channel_axis)
            if block > 2:
                x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
            x = _sep_bn(x, filters, f"block{block}_sepconv1", channel_axis)
            x = layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
            x = _sep_bn(x, filters, f"block{block}_sepconv2", channel_axis)
            x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
            x = layers.add([x, residual])

        # Middle flow: eight identity-shortcut blocks of three separable convs.
        for i in range(8):
            residual = x
            prefix = f"block{i + 5}"
            for k in (1, 2, 3):
                x = layers.Activation("relu", name=f"{prefix}_sepconv{k}_act")(x)
                x = _sep_bn(x, 728, f"{prefix}_sepconv{k}", channel_axis)
            x = layers.add([x, residual])

        # Exit flow.
        residual = _shortcut(x, 1024, channel_axis)
        x = layers.Activation("relu", name="block13_sepconv1_act")(x)
        x = _sep_bn(x, 728, "block13_sepconv1", channel_axis)
        x = layers.Activation("relu", name="block13_sepconv2_act")(x)
        x = _sep_bn(x, 1024, "block13_sepconv2", channel_axis)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="block13_pool")(x)
        x = layers.add([x, residual])

        x = _sep_bn(x, 1536, "block14_sepconv1", channel_axis)
        x = layers.Activation("relu", name="block14_sepconv1_act")(x)
        x = _sep_bn(x, 2048, "block14_sepconv2", channel_axis)
        x = layers.Activation("relu", name="block14_sepconv2_act")(x)

        if include_top:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            return classifier(x, classes, classifier_activation, weights)
        return pool(x, pooling)

    return finish(img_input, input_tensor, body(), name, weights, _FILES[bool(include_top)], where)


Xception.__doc__ = app_doc("Xception", 299, 71, module="xception")


preprocess_input = scale_to_unit_range  # Keras's "tf" scaling, shared by the family


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each prediction (`imagenet_utils.decode_predictions`)."""
    return imagenet_utils.decode_predictions(preds, top=top)
