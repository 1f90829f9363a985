"""VGG19, as `keras.applications.vgg19`: VGG16 with a fourth convolution in blocks 3 to 5."""

from __future__ import annotations

from jnet.applications import imagenet_utils
from jnet.applications.vgg16 import build_vgg
from jnet.applications.weights import WeightsFile

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
WEIGHTS = WeightsFile(
    "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
    _BASE + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
    "cbe5617147190e668d6c5d5026f83318",
)
WEIGHTS_NO_TOP = WeightsFile(
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    _BASE + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "253f8cb515780f3b799900260a226db6",
)


def VGG19(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,  # noqa: N802
    classes=1000,
    classifier_activation="softmax",
    name="vgg19",
):
    """Instantiates the VGG19 model, as `keras.applications.VGG19`.

    Args: as `jnet.applications.VGG16` (`include_top`, `weights`, `input_tensor`,
        `input_shape`, `pooling`, `classes`, `classifier_activation`, `name`).

    Returns:
        A `jnet.Model`. Inputs go through `jnet.applications.vgg19.preprocess_input` first.

    Example:
    ```python
    model = jnet.applications.VGG19(weights=None, classes=10)
    ```
    """
    return build_vgg(
        (2, 2, 4, 4, 4),
        "VGG19",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
        (WEIGHTS, WEIGHTS_NO_TOP),
    )


def preprocess_input(x, data_format=None):
    """VGG19's preprocessing: `imagenet_utils.preprocess_input` in `"caffe"` mode."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The top classes of ImageNet predictions; see `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
