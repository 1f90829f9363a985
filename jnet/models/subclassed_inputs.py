"""The input structure of a subclassed model.

A subclassed model's `call` takes whatever its author chose: one array, a list, a dict by name,
or several positional arguments. The engine feeds models flat lists of arrays, so the structure
seen when the model was built is kept (`record`), and the engine's flat lists are put back into
it before `call` runs (`restructure`). A model built on one array keeps the old one-input path.
"""

from __future__ import annotations

import jax

__all__ = ["record", "example_specs", "names", "flatten", "restructure", "structure"]


def _tree(model):
    treedef = model.__dict__.get("_in_tree")
    return treedef if treedef is not None and treedef.num_leaves > 1 else None


def record(model, specs):
    """Keep the structure (and the leaf specs) of the positional arguments `specs` the model is
    built on."""
    leaves, model.__dict__["_in_tree"] = jax.tree_util.tree_flatten(tuple(specs))
    model.__dict__["_in_specs"] = leaves


def example_specs(model, fill=1) -> list:
    """The flat input specs the model was built on, unknown axes set to `fill` (None before
    it was built)."""
    leaves = model.__dict__.get("_in_specs")
    if leaves is None:
        return None
    return [jax.ShapeDtypeStruct(tuple(fill if d is None else d for d in s.shape), s.dtype) for s in leaves]


def names(model) -> list:
    """One name per input array: dict keys, `input_0`, `input_1`, ... for list positions."""
    treedef = _tree(model)
    if treedef is None:
        return ["input"]
    paths = jax.tree_util.tree_flatten_with_path(treedef.unflatten(range(treedef.num_leaves)))[0]
    out = []
    for path, _ in paths:
        last = path[-1]
        key = getattr(last, "key", None)
        out.append(str(key) if key is not None else "input_" + "_".join(str(getattr(p, "idx", p)) for p in path[1:]))
    return out


def flatten(model, inputs):
    """`inputs` (the model's structure, or already flat) as a flat list, or None when the model
    takes one array (the caller's usual path).

    Raises:
        ValueError: the inputs are neither in the model's structure nor a flat list of its size.
    """
    treedef = _tree(model)
    if treedef is None:
        return None
    inputs = tuple(inputs)
    leaves, given = jax.tree_util.tree_flatten(inputs)
    if given == treedef:
        return leaves
    if len(inputs) == 1:
        leaves, given = jax.tree_util.tree_flatten(inputs[0])
        if jax.tree_util.tree_structure((inputs[0],)) == treedef or given == treedef:
            return leaves
    if len(inputs) == treedef.num_leaves:
        return list(inputs)
    raise ValueError(
        f"{model._label} was built on inputs structured as {treedef.unflatten(names(model))}; "
        f"got {len(leaves)} arrays structured as {given}"
    )


def structure(model, flat):
    """The positional arguments `call` takes, from a flat list."""
    treedef = _tree(model)
    return tuple(flat) if treedef is None else treedef.unflatten(list(flat))


def restructure(model, inputs):
    """`inputs` as `call`'s positional arguments: a flat list of the model's size is put back
    into its structure; anything else passes unchanged."""
    treedef = _tree(model)
    if treedef is None or jax.tree_util.tree_structure(tuple(inputs)) == treedef:
        return tuple(inputs)
    if len(inputs) == treedef.num_leaves:
        return treedef.unflatten(list(inputs))
    return tuple(inputs)
