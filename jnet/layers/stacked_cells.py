"""`StackedRNNCells`: several recurrent cells run as one cell, each step feeding the next
cell's output to the one above (Keras's `keras.layers.StackedRNNCells`)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.base import Layer

__all__ = ["StackedRNNCells"]


def _sizes(cell) -> list:
    s = cell.state_size
    return list(s) if isinstance(s, (list, tuple)) else [s]


def _output_size(cell) -> int:
    size = getattr(cell, "output_size", None)
    return size if size is not None else _sizes(cell)[0]


class StackedRNNCells(Layer):
    """Wraps a list of cells so that `RNN` runs them as one (a stacked RNN in one loop).

    Args:
        cells: a list of cells (`LSTMCell`, `GRUCell`, `SimpleRNNCell` or any layer with
            `call(inputs, states)` and `state_size`).

    `state_size` is the cells' state sizes in order, flattened (jnet's RNN takes a flat list of
    states: `initial_state` and `return_state` list every cell's states, first cell first, as
    Keras's flattened states do). `output_size` is the last cell's.

    Example:
    ```python
    cells = [jnet.layers.LSTMCell(16), jnet.layers.GRUCell(8)]
    y = jnet.layers.RNN(jnet.layers.StackedRNNCells(cells))(x)   # (batch, 8)
    ```
    """

    cells: Any

    def check_config(self):
        if isinstance(self.cells, Layer) or not isinstance(self.cells, (list, tuple)) or not self.cells:
            raise ValueError(f"{self._label}: cells must be a non-empty list of cells, got {self.cells!r}")
        for cell in self.cells:
            if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
                raise ValueError(f"{self._label}: every cell must be a jnet layer with a state_size, got {cell!r}")
        self.cells = list(self.cells)

    @property
    def state_size(self) -> list:
        return [s for cell in self.cells for s in _sizes(cell)]

    @property
    def output_size(self) -> int:
        return _output_size(self.cells[-1])

    def build(self, input_shape, states_shape=None):
        shape = tuple(input_shape)
        for cell in self.cells:
            if not cell.built:
                states = [jax.ShapeDtypeStruct((shape[0], s), jnp.float32) for s in _sizes(cell)]
                cell._maybe_build((jax.ShapeDtypeStruct(shape, jnp.float32), states), {})
            shape = (shape[0], _output_size(cell))

    def get_initial_state(self, batch_size=None):
        return [jnp.zeros((batch_size, s), self.compute_dtype) for s in self.state_size]

    def call(self, inputs, states, training=False, rng=None):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(self.state_size):
            raise ValueError(
                f"{self._label}: expected {len(self.state_size)} states (sizes {self.state_size}), got {len(states)}"
            )
        new_states, start = [], 0
        for cell in self.cells:
            n = len(_sizes(cell))
            inputs, cell_states = cell(inputs, states[start : start + n], training=training)
            cell_states = list(cell_states) if isinstance(cell_states, (list, tuple)) else [cell_states]
            new_states.extend(cell_states)
            start += n
        return inputs, new_states
