"""The steps every application builder shares around its own layers: the input (a fresh
`jnet.Input` or the caller's `input_tensor`), the pooling of a headless model, the classifier
of a full one, and the final graph model with its weights loaded."""

from __future__ import annotations

__all__ = ["check_pooling", "classifier", "finish", "image_input", "pool"]


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
