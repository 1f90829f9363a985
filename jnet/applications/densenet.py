"""DenseNet121/169/201 (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017), as
`keras.applications.densenet`."""

from __future__ import annotations

from jnet.applications import imagenet_utils
from jnet.applications.builder import classifier, finish, prepare_input
from jnet.applications.weights import WeightsFile

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
# Keras's (top, notop) md5 hashes of the published files.
_HASHES = {
    121: ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    169: ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    201: ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


def weights_file(depth, include_top) -> WeightsFile:
    fname = f"densenet{depth}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return WeightsFile(fname, BASE_WEIGHTS_PATH + fname, _HASHES[depth][0 if include_top else 1])


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each concatenating 32 new channels to its input."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BatchNorm, ReLU, a 1x1 convolution to `reduction` of the channels, 2x2 average pooling."""
    from jnet import layers

    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """The bottleneck (BN, ReLU, 1x1 conv, BN, ReLU, 3x3 conv) whose output joins its input."""
    from jnet import layers

    x1 = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, x1])


def build_densenet(
    depth, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name
):
    from jnet import backend, layers

    where = f"DenseNet{depth}"
    if backend.image_data_format() == "channels_first":
        raise ValueError(
            f"{where} does not support the `channels_first` image data format (as in Keras); use `channels_last`"
        )
    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, 224, 32
    )
    blocks = _BLOCKS[depth]
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, n in enumerate(blocks, start=2):
        x = dense_block(x, n, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = classifier(x, classes, classifier_activation, weights)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return finish(img_input, input_tensor, x, name, weights, weights_file(depth, include_top), where)


_DOC = """Instantiates the {name} architecture, as `keras.applications.{name}`.

    Args:
        include_top: whether to include the global-pooling + `Dense` classifier at the top.
        weights: `None` (random initialization), `"imagenet"` (Keras's published ImageNet
            weights, fetched into Keras's cache) or a weights file's path.
        input_tensor: optional symbolic tensor (from `jnet.Input` or a layer) as the input.
        input_shape: optional shape, only with `include_top=False` (else `(224, 224, 3)`);
            3 channels, at least 32x32. `channels_last` only, as Keras.
        pooling: with `include_top=False`: `None` (4D features), `"avg"` or `"max"`.
        classes: number of classes, only with `include_top=True` and no `weights`.
        classifier_activation: the top layer's activation (`None` for logits); only `None` or
            `"softmax"` with pretrained weights.
        name: the model's name.

    Returns:
        A `jnet.Model`; feed it images through `jnet.applications.densenet.preprocess_input`.

    Example:
    ```python
    base = jnet.applications.{name}(include_top=False, weights="imagenet", pooling="avg")
    ```
    """


def DenseNet121(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="densenet121",
):
    return build_densenet(
        121, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name
    )


def DenseNet169(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="densenet169",
):
    return build_densenet(
        169, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name
    )


def DenseNet201(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="densenet201",
):
    return build_densenet(
        201, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name
    )


for _fn in (DenseNet121, DenseNet169, DenseNet201):
    _fn.__doc__ = _DOC.format(name=_fn.__name__)


def preprocess_input(x, data_format=None):
    """DenseNet's preprocessing: `imagenet_utils.preprocess_input` in `"torch"` mode (pixels
    scaled to [0, 1], then normalised with the ImageNet mean and standard deviation)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
