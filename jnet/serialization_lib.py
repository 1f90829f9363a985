"""Keras 3's object serialization: `serialize_keras_object` / `deserialize_keras_object`.

An object becomes `{"module", "class_name", "config", "registered_name"}`, as in Keras 3:
`module` is the public jnet module (`"jnet.initializers"`) or the user's module, and
`registered_name` is the `"package>name"` of a registered custom object (None for
built-ins). Functions are `{"class_name": "function", "config": name}`. Configs that Keras
itself wrote for its built-in classes load too (module `"keras.initializers"` and so on).

No pickle and no code execution: a lambda is refused when saving; names resolve through
`custom_objects`, `custom_object_scope` and registration (`jnet.serialization`).
"""

from __future__ import annotations

import inspect

import numpy as np

from jnet import serialization as _reg

PLAIN_TYPES = (str, int, float, bool)
_KIND = {
    "initializers": "initializer",
    "regularizers": "regularizer",
    "constraints": "constraint",
    "layers": "layer",
    "activations": "activation",
    "losses": "loss",
    "metrics": "metric",
    "optimizers": "optimizer",
}


def _public_module(cls) -> str:
    family = _reg.family_of(cls)
    if family is not None:
        return f"jnet.{family}"
    module = cls.__module__
    if module.startswith("jnet."):
        return ".".join(module.split(".")[:2])
    return module


def _builtin_function_name(fn):
    for tables in _reg._FAMILIES.values():
        for name, f in tables["functions"].items():
            if f is fn:
                return name
    return None


def _is_function(obj) -> bool:
    # jax.numpy functions are jitted callables, not FunctionType: anything callable that is
    # neither a class nor a config-carrying object counts as a function.
    return callable(obj) and not inspect.isclass(obj) and not hasattr(obj, "get_config")


def _serialize_function(fn) -> dict:
    if getattr(fn, "__name__", None) == "<lambda>":
        raise TypeError(
            f"serialize_keras_object: {fn!r} is a lambda, and jnet never saves code. Use a named "
            "function registered with @jnet.saving.register_keras_serializable()."
        )
    if _reg.is_registered(fn):
        name = _reg.registered_name(fn)
        return {
            "module": getattr(fn, "__module__", None),
            "class_name": "function",
            "config": name,
            "registered_name": name,
        }
    name = _builtin_function_name(fn) or getattr(fn, "__name__", None)
    if name is None:
        raise TypeError(f"serialize_keras_object: cannot serialize {fn!r}: it has no name.")
    # Keras writes every unregistered function as a "builtins" function known by its name.
    return {"module": "builtins", "class_name": "function", "config": name, "registered_name": "function"}


