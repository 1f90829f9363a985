"""Input specs and output-shape inference: output shapes are never written by hand, they come
from `jax.eval_shape` over a layer's `apply`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet.core.variables import Variable

__all__ = ["as_spec", "concrete_spec", "fill_specs", "infer_output_spec", "is_spec_leaf", "shape_tree", "specs_of"]


def as_spec(x) -> jax.ShapeDtypeStruct:
    """A `ShapeDtypeStruct` from an array, a spec, or a symbolic tensor (None axes kept)."""
    if isinstance(x, jax.ShapeDtypeStruct):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return jax.ShapeDtypeStruct(tuple(x.shape), jnp.dtype(x.dtype))
    raise TypeError(f"Expected an array or a jax.ShapeDtypeStruct, got {type(x).__name__}")


def is_spec_leaf(x) -> bool:
    return isinstance(x, jax.ShapeDtypeStruct) or (hasattr(x, "shape") and hasattr(x, "dtype"))


def specs_of(tree):
    """Specs for the arrays in a call's argument tree; other leaves (Python constants) stay."""
    return jax.tree_util.tree_map(lambda a: as_spec(a) if is_spec_leaf(a) else a, tree, is_leaf=is_spec_leaf)


def concrete_spec(shape, dtype, fill: int = 1) -> jax.ShapeDtypeStruct:
    """Replace unknown (None) axes by `fill` so a layer can be traced."""
    return jax.ShapeDtypeStruct(tuple(fill if d is None else int(d) for d in shape), jnp.dtype(dtype))


def shape_tree(x):
    """Keras's build argument: a shape tuple per array (None axes kept), lists and dicts kept."""
    if isinstance(x, (list, tuple)) and not hasattr(x, "shape"):
        return [shape_tree(v) for v in x]
    if isinstance(x, dict):
        return {k: shape_tree(v) for k, v in x.items()}
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return x


def fill_specs(specs, fill):
    def one(s):
        return concrete_spec(s.shape, s.dtype, fill) if is_spec_leaf(s) else s

    return jax.tree_util.tree_map(one, specs, is_leaf=is_spec_leaf)


def _has_unknown(specs) -> bool:
    leaves = jax.tree_util.tree_leaves(specs, is_leaf=is_spec_leaf)
    return any(d is None for s in leaves if is_spec_leaf(s) for d in s.shape)


def _eval(layer, specs, kwargs, fills):
    """The layer's output specs for each filler in `fills`, from one `jax.eval_shape` (one
    trace of the wrapper, so its fixed cost is paid once however many fillers are tried)."""
    flat = []
    for fill in fills:
        leaves, treedef = jax.tree_util.tree_flatten(fill_specs((specs, kwargs), fill), is_leaf=is_spec_leaf)
        where = [i for i, leaf in enumerate(leaves) if is_spec_leaf(leaf)]
        flat.append((leaves, treedef, where))
    var_specs = jax.tree_util.tree_map(
        lambda v: v.spec, layer._variable_tree(), is_leaf=lambda v: isinstance(v, Variable)
    )

    def run(variables, arrays_per_fill):
        outs = []
        for (leaves, treedef, where), arrays in zip(flat, arrays_per_fill):
            full = list(leaves)
            for i, a in zip(where, arrays):
                full[i] = a
            args, kw = jax.tree_util.tree_unflatten(treedef, full)
            outs.append(layer.apply(variables, *args, **kw)[0])
        return outs

    return jax.eval_shape(run, var_specs, [[leaves[i] for i in where] for leaves, _, where in flat])


def _unfilled(message: str, specs) -> str:
    """An error message raised while tracing with filled-in axes, showing the shapes as given
    (`(None, 6)`, not the tracing filler `(1021, 6)`)."""
    for s in jax.tree_util.tree_leaves(specs, is_leaf=is_spec_leaf):
        if is_spec_leaf(s) and any(d is None for d in s.shape):
            for fill in (1021, 2039):
                message = message.replace(str(tuple(fill if d is None else d for d in s.shape)), str(tuple(s.shape)))
    return message


def infer_output_spec(layer, specs, kwargs=None):
    """Output spec tree of `layer` on `specs` (which may have None axes); builds it first."""
    kwargs = kwargs or {}
    try:
        layer._maybe_build(specs, {k: v for k, v in kwargs.items() if is_spec_leaf(v) and k != "mask"})
        if layer.built and layer._build_shapes is not None:
            layer._check_input_spec(specs_of(specs))
            layer.check_inputs(*specs_of(specs))
        if not _has_unknown((specs, kwargs)):
            return _eval(layer, specs, kwargs, (1021,))[0]
        first, second = _eval(layer, specs, kwargs, (1021, 2039))
    except (TypeError, ValueError) as err:
        message = _unfilled(str(err), specs)
        if getattr(err, "_jnet_named", False) or (layer._label in message and message == str(err)):
            raise
        if layer._label not in message:
            message = f"{layer._label}: {message}"
        raise type(err)(message) from err

    def merge(a, b):
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        return jax.ShapeDtypeStruct(shape, a.dtype)

    return jax.tree_util.tree_map(merge, first, second)
