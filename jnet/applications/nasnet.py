"""NASNetMobile and NASNetLarge (`keras.applications.nasnet`), with Keras's layer names.

Reference: [Learning Transferable Architectures for Scalable Image Recognition](
https://arxiv.org/abs/1707.07012) (CVPR 2018).

Inputs go through `preprocess_input` first (pixels scaled to `[-1, 1]`). Channels-last only.
"""

from __future__ import annotations

from jnet import backend, layers
from jnet.applications import imagenet_utils
from jnet.applications.builder import check_pooling, classifier, finish, image_input, pool
from jnet.applications.weights import WeightsFile, check_weights

__all__ = ["NASNetLarge", "NASNetMobile", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"
NASNET_MOBILE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-mobile.h5"
NASNET_MOBILE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-mobile-no-top.h5"
NASNET_LARGE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-large.h5"
NASNET_LARGE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-large-no-top.h5"
# default_size -> {include_top: published file}
_FILES = {
    224: {
        True: WeightsFile("nasnet_mobile.h5", NASNET_MOBILE_WEIGHT_PATH, "020fb642bf7360b370c678b08e0adf61"),
        False: WeightsFile(
            "nasnet_mobile_no_top.h5", NASNET_MOBILE_WEIGHT_PATH_NO_TOP, "1ed92395b5b598bdda52abe5c0dbfd63"
        ),
    },
    331: {
        True: WeightsFile("nasnet_large.h5", NASNET_LARGE_WEIGHT_PATH, "11577c9a518f0070763c2b964a382f17"),
        False: WeightsFile(
            "nasnet_large_no_top.h5", NASNET_LARGE_WEIGHT_PATH_NO_TOP, "d81d89dc07e6e56530c4e77faddd61b5"
        ),
    },
}

_CHANNEL = -1  # NASNet is channels-last only


def _bn(name=None):
    return layers.BatchNormalization(axis=_CHANNEL, momentum=0.9997, epsilon=1e-3, name=name)


def _conv1x1(filters, name):
    return layers.Conv2D(
        filters, (1, 1), strides=(1, 1), padding="same", use_bias=False, name=name, kernel_initializer="he_normal"
    )


def _separable_conv_block(ip, filters, kernel_size=(3, 3), strides=(1, 1), block_id=None):
    """Two [ReLU, separable conv, BatchNorm] steps, the first one strided."""
    x = layers.Activation("relu")(ip)
    if strides == (2, 2):
        x = layers.ZeroPadding2D(
            padding=imagenet_utils.correct_pad(x, kernel_size), name=f"separable_conv_1_pad_{block_id}"
        )(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = layers.SeparableConv2D(
        filters, kernel_size, strides=strides, name=f"separable_conv_1_{block_id}", padding=conv_pad, use_bias=False
    )(x)
    x = _bn(f"separable_conv_1_bn_{block_id}")(x)
    x = layers.Activation("relu")(x)
    x = layers.SeparableConv2D(
        filters, kernel_size, name=f"separable_conv_2_{block_id}", padding="same", use_bias=False
    )(x)
    return _bn(f"separable_conv_2_bn_{block_id}")(x)


def _adjust_block(p, ip, filters, block_id=None):
    """The previous cell's output `p` brought to `ip`'s spatial size (a factorised stride-2
    reduction) or to `filters` channels (a 1x1 projection)."""
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid", name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = layers.Conv2D(
            filters // 2,
            (1, 1),
            padding="same",
            use_bias=False,
            name=f"adjust_conv_1_{block_id}",
            kernel_initializer="he_normal",
        )(p1)
        # The second path looks at the pixels one step down and right.
        p2 = layers.ZeroPadding2D(padding=((0, 1), (0, 1)))(p)
        p2 = layers.Cropping2D(cropping=((1, 0), (1, 0)))(p2)
        p2 = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid", name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = layers.Conv2D(
            filters // 2,
            (1, 1),
            padding="same",
            use_bias=False,
            name=f"adjust_conv_2_{block_id}",
            kernel_initializer="he_normal",
        )(p2)
        p = layers.concatenate([p1, p2], axis=_CHANNEL)
        return _bn(f"adjust_bn_{block_id}")(p)
    if p.shape[_CHANNEL] != filters:
        p = layers.Activation("relu")(p)
        p = _conv1x1(filters, f"adjust_conv_projection_{block_id}")(p)
        return _bn(f"adjust_bn_{block_id}")(p)
    return p


def _avg3(name, strides=(1, 1), padding="same"):
    return layers.AveragePooling2D((3, 3), strides=strides, padding=padding, name=name)


