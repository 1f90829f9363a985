"""Variable trees: `{"params": ..., "state": ...}` dicts whose leaves are `Variable`s, matched
leaf by leaf with array trees of the same shape (what `apply` binds, `init` fills and the
trainer's masks, penalties and constraints walk)."""

from __future__ import annotations

import numpy as np

from jnet.core.variables import Variable

__all__ = ["bind_pairs", "map_paths", "variable_paths", "zip_map"]


def variable_paths(tree, prefix="") -> list:
    """`[(path, Variable)]` of a variable tree; the path skips the params/state split."""
    out = []
    for part in ("params", "state"):
        out.extend(_leaf_paths(tree.get(part, {}), ""))
    return out


def _leaf_paths(tree, prefix):
    if isinstance(tree, dict):
        out = []
        for k, v in tree.items():
            out.extend(_leaf_paths(v, f"{prefix}/{k}" if prefix else str(k)))
        return out
    return [(prefix, tree)]


def map_paths(fn, tree, prefix=""):
    if isinstance(tree, dict):
        return {k: map_paths(fn, v, f"{prefix}/{k}" if prefix else str(k)) for k, v in tree.items()}
    return fn(prefix, tree)


def zip_map(fn, tree, values):
    """`fn(variable, array)` over a variable tree and a matching array tree."""
    if isinstance(tree, dict):
        return {k: zip_map(fn, tree[k], values[k]) for k in values}
    return fn(tree, values)


def bind_pairs(tree, variables, label) -> list:
    """`[(Variable, array)]` matching a variable tree with an array tree. Entries missing from
    `variables` keep their current value; unknown entries and wrong shapes are errors."""
    pairs = []
    if not isinstance(variables, dict):
        raise TypeError(
            f"{label}: variables must be a dict {{'params': ..., 'state': ...}}, got {type(variables).__name__}"
        )

    def walk(t, v, where):
        if isinstance(t, Variable):
            shape = tuple(np.shape(v))
            if shape != t.shape:
                raise ValueError(f"{label}: variable {where} has shape {t.shape}, got an array of shape {shape}")
            pairs.append((t, v))
            return
        if not isinstance(v, dict):
            raise ValueError(f"{label}: expected a dict at {where or 'the top'}, got {type(v).__name__}")
        extra = [k for k in v if k not in t]
        if extra:
            raise ValueError(
                f"{label}: variables at {where or 'the top'} have unknown entries {sorted(map(str, extra))}; "
                f"expected {sorted(map(str, t))}"
            )
        for k, sub in t.items():
            if k in v:
                walk(sub, v[k], f"{where}/{k}" if where else k)

    for part in ("params", "state"):
        if part in variables and variables[part] is not None:
            walk(tree[part], variables[part], part)
    return pairs
