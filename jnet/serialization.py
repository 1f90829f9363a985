"""The registry of serialisable objects: configs name a class or function, never pickle one.

Three places resolve a name, in this order:

1. `custom_objects=` passed to the loading function, then the dicts of the active
   `custom_object_scope`s (innermost first);
2. the global custom objects: everything registered with `@jnet.saving.register_keras_serializable()`
   (alias `@jnet.register_serializable()`), stored as `"package>name"`, plus whatever the user puts
   in `get_custom_objects()`;
3. jnet's built-ins: layers register themselves by class name; each family (initializers,
   losses, ...) registers its table of classes and functions with `register_family`, so a
   config's `module` ("keras.losses", "jnet.metrics") picks the right one of two same-named
   classes (the `MeanSquaredError` loss or metric).

Configs are read in jnet's form (`{"class_name", "config"}`) and in Keras 3's
(`{"module", "class_name", "config", "registered_name"}`), see `jnet.keras_configs`.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading

from jnet import keras_configs

_REGISTRY: dict[str, type] = {}  # jnet's built-in classes, by class name
_CUSTOM_OBJECTS: dict[str, object] = {}  # registered or user-added objects (get_custom_objects)
_CUSTOM_NAMES: dict[object, str] = {}  # object -> its registered "package>name"
_FAMILIES: dict[str, dict[str, dict]] = {}  # "losses" -> {"classes": {...}, "functions": {...}}
_SCOPES = threading.local()  # custom_object_scope dicts of this thread, outermost first


class ConfigObject:
    """Base of small config objects (initializers, regularizers): each subclass becomes a
    dataclass whose fields are its config, registered by class name. A family's own base
    class passes `family=True` and stays a plain, unregistered class."""

    def __init_subclass__(cls, family: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if not family:
            dataclasses.dataclass(cls)
            if cls.__module__.startswith("jnet."):
                _REGISTRY.setdefault(cls.__name__, cls)

    def get_config(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# --------------------------------------------------------------------------- custom objects


def get_custom_objects() -> dict:
    """The live global dictionary of custom objects (Keras's `get_custom_objects`).

    Registered objects are in it under `"package>name"`; adding an entry makes a name loadable
    everywhere jnet resolves names. Objects of a `custom_object_scope` are not in it.

    Example:
    ```python
    jnet.saving.get_custom_objects()["my_init"] = MyInit
    jnet.initializers.get("my_init")   # a MyInit()
    ```
    """
    return _CUSTOM_OBJECTS


def _scope_dicts() -> list:
    if not hasattr(_SCOPES, "stack"):
        _SCOPES.stack = []
    return _SCOPES.stack


class CustomObjectScope:
    """Makes custom classes and functions known to deserialization while the scope is open.

    Inside `with custom_object_scope({"my_reg": my_reg}):`, `load_model`, `model_from_json`,
    `deserialize_keras_object` and every family's `get` / `deserialize` find `"my_reg"`.
    Nested scopes add to each other (the innermost wins a clash).

    Args:
        custom_objects: a dict `{name: object}` (or None).

    Example:
    ```python
    with jnet.saving.custom_object_scope({"my_regularizer": my_regularizer}):
        layer = jnet.layers.Dense.from_config(config)
    ```
    """

    def __init__(self, custom_objects=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"custom_object_scope: custom_objects must be a dict, got {type(custom_objects).__name__}")
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scope_dicts().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        stack = _scope_dicts()
        if stack and stack[-1] is self.custom_objects:
            stack.pop()


custom_object_scope = CustomObjectScope


def register_serializable(package: str = "Custom", name: str | None = None):
    """Decorator: make a class or function loadable by name (Keras's
    `register_keras_serializable`).

    It is stored in configs and in `get_custom_objects()` as `"package>name"` (`name` defaults
    to the object's `__name__`), so two packages may reuse a name. A class needs `get_config`
    (or is a dataclass, such as a Flax Linen module).

    Args:
        package: the package part of the registered name (default "Custom").
        name: the name part (default: the class or function's `__name__`).

    Returns:
        The decorator; it returns the object unchanged.

    Example:
    ```python
    @jnet.saving.register_keras_serializable(package="my_project")
    def scaled_tanh(x):
        return 2.0 * jnet.activations.get("tanh")(x)

    jnet.saving.get_registered_name(scaled_tanh)   # 'my_project>scaled_tanh'
    ```
    """
    if not isinstance(package, str) or (name is not None and not isinstance(name, str)):
        raise TypeError(f"register_keras_serializable: package and name must be strings, got {package!r}, {name!r}")

    def decorator(obj):
        if inspect.isclass(obj) and not (hasattr(obj, "get_config") or dataclasses.is_dataclass(obj)):
            raise ValueError(
                f"register_keras_serializable: cannot register {obj.__name__}, a class without a get_config() method."
            )
        key = f"{package}>{name if name is not None else obj.__name__}"
        _CUSTOM_OBJECTS[key] = obj
        _CUSTOM_NAMES[obj] = key
        if inspect.isclass(obj):
            obj._registered_name = key  # read through the class's own __dict__: subclasses don't inherit it
        return obj

    return decorator


def registered_name(obj) -> str:
    """The name `obj` (a class or function) is stored under: its registered `"package>name"`,
    else its `__name__` (Keras's `get_registered_name`)."""
    try:
        if obj in _CUSTOM_NAMES:
            return _CUSTOM_NAMES[obj]
    except TypeError:  # unhashable
        pass
    own = getattr(obj, "__dict__", {}).get("_registered_name")
    return own or getattr(obj, "__name__", type(obj).__name__)


def is_registered(obj) -> bool:
    try:
        return obj in _CUSTOM_NAMES
    except TypeError:
        return False


def find_custom(name: str, custom_objects: dict | None = None, suffix: bool = False):
    """The custom object called `name` (None if none): `custom_objects`, then the open scopes
    (innermost first), then the global custom objects. `"package>name"` also finds an entry
    `"name"`; with `suffix`, a bare `"name"` also finds a registered `"package>name"` (functions
    saved by Keras <= 3.6 by bare name)."""
    if not isinstance(name, str):
        return None
    dicts = [custom_objects or {}, *reversed(_scope_dicts()), _CUSTOM_OBJECTS]
    for d in dicts:
        if name in d:
            return d[name]
    short = name.split(">")[-1]
    for d in dicts:
        if short in d:
            return d[short]
        if suffix and ">" not in name:
            for key, obj in d.items():
                if key.endswith(">" + name):
                    return obj
    return None


def all_custom_objects(custom_objects: dict | None = None) -> dict:
    """One dict of every custom object visible now (later sources lose clashes), for handing to
    a `CustomObjectScope` around nested loading."""
    merged = dict(_CUSTOM_OBJECTS)
    for d in _scope_dicts():
        merged.update(d)
    merged.update(custom_objects or {})
    return merged


def unknown_name_error(kind: str, name, extra: str = "") -> ValueError:
    """The error for a name nothing resolves: it names the name and both ways to supply it."""
    short = str(name).split(">")[-1]
    return ValueError(
        f"Unknown {kind} {name!r}.{extra} If it is a custom object, register it with "
        f"@jnet.saving.register_keras_serializable() (defined before loading), or pass "
        f"custom_objects={{{short!r}: {short}}} / open jnet.saving.custom_object_scope({{{short!r}: {short}}})."
    )


# --------------------------------------------------------------------------- families


def register_family(family: str, classes: dict, functions: dict | None = None):
    """Let configs whose `module` is `keras.<family>` or `jnet.<family>` find `classes` (by
    class name) and `functions` (by function name). The dicts are held live."""
    _FAMILIES[family] = {"classes": classes, "functions": functions or {}}


def family_of(obj) -> str | None:
    """The family whose table holds `obj` (a class or function), or None."""
    for family, tables in _FAMILIES.items():
        for table in tables.values():
            if any(v is obj for v in table.values()):
                return family
    return None


def builtin_class(class_name: str, module: str | None = None):
    """A jnet built-in class: from the family named by `module` first, else from the layer
    registry, else from any family."""
    family = keras_configs.family_from_module(module)
    if family in _FAMILIES and class_name in _FAMILIES[family]["classes"]:
        return _FAMILIES[family]["classes"][class_name]
    if class_name in _REGISTRY and family not in _FAMILIES:
        return _REGISTRY[class_name]
    for tables in _FAMILIES.values():
        if class_name in tables["classes"]:
            return tables["classes"][class_name]
    return _REGISTRY.get(class_name)


def builtin_function(name: str, module: str | None = None):
    """A jnet built-in function (activation, loss or metric function) by name."""
    family = keras_configs.family_from_module(module)
    order = [family] + [f for f in _FAMILIES if f != family]
    for f in order:
        if f in _FAMILIES and name in _FAMILIES[f]["functions"]:
            return _FAMILIES[f]["functions"][name]
    return None


# --------------------------------------------------------------------------- lookups


def get_registered(name: str, custom_objects: dict | None = None, module: str | None = None):
    """The class or function stored as `name`: custom objects first, then jnet's built-ins."""
    obj = find_custom(name, custom_objects)
    if obj is not None:
        return obj
    obj = builtin_class(name, module)
    if obj is not None:
        return obj
    raise unknown_name_error("layer or object class", name)


def lookup(name: str, builtins: dict, custom_objects: dict | None = None):
    """What `name` stands for in one family (losses, metrics, ...): custom objects first,
    then the family's `builtins` table, then the registry."""
    obj = find_custom(name, custom_objects)
    if obj is not None:
        return obj
    if name in builtins:
        return builtins[name]
    return get_registered(name, custom_objects)


def serialize(obj) -> dict:
    """`{"class_name": ..., "config": ...}` for a layer, model or config object."""
    return {"class_name": registered_name(type(obj)), "config": obj.get_config()}


def resolve(config: dict, custom_objects: dict | None = None, default_module: str | None = None):
    """`(obj, inner_config)` for a config in jnet's or Keras's form: the class it names (custom
    objects first, then the built-in of its `module`, else `default_module`'s family) and its
    config, adapted when Keras wrote it. A function config gives `(function, None)`."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a dict with 'class_name' and 'config', got {config!r}")
    module = config.get("module") or default_module
    class_name = config["class_name"]
    if class_name == "function":
        return _function_from_config({**config, "module": module}, custom_objects), None
    name = config.get("registered_name") or class_name
    obj = find_custom(name, custom_objects)
    if obj is None and name != class_name:
        obj = find_custom(class_name, custom_objects)
    if obj is None and keras_configs.may_be_builtin(config.get("module")):
        obj = builtin_class(class_name, module)
    if obj is None:
        raise unknown_name_error("class", name)
    if not inspect.isclass(obj):
        return obj, None  # a custom function (or instance) stored under a class name
    inner = config.get("config")
    if inner is None:
        inner = {}
    if not isinstance(inner, dict):
        raise TypeError(f"Expected the 'config' of {class_name!r} to be a dict, got {inner!r}")
    inner = dict(inner)
    if keras_configs.is_keras_module(config.get("module")):
        inner = keras_configs.adapt(obj, inner)
    else:
        inner = keras_configs.drop_unset_keras_args(obj, inner)
    return obj, inner


def deserialize(
    config: dict, custom_objects: dict | None = None, safe_mode: bool = True, default_module: str | None = None
):
    """Rebuild an object from `serialize`'s output (or a Keras 3 config), with no pickle and no
    code execution. The object's own `from_config` runs inside a scope holding
    `custom_objects`, so nested names (a custom initializer of a layer) resolve too."""
    obj, inner = resolve(config, custom_objects, default_module)
    if inner is None:
        return obj
    if not hasattr(obj, "from_config"):
        raise TypeError(f"Cannot rebuild {config['class_name']!r}: {obj.__name__} has no from_config() method.")
    kwargs = {"custom_objects": custom_objects, "safe_mode": safe_mode}
    try:
        params = inspect.signature(obj.from_config).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs = {k: v for k, v in kwargs.items() if k in params}
    with CustomObjectScope(custom_objects):
        instance = obj.from_config(inner, **kwargs)
        build_config = config.get("build_config")
        if build_config and hasattr(instance, "build_from_config") and not getattr(instance, "built", True):
            instance.build_from_config(build_config)
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    return instance


def _function_from_config(config, custom_objects):
    """A function stored as Keras does: `{"class_name": "function", "config": name, ...}`."""
    name = config.get("config")
    if not isinstance(name, str):
        raise TypeError(f"A 'function' config needs its name as a string in 'config', got {config!r}")
    registered = config.get("registered_name")
    keys = [k for k in (name, registered) if k and k != "function"]
    for key in keys:
        obj = find_custom(key, custom_objects)
        if obj is not None:
            return obj
    obj = builtin_function(name, config.get("module"))
    if obj is None:  # Keras <= 3.6 saved registered functions by bare name
        obj = find_custom(name, custom_objects, suffix=True)
    if obj is None:
        raise unknown_name_error("function", name)
    return obj