def _normal_a_cell(ip, p, filters, block_id=None):
    """A NASNet-A normal cell (Fig. 4 of the paper). Returns `(output, ip)`."""
    p = _adjust_block(p, ip, filters, block_id)
    h = layers.Activation("relu")(ip)
    h = _conv1x1(filters, f"normal_conv_1_{block_id}")(h)
    h = _bn(f"normal_bn_1_{block_id}")(h)

    x1_1 = _separable_conv_block(h, filters, kernel_size=(5, 5), block_id=f"normal_left1_{block_id}")
    x1_2 = _separable_conv_block(p, filters, block_id=f"normal_right1_{block_id}")
    x1 = layers.add([x1_1, x1_2], name=f"normal_add_1_{block_id}")

    x2_1 = _separable_conv_block(p, filters, (5, 5), block_id=f"normal_left2_{block_id}")
    x2_2 = _separable_conv_block(p, filters, (3, 3), block_id=f"normal_right2_{block_id}")
    x2 = layers.add([x2_1, x2_2], name=f"normal_add_2_{block_id}")

    x3 = _avg3(f"normal_left3_{block_id}")(h)
    x3 = layers.add([x3, p], name=f"normal_add_3_{block_id}")

    x4_1 = _avg3(f"normal_left4_{block_id}")(p)
    x4_2 = _avg3(f"normal_right4_{block_id}")(p)
    x4 = layers.add([x4_1, x4_2], name=f"normal_add_4_{block_id}")

    x5 = _separable_conv_block(h, filters, block_id=f"normal_left5_{block_id}")
    x5 = layers.add([x5, h], name=f"normal_add_5_{block_id}")

    x = layers.concatenate([p, x1, x2, x3, x4, x5], axis=_CHANNEL, name=f"normal_concat_{block_id}")
    return x, ip


def _reduction_a_cell(ip, p, filters, block_id=None):
    """A NASNet-A reduction cell (Fig. 4 of the paper), halving the spatial size. Returns
    `(output, ip)`."""
    p = _adjust_block(p, ip, filters, block_id)
    h = layers.Activation("relu")(ip)
    h = _conv1x1(filters, f"reduction_conv_1_{block_id}")(h)
    h = _bn(f"reduction_bn_1_{block_id}")(h)
    h3 = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)

    x1_1 = _separable_conv_block(h, filters, (5, 5), strides=(2, 2), block_id=f"reduction_left1_{block_id}")
    x1_2 = _separable_conv_block(p, filters, (7, 7), strides=(2, 2), block_id=f"reduction_right1_{block_id}")
    x1 = layers.add([x1_1, x1_2], name=f"reduction_add_1_{block_id}")

    x2_1 = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="valid", name=f"reduction_left2_{block_id}")(h3)
    x2_2 = _separable_conv_block(p, filters, (7, 7), strides=(2, 2), block_id=f"reduction_right2_{block_id}")
    x2 = layers.add([x2_1, x2_2], name=f"reduction_add_2_{block_id}")

    x3_1 = _avg3(f"reduction_left3_{block_id}", strides=(2, 2), padding="valid")(h3)
    x3_2 = _separable_conv_block(p, filters, (5, 5), strides=(2, 2), block_id=f"reduction_right3_{block_id}")
    x3 = layers.add([x3_1, x3_2], name=f"reduction_add3_{block_id}")

    x4 = _avg3(f"reduction_left4_{block_id}")(x1)
    x4 = layers.add([x2, x4])

    # Keras names this block's separable convs `reduction_left4_...` too (the published
    # weights' names).
    x5_1 = _separable_conv_block(x1, filters, (3, 3), block_id=f"reduction_left4_{block_id}")
    x5_2 = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="valid", name=f"reduction_right5_{block_id}")(h3)
    x5 = layers.add([x5_1, x5_2], name=f"reduction_add4_{block_id}")

    x = layers.concatenate([x2, x3, x4, x5], axis=_CHANNEL, name=f"reduction_concat_{block_id}")
    return x, ip


