"""`clone_model`: the same architecture with new layers (so new, freshly initialised weights)."""

from __future__ import annotations

import jax

from jnet.core.symbolic import is_symbolic
from jnet.layers.input_layer import Input, InputLayer
from jnet.models.model import Model
from jnet.models.sequential import Sequential

__all__ = ["clone_model"]


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """Clone a Sequential or functional model: new layers, hence new weights (Keras's
    `keras.models.clone_model`).

    Args:
        model: a `Sequential` or functional `Model`. A subclassed model is rebuilt from its
            `get_config()` (it then takes none of the other arguments).
        input_tensors: optional `jnet.Input` tensor(s) to build the clone on (the model's
            input structure: one tensor, a list or a dict); new inputs by default.
        clone_function: `fn(layer) -> layer` making each layer's copy (not the inputs); by
            default `layer.__class__.from_config(layer.get_config())`. A layer used several
            times is cloned once.
        call_function: functional models only: `fn(layer, *args, **kwargs)` calling each
            cloned layer (default `layer(*args, **kwargs)`), e.g. to insert layers after some.
        recursive: clone nested Sequential/functional models with `clone_model` and the same
            functions, instead of passing them to `clone_function`.

    Returns:
        The new model (weights not copied: `clone.set_weights(model.get_weights())` copies them).

    Example:
    ```python
    clone = jnet.models.clone_model(model)
    clone.set_weights(model.get_weights())
    ```
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise TypeError(f"clone_model: unexpected keyword argument(s) {tuple(kwargs)}")
    if clone_function is not None and not callable(clone_function):
        raise ValueError(f"clone_model: clone_function must be callable, got {clone_function!r}")
    if call_function is not None and not callable(call_function):
        raise ValueError(f"clone_model: call_function must be callable, got {call_function!r}")
    clone = _cloner(clone_function, call_function, recursive, {} if cache is None else cache)
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "clone_model: call_function is for functional models only; a Sequential model's "
                "layers are listed, not called, when it is made"
            )
        return _clone_sequential(model, clone, input_tensors)
    if isinstance(model, Model) and model._graph is not None and not model._is_subclassed():
        return _clone_functional(model, clone, call_function, input_tensors)
    if not isinstance(model, Model):
        raise ValueError(f"clone_model: model must be a jnet Model, got {type(model).__name__}")
    if clone_function is not None or input_tensors is not None or call_function is not None:
        raise ValueError(
            f"clone_model: clone_function, input_tensors and call_function need a Sequential or "
            f"functional model; {type(model).__name__} is subclassed (it is rebuilt from its config)"
        )
    return type(model).from_config(model.get_config())


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def _cloner(clone_function, call_function, recursive, cache):
    """`clone(layer)`: one copy per layer object, nested models cloned recursively if asked."""
    fn = clone_function or _default_clone

    def clone(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, Model) and layer._graph is not None and not layer._is_subclassed():
                calls = None if isinstance(layer, Sequential) else call_function
                cache[id(layer)] = clone_model(
                    layer, clone_function=clone_function, call_function=calls, recursive=True, cache=cache
                )
            else:
                cache[id(layer)] = fn(layer)
        return cache[id(layer)]

    return clone


def _clone_sequential(model, clone, input_tensors):
    layers = [clone(layer) for layer in model.layers]
    head = []
    if input_tensors is not None:
        tensors = list(input_tensors) if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if len(tensors) != 1 or not is_symbolic(tensors[0]):
            raise ValueError(f"clone_model: a Sequential model takes one input tensor, got {input_tensors!r}")
        head = tensors
    elif model._input is not None:
        t = model._input
        head = [Input(batch_shape=tuple(t.shape), dtype=t.dtype)]
    return Sequential(head + layers, name=model.name, trainable=model.trainable)


def _clone_functional(model, clone, call_function, input_tensors):
    graph = model._graph
    if input_tensors is None:
        new_inputs = [Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=t.node.layer.name) for t in graph.inputs]
    else:
        if isinstance(input_tensors, dict):
            missing = [k for k in graph.input_keys or () if k not in input_tensors]
            if graph.input_keys is None or missing:
                raise ValueError(
                    f"clone_model: input_tensors must have the model's input keys "
                    f"{graph.input_keys}, got {sorted(input_tensors)}"
                )
            new_inputs = [input_tensors[k] for k in graph.input_keys]
        else:
            new_inputs = list(input_tensors) if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if len(new_inputs) != len(graph.inputs) or not all(is_symbolic(t) for t in new_inputs):
            raise ValueError(
                f"clone_model: input_tensors must be {len(graph.inputs)} symbolic tensor(s) "
                f"(jnet.Input), got {input_tensors!r}"
            )
    new = {id(old): t for old, t in zip(graph.inputs, new_inputs)}
    for node in graph.nodes:
        if isinstance(node.layer, InputLayer):
            continue
        layer = clone(node.layer)
        args, kw = jax.tree_util.tree_map(
            lambda t: new[id(t)] if is_symbolic(t) else t, (node.args, node.kwargs), is_leaf=is_symbolic
        )
        out = call_function(layer, *args, **kw) if call_function is not None else layer(*args, **kw)
        old_leaves = jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic)
        new_leaves = jax.tree_util.tree_leaves(out, is_leaf=is_symbolic)
        if len(old_leaves) != len(new_leaves):
            raise ValueError(
                f"clone_model: the clone of {node.layer._label} returns {len(new_leaves)} output(s) "
                f"where the original returns {len(old_leaves)}"
            )
        new.update({id(o): n for o, n in zip(old_leaves, new_leaves)})
    outputs = [new[id(t)] for t in graph.outputs]
    return Model(
        _structured(new_inputs, graph.input_kind, graph.input_keys),
        _structured(outputs, graph.output_kind, graph.output_keys),
        name=model.name,
        trainable=model.trainable,
    )


def _structured(tensors, kind, keys):
    if kind == "single":
        return tensors[0]
    if kind == "dict":
        return dict(zip(keys, tensors))
    return list(tensors)
