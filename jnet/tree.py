"""Nested-structure utilities, as in `keras.tree`, on `jax.tree_util`. As in Keras, `None` is a
leaf (not an empty subtree) and dicts are traversed in sorted key order.

```python
jnet.tree.flatten({"b": 2, "a": [1, None]})   # [1, None, 2]
jnet.tree.map_structure(lambda x: x * 2, (1, [2]))   # (2, [4])
```
"""

from __future__ import annotations

import jax.tree_util as jtu

MAP_TO_NONE = object()  # returned by a `traverse` function: replace this subtree with None


def _is_none(x):
    return x is None


def _key(entry):
    for attr in ("key", "idx", "name"):
        if hasattr(entry, attr):
            return getattr(entry, attr)
    return entry


def is_nested(structure):
    """Whether `structure` is a container (list, tuple, dict, namedtuple, registered pytree)
    rather than a leaf."""
    return not jtu.treedef_is_leaf(jtu.tree_structure(structure, is_leaf=_is_none)) or (
        isinstance(structure, (list, tuple, dict)) and structure is not None
    )


def flatten(structure):
    """The leaves of `structure`, depth first (dict keys sorted)."""
    return jtu.tree_leaves(structure, is_leaf=_is_none)


def flatten_with_path(structure):
    """`[(path, leaf), ...]`, each path a tuple of keys/indices."""
    pairs, _ = jtu.tree_flatten_with_path(structure, is_leaf=_is_none)
    return [(tuple(_key(k) for k in path), leaf) for path, leaf in pairs]


def pack_sequence_as(structure, flat_sequence, sequence_fn=None):
    """The leaves `flat_sequence` arranged like `structure`.

    Raises:
        ValueError: when the number of leaves differs.
    """
    treedef = jtu.tree_structure(structure, is_leaf=_is_none)
    flat = list(flat_sequence)
    if treedef.num_leaves != len(flat):
        raise ValueError(
            f"pack_sequence_as: `structure` has {treedef.num_leaves} leaves but `flat_sequence` has {len(flat)}"
        )
    return jtu.tree_unflatten(treedef, flat)


def map_structure(func, *structures, none_is_leaf=True):
    """`func` applied to the corresponding leaves of `structures` (which must match)."""
    if not structures:
        raise ValueError("map_structure: give at least one structure")
    assert_same_structure(*structures) if len(structures) > 1 else None
    return jtu.tree_map(func, *structures, is_leaf=_is_none if none_is_leaf else None)


def map_structure_up_to(shallow_structure, func, *structures):
    """`func` applied to the subtrees of `structures` at the leaves of `shallow_structure`."""
    treedef = jtu.tree_structure(shallow_structure, is_leaf=_is_none)
    parts = [treedef.flatten_up_to(s) for s in structures]
    return jtu.tree_unflatten(treedef, [func(*xs) for xs in zip(*parts)])


def map_shape_structure(func, structure):
    """`func` applied to each shape in `structure`, a shape being a tuple/list of ints/None."""

    def is_shape(x):
        return x is None or (isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) for d in x))

    return jtu.tree_map(func, structure, is_leaf=is_shape)


def assert_same_structure(a, b, check_types=None):
    """Raise when `a` and `b` differ in nesting (list vs tuple counts as the same)."""

    def norm(x):
        return jtu.tree_structure(lists_to_tuples(x), is_leaf=_is_none)

    if norm(a) != norm(b):
        raise ValueError(f"assert_same_structure: the structures differ:\n{norm(a)}\nvs\n{norm(b)}")


def assert_same_paths(a, b):
    """Raise when `a` and `b` do not have the same set of leaf paths."""
    pa = {p for p, _ in flatten_with_path(a)}
    pb = {p for p, _ in flatten_with_path(b)}
    if pa != pb:
        raise ValueError(
            f"assert_same_paths: paths differ: only in a {sorted(pa - pb, key=str)}, "
            f"only in b {sorted(pb - pa, key=str)}"
        )


def lists_to_tuples(structure):
    """`structure` with every list turned into a tuple."""
    if isinstance(structure, (list, tuple)) and not hasattr(structure, "_fields"):
        return tuple(lists_to_tuples(v) for v in structure)
    if isinstance(structure, dict):
        return type(structure)((k, lists_to_tuples(v)) for k, v in structure.items())
    return structure


def traverse(func, structure, top_down=True):
    """Visit every subtree: top-down, `func(sub)` returning None recurses into it, anything
    else replaces it (`MAP_TO_NONE` for None); bottom-up, `func` gets the rebuilt subtree."""

    def leaf(x):
        return x is None or jtu.treedef_is_leaf(jtu.tree_structure(x, is_leaf=_is_none))

    def visit(sub):
        if top_down:
            out = func(sub)
            if out is not None:
                return None if out is MAP_TO_NONE else out
            if leaf(sub):
                return sub
            children, treedef = jtu.tree_flatten(sub, is_leaf=lambda v: v is not sub)
            return jtu.tree_unflatten(treedef, [visit(c) for c in children])
        if not leaf(sub):
            children, treedef = jtu.tree_flatten(sub, is_leaf=lambda v: v is not sub)
            sub = jtu.tree_unflatten(treedef, [visit(c) for c in children])
        out = func(sub)
        return sub if out is None else (None if out is MAP_TO_NONE else out)

    return visit(structure)
