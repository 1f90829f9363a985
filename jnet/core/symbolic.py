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
import numpy as np

__all__ = [
    "SymbolicTensor",
    "Node",
    "is_symbolic",
    "has_symbolic",
    "spec_of",
    "call_symbolic",
    "call_signature",
    "symbolic_op",
    "STRING",
    "as_dtype",
    "dtype_name",
    "is_string_dtype",
]

# The dtype of a string input (`jnet.Input(shape=(), dtype="string")`): numpy's object dtype,
# named "string" in configs, as Keras names it. Strings never enter a compiled step: a string
# input feeds a string layer, which runs on the host (jnet.layers.preprocessing.host).
STRING = np.dtype(object)
_STRING_NAMES = ("string", "str", "bytes", "object")


def as_dtype(dtype):
    """`dtype` as a numpy/jax dtype; `"string"` (and str, bytes, object) as `STRING`."""
    if isinstance(dtype, str) and dtype in _STRING_NAMES or dtype in (str, bytes, object):
        return STRING
    d = np.dtype(dtype) if isinstance(dtype, np.dtype) else jnp.dtype(dtype)
    return STRING if d.kind in "USO" else d


def is_string_dtype(dtype) -> bool:
    return as_dtype(dtype) == STRING


def dtype_name(dtype) -> str:
    """The config name of a dtype: `"string"` for strings, else the numpy name."""
    return "string" if is_string_dtype(dtype) else jnp.dtype(dtype).name


class SymbolicTensor:
    """A placeholder for an array in a model under construction: a shape (None for unknown
    axes), a dtype, and the node that produces it."""

    __slots__ = ("shape", "dtype", "node", "index", "_keras_mask", "__weakref__")
    _keras_tensor = True

    def __init__(self, shape, dtype, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = as_dtype(dtype)
        self.node = node
        self.index = index
        # The spec of the mask this tensor carries (Keras's `_keras_mask`), or None.
        self._keras_mask = None

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def name(self):
        return self.node.layer.name if self.node is not None else None

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} dtype={dtype_name(self.dtype)} from={self.name!r}>"

    def __jax_array__(self):
        raise TypeError(
            "A symbolic tensor (from jnet.Input) cannot be used as an array: use jnet.ops functions "
            "or Python operators on it (they become graph nodes), call layers on it, or wrap jax.numpy "
            "code in a jnet.layers.Lambda layer."
        )

    # Python operators build graph nodes, as on Keras's symbolic tensors (`x + y`, `x[:, 0]`).
    def __add__(self, other):
        return symbolic_op("add", (self, other))

    def __radd__(self, other):
        return symbolic_op("add", (other, self))

    def __sub__(self, other):
        return symbolic_op("subtract", (self, other))

    def __rsub__(self, other):
        return symbolic_op("subtract", (other, self))

    def __mul__(self, other):
        return symbolic_op("multiply", (self, other))

    def __rmul__(self, other):
        return symbolic_op("multiply", (other, self))

    def __truediv__(self, other):
        return symbolic_op("true_divide", (self, other))

    def __rtruediv__(self, other):
        return symbolic_op("true_divide", (other, self))

    def __floordiv__(self, other):
        return symbolic_op("floor_divide", (self, other))

    def __rfloordiv__(self, other):
        return symbolic_op("floor_divide", (other, self))

    def __mod__(self, other):
        return symbolic_op("mod", (self, other))

    def __pow__(self, other):
        return symbolic_op("power", (self, other))

    def __rpow__(self, other):
        return symbolic_op("power", (other, self))

    def __matmul__(self, other):
        return symbolic_op("matmul", (self, other))

    def __rmatmul__(self, other):
        return symbolic_op("matmul", (other, self))

    def __neg__(self):
        return symbolic_op("negative", (self,))

    def __pos__(self):
        return self

    def __abs__(self):
        return symbolic_op("absolute", (self,))

    def __invert__(self):
        return symbolic_op("logical_not", (self,))

    def __lt__(self, other):
        return symbolic_op("less", (self, other))

    def __le__(self, other):
        return symbolic_op("less_equal", (self, other))

    def __gt__(self, other):
        return symbolic_op("greater", (self, other))

    def __ge__(self, other):
        return symbolic_op("greater_equal", (self, other))

    def __and__(self, other):
        return symbolic_op("logical_and", (self, other))

    def __or__(self, other):
        return symbolic_op("logical_or", (self, other))

    def __getitem__(self, index):
        return symbolic_op("getitem", (self,), {"index": index})

    __hash__ = object.__hash__

    @property
    def T(self):  # noqa: N802 - numpy's name
        return symbolic_op("transpose", (self,))


