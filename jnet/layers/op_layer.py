"""`OpLayer`: a `jnet.ops` call (or a Python operator) on symbolic tensors, as a graph node.

`x + y`, `x[:, 0]`, `ops.reshape(x, (-1, 4))` on tensors from `jnet.Input` each become one of
these in the graph; it is saved by the op's name and its constant arguments, and loaded without
running any code from the file.
"""

from __future__ import annotations

from typing import Any

from jnet.core import symbolic
from jnet.layers.base import Layer, to_snake_case

__all__ = ["OpLayer"]


class OpLayer(Layer):
    """Runs `jnet.ops.<op>` on its inputs.

    Args:
        op: the op's name in `jnet.ops` (`"add"`, `"reshape"`, `"image.resize"`), or `"getitem"`
            for indexing.
        index: the index for `"getitem"` (ints, None, Ellipsis and slices, saved as JSON).
    """

    op: str = "add"
    index: Any = None

    def check_config(self):
        if self.op != "getitem":
            _resolve(self.op, self._label)

    @classmethod
    def _call_keywords(cls):
        return frozenset()  # an op takes none of training / mask / rng

    def call(self, *args, **kwargs):
        if self.op == "getitem":
            return args[0][_decode_index(self.index)]
        return _resolve(self.op, self._label)(*args, **kwargs)


def _resolve(name, label):
    from jnet import ops

    target = ops
    for part in name.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ValueError(f"{label}: jnet.ops has no op {name!r}")
    return target


def _encode_index(index):
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for item in items:
        if isinstance(item, slice):
            out.append({"slice": [item.start, item.stop, item.step]})
        elif item is Ellipsis:
            out.append("...")
        elif item is None or isinstance(item, int):
            out.append(item)
        else:
            raise TypeError(f"indexing a symbolic tensor takes ints, slices, None and ..., got {item!r}")
    return {"tuple": isinstance(index, tuple), "items": out}


def _decode_index(encoded):
    items = []
    for item in encoded["items"]:
        if isinstance(item, dict):
            items.append(slice(*item["slice"]))
        elif item == "...":
            items.append(Ellipsis)
        else:
            items.append(item)
    return tuple(items) if encoded["tuple"] else items[0]


def _record(name, args, kwargs):
    if name == "getitem":
        layer = OpLayer(op="getitem", index=_encode_index(kwargs.pop("index")), name="getitem")
    else:
        layer = OpLayer(op=name, name=to_snake_case(name.rsplit(".", 1)[-1]))
    layer._auto_named = True
    layer._default_name = layer.name  # named after the op in summaries: add, add_1, ...
    return layer(*args, **kwargs)


symbolic._OP_HANDLER[:] = [_record]
