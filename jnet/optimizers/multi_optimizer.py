"""`MultiOptimizer` and `OptimizerMap`: a different optimizer for different variables (Keras 3).

Each variable goes to the optimizer its path (`"layer_name/weight_name"`, as Keras's
`variable.path`) selects; the transformation is optax's `multi_transform` over those labels, so
each optimizer keeps its own state (and learning rate or schedule) for its variables only.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping

import jax
import optax

from jnet.optimizers.base import Optimizer


class VariableInfo:
    """What a selector function sees of a variable: `path`, `name`, `shape`, `dtype`."""

    def __init__(self, path, array):
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        self.shape = tuple(array.shape)
        self.dtype = array.dtype

    def __repr__(self):
        return f"<Variable path={self.path!r} shape={self.shape}>"


def _path_name(path) -> str:
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return "/".join(parts)


def _check_member(optimizer, where):
    from jnet.mixed_precision import LossScaleOptimizer

    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"{where}: expected a jnet optimizer, got {optimizer!r}")
    if isinstance(optimizer, LossScaleOptimizer):
        raise ValueError(f"{where}: the optimizer cannot be a LossScaleOptimizer")
    if isinstance(optimizer, MultiOptimizer):
        raise ValueError(f"{where}: the optimizer cannot be a MultiOptimizer")
    if getattr(optimizer, "use_ema", False):
        raise ValueError(f"{where}: jnet's MultiOptimizer does not support sub-optimizers with use_ema=True")
    if optimizer.full_batch or optimizer.needs_value_fn:
        raise ValueError(f"{where}: {type(optimizer).__name__} cannot be part of a MultiOptimizer")


class OptimizerMap(MutableMapping):
    """Maps variable paths (exact, or regular expressions matched with `re.fullmatch`) to
    optimizers; unmatched variables go to `default_optimizer`.

    Args:
        default_optimizer: the optimizer of every variable no key matches.
        optimizer_map: an optional dict `{path or pattern: optimizer}`.

    Example:
    ```python
    opt_map = jnet.optimizers.OptimizerMap(jnet.optimizers.SGD(0.01))
    opt_map["encoder/.*"] = jnet.optimizers.Adam(1e-3)
    model.compile(optimizer=jnet.optimizers.MultiOptimizer(opt_map), loss="mse")
    ```
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(f"OptimizerMap: default_optimizer must be a jnet optimizer, got {default_optimizer!r}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"OptimizerMap: optimizer_map must be a dict, got {optimizer_map!r}")
        _check_member(default_optimizer, "OptimizerMap")
        self._default_optimizer = default_optimizer
        self._optimizer_map = {}
        for key, optimizer in (optimizer_map or {}).items():
            self[key] = optimizer

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, key):
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, key)]
        if len(matching) > 1:
            raise ValueError(f"OptimizerMap: multiple optimizers assigned to variable {key!r} (patterns {matching})")
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key, optimizer):
        if not isinstance(key, str):
            raise ValueError(f"OptimizerMap: key must be a string, got {key!r}")
        if key in self._optimizer_map:
            raise ValueError(f"OptimizerMap: {key!r} is already mapped to {self._optimizer_map[key]!r}")
        _check_member(optimizer, "OptimizerMap")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable):
        return self[variable.path]

    def get_config(self):
        from jnet import optimizers

        return {
            "default_optimizer": optimizers.serialize(self._default_optimizer),
            "optimizer_map": {k: optimizers.serialize(v) for k, v in self._optimizer_map.items()},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from jnet import optimizers

        mapping = config.get("optimizer_map") or {}
        return cls(
            optimizers.deserialize(config["default_optimizer"], custom_objects),
            {k: optimizers.deserialize(v, custom_objects) for k, v in mapping.items()},
        )


class MultiOptimizer(Optimizer):
    """Trains each variable with the optimizer `optimizer_map` selects for it (Keras 3).

    Args:
        optimizer_map: an `OptimizerMap`, or a function of a variable (it reads
            `variable.path`, `"layer_name/weight_name"`, and `shape` / `dtype`) returning an
            optimizer.
        loss_scale_factor: not supported by jnet (must be None).
        name: the optimizer's name.

    The sub-optimizers' learning rates (or schedules) are read when training starts; the
    MultiOptimizer itself has no `learning_rate` (as Keras). `optimizers` lists the
    sub-optimizers.

    Example:
    ```python
    def select(variable):
        return adam if variable.path.startswith("encoder") else sgd
    model.compile(optimizer=jnet.optimizers.MultiOptimizer(select), loss="mse")
    ```
    """

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if loss_scale_factor is not None:
            raise ValueError("MultiOptimizer: loss_scale_factor is not supported by jnet (use LossScaleOptimizer)")
        if not callable(optimizer_map):
            raise TypeError(
                f"MultiOptimizer: optimizer_map must be an OptimizerMap or a function, got {optimizer_map!r}"
            )
        super().__init__(learning_rate=0.0, name=name or "multi_optimizer")
        self._optimizer_map = optimizer_map
        self._inner_optimizers = []
        if isinstance(optimizer_map, OptimizerMap):
            for optimizer in [*optimizer_map.values(), optimizer_map.default_optimizer]:
                if optimizer not in self._inner_optimizers:
                    self._inner_optimizers.append(optimizer)

    @property
    def optimizers(self) -> list:
        """The sub-optimizers (those found so far, for a selector function)."""
        return self._inner_optimizers

    @property
    def learning_rate(self):
        raise AttributeError(
            "MultiOptimizer has no learning rate; read it on the sub-optimizers (`optimizer.optimizers`)"
        )

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError("MultiOptimizer: set the learning rate on the sub-optimizers (`optimizer.optimizers`)")

    @property
    def injected_learning_rate(self):
        return None

    def _labels(self, params):
        def label(path, array):
            optimizer = self._optimizer_map(VariableInfo(_path_name(path), array))
            _check_member(optimizer, f"MultiOptimizer (variable {_path_name(path)!r})")
            if optimizer not in self._inner_optimizers:
                self._inner_optimizers.append(optimizer)
            return str(self._inner_optimizers.index(optimizer))

        return jax.tree_util.tree_map_with_path(label, params)

    def _rule_for(self, params):
        labels = self._labels(params)
        transforms = {str(i): optimizer.tx for i, optimizer in enumerate(self._inner_optimizers)}
        return optax.multi_transform(transforms, labels)

    @property
    def tx(self) -> optax.GradientTransformation:
        if self._tx is None:

            def init(params):
                return self._rule_for(params).init(params)

            def update(updates, state, params=None):
                if params is None:
                    raise ValueError("MultiOptimizer: the update needs the params (to pick each one's optimizer)")
                return self._rule_for(params).update(updates, state, params)

            self._tx = optax.GradientTransformation(init, update)
        return self._tx

    def get_config(self):
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise ValueError("MultiOptimizer: a selector function cannot be serialized; use an OptimizerMap")
        return {
            "optimizer_map": {
                "module": "jnet.optimizers",  # Keras's form: a .keras file written by jnet loads in Keras
                "class_name": "OptimizerMap",
                "config": self._optimizer_map.get_config(),
                "registered_name": None,
            },
            "loss_scale_factor": None,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        mapping = config["optimizer_map"]
        if isinstance(mapping, dict):
            mapping = OptimizerMap.from_config(mapping.get("config", mapping), custom_objects)
        return cls(mapping, config.get("loss_scale_factor"), config.get("name"))

    def __repr__(self):
        return f"<MultiOptimizer optimizers={[type(o).__name__ for o in self._inner_optimizers]}>"


__all__ = ["MultiOptimizer", "OptimizerMap"]
