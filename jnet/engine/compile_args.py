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
            raise ValueError(
                f"compile: {what} has key(s) {bad} that are not outputs of the model; expected keys from {names}"
            )
        return [value.get(k) for k in names]
    if isinstance(value, (list, tuple)):
        if what in ("loss", "loss_weights") or n > 1 and all(not is_leaf(v) for v in value):
            if len(value) != n:
                raise ValueError(
                    f"compile: {what} is a list of {len(value)} entries but the model has {n} "
                    f"output(s) {names}; give one per output or a dict keyed by output name"
                )
            return list(value)
        return [list(value)] * n  # a flat list of metrics applies to every output
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


_COMPILE_FIELDS = (
    "optimizer",
    "loss",
    "loss_weights",
    "metrics",
    "weighted_metrics",
    "run_eagerly",
    "steps_per_execution",
    "jit_compile",
    "gradient_accumulation_steps",
)


def compile_args_from_config(config, check) -> dict:
    """`compile`'s keyword arguments from a compile config (`get_compile_config()`'s dict),
    each field deserialized and passed alone to `check(optimizer=..., field=value)` (a
    `compile` on an unbuilt model), so an error names the field: `compile_config field 'loss'`."""
    from jnet import optimizers as O

    if not isinstance(config, dict):
        raise ValueError(f"compile_config must be a dict, got {type(config).__name__}")
    unknown = sorted(set(config) - set(_COMPILE_FIELDS))
    if unknown:
        raise ValueError(f"compile_config has unknown field(s) {unknown}; expected fields from {list(_COMPILE_FIELDS)}")
    if "optimizer" not in config:
        raise ValueError("compile_config field 'optimizer' is missing")

    def optimizer(value):
        if not isinstance(value, (str, dict)):
            raise ValueError(f"expected an optimizer name or a serialized optimizer dict, got {type(value).__name__}")
        return O.deserialize(value)

    readers = {
        "optimizer": optimizer,
        "loss": lambda v: deserialize_tree(v, "loss"),
        "metrics": lambda v: deserialize_tree(v, "metric"),
        "weighted_metrics": lambda v: deserialize_tree(v, "metric"),
    }
    args = {}
    for name, value in config.items():
        try:
            args[name] = readers[name](value) if name in readers else value
            probe = {"optimizer": args[name]} if name == "optimizer" else {"optimizer": "sgd", name: args[name]}
            check(**probe)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise ValueError(f"compile_config field {name!r} ({value!r}): {err}") from None
    return args