def NASNet(
    input_shape=None,
    penultimate_filters=4032,
    num_blocks=6,
    stem_block_filters=96,
    skip_reduction=True,
    filter_multiplier=2,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    default_size=None,
    classifier_activation="softmax",
    name="NASNet",
):
    """Instantiates a NASNet-A model (Keras's `keras.src.applications.nasnet.NASNet`; the public
    names are `NASNetMobile` and `NASNetLarge`).

    Args:
        input_shape: optional `(height, width, 3)`; static with `"imagenet"` weights.
        penultimate_filters: filters of the last cells; a multiple of
            `24 * filter_multiplier ** 2`.
        num_blocks: normal cells between reductions.
        stem_block_filters: filters of the stem convolution.
        skip_reduction: whether the cell after a reduction reads the reduction's input (True)
            or its output as its previous path.
        filter_multiplier: filter growth at each reduction.
        default_size: the default input size (224 for the mobile, 331 for the large weights).
        include_top, weights, input_tensor, pooling, classes, classifier_activation, name: as
            in `NASNetMobile`.

    Returns:
        A `jnet.Model`.
    """
    where = {224: "NASNetMobile", 331: "NASNetLarge"}.get(default_size, "NASNet")
    if backend.image_data_format() == "channels_first":
        raise ValueError(
            f"{where}: NASNet does not support the `channels_first` image data format; switch to "
            "`channels_last` (jnet.config.set_image_data_format)"
        )
    check_weights(weights, include_top, classes, where)
    check_pooling(pooling, include_top, where)
    if isinstance(input_shape, tuple) and None in input_shape and weights == "imagenet":
        raise ValueError(
            f"{where}: with `imagenet` weights the input_shape must be static (no None entries). "
            f"Received: input_shape={input_shape}"
        )
    if weights == "imagenet" and default_size not in _FILES:
        raise ValueError(f"{where}: ImageNet weights can only be loaded with NASNetLarge or NASNetMobile")
    if penultimate_filters % (24 * (filter_multiplier**2)) != 0:
        raise ValueError(
            f"{where}: the `penultimate_filters` of NASNet-A models must be a multiple of "
            f"24 * filter_multiplier ** 2; received penultimate_filters={penultimate_filters}"
        )
    default_size = 331 if default_size is None else default_size
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = image_input(input_tensor, input_shape, where)

    filters = penultimate_filters // 24
    x = layers.Conv2D(
        stem_block_filters,
        (3, 3),
        strides=(2, 2),
        padding="valid",
        use_bias=False,
        name="stem_conv1",
        kernel_initializer="he_normal",
    )(img_input)
    x = _bn("stem_bn1")(x)

    p = None
    x, p = _reduction_a_cell(x, p, filters // (filter_multiplier**2), block_id="stem_1")
    x, p = _reduction_a_cell(x, p, filters // filter_multiplier, block_id="stem_2")
    for i in range(num_blocks):
        x, p = _normal_a_cell(x, p, filters, block_id=f"{i}")
    x, p0 = _reduction_a_cell(x, p, filters * filter_multiplier, block_id=f"reduce_{num_blocks}")
    p = p0 if not skip_reduction else p
    for i in range(num_blocks):
        x, p = _normal_a_cell(x, p, filters * filter_multiplier, block_id=f"{num_blocks + i + 1}")
    x, p0 = _reduction_a_cell(x, p, filters * filter_multiplier**2, block_id=f"reduce_{2 * num_blocks}")
    p = p0 if not skip_reduction else p
    for i in range(num_blocks):
        x, p = _normal_a_cell(x, p, filters * filter_multiplier**2, block_id=f"{2 * num_blocks + i + 1}")
    x = layers.Activation("relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = classifier(x, classes, classifier_activation, weights)
    else:
        x = pool(x, pooling)
    file = _FILES.get(default_size, {}).get(bool(include_top))
    return finish(img_input, input_tensor, x, name, weights, file, where)


_DOC = """Instantiates the {title} architecture (`keras.applications.{title}`).

    Reference: [Learning Transferable Architectures for Scalable Image Recognition](
    https://arxiv.org/abs/1707.07012) (CVPR 2018).

    Args:
        input_shape: optional `(height, width, 3)`, at least 32x32; with the top it must be
            ({size}, {size}, 3) for `"imagenet"` weights.{notop}
        include_top: whether to end with the 1000-way (or `classes`-way) classifier.
        weights: `None` (random initialisation), `"imagenet"` (Keras's published weights,
            downloaded once into Keras's cache folder) or the path of a weights file.
        input_tensor: an optional symbolic tensor (`jnet.Input`) to use as the image input.
        pooling: without the top, `None` (the 4D feature map), `"avg"` or `"max"` (global
            pooling to a 2D tensor).
        classes: number of classes with the top (1000 for `"imagenet"` weights).
        classifier_activation: the top layer's activation (`None` gives logits; only `None`
            or `"softmax"` with `"imagenet"` weights).
        name: the model's name.

    Returns:
        A `jnet.Model`.

    Example:
    ```python
    from jnet.applications import nasnet
    model = nasnet.{title}(weights=None, input_shape=(64, 64, 3), include_top=False, pooling="avg")
    features = model.predict(nasnet.preprocess_input(images))
    ```
    """


def NASNetMobile(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_mobile",
):
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return NASNet(
        input_shape,
        penultimate_filters=1056,
        num_blocks=4,
        stem_block_filters=32,
        skip_reduction=False,
        filter_multiplier=2,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        default_size=224,
        classifier_activation=classifier_activation,
        name=name,
    )


def NASNetLarge(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_large",
):
    return NASNet(
        input_shape,
        penultimate_filters=4032,
        num_blocks=6,
        stem_block_filters=96,
        skip_reduction=True,
        filter_multiplier=2,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        pooling=pooling,
        classes=classes,
        default_size=331,
        classifier_activation=classifier_activation,
        name=name,
    )


NASNetMobile.__doc__ = _DOC.format(
    title="NASNetMobile", size=224, notop=" Without the top it defaults to (224, 224, 3)."
)
NASNetLarge.__doc__ = _DOC.format(title="NASNetLarge", size=331, notop="")


def preprocess_input(x, data_format=None):
    """Scales pixels from `[0, 255]` to `[-1, 1]` (`mode="tf"` of
    `jnet.applications.imagenet_utils.preprocess_input`).

    Args:
        x: a float array or tensor of pixels in `[0, 255]`, 3 channels.
        data_format: `"channels_last"` or `"channels_first"`; default the global setting.

    Returns:
        The scaled array or tensor.
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each prediction: as
    `jnet.applications.imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
