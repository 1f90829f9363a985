"""ConvNeXtTiny, Small, Base, Large and XLarge (`keras.applications.convnext`), with Keras's
layer names.

Reference: [A ConvNet for the 2020s](https://arxiv.org/abs/2201.03545) (CVPR 2022).

By default the input normalisation is part of the model (`include_preprocessing=True`): the
models take float pixels in `[0, 255]` and `preprocess_input` passes its input through.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet import backend, layers
from jnet.applications import imagenet_utils
from jnet.applications.builder import finish, pool, prepare_input
from jnet.applications.weights import WeightsFile
from jnet.models.sequential import Sequential

__all__ = [
    "ConvNeXtBase",
    "ConvNeXtLarge",
    "ConvNeXtSmall",
    "ConvNeXtTiny",
    "ConvNeXtXLarge",
    "LayerScale",
    "StochasticDepth",
    "decode_predictions",
    "preprocess_input",
]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"

# Keras's published files' sha256 (with top, without top).
WEIGHTS_HASHES = {
    "convnext_tiny": (
        "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
    ),
    "convnext_small": (
        "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
        "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab",
    ),
    "convnext_base": (
        "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
        "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45",
    ),
    "convnext_large": (
        "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
        "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd",
    ),
    "convnext_xlarge": (
        "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05",
    ),
}

MODEL_CONFIGS = {
    "tiny": {"depths": [3, 3, 9, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "small": {"depths": [3, 3, 27, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "base": {"depths": [3, 3, 27, 3], "projection_dims": [128, 256, 512, 1024], "default_size": 224},
    "large": {"depths": [3, 3, 27, 3], "projection_dims": [192, 384, 768, 1536], "default_size": 224},
    "xlarge": {"depths": [3, 3, 27, 3], "projection_dims": [256, 512, 1024, 2048], "default_size": 224},
}

_TITLES = {
    "convnext_tiny": "ConvNeXtTiny",
    "convnext_small": "ConvNeXtSmall",
    "convnext_base": "ConvNeXtBase",
    "convnext_large": "ConvNeXtLarge",
    "convnext_xlarge": "ConvNeXtXLarge",
}


class StochasticDepth(layers.Layer):
    """Drops a residual branch for whole samples while training (Keras's ConvNeXt
    `StochasticDepth`): each sample's branch is zeroed with probability `drop_path_rate` and
    the kept ones are scaled by `1 / (1 - drop_path_rate)`. The identity at inference.

    Args:
        drop_path_rate: the drop probability, in [0, 1).

    Call arguments:
        training: drop only when True.
        rng: a `jax.random` key, required when `training=True`.
    """

    def __init__(self, drop_path_rate, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= drop_path_rate < 1:
            raise ValueError(f"StochasticDepth: drop_path_rate must be in [0, 1), got {drop_path_rate!r}")
        self.drop_path_rate = drop_path_rate

    def call(self, x, training=None, rng=None):
        if not training or self.drop_path_rate == 0:
            return x
        if rng is None:
            raise ValueError(f"StochasticDepth {self.name!r}: training=True needs an rng key")
        keep_prob = 1.0 - self.drop_path_rate
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        keep = jnp.floor(keep_prob + jax.random.uniform(rng, shape, dtype=x.dtype))
        return (x / keep_prob) * keep

    def get_config(self):
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate}


class LayerScale(layers.Layer):
    """Multiplies its input by a learned per-channel scale `gamma` (Keras's ConvNeXt
    `LayerScale`; [Going deeper with Image Transformers](https://arxiv.org/abs/2103.17239)).

    Args:
        init_values: the initial value of every entry of `gamma`.
        projection_dim: the number of channels (the size of `gamma`).
    """

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        self.gamma = self.add_weight(
            shape=(self.projection_dim,), initializer=_constant(self.init_values), trainable=True, name="gamma"
        )

    def call(self, x):
        return x * jnp.reshape(self.gamma.value, (1,) * (x.ndim - 1) + (-1,))

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}


def _constant(value):
    from jnet import initializers

    return initializers.Constant(value)


def ConvNeXtBlock(projection_dim, drop_path_rate=0.0, layer_scale_init_value=1e-6, name=None):
    """A ConvNeXt block: 7x7 depthwise conv, LayerNorm, two pointwise `Dense` layers with GELU
    between, optional layer scale, plus the residual. Returns a function of the input tensor."""

    def apply(inputs):
        x = layers.Conv2D(
            filters=projection_dim, kernel_size=7, padding="same", groups=projection_dim, name=f"{name}_depthwise_conv"
        )(inputs)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = LayerScale(layer_scale_init_value, projection_dim, name=f"{name}_layer_scale")(x)
        if drop_path_rate:
            branch = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")
        else:
            branch = layers.Activation("linear", name=f"{name}_identity")
        return inputs + branch(x)

    return apply


def PreStem(name=None):
    """Normalises `[0, 255]` inputs with the ImageNet-1k mean and std."""

    def apply(x):
        return layers.Normalization(
            mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
            variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
            name=f"{name}_prestem_normalization",
        )(x)

    return apply


def Head(num_classes=1000, classifier_activation=None, name=None):
    """The classification head: global average pooling, LayerNorm, `Dense`."""

    def apply(x):
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_layernorm")(x)
        return layers.Dense(num_classes, activation=classifier_activation, name=f"{name}_head_dense")(x)

    return apply


def ConvNeXt(
    depths,
    projection_dims,
    drop_path_rate=0.0,
    layer_scale_init_value=1e-6,
    default_size=224,
    name="convnext",
    include_preprocessing=True,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    weights_name=None,
):
    """Instantiates a ConvNeXt architecture from its stage depths and widths (Keras's
    `keras.src.applications.convnext.ConvNeXt`).

    Args:
        depths: blocks per stage (4 stages).
        projection_dims: channels per stage.
        drop_path_rate: the largest stochastic-depth rate (growing linearly over the blocks).
        layer_scale_init_value: the initial layer scale; `None` for no `LayerScale`.
        default_size: the default input image size.
        include_preprocessing, name, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation: as in `ConvNeXtTiny`.
        weights_name: the variant (`"convnext_tiny"` ...) whose published weights `"imagenet"`
            loads.

    Returns:
        A `jnet.Model`.
    """
    where = _TITLES.get(weights_name, "ConvNeXt")
    if backend.image_data_format() == "channels_first":
        raise ValueError(
            "ConvNeXt does not support the `channels_first` image data format; switch to "
            "`channels_last` (jnet.config.set_image_data_format)"
        )
    if weights == "imagenet":
        expected = MODEL_CONFIGS[weights_name.split("convnext_")[-1]]
        if list(depths) != expected["depths"] or list(projection_dims) != expected["projection_dims"]:
            raise ValueError(
                f"ConvNeXt: the architecture does not match the {weights_name} weights: expected "
                f"depths={expected['depths']} and projection_dims={expected['projection_dims']}, "
                f"got {list(depths)} and {list(projection_dims)}"
            )
        if weights_name not in name:
            raise ValueError(
                f"ConvNeXt: with weights='imagenet' the model name must contain the variant "
                f"{weights_name!r}; got name={name!r}"
            )
    img_input, input_shape = prepare_input(
        where, weights, include_top, classes, pooling, input_tensor, input_shape, default_size, 32
    )

    def body():
        x = img_input
        # Keras reads the channels off `input_shape` (the default one under `input_tensor`).
        if include_preprocessing and input_shape[-1] == 3:
            x = PreStem(name=name)(x)

        stem = Sequential(
            [
                layers.Conv2D(projection_dims[0], kernel_size=4, strides=4, name=f"{name}_stem_conv"),
                layers.LayerNormalization(epsilon=1e-6, name=f"{name}_stem_layernorm"),
            ],
            name=f"{name}_stem",
        )
        downsample = [stem] + [
            Sequential(
                [
                    layers.LayerNormalization(epsilon=1e-6, name=f"{name}_downsampling_layernorm_{i}"),
                    layers.Conv2D(
                        projection_dims[i + 1], kernel_size=2, strides=2, name=f"{name}_downsampling_conv_{i}"
                    ),
                ],
                name=f"{name}_downsampling_block_{i}",
            )
            for i in range(3)
        ]

        rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
        cur = 0
        for i in range(4):
            x = downsample[i](x)
            for j in range(depths[i]):
                x = ConvNeXtBlock(
                    projection_dim=projection_dims[i],
                    drop_path_rate=rates[cur + j],
                    layer_scale_init_value=layer_scale_init_value,
                    name=f"{name}_stage_{i}_block_{j}",
                )(x)
            cur += depths[i]

        if include_top:
            imagenet_utils.validate_activation(classifier_activation, weights)
            return Head(num_classes=classes, classifier_activation=classifier_activation, name=name)(x)
        return layers.LayerNormalization(epsilon=1e-6)(pool(x, pooling))

    file = None
    if weights_name is not None:
        fname = f"{name}.h5" if include_top else f"{name}_notop.h5"
        file = WeightsFile(fname, BASE_WEIGHTS_PATH + fname, WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return finish(img_input, input_tensor, body(), name, weights, file, where)


_DOC = """Instantiates the {title} architecture (`keras.applications.{title}`).

    Reference: [A ConvNet for the 2020s](https://arxiv.org/abs/2201.03545) (CVPR 2022).

    Args:
        include_top: whether to end with the 1000-way (or `classes`-way) classifier.
        include_preprocessing: whether the model normalises its inputs itself (then it expects
            float pixels in `[0, 255]`); keep it with `"imagenet"` weights.
        weights: `None` (random initialisation), `"imagenet"` (Keras's published weights,
            downloaded once into Keras's cache folder) or the path of a weights file.
        input_tensor: an optional symbolic tensor (`jnet.Input`) to use as the image input.
        input_shape: optional `(height, width, channels)`; at least 32x32 and 3 channels for
            `"imagenet"` weights, and exactly (224, 224, 3) with the top.
        pooling: without the top, `None` (the 4D feature map), `"avg"` or `"max"` (global
            pooling to a 2D tensor); a LayerNormalization follows either way.
        classes: number of classes with the top (1000 for `"imagenet"` weights).
        classifier_activation: the top layer's activation (`None` gives logits; only `None`
            or `"softmax"` with `"imagenet"` weights).
        name: the model's name.

    Returns:
        A `jnet.Model`.

    Example:
    ```python
    model = jnet.applications.{title}(weights=None, input_shape=(64, 64, 3), classes=10)
    probs = model.predict(images)  # images: float pixels in [0, 255]
    ```
    """


def _variant(key, title):
    cfg = MODEL_CONFIGS[key]

    def constructor(
        include_top=True,
        include_preprocessing=True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=f"convnext_{key}",
    ):
        return ConvNeXt(
            weights_name=f"convnext_{key}",
            depths=cfg["depths"],
            projection_dims=cfg["projection_dims"],
            drop_path_rate=0.0,
            layer_scale_init_value=1e-6,
            default_size=cfg["default_size"],
            name=name,
            include_top=include_top,
            include_preprocessing=include_preprocessing,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
        )

    constructor.__name__ = constructor.__qualname__ = title
    constructor.__doc__ = _DOC.format(title=title)
    return constructor


ConvNeXtTiny = _variant("tiny", "ConvNeXtTiny")
ConvNeXtSmall = _variant("small", "ConvNeXtSmall")
ConvNeXtBase = _variant("base", "ConvNeXtBase")
ConvNeXtLarge = _variant("large", "ConvNeXtLarge")
ConvNeXtXLarge = _variant("xlarge", "ConvNeXtXLarge")


def preprocess_input(x, data_format=None):
    """Returns `x` unchanged: ConvNeXt models normalise their inputs themselves (Keras keeps
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
