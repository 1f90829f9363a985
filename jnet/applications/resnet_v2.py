"""ResNet50V2/101V2/152V2 (He et al., "Identity Mappings in Deep Residual Networks", ECCV
2016), as `keras.applications.resnet_v2`: pre-activation blocks, inputs scaled to [-1, 1]."""

from __future__ import annotations

from jnet.applications import imagenet_utils
from jnet.applications.resnet import _DOC, build_resnet, stack_residual_blocks_v2

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "decode_predictions", "preprocess_input"]


def _v2(depths):
    def stack_fn(x):
        x = stack_residual_blocks_v2(x, 64, depths[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, depths[3], stride1=1, name="conv5")

    return stack_fn


def ResNet50V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="resnet50v2",
):
    return build_resnet(
        _v2((3, 4, 6, 3)),
        True,
        True,
        "resnet50v2",
        "ResNet50V2",
        name,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


def ResNet101V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="resnet101v2",
):
    return build_resnet(
        _v2((3, 4, 23, 3)),
        True,
        True,
        "resnet101v2",
        "ResNet101V2",
        name,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


def ResNet152V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="resnet152v2",
):
    return build_resnet(
        _v2((3, 8, 36, 3)),
        True,
        True,
        "resnet152v2",
        "ResNet152V2",
        name,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


for _fn in (ResNet50V2, ResNet101V2, ResNet152V2):
    _fn.__doc__ = _DOC.format(name=_fn.__name__, module="resnet_v2")


def preprocess_input(x, data_format=None):
    """ResNetV2's preprocessing: `imagenet_utils.preprocess_input` in `"tf"` mode (pixels in
    [0, 255] scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
