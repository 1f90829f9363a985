"""Graph helpers of `keras.utils`: `get_source_inputs`, and `is_keras_tensor` / `clear_session`
re-exported from `jnet.backend` (Keras lists them under both)."""

from __future__ import annotations

from jnet.backend import clear_session, is_keras_tensor

__all__ = ["clear_session", "get_source_inputs", "is_keras_tensor"]


def get_source_inputs(tensor):
    """The `jnet.Input` tensors that a symbolic `tensor` depends on, in the order first met
    (Keras's `get_source_inputs`).

    Example:
    ```python
    x = jnet.Input((4,))
    y = jnet.layers.Dense(2)(x)
    assert jnet.utils.get_source_inputs(y) == [x]
    ```
    """
    import jax

    from jnet.core.symbolic import is_symbolic
    from jnet.layers.input_layer import InputLayer

    if not is_symbolic(tensor):
        raise ValueError(
            f"get_source_inputs: expected a symbolic tensor (from jnet.Input or a layer call), "
            f"got {type(tensor).__name__}"
        )
    found, seen, todo = [], set(), [tensor]
    while todo:
        t = todo.pop()
        node = t.node
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.layer, InputLayer):
            found.append(node.outputs)
            continue
        inbound = [
            a for a in jax.tree_util.tree_leaves((node.args, node.kwargs), is_leaf=is_symbolic) if is_symbolic(a)
        ]
        todo.extend(reversed(inbound))
    return found
