"""`ops.rearrange`: einops-style axis rearrangement (transpose, split and merge axes by name)."""

from __future__ import annotations

import math
import re

import jax.numpy as jnp

from jnet.ops._utils import tensor as _as_tensor


def _groups(side, pattern):
    """`"b (h w) c"` -> `[["b"], ["h", "w"], ["c"]]`."""
    tokens = re.findall(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S", side)
    groups, current = [], None
    for tok in tokens:
        if tok == "(":
            if current is not None:
                raise ValueError(f"rearrange: nested parentheses in pattern {pattern!r}")
            current = []
        elif tok == ")":
            if current is None:
                raise ValueError(f"rearrange: unbalanced ')' in pattern {pattern!r}")
            groups.append(current)
            current = None
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok):
            (current if current is not None else groups).append(tok if current is not None else [tok])
        else:
            raise ValueError(f"rearrange: unexpected {tok!r} in pattern {pattern!r}")
    if current is not None:
        raise ValueError(f"rearrange: unbalanced '(' in pattern {pattern!r}")
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    """Rearrange the axes of a tensor by an einops pattern: `"b h w c -> b c h w"` transposes,
    `"b (h w) c -> b h w c"` splits (give `h=` or `w=`), `"b h w c -> b (h w c)"` merges.

    Args:
        tensor: Input tensor.
        pattern: `"<input axes> -> <output axes>"`, names in parentheses grouped into one axis.
        **axes_lengths: Sizes of axes that a split cannot infer.

    Raises:
        ValueError: for a malformed pattern, names that differ between the sides, or sizes
            that do not fit.

    Example:
    >>> jnet.ops.rearrange(jnet.ops.zeros((2, 6, 3)), "b (h w) c -> b h w c", h=2).shape  # (2, 2, 3, 3)
    """
    x = _as_tensor(tensor)
    if not isinstance(pattern, str) or "->" not in pattern:
        raise ValueError(f"rearrange: `pattern` must look like 'a b -> b a'; received {pattern!r}")
    left, right = pattern.split("->")
    lg, rg = _groups(left, pattern), _groups(right, pattern)
    lnames, rnames = [n for g in lg for n in g], [n for g in rg for n in g]
    if sorted(lnames) != sorted(rnames) or len(set(lnames)) != len(lnames):
        raise ValueError(f"rearrange: both sides must name the same distinct axes; received {pattern!r}")
    if len(lg) != x.ndim:
        raise ValueError(
            f"rearrange: the input side of {pattern!r} has {len(lg)} axes but the tensor has rank {x.ndim}"
        )
    sizes = dict(axes_lengths)
    for group, dim in zip(lg, x.shape):
        unknown = [n for n in group if n not in sizes]
        known = math.prod(sizes[n] for n in group if n in sizes)
        if len(unknown) > 1:
            raise ValueError(f"rearrange: give the sizes of all but one of {unknown} in {pattern!r}")
        if unknown:
            if dim % known:
                raise ValueError(f"rearrange: axis of size {dim} cannot be split by {known} in {pattern!r}")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(f"rearrange: group {group} has size {known} but the axis has size {dim}")
    x = jnp.reshape(x, [sizes[n] for n in lnames])
    x = jnp.transpose(x, [lnames.index(n) for n in rnames])
    return jnp.reshape(x, [math.prod(sizes[n] for n in g) for g in rg])
