"""Compile arguments per output: `loss`, `loss_weights`, `metrics` given as one value, a list
per output or a dict by output name, checked against the model's outputs; and their JSON
(de)serialization for `get_compile_config` / `compile_from_config`."""

from __future__ import annotations


def per_output(value, names, what, *, is_leaf):
    """A compile argument (single, list per output, dict by output name) -> list per output."""
    n = len(names)
    if value is None:
        return [None] * n
    if isinstance(value, dict) and not (what == "loss" and "class_name" in value):
        bad = [k for k in value if k not in names]
        if bad:
            raise ValueError(f"compile: {what} has key(s) {bad} that are not outputs of the model; "
                             f"expected keys from {names}")
        return [value.get(k) for k in names]
    if isinstance(value, (list, tuple)):
        if what in ("loss", "loss_weights") or n > 1 and all(not is_leaf(v) for v in value):
            if len(value) != n:
                raise ValueError(f"compile: {what} is a list of {len(value)} entries but the model has {n} "
                                 f"output(s) {names}; give one per output or a dict keyed by output name")
            return list(value)
        return [list(value)] * n     # a flat list of metrics applies to every output
    return [value] * n


def is_metric_leaf(v):
    return not isinstance(v, (list, tuple, dict)) or (isinstance(v, dict) and "class_name" in v)


def check_metric_name(name):
    from jnet import metrics as M

    try:
        M.get(name, y_true_shape=(2, 3), y_pred_shape=(2, 3))
    except ValueError as e:
        if "nknown" in str(e) or "alid" in str(e):
            raise


def serialize_tree(value, kind):
    from jnet import losses as L
    from jnet import metrics as M

    def one(v):
        if v is None or isinstance(v, str):
            return v
        return L.serialize(v) if kind == "loss" else M.serialize(v)

    if isinstance(value, dict) and "class_name" not in value:
        return {k: serialize_tree(v, kind) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [serialize_tree(v, kind) for v in value]
    return one(value)


def deserialize_tree(value, kind):
    from jnet import losses as L
    from jnet import metrics as M

    if isinstance(value, dict) and "class_name" in value:
        return L.deserialize(value) if kind == "loss" else M.deserialize(value)
    if isinstance(value, dict):
        return {k: deserialize_tree(v, kind) for k, v in value.items()}
    if isinstance(value, list):
        return [deserialize_tree(v, kind) for v in value]
    return value
