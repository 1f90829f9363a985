"""Symbolic tensors and graph nodes: what calling a layer on `jnet.Input`-derived tensors records.

Calling a layer on symbolic tensors records a `Node` (the layer, its argument tree, its output
tree) and infers the output specs with `jax.eval_shape` (through `layer.output_spec`). Layers and
models both stand on this module; it imports neither.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["SymbolicTensor", "Node", "is_symbolic", "spec_of", "call_symbolic", "call_signature"]


class SymbolicTensor:
    """A placeholder for an array in a model under construction: a shape (None for unknown
    axes), a dtype, and the node that produces it."""

    __slots__ = ("shape", "dtype", "node", "index", "__weakref__")
    _keras_tensor = True

    def __init__(self, shape, dtype, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = jnp.dtype(dtype)
        self.node = node
        self.index = index

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def name(self):
        return self.node.layer.name if self.node is not None else None

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype.name} from={self.name!r}>"

    def __jax_array__(self):
        raise TypeError(
            "A symbolic tensor (from jnet.Input) cannot be used as an array. Wrap jnp operations "
            "in a jnet.layers.Lambda layer, or call layers on it."
        )


def is_symbolic(x) -> bool:
    return isinstance(x, SymbolicTensor)


def spec_of(x):
    if isinstance(x, SymbolicTensor):
        return jax.ShapeDtypeStruct(x.shape, x.dtype)
    return x


@dataclasses.dataclass(eq=False)
class Node:
    """One call of `layer` on `args`/`kwargs` (pytrees whose leaves may be symbolic)."""

    layer: Any
    args: tuple
    kwargs: dict
    outputs: Any = None

    def inbound(self) -> list[SymbolicTensor]:
        return [t for t in jax.tree_util.tree_leaves((self.args, self.kwargs), is_leaf=is_symbolic) if is_symbolic(t)]


@functools.lru_cache(maxsize=None)
def call_signature(cls) -> tuple[tuple, frozenset]:
    """(positional argument names, all argument names) of `cls.call`, without `self`."""
    call = getattr(cls, "call", None)
    if call is None:
        return (), frozenset()
    params = list(inspect.signature(call).parameters.values())[1:]  # self
    positional = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return positional, frozenset(p.name for p in params)


def _tensors_to_positional(layer, args, kwargs):
    """`mha(q, v, key=k)` -> `mha(q, v, k)`: tensors given by keyword for the next positional
    slot become positional, so `build` sees every input spec."""
    positional, _ = call_signature(type(layer))
    args, kwargs = list(args), dict(kwargs)
    while len(args) < len(positional) and is_symbolic(kwargs.get(positional[len(args)])):
        args.append(kwargs.pop(positional[len(args)]))
    return tuple(args), kwargs


def call_symbolic(layer, args: tuple, kwargs: dict):
    """Record `layer(*args, **kwargs)` on symbolic tensors; return symbolic outputs."""
    args, kwargs = _tensors_to_positional(layer, args, kwargs)
    arg_specs = jax.tree_util.tree_map(spec_of, args, is_leaf=is_symbolic)
    tensor_kwargs = {k: v for k, v in kwargs.items() if k not in ("training", "mask")}
    kw_specs = jax.tree_util.tree_map(spec_of, tensor_kwargs, is_leaf=is_symbolic)
    out_specs = layer.output_spec(*arg_specs, **kw_specs)
    node = Node(layer, tuple(args), dict(kwargs))
    leaves, treedef = jax.tree_util.tree_flatten(out_specs)
    outputs = [SymbolicTensor(s.shape, s.dtype, node, i) for i, s in enumerate(leaves)]
    node.outputs = jax.tree_util.tree_unflatten(treedef, outputs)
    layer._inbound_nodes.append(node)
    return node.outputs