def serialize_keras_object(obj):
    """The JSON-friendly config of `obj`, in Keras 3's format.

    Args:
        obj: a jnet object with `get_config` (layer, model, initializer, loss, optimizer ...),
            a function (activation, loss, registered function), or plain data (numbers,
            strings, lists, dicts, numpy/jax arrays).

    Returns:
        A dict `{"module", "class_name", "config", "registered_name"}` for objects and
        functions; plain data as is (arrays as `{"class_name": "__numpy__", ...}`).

    Example:
    ```python
    config = jnet.saving.serialize_keras_object(jnet.initializers.HeNormal(seed=1))
    # {'module': 'jnet.initializers', 'class_name': 'HeNormal', 'config': {'seed': 1},
    #  'registered_name': None}
    jnet.saving.deserialize_keras_object(config)   # a HeNormal(seed=1)
    ```
    """
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, np.ndarray) or (hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__array__")):
        arr = np.asarray(obj)
        if arr.ndim == 0:
            return arr.item()
        return {"class_name": "__numpy__", "config": {"value": arr.tolist(), "dtype": arr.dtype.name}}
    if isinstance(obj, np.dtype):
        return obj.name
    if hasattr(obj, "get_config"):
        config = obj.get_config()
        if not isinstance(config, dict):
            raise TypeError(
                f"serialize_keras_object: {type(obj).__name__}.get_config() must return a dict, got {config!r}"
            )
        cls = type(obj)
        registered = (
            _reg.registered_name(cls) if (_reg.is_registered(cls) or not cls.__module__.startswith("jnet.")) else None
        )
        result = {
            "module": _public_module(cls),
            "class_name": cls.__name__,
            "config": serialize_keras_object(config),
            "registered_name": registered,
        }
        _add_build_and_compile_config(obj, result)
        return result
    if _is_function(obj):
        return _serialize_function(obj)
    raise TypeError(
        f"serialize_keras_object: cannot serialize {obj!r} of type {type(obj).__name__}: "
        "a serializable class must implement get_config()."
    )


def _add_build_and_compile_config(obj, config):
    if hasattr(obj, "get_build_config"):
        build_config = obj.get_build_config()
        if build_config is not None:
            config["build_config"] = serialize_keras_object(build_config)
    if getattr(obj, "compiled", False) and hasattr(obj, "get_compile_config"):
        compile_config = obj.get_compile_config()
        if compile_config is not None:
            config["compile_config"] = serialize_keras_object(compile_config)


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """Rebuild an object from its config (from `serialize_keras_object`, from jnet's
    `{"class_name", "config"}`, or written by Keras 3 for one of its built-in classes).

    Args:
        config: the config: a dict, a list of configs, a plain value, or the name of a custom
            object.
        custom_objects: `{name: class_or_function}` for custom objects that are not registered;
            looked up before the open `custom_object_scope`s and the registered objects.
        safe_mode: refuse configs that would run code (a lambda, a `Lambda` layer's function
            imported by name); jnet never runs code from a config, so lambdas are always refused.
        module_objects: (keyword) a `{name: object}` table to resolve plain-string configs,
            as Keras's family deserializers pass.

    Returns:
        The object. Plain values come back unchanged.

    Raises:
        ValueError: the config names a class or function that nothing resolves (the message
            names it and says how to register it).
    """
    module_objects = kwargs.pop("module_objects", None)
    default_module = kwargs.pop("default_module", None)
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unexpected argument(s) {sorted(kwargs)}")
    if config is None:
        return None
    if isinstance(config, str):
        found = _reg.find_custom(config, custom_objects)
        if found is not None:
            return found
        if module_objects is not None and config in module_objects:
            return module_objects[config]
        return config
    if isinstance(config, PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode, default_module=default_module) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: could not parse config {config!r}")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode) for k, v in config.items()}
    special = _special(config, custom_objects, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    return _reg.deserialize(config, _reg.all_custom_objects(custom_objects), safe_mode, default_module=default_module)


_NOT_SPECIAL = object()


def _special(config, custom_objects, safe_mode):
    """The values Keras stores under reserved class names (arrays, bytes, slices ...)."""
    name, inner = config["class_name"], config.get("config") or {}
    if name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if name == "__tensor__":
        import jax.numpy as jnp

        return jnp.asarray(inner["value"], dtype=inner["dtype"])
    if name == "__bytes__":
        return inner["value"].encode("utf-8")
    if name == "__ellipsis__":
        return Ellipsis
    if name == "__slice__":
        parts = [deserialize_keras_object(inner.get(k), custom_objects, safe_mode) for k in ("start", "stop", "step")]
        return slice(*parts)
    if name == "__lambda__":
        raise ValueError(
            "deserialize_keras_object: the config holds a Python lambda (marshalled code). jnet never "
            "runs code from a config, whatever safe_mode says: define the function, register it with "
            "@jnet.saving.register_keras_serializable() and save it by name."
        )
    return _NOT_SPECIAL


def get_registered_name(obj) -> str:
    """The name `obj` is registered under (`"package>name"`), else its `__name__`.

    Example:
    ```python
    @jnet.saving.register_keras_serializable("my_package")
    class MyInit(jnet.initializers.Initializer): ...
    jnet.saving.get_registered_name(MyInit)   # 'my_package>MyInit'
    ```
    """
    return _reg.registered_name(obj)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function registered as `name`, or None.

    Looks in the open `custom_object_scope`s, the registered (global) custom objects,
    `custom_objects`, then `module_objects`, as Keras does.
    """
    for d in (*reversed(_reg._scope_dicts()), _reg._CUSTOM_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in d:
            return d[name]
    return None


# --------------------------------------------------------------------------- one family


def family_serialize(obj):
    """`serialize` of a family (initializers, regularizers, constraints, layers)."""
    return serialize_keras_object(obj)


def family_deserialize(config, family: str, custom_objects=None, by_name=None):
    """`deserialize` of a family: `config` is a dict (jnet's or Keras's form; a bare class
    name is looked up in `family` first) or a name, given to `by_name` when no custom object
    has it."""
    if isinstance(config, str):
        found = _reg.find_custom(config, custom_objects)
        if found is not None:
            return found
        if by_name is None:
            raise _reg.unknown_name_error(_KIND.get(family, family), config)
        return by_name(config)
    if not isinstance(config, dict):
        raise TypeError(f"jnet.{family}.deserialize: expected a config dict or a name, got {config!r}")
    return deserialize_keras_object(config, custom_objects, default_module=f"jnet.{family}")


def family_get(identifier, family: str, by_name, names=(), custom_objects=None):
    """`get` of a config-object family: None, a built-in name (`by_name`, which returns None for
    unknown names; `names` lists them for the error), a custom object's name, a config dict, a
    class, or a callable."""
    kind = _KIND.get(family, family)
    if identifier is None:
        return None
    if isinstance(identifier, str):
        obj = by_name(identifier)
        if obj is None:
            obj = _reg.find_custom(identifier, custom_objects)
            if obj is None:
                extra = f" Expected one of: {', '.join(sorted(names))}." if names else ""
                raise _reg.unknown_name_error(kind, identifier, extra)
    elif isinstance(identifier, dict):
        obj = family_deserialize(identifier, family, custom_objects)
    else:
        obj = identifier
    if inspect.isclass(obj):
        obj = obj()
    if callable(obj):
        return obj
    raise TypeError(
        f"Could not interpret {kind} identifier: {identifier!r} (expected a name, a config dict or a callable)"
    )


__all__ = [
    "deserialize_keras_object",
    "family_deserialize",
    "family_get",
    "family_serialize",
    "get_registered_name",
    "get_registered_object",
    "serialize_keras_object",
]


def serialize_layer(layer):
    """`jnet.layers.serialize`: a layer's config in Keras 3's form.

    Example:
    ```python
    config = jnet.layers.serialize(jnet.layers.Dense(3, activation="relu"))
    jnet.layers.deserialize(config)   # a new Dense(3, activation="relu")
    ```
    """
    return serialize_keras_object(layer)


def deserialize_layer(config, custom_objects=None):
    """`jnet.layers.deserialize`: a layer (or model) from its config, jnet's or Keras's form.

    Args:
        config: a dict from `jnet.layers.serialize` (or Keras's `keras.layers.serialize`
            for a built-in layer).
        custom_objects: `{name: object}` for custom classes and functions the config names.
    """
    if not isinstance(config, dict):
        raise TypeError(f"jnet.layers.deserialize: expected a config dict, got {config!r}")
    return family_deserialize(config, "layers", custom_objects)
