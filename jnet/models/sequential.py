"""`jnet.Sequential`: layers in order, built as a graph model as soon as the input is known."""

from __future__ import annotations

import jax

from jnet.core.symbolic import is_symbolic
from jnet.layers.base import Layer, as_spec, is_spec_leaf
from jnet.layers.keras_attributes import building_scope
from jnet.models.functional import Graph, Input, InputLayer, assign_names
from jnet.models.model import Model


def _declared_shape(layer):
    """The one-sample shape a layer declares with `input_shape=` (or `input_dim=`); None for a
    model, whose `input_shape` is its graph's (batch axis included), not an argument."""
    return None if isinstance(layer, Model) else layer.input_shape


class Sequential(Model):
    """A stack of layers, each fed the previous one's output.

    Args:
        layers: optional list of layers; may start with a `jnet.Input`.
        name: the model's name (default `"sequential"`).

    The input is known from a leading `jnet.Input(...)`, from `input_shape=` (or `input_dim=`)
    on the first layer, or from the first data the model sees (`build`, `fit`, `predict`,
    `init(key, example)`). Until then the model is "deferred" and has no variables.

    Example:
    ```python
    model = jnet.Sequential()
    model.add(jnet.layers.Dense(32, input_shape=(784,)))
    model.add(jnet.layers.Dense(10))
    model.summary()
    ```
    """

    _is_sequential = True  # summaries and plots ask this, not the class (utils import no models)

    def __init__(self, layers=None, name=None, trainable=True, dtype=None):
        self._init_base(name, trainable, dtype)
        self._layers = []
        self._input = None
        self._output = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list:
        return list(self.__dict__.get("_layers", []))

    def _sublayers(self) -> list:
        return list(self.__dict__.get("_layers", []))

    def add(self, layer):
        """Append a layer (or a leading `jnet.Input`)."""
        if isinstance(layer, InputLayer):
            layer = Input(batch_shape=layer.batch_shape, dtype=layer.input_dtype, name=layer.name)
        if is_symbolic(layer):
            if not isinstance(layer.node.layer, InputLayer):
                raise TypeError(f"{self._label}.add: only a jnet.Input tensor may be added, got {layer!r}")
            if self._layers or self._input is not None:
                raise ValueError(f"{self._label}.add: an Input can only come first")
            self._input = layer
            self._output = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"{self._label}.add expects a jnet layer, got {type(layer).__name__}: {layer!r}")
        if any(layer is other for other in self._layers):
            raise ValueError(f"{self._label}.add: {layer._label} is already in this model")
        assign_names(self._layers + [layer], self._label)
        self._layers.append(layer)
        if self._input is None and len(self._layers) == 1 and _declared_shape(layer) is not None:
            self._input = Input(shape=_declared_shape(layer))
            self._output = self._input
        if self._output is not None:
            try:
                with building_scope(self):  # Keras builds a Sequential's layers in its name scope
                    self._output = layer(self._output)
            except Exception:
                self._layers.pop()  # a layer that does not fit leaves the model as it was
                raise
            self._set_graph(Graph(self._input, self._output, owner_label=self._label))

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise IndexError(f"{self._label}.pop: the model has no layers")
        layer = self._layers.pop()
        self._rebuild()
        return layer

    def _rebuild(self):
        self._graph = None
        self.built = False
        if self._input is None and self._layers and _declared_shape(self._layers[0]) is not None:
            self._input = Input(shape=_declared_shape(self._layers[0]))
        if self._input is None:
            return
        x = self._input
        with building_scope(self):
            for layer in self._layers:
                x = layer(x)
        self._output = x
        if self._layers:
            self._set_graph(Graph(self._input, x, owner_label=self._label))

    def _ensure_graph(self, example_inputs):
        if self._graph is None:
            if not self._layers:
                raise ValueError(f"{self._label} has no layers")
            specs = jax.tree_util.tree_map(as_spec, example_inputs, is_leaf=is_spec_leaf)
            if len(specs) != 1 or not is_spec_leaf(specs[0]):
                raise ValueError(f"{self._label} takes one input array, got {len(specs)}")
            spec = specs[0]
            self._input = Input(batch_shape=(None,) + tuple(spec.shape[1:]), dtype=spec.dtype)
            self.__dict__["_input_from_call"] = True
            self._rebuild()
        super()._ensure_graph(example_inputs)

    def _check_specs(self, flat):
        """A Sequential built from its first call takes later inputs whose inner axes differ
        (a sequence of another length), as Keras's does: only the rank and the last axis must
        match. One declared with an Input or `input_shape=` checks every known axis."""
        if not self.__dict__.get("_input_from_call") or len(flat) != 1:
            return super()._check_specs(flat)
        expected = tuple(self._input.shape)
        shape = tuple(flat[0].shape)
        if len(shape) != len(expected) or expected[-1] not in (None, shape[-1]):
            raise ValueError(
                f"{self._label}: was built for inputs of shape {expected} (from its first call); got {shape}, "
                "which differs in rank or last axis"
            )

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        from jnet.serialization import serialize

        if (
            self._input is not None
            and self._input.node.layer.input_shape is None
            and not (self._layers and _declared_shape(self._layers[0]) is not None)
        ):
            config["input"] = {
                "batch_shape": list(self._input.shape),
                "dtype": self._input.dtype.name,
                "name": self._input.node.layer.name,
            }
        config["layers"] = [serialize(layer) for layer in self._layers]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        from jnet.serialization import deserialize

        model = cls(name=config.get("name"), trainable=config.get("trainable", True), dtype=config.get("dtype"))
        if config.get("input"):
            spec = config["input"]
            model.add(Input(batch_shape=tuple(spec["batch_shape"]), dtype=spec["dtype"], name=spec.get("name")))
        for entry in config["layers"]:
            model.add(deserialize(entry, custom_objects, safe_mode))
        return model
