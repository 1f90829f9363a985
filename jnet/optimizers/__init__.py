"""Optimizers: Keras names and defaults on optax (`"adam"`, `Adam(learning_rate=...)`, schedules,
clipping), any raw `optax.GradientTransformation`, and full-batch `LBFGS` / `NewtonCG`."""

from __future__ import annotations

import optax

from jnet.optimizers import schedules
from jnet.optimizers.base import OptaxOptimizer, Optimizer
from jnet.optimizers.keras_optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, Nadam,
                                              RMSprop)
from jnet.optimizers.second_order import LBFGS, NewtonCG

__all__ = [
    "Optimizer", "OptaxOptimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
    "Nadam", "Lion", "LBFGS", "NewtonCG", "schedules", "get", "serialize", "deserialize",
]

_CLASSES = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion,
                                    LBFGS, NewtonCG)}
_ALIASES = {name.lower(): cls for name, cls in _CLASSES.items()}
_ALIASES.update({"newton_cg": NewtonCG, "l-bfgs": LBFGS, "l_bfgs": LBFGS})


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
            raise ValueError(f"Unknown optimizer {identifier!r}. Valid names: {sorted(_ALIASES)}")
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
    name = config.get("class_name")
    cls = _CLASSES.get(name) or (custom_objects or {}).get(name)
    if cls is None:
        raise ValueError(f"Unknown optimizer class {name!r}. Valid: {sorted(_CLASSES)}")
    return cls.from_config(config.get("config", {}))
