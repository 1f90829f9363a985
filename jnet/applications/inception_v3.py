"""InceptionV3 (`keras.applications.inception_v3`), with Keras's layer names.

Reference: [Rethinking the Inception Architecture for Computer Vision](
http://arxiv.org/abs/1512.00567) (CVPR 2016).

Inputs go through `preprocess_input` first (pixels scaled to `[-1, 1]`).
"""

from __future__ import annotations

from jnet import backend, layers
from jnet.applications import imagenet_utils
from jnet.applications.builder import app_doc, classifier, finish, pool, prepare_input, scale_to_unit_range
from jnet.applications.weights import WeightsFile

__all__ = ["InceptionV3", "decode_predictions", "preprocess_input"]

WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_PATH_NO_TOP = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
_FILES = {
    True: WeightsFile(
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5", WEIGHTS_PATH, "9a0d58056eeedaa3f26cb7ebd46da564"
    ),
    False: WeightsFile(
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        WEIGHTS_PATH_NO_TOP,
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
}


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None, bn_axis=3):
    """Conv2D (no bias) + BatchNormalization (no scale) + ReLU; with `name`, the layers are
    `{name}_conv`, `{name}_bn` and `{name}`, else auto-named as in Keras."""
    x = layers.Conv2D(
        filters,
        (num_row, num_col),
        strides=strides,
        padding=padding,
        use_bias=False,
        name=None if name is None else f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, scale=False, name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def _avg_branch(x, filters, bn_axis):
    pool = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return conv2d_bn(pool, filters, 1, 1, bn_axis=bn_axis)


def InceptionV3(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v3",
):
    where = "InceptionV3"
    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, 299, 75
    )
    bn_axis = 3 if backend.image_data_format() == "channels_last" else 1

    def body():
        def cbn(x, filters, rows, cols, **kw):
            return conv2d_bn(x, filters, rows, cols, bn_axis=bn_axis, **kw)

        def concat(parts, name=None):
            return layers.concatenate(parts, axis=bn_axis, name=name)

        x = cbn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
        x = cbn(x, 32, 3, 3, padding="valid")
        x = cbn(x, 64, 3, 3)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
        x = cbn(x, 80, 1, 1, padding="valid")
        x = cbn(x, 192, 3, 3, padding="valid")
        x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)

        # mixed 0, 1, 2: 35 x 35
        for i, pool_filters in enumerate((32, 64, 64)):
            branch1x1 = cbn(x, 64, 1, 1)
            branch5x5 = cbn(cbn(x, 48, 1, 1), 64, 5, 5)
            branch3x3dbl = cbn(cbn(cbn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
            branch_pool = _avg_branch(x, pool_filters, bn_axis)
            x = concat([branch1x1, branch5x5, branch3x3dbl, branch_pool], name=f"mixed{i}")

        # mixed 3: 17 x 17
        branch3x3 = cbn(x, 384, 3, 3, strides=(2, 2), padding="valid")
        branch3x3dbl = cbn(cbn(x, 64, 1, 1), 96, 3, 3)
        branch3x3dbl = cbn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
        branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
        x = concat([branch3x3, branch3x3dbl, branch_pool], name="mixed3")

        # mixed 4, 5, 6, 7: 17 x 17, factorised 7x7 convolutions
        for i, mid in zip((4, 5, 6, 7), (128, 160, 160, 192)):
            branch1x1 = cbn(x, 192, 1, 1)
            branch7x7 = cbn(cbn(cbn(x, mid, 1, 1), mid, 1, 7), 192, 7, 1)
            branch7x7dbl = cbn(x, mid, 1, 1)
            for filters, rows, cols in ((mid, 7, 1), (mid, 1, 7), (mid, 7, 1), (192, 1, 7)):
                branch7x7dbl = cbn(branch7x7dbl, filters, rows, cols)
            branch_pool = _avg_branch(x, 192, bn_axis)
            x = concat([branch1x1, branch7x7, branch7x7dbl, branch_pool], name=f"mixed{i}")

        # mixed 8: 8 x 8
        branch3x3 = cbn(cbn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")
        branch7x7x3 = cbn(cbn(cbn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
        branch7x7x3 = cbn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
        branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
        x = concat([branch3x3, branch7x7x3, branch_pool], name="mixed8")

        # mixed 9, 10: 8 x 8
        for i in range(2):
            branch1x1 = cbn(x, 320, 1, 1)
            branch3x3 = cbn(x, 384, 1, 1)
            branch3x3 = concat([cbn(branch3x3, 384, 1, 3), cbn(branch3x3, 384, 3, 1)], name=f"mixed9_{i}")
            branch3x3dbl = cbn(cbn(x, 448, 1, 1), 384, 3, 3)
            branch3x3dbl = concat([cbn(branch3x3dbl, 384, 1, 3), cbn(branch3x3dbl, 384, 3, 1)])
            branch_pool = _avg_branch(x, 192, bn_axis)
            x = concat([branch1x1, branch3x3, branch3x3dbl, branch_pool], name=f"mixed{9 + i}")

        if include_top:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            return classifier(x, classes, classifier_activation, weights)
        return pool(x, pooling)

    return finish(img_input, input_tensor, body(), name, weights, _FILES[bool(include_top)], where)


InceptionV3.__doc__ = app_doc("InceptionV3", 299, 75, module="inception_v3")


preprocess_input = scale_to_unit_range  # Keras's "tf" scaling, shared by the family


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each prediction (`imagenet_utils.decode_predictions`)."""
    return imagenet_utils.decode_predictions(preds, top=top)
