"""Graph models whose inputs are intermediate tensors, as Keras allows:

```python
encoded = layers.Concatenate()([a, b])            # a, b come from jnet.Input and some layers
head = layers.Dense(1)(encoded)
training_model = jnet.Model(inputs=encoded, outputs=head)   # fed the encoded vectors directly
```

Keras 3 (`clone_graph_nodes`) gives each input that does not come from `Input` a fresh
`Input` of its shape and dtype and calls again, on the new inputs, the layers between them
and the outputs. The layers are the same objects (their weights are shared with the original
graph); only the graph's nodes are new. jnet does the same before building the `Graph`.
"""

from __future__ import annotations

import jax

from jnet.core.symbolic import is_symbolic
from jnet.layers.input_layer import Input, InputLayer


def in_call_order(fn, tree):
    """`tree_map(fn, tree)` keeping dicts in their insertion order (jax sorts their keys): a
    layer called on a dict gets it in the order it was called with, as in Keras."""
    if is_symbolic(tree):
        return fn(tree)
    if type(tree) is dict:
        return {k: in_call_order(fn, v) for k, v in tree.items()}
    if type(tree) in (list, tuple):
        return type(tree)(in_call_order(fn, v) for v in tree)
    return jax.tree_util.tree_map(fn, tree, is_leaf=is_symbolic)


def _is_input_tensor(t) -> bool:
    return t.node is not None and isinstance(t.node.layer, InputLayer)


def _leaves(structure):
    return [t for t in jax.tree_util.tree_leaves(structure, is_leaf=is_symbolic) if is_symbolic(t)]


def _nodes_between(stops, outputs):
    """The nodes the outputs depend on, up to (not including) the tensors in `stops`, in
    topological order (inputs first)."""
    order, done = [], set()

    def visit(node):
        if id(node) in done:
            return
        done.add(id(node))
        for t in node.inbound():
            if id(t) not in stops:
                visit(t.node)
        order.append(node)

    for t in outputs:
        if id(t) not in stops:
            visit(t.node)
    return order


def cut_at_inputs(inputs, outputs):
    """`(inputs, outputs)` where every input comes from `jnet.Input`: the unchanged arguments
    when they already do, else a copy of the graph between them (see the module docstring)."""
    flat_in = _leaves(inputs)
    if all(_is_input_tensor(t) for t in flat_in):
        return inputs, outputs
    mapping = {}
    for t in flat_in:
        if _is_input_tensor(t):
            mapping[id(t)] = t
        else:
            # Auto-named: the model makes input names unique (the tensors' layers may share a name).
            mapping[id(t)] = Input(batch_shape=tuple(t.shape), dtype=t.dtype)

    def new(x):
        return mapping.get(id(x), x) if is_symbolic(x) else x

    for node in _nodes_between(mapping, _leaves(outputs)):
        if isinstance(node.layer, InputLayer) or all(new(t) is t for t in node.inbound()):
            continue  # reads none of the cut inputs: the node stays as it is
        args, kwargs = in_call_order(new, node.args), in_call_order(new, node.kwargs)
        replayed = node.layer(*args, **kwargs)
        for old, fresh in zip(_leaves(node.outputs), _leaves(replayed)):
            mapping[id(old)] = fresh
    return _rebuilt(inputs, new), _rebuilt(outputs, new)


def _rebuilt(structure, new):
    """`structure` (a tensor, a list/tuple or a dict of them) with each tensor replaced by
    `new(tensor)`; dicts keep their key order (the model's input order)."""
    if isinstance(structure, dict):
        return {k: new(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(new(v) for v in structure)
    return new(structure)
