"""`jnet.Input` and the layer behind it."""

from __future__ import annotations

from typing import Any

from jnet.core.symbolic import Node, SymbolicTensor, as_dtype, dtype_name
from jnet.layers.base import Layer

__all__ = ["Input", "InputLayer"]


class InputLayer(Layer):
    """The layer behind `jnet.Input`: it has no weights and passes its input through.

    Args:
        shape: shape of one sample, without the batch axis; `None` marks a variable axis.
        batch_size: optional fixed batch size.
        input_dtype: dtype of the input (float32 unless given: use "int32" for token ids,
            "string" for raw text, which feeds a string layer on the host).
    """

    shape: tuple = ()
    batch_size: Any = None
    input_dtype: Any = "float32"

    def check_config(self):
        if not isinstance(self.shape, (tuple, list)):
            raise TypeError(f"Input: shape must be a tuple, got {self.shape!r}")
        self.shape = tuple(None if d is None else int(d) for d in self.shape)
        for d in self.shape:
            if d is not None and d <= 0:
                raise ValueError(f"Input {self.name or ''}: axes must be positive or None, got shape {self.shape}")

    @property
    def batch_shape(self):
        return (self.batch_size,) + self.shape

    def call(self, x):
        return x


def make_input_tensor(layer: InputLayer) -> SymbolicTensor:
    node = Node(layer, (), {})
    node.outputs = SymbolicTensor(layer.batch_shape, layer.input_dtype, node, 0)
    layer._inbound_nodes.append(node)
    layer.built = True
    return node.outputs


def Input(
    shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, sparse=None, tensor=None, optional=False
):  # noqa: N802 - Keras name
    """A symbolic input for a graph model.

    Args:
        shape: shape of one sample, e.g. `(784,)`; `(None,)` is a variable-length sequence.
        batch_size: optional fixed batch size.
        dtype: dtype of the data fed here (default float32; `"int32"` for token ids;
            `"string"` for raw text, which must feed a string layer such as
            `TextVectorization`, `StringLookup` or `Hashing`: those run on the host, before
            the compiled step).
        name: the input's name, used to feed it from a dict (`{"title": ...}`).
        batch_shape: the full shape including the batch axis (instead of shape/batch_size).

    Example:
    ```python
    title = jnet.Input(shape=(None,), dtype="int32", name="title")
    ```
    """
    if sparse:
        raise ValueError("Input: sparse inputs are not supported by jnet (JAX arrays are dense)")
    if batch_shape is not None:
        batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
    if shape is None:
        raise ValueError("Input: pass shape= (one sample, without the batch axis)")
    if isinstance(shape, int):
        shape = (shape,)
    layer = InputLayer(
        shape=tuple(shape), batch_size=batch_size, input_dtype=dtype_name(as_dtype(dtype or "float32")), name=name
    )
    return make_input_tensor(layer)
