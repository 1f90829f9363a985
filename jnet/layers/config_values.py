"""Config values: what layer arguments look like in JSON (config objects as
`{"class_name", "config"}`, activations by name, dtypes by name) and back."""

from __future__ import annotations

import types

import jax.numpy as jnp
import numpy as np

from jnet.serialization import deserialize, serialize

__all__ = ["deserialize_value", "serialize_value"]


def serialize_value(value, where: str = "value"):
    """JSON-friendly form of a config value: config objects become `{"class_name", "config"}`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        # A tuple stays a tuple, as in Keras's configs (`get_config()["kernel_size"] == (3, 3)`);
        # JSON writes both as arrays.
        return (
            type(value)(serialize_value(v, where) for v in value)
            if isinstance(value, tuple)
            else [serialize_value(v, where) for v in value]
        )
    if isinstance(value, dict):
        return {str(k): serialize_value(v, where) for k, v in value.items()}
    if hasattr(value, "get_config"):
        return serialize(value)
    if isinstance(value, (np.dtype, type)) or hasattr(value, "dtype") and not hasattr(value, "shape"):
        return jnp.dtype(value).name
    if callable(value):
        from jnet import activations

        name = activations.serialize(value)
        if name is not None:
            return name
        if isinstance(value, types.FunctionType) and value.__name__ != "<lambda>":
            # Keras's form for an unregistered function: saved by its name, found again at load
            # time in `custom_objects` or a `custom_object_scope` (no code is saved).
            return {
                "module": "builtins",
                "class_name": "function",
                "config": value.__name__,
                "registered_name": "function",
            }
    raise TypeError(
        f"{where}: {value!r} cannot be saved as config (use a named function, a registered name or a class)"
    )


def deserialize_value(value, custom_objects=None, safe_mode=True):
    # safe_mode travels down: a wrapper's layer (TimeDistributed(Lambda)) loads as its owner does.
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        return deserialize(value, custom_objects, safe_mode)
    if isinstance(value, list):
        return [deserialize_value(v, custom_objects, safe_mode) for v in value]
    return value
