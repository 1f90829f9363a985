"""Optimizers: Keras names and defaults on optax (`"adam"`, `Adam(learning_rate=...)`, schedules,
clipping), any raw `optax.GradientTransformation`, and full-batch `LBFGS` / `NewtonCG`."""

from __future__ import annotations

import inspect

import optax

from jnet import serialization as _registry
from jnet.optimizers import ema, schedules
from jnet.optimizers.base import OptaxOptimizer, Optimizer
from jnet.optimizers.keras_optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, Nadam, RMSprop
from jnet.optimizers.keras_optimizers_more import Adafactor, Ftrl, Lamb
from jnet.optimizers.keras_optimizers_new import Muon, ScheduleFreeAdamW
from jnet.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap
from jnet.optimizers.second_order import LBFGS, NewtonCG

__all__ = [
    "Optimizer",
    "OptaxOptimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "Lion",
    "LBFGS",
    "NewtonCG",
    "schedules",
    "get",
    "serialize",
    "deserialize",
    "Adafactor",
    "Ftrl",
    "Lamb",
    "LossScaleOptimizer",
    "Muon",
    "ScheduleFreeAdamW",
    "MultiOptimizer",
    "OptimizerMap",
]

_CLASSES = {
    c.__name__: c
    for c in (
        *(SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion, LBFGS, NewtonCG, Adafactor, Ftrl, Lamb),
        *(Muon, ScheduleFreeAdamW, MultiOptimizer),
    )
}
_ALIASES = {name.lower(): cls for name, cls in _CLASSES.items()}
_ALIASES.update({"newton_cg": NewtonCG, "l-bfgs": LBFGS, "l_bfgs": LBFGS})


def __getattr__(name):
    # LossScaleOptimizer lives in jnet.mixed_precision, which imports this package: resolve lazily.
    if name == "LossScaleOptimizer":
        from jnet.mixed_precision import LossScaleOptimizer

        return LossScaleOptimizer
    raise AttributeError(f"module 'jnet.optimizers' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "LossScaleOptimizer"])


def get(identifier) -> Optimizer:
    """An `Optimizer` from a name (`"adam"`, `"Adam"`), an instance, a config dict, or a raw
    `optax.GradientTransformation` (used as is). Unknown names list the valid ones."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower())
        if cls is None:
            found = _registry.find_custom(identifier)
            if found is None:
                raise _registry.unknown_name_error("optimizer", identifier, f" Valid names: {sorted(_ALIASES)}.")
            return get(found() if isinstance(found, type) else found)
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(
        f"Could not interpret optimizer {identifier!r}: give a name like 'adam', a jnet optimizer, "
        "or an optax.GradientTransformation"
    )


def serialize(optimizer) -> dict:
    optimizer = get(optimizer)
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None) -> Optimizer:
    """Rebuild an optimizer from `serialize`'s output, a Keras 3 config, or a name. Custom
    optimizers resolve through `custom_objects`, the open `custom_object_scope`s and
    registration."""
    if isinstance(config, str):
        found = _registry.find_custom(config, custom_objects)
        return get(found if found is not None else config)
    cls, cfg = _registry.resolve(config, custom_objects, default_module="jnet.optimizers")
    if cfg is None:
        raise TypeError(f"jnet.optimizers.deserialize: {config!r} names a function, not an optimizer")
    params = inspect.signature(cls.from_config).parameters
    with _registry.CustomObjectScope(custom_objects):
        if "custom_objects" in params:
            return cls.from_config(cfg, custom_objects=custom_objects)
        return cls.from_config(cfg)


_registry.register_family("optimizers", _CLASSES)
