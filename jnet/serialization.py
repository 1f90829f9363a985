"""The registry of serialisable classes: configs name a class, never pickle one.

Built-in layers, initializers and regularizers register themselves; user classes register with
`@jnet.register_serializable()` or come in through `custom_objects=` at load time.
"""

from __future__ import annotations

import dataclasses
import inspect

_REGISTRY: dict[str, type] = {}


class ConfigObject:
    """Base of small config objects (initializers, regularizers): each subclass becomes a
    dataclass whose fields are its config, registered by class name. A family's own base
    class passes `family=True` and stays a plain, unregistered class."""

    def __init_subclass__(cls, family: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if not family:
            dataclasses.dataclass(cls)
            _REGISTRY.setdefault(cls.__name__, cls)

    def get_config(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def get_config_object(identifier, kind: str, aliases: dict, classes: dict):
    """The `get` of a config-object family (`kind` "initializer", "regularizer"): a Keras name
    (`aliases`), a class name (`classes`), a config dict, or a callable; None stays None."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = aliases.get(identifier) or classes.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown {kind} {identifier!r}. Expected one of: {', '.join(sorted(aliases))}")
        return cls()
    if isinstance(identifier, dict):
        return classes[identifier["class_name"]].from_config(identifier["config"])
    if callable(identifier):
        return identifier
    raise TypeError(f"{kind} must be a name or a callable, got {identifier!r}")


def register_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: make a user layer (or any config object) loadable by name.

    Built-in jnet layers register themselves. A registered user class is stored in configs
    as `"package>Name"`, as Keras does, so two packages may reuse a class name.

    Example:
    ```python
    @jnet.register_serializable(package="my_project")
    class Scale(jnet.layers.Layer):
        factor: float = 2.0
        def call(self, params, x):
            return x * self.factor
    ```
    """

    def decorator(cls):
        key = f"{package}>{name or cls.__name__}"
        _REGISTRY[key] = cls
        cls._registered_name = key
        return cls

    return decorator


def registered_name(cls) -> str:
    return cls.__dict__.get("_registered_name") or cls.__name__


def get_registered(name: str, custom_objects: dict | None = None):
    """The class registered as `name`, looking in `custom_objects` first."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    short = name.split(">")[-1]
    if custom_objects and short in custom_objects:
        return custom_objects[short]
    if name in _REGISTRY:
        return _REGISTRY[name]
    raise ValueError(
        f"Unknown layer or object class {name!r}. Register it with "
        f"@jnet.register_serializable() or pass custom_objects={{{short!r}: {short}}}."
    )


def lookup(name: str, builtins: dict, custom_objects: dict | None = None):
    """What `name` stands for in one family (losses, metrics, ...): `custom_objects` first,
    then the family's `builtins` table, then the registry."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in builtins:
        return builtins[name]
    return get_registered(name, custom_objects)


def serialize(obj) -> dict:
    """`{"class_name": ..., "config": ...}` for a layer, model or config object."""
    return {"class_name": registered_name(type(obj)), "config": obj.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None, safe_mode: bool = True):
    """Rebuild an object from `serialize`'s output, with no pickle and no code execution."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a dict with 'class_name' and 'config', got {config!r}")
    cls = get_registered(config["class_name"], custom_objects)
    kwargs = {"custom_objects": custom_objects, "safe_mode": safe_mode}
    params = inspect.signature(cls.from_config).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in params}
    return cls.from_config(dict(config["config"]), **kwargs)
