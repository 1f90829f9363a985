"""The steps every application builder shares around its own layers: the input (a fresh
`jnet.Input` or the caller's `input_tensor`), the pooling of a headless model, the classifier
of a full one, and the final graph model with its weights loaded."""

from __future__ import annotations

__all__ = [
    "app_doc",
    "check_pooling",
    "classifier",
    "finish",
    "image_input",
    "pool",
    "prepare_input",
    "scale_to_unit_range",
    "variant",
]


def image_input(input_tensor, input_shape, where):
    """The model's image input: `input_tensor` itself when it is a symbolic tensor, else a new
    `jnet.Input(shape=input_shape)`.

    Raises:
        ValueError: `input_tensor` is not a symbolic tensor (jnet cannot wrap a concrete array
            as a graph input).
    """
    from jnet import backend
    from jnet.layers.input_layer import Input

    if input_tensor is None:
        return Input(shape=input_shape)
    if not backend.is_keras_tensor(input_tensor):
        raise ValueError(
            f"{where}: `input_tensor` must be a symbolic tensor (from jnet.Input or a layer call on one); "
            f"got {type(input_tensor).__name__}"
        )
    return input_tensor


def check_pooling(pooling, include_top, where):
    """`pooling` is `None`, `"avg"` or `"max"` (Keras ignores anything else silently; jnet says so).

    Raises:
        ValueError: any other value.
    """
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{where}: `pooling` should be None, 'avg' or 'max'. Received: pooling={pooling!r}")


def pool(x, pooling, name=None):
    """Global average or max pooling of a headless model's features (`pooling=None` keeps the map)."""
    from jnet import layers

    kwargs = {"name": name} if name else {}
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(**kwargs)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(**kwargs)(x)
    return x


def classifier(x, classes, classifier_activation, weights, name="predictions"):
    """The final `Dense(classes)` of a full model, after checking the activation against the weights."""
    from jnet import layers
    from jnet.applications.imagenet_utils import validate_activation

    validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, name=name)(x)


def finish(img_input, input_tensor, outputs, name, weights, file, where):
    """The graph model from the image input (or `input_tensor`'s own source inputs) to `outputs`,
    named `name`, with `weights` loaded (`file`: the published weights for `"imagenet"`)."""
    from jnet.applications.weights import load_weights
    from jnet.models.model import Model
    from jnet.utils.graph_utils import get_source_inputs

    inputs = img_input if input_tensor is None else get_source_inputs(input_tensor)
    if isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    model = Model(inputs, outputs, name=name)
    return load_weights(model, weights, file, where)


def prepare_input(where, weights, include_top, classes, pooling, input_tensor, input_shape, default_size, min_size):
    """The preamble of every builder: the arguments checked (`weights` against the top and
    `classes`, `pooling`), the input shape settled as Keras's `obtain_input_shape` does, and the
    image input made (see `image_input`).

    Returns:
        `(image input, input shape)`: the symbolic input, and the settled `(h, w, c)` shape
        (Keras reads the channels off it, the default one under `input_tensor` too).
    """
    from jnet import backend
    from jnet.applications.imagenet_utils import obtain_input_shape
    from jnet.applications.weights import check_weights

    check_weights(weights, include_top, classes, where)
    check_pooling(pooling, include_top, where)
    input_shape = obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=min_size,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    return image_input(input_tensor, input_shape, where), input_shape


_DOC = """Instantiates the {title} architecture (`keras.applications.{title}`).
{intro}
    Args:
        include_top: whether to end with the 1000-way (or `classes`-way) classifier.
        weights: `None` (random initialisation), `"imagenet"` (Keras's published weights,
            downloaded once into Keras's cache folder) or the path of a weights file.
        input_tensor: an optional symbolic tensor (`jnet.Input`) to use as the image input.
        input_shape: optional `(height, width, channels)`; at least {min_size}x{min_size} and 3 channels
            for `"imagenet"` weights, and exactly ({size}, {size}, 3) with the top.
        pooling: without the top, `None` (the 4D feature map), `"avg"` or `"max"` (global
            pooling to a 2D tensor).
        classes: number of classes with the top (1000 for `"imagenet"` weights).
        classifier_activation: the top layer's activation (`None` gives logits; only `None`
            or `"softmax"` with `"imagenet"` weights).
{extra_args}        name: the model's name.

    Returns:
        A `jnet.Model`.

    Example:
    ```python
{example}
    ```
    """


def app_doc(title, size, min_size=32, intro="", extra_args="", example=None, module=None):
    """The docstring of an application constructor: Keras's arguments, the sizes it accepts.

    Args:
        title: the constructor's name (`"ResNet50"`).
        size: the input size with the top (`size x size x 3`).
        min_size: the smallest height and width.
        intro: paragraphs after the title line, each line indented by 4 spaces, with a blank
            line before each.
        extra_args: `Args:` entries of the constructor's own arguments (indented by 8 spaces).
        example: the example's code (indented by 4 spaces); by default a 10-class model on
            64x64 images.
        module: with no `example`, the module whose `preprocess_input` the example calls.
    """
    if example is None and module is not None:
        example = (
            f"    from jnet.applications import {module}\n"
            f"    model = {module}.{title}(weights=None, input_shape=(96, 96, 3), classes=10)\n"
            f"    probs = model.predict({module}.preprocess_input(images))"
        )
    if example is None:
        example = (
            f"    model = jnet.applications.{title}(weights=None, input_shape=(64, 64, 3), classes=10)\n"
            "    probs = model.predict(images)"
        )
    return _DOC.format(title=title, size=size, min_size=min_size, intro=intro, extra_args=extra_args, example=example)


def variant(build, title, default_name, doc, **fixed):
    """A constructor with Keras's signature (`include_top`, ..., `name`) for one variant of a
    family: `build(**fixed, name=..., include_top=..., ...)` under the name `title`."""

    def constructor(
        include_top=True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=default_name,
    ):
        return build(
            **fixed,
            name=name,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
        )

    constructor.__name__ = constructor.__qualname__ = title
    constructor.__doc__ = doc
    return constructor


def scale_to_unit_range(x, data_format=None):
    """Scales pixels from `[0, 255]` to `[-1, 1]` (`mode="tf"` of
    `jnet.applications.imagenet_utils.preprocess_input`): the `preprocess_input` of the
    Inception family, Xception and ResNetV2.

    Args:
        x: a float array or tensor of pixels in `[0, 255]`, 3 channels.
        data_format: `"channels_last"` or `"channels_first"`; default the global setting.

    Returns:
        The scaled array or tensor.
    """
    from jnet.applications.imagenet_utils import preprocess_input

    return preprocess_input(x, data_format=data_format, mode="tf")