def is_symbolic(x) -> bool:
    return isinstance(x, SymbolicTensor)


def has_symbolic(args, kwargs=None) -> bool:
    return any(is_symbolic(leaf) for leaf in jax.tree_util.tree_leaves((args, kwargs or {}), is_leaf=is_symbolic))


# Set by jnet.layers.op_layer: records an op call on symbolic tensors as a graph node. Layers
# stand above this module, so they register the handler rather than being imported here.
_OP_HANDLER = []
# Set by jnet.layers.preprocessing.host: the output specs of a layer called on a string tensor
# (a string layer's, found on the host), or a clear error for a layer that cannot take strings.
_STRING_HANDLER = []


def symbolic_op(name: str, args: tuple, kwargs: dict | None = None):
    """Record `jnet.ops.<name>(*args, **kwargs)` on symbolic tensors as a graph node."""
    if not _OP_HANDLER:
        raise TypeError(f"ops.{name} on a symbolic tensor needs jnet.layers (import jnet)")
    return _OP_HANDLER[0](name, tuple(args), dict(kwargs or {}))


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


@functools.cache
def call_signature(cls) -> tuple[tuple, frozenset]:
    """(positional argument names, all argument names) of `cls.call`, without `self`."""
    call = getattr(cls, "call", None)
    if call is None:
        return (), frozenset()
    params = list(inspect.signature(call).parameters.values())[1:]  # self
    positional = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return positional, frozenset(p.name for p in params)


def tensor_arguments(layer, args, kwargs) -> dict:
    """`{argument name: value}` for the call's arguments that hold symbolic tensors (`mask`
    aside). Keras passes `mask=` to `call` only when there is one such argument; with several
    it fills `<name>_mask` where `call` takes one (MultiHeadAttention's `value_mask`)."""
    positional, _ = call_signature(type(layer))
    named = {(positional[i] if i < len(positional) else f"arg{i}"): a for i, a in enumerate(args)}
    named.update({k: v for k, v in kwargs.items() if k not in ("mask", "training")})
    return {
        k: v for k, v in named.items() if any(is_symbolic(t) for t in jax.tree_util.tree_leaves(v, is_leaf=is_symbolic))
    }


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
    # Keras passes the mask the first argument carries (or an explicit `mask=`) to `call`
    # while the model is built, as it does when the model runs.
    mask = kwargs.get("mask")
    mask_spec = (
        jax.tree_util.tree_map(spec_of, mask, is_leaf=is_symbolic)
        if mask is not None
        else input_mask(args[0])
        if args
        else None
    )
    single = mask is not None or len(tensor_arguments(layer, args, kwargs)) <= 1
    mask_kw = {} if mask_spec is None or not single else {"mask": mask_spec}
    if _STRING_HANDLER and any(
        is_symbolic(t) and t.dtype == STRING for t in jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
    ):
        out_specs = _STRING_HANDLER[0](layer, args, kwargs)
    else:
        out_specs = layer.output_spec(*arg_specs, **kw_specs, **mask_kw)
    node = Node(layer, tuple(args), dict(kwargs))
    leaves, treedef = jax.tree_util.tree_flatten(out_specs)
    outputs = [SymbolicTensor(s.shape, s.dtype, node, i) for i, s in enumerate(leaves)]
    _attach_masks(outputs, layer._symbolic_output_mask(arg_specs, kw_specs, mask_spec))
    node.outputs = jax.tree_util.tree_unflatten(treedef, outputs)
    layer._inbound_nodes.append(node)
    return node.outputs


def input_mask(x):
    """The mask tree matching `x` (a symbolic tensor or a tree of them; None where a tensor
    carries no mask), or None when nothing is masked."""
    tree = jax.tree_util.tree_map(lambda t: t._keras_mask if is_symbolic(t) else None, x, is_leaf=is_symbolic)
    if all(m is None for m in jax.tree_util.tree_leaves(tree, is_leaf=lambda m: m is None)):
        return None
    return tree


def _attach_masks(outputs: list, mask) -> None:
    """Give the output tensors their mask specs: one mask for a single output, or one per output."""
    if mask is None:
        return
    if len(outputs) == 1 and isinstance(mask, jax.ShapeDtypeStruct):
        outputs[0]._keras_mask = mask
        return
    leaves = jax.tree_util.tree_leaves(mask, is_leaf=lambda m: m is None)
    if len(leaves) == len(outputs):
        for t, m in zip(outputs, leaves):
            t._keras_mask = m
