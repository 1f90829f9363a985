"""ResNet50V2/101V2/152V2 (He et al., "Identity Mappings in Deep Residual Networks", ECCV
2016), as `keras.applications.resnet_v2`: pre-activation blocks, inputs scaled to [-1, 1]."""

from __future__ import annotations

from jnet.applications import imagenet_utils
from jnet.applications.builder import scale_to_unit_range
from jnet.applications.resnet import resnet_variant, stack_residual_blocks_v2

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "decode_predictions", "preprocess_input"]


def _v2(depths):
    def stack_fn(x):
        x = stack_residual_blocks_v2(x, 64, depths[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, depths[3], stride1=1, name="conv5")

    return stack_fn


ResNet50V2 = resnet_variant(_v2((3, 4, 6, 3)), True, "resnet50v2", "ResNet50V2", "resnet_v2")
ResNet101V2 = resnet_variant(_v2((3, 4, 23, 3)), True, "resnet101v2", "ResNet101V2", "resnet_v2")
ResNet152V2 = resnet_variant(_v2((3, 8, 36, 3)), True, "resnet152v2", "ResNet152V2", "resnet_v2")


preprocess_input = scale_to_unit_range  # Keras's "tf" scaling, shared by the family


def decode_predictions(preds, top=5):
    """The `top` ImageNet classes of each prediction (`imagenet_utils.decode_predictions`)."""
    return imagenet_utils.decode_predictions(preds, top=top)
