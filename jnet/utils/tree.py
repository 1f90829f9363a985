"""Pytree helpers shared by saving, distribution and logging."""

from __future__ import annotations


def path_str(path) -> str:
    """A jax key path as `params/dense/kernel`.

    Each jax key entry carries one of these attributes: `DictKey.key`, `SequenceKey.idx`,
    `GetAttrKey.name`, `FlattenedIndexKey.key`; anything else is written with `str`."""
    parts = []
    for k in path:
        for attr in ("key", "idx", "name"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)
