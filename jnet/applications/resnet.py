"""ResNet50/101/152 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2015), as
`keras.applications.resnet`; the shared builder and both block kinds also serve ResNetV2."""

from __future__ import annotations

from jnet.applications import imagenet_utils
from jnet.applications.builder import app_doc, classifier, finish, prepare_input, variant
from jnet.applications.weights import WeightsFile

__all__ = ["ResNet50", "ResNet101", "ResNet152", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# Keras's (top, notop) md5 hashes of the published files.
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


def weights_file(weights_name, include_top) -> WeightsFile:
    """The published file of `weights_name` (`"resnet50"`, `"resnet50v2"`, ...)."""
    suffix = "" if include_top else "_notop"
    fname = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    return WeightsFile(fname, BASE_WEIGHTS_PATH + fname, WEIGHTS_HASHES[weights_name][0 if include_top else 1])


def _bn_axis():
    from jnet import backend

    return 3 if backend.image_data_format() == "channels_last" else 1


def build_resnet(
    stack_fn,
    preact,
    use_bias,
    weights_name,
    where,
    name,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
):
    """A ResNet (`preact=False`) or ResNetV2 (`preact=True`) around `stack_fn`'s residual stages."""
    from jnet import layers

    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, 224, 32
    )
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = layers.BatchNormalization(axis=_bn_axis(), epsilon=1.001e-5, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = layers.BatchNormalization(axis=_bn_axis(), epsilon=1.001e-5, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = classifier(x, classes, classifier_activation, weights)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return finish(img_input, input_tensor, x, name, weights, weights_file(weights_name, include_top), where)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A bottleneck block of ResNet v1: 1x1, kxk, 1x1 (4x filters) convolutions plus the shortcut."""
    from jnet import layers

    bn_axis = _bn_axis()
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """`blocks` v1 blocks; the first has the projection shortcut and stride `stride1`."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """A pre-activation bottleneck block of ResNetV2 (BatchNorm and ReLU before the convolutions)."""
    from jnet import layers

    bn_axis = _bn_axis()
    preact = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """`blocks` v2 blocks; the first has the projection shortcut, the last the stride `stride1`."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _v1(depths):
    def stack_fn(x):
        x = stack_residual_blocks_v1(x, 64, depths[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, depths[3], name="conv5")

    return stack_fn


def resnet_variant(stack_fn, preact, weights_name, title, module):
    """The constructor `title` (Keras's signature) of a ResNet (`preact=False`) or ResNetV2."""
    doc = app_doc(
        title,
        224,
        intro=f"\n    Inputs go through `jnet.applications.{module}.preprocess_input` first.\n",
        example=(
            f"    base = jnet.applications.{title}(weights=\"imagenet\", include_top=False, input_shape=(160, 160, 3))\n"
            "    base.trainable = False"
        ),
    )
    return variant(
        build_resnet,
        title,
        weights_name,
        doc,
        stack_fn=stack_fn,
        preact=preact,
        use_bias=True,
        weights_name=weights_name,
        where=title,
    )


ResNet50 = resnet_variant(_v1((3, 4, 6, 3)), False, "resnet50", "ResNet50", "resnet")
ResNet101 = resnet_variant(_v1((3, 4, 23, 3)), False, "resnet101", "ResNet101", "resnet")
ResNet152 = resnet_variant(_v1((3, 8, 36, 3)), False, "resnet152", "ResNet152", "resnet")


def preprocess_input(x, data_format=None):
    """ResNet's preprocessing: `imagenet_utils.preprocess_input` in `"caffe"` mode (RGB to BGR,
    minus the ImageNet channel means), on pixels in [0, 255]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
