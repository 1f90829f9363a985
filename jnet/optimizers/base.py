"""`Optimizer`: a Keras-named optimizer on an optax `GradientTransformation`.

`optimizer.tx` is the optax transformation the engine runs. Keras optimizers are built with
`optax.inject_hyperparams`, so the learning rate lives in the optimizer state: setting
`optimizer.learning_rate = 0.01` between steps (callbacks do) changes training without a
recompile. Gradient clipping (`clipnorm`, `clipvalue`, `global_clipnorm`) and decoupled weight
decay (`weight_decay`) run as Keras does: clip the gradients, decay the variables by
`lr * weight_decay`, then apply the update rule. With `use_ema=True` the transformation also
keeps Keras's exponential moving average of the weights (`jnet.optimizers.ema`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jnet.optimizers import ema as _ema
from jnet.optimizers import schedules as _schedules
from jnet.optimizers.stateless import StatelessOptimizerMixin


def clip_by_norm_per_tensor(clipnorm):
    """Keras `clipnorm`: each gradient tensor rescaled to norm <= clipnorm."""

    def update(updates, state, params=None):
        def one(g):
            norm = jnp.sqrt(jnp.sum(jnp.square(g)))
            return g * clipnorm / jnp.maximum(norm, clipnorm)

        return jax.tree_util.tree_map(one, updates), state

    return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


def clip_by_global_norm(clipnorm):
    """Keras `global_clipnorm`: all gradients rescaled together to global norm <= clipnorm."""

    def update(updates, state, params=None):
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree_util.tree_leaves(updates)))
        scale = clipnorm * jnp.minimum(1.0 / norm, 1.0 / clipnorm)
        return jax.tree_util.tree_map(lambda g: g * scale.astype(g.dtype), updates), state

    return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


def with_weight_decay(rule: optax.GradientTransformation, learning_rate, weight_decay):
    """Add Keras's decoupled decay `-lr * wd * param` to the rule's update."""

    def update(updates, state, params=None):
        out, state = rule.update(updates, state, params)
        out = jax.tree_util.tree_map(lambda u, p: u - (learning_rate * weight_decay) * p, out, params)
        return out, state

    return optax.GradientTransformation(rule.init, update)


def _is_schedule(lr) -> bool:
    return callable(lr) and not isinstance(lr, (int, float))


class Optimizer(StatelessOptimizerMixin):
    """Base class of jnet's Keras-named optimizers.

    Args:
        learning_rate: a float, a `jnet.optimizers.schedules` schedule, or any optax schedule
            (a function of the step count).
        weight_decay: decoupled weight decay (Keras semantics: `var -= lr * weight_decay * var`).
        clipnorm: clip each gradient tensor to this norm.
        clipvalue: clip each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: clip all gradients together to this global norm.
        name: the optimizer's name.
        use_ema: keep an exponential moving average of the trained weights (Keras's Polyak
            averaging); `fit` ends with the weights set to it (`finalize_variable_values`), and
            `jnet.callbacks.SwapEMAWeights` evaluates with it.
        ema_momentum: the average's momentum: `average = m * average + (1 - m) * weight`
            (default 0.99; the first step takes the weight as is).
        ema_overwrite_frequency: every this many steps, overwrite the weights with their
            average (an int >= 1, or None: never during training).

    Subclasses define `_rule(learning_rate)` returning an optax transformation whose updates
    are the deltas to add to the params (already scaled by the learning rate).
    """

    _defaults: dict = {}
    full_batch = False  # second-order optimizers train on the whole data set per step
    needs_value_fn = False  # optax line searches need the loss as a function of params

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        **kwargs,
    ):
        label = type(self).__name__
        unsupported = {k: v for k, v in kwargs.items() if v not in (None, False, 0)}
        if unsupported:
            raise ValueError(f"{label}: unsupported argument(s) {sorted(unsupported)}")
        given = [
            n
            for n, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm))
            if v is not None
        ]
        if len(given) > 1:
            raise ValueError(f"{label}: only one of clipnorm, clipvalue, global_clipnorm can be set; got {given}")
        for n in given:
            if locals()[n] <= 0:
                raise ValueError(f"{label}: {n} must be > 0, got {locals()[n]}")
        _ema.check_arguments(label, use_ema, ema_momentum, ema_overwrite_frequency)
        if weight_decay is not None and weight_decay < 0:
            raise ValueError(f"{label}: weight_decay must be >= 0, got {weight_decay}")
        if not _is_schedule(learning_rate):
            if not isinstance(learning_rate, (int, float)) or isinstance(learning_rate, bool) or learning_rate < 0:
                raise ValueError(f"{label}: learning_rate must be a float >= 0 or a schedule, got {learning_rate!r}")
            learning_rate = float(learning_rate)
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name or _snake(label)
        self.use_ema = bool(use_ema)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self._lr_version = 0  # bumped by the setter; the engine writes the new value
        self._state_owner = None  # the engine's state owner (`attach_state`)
        self._tx = None

    # ------------------------------------------------------------------ optax

    def _rule(self, learning_rate) -> optax.GradientTransformation:
        raise TypeError(f"{type(self).__name__} must define _rule(learning_rate)")

    def _clip(self):
        if self.clipnorm is not None:
            return clip_by_norm_per_tensor(self.clipnorm)
        if self.global_clipnorm is not None:
            return clip_by_global_norm(self.global_clipnorm)
        if self.clipvalue is not None:
            return optax.clip(self.clipvalue)
        return None

    def _build(self, learning_rate):
        rule = self._rule(learning_rate)
        if self.weight_decay:
            rule = with_weight_decay(rule, learning_rate, self.weight_decay)
        clip = self._clip()
        return self._with_ema(optax.chain(clip, rule) if clip is not None else rule)

    def _with_ema(self, rule):
        """`rule` keeping the weights' moving average when `use_ema` (the outermost wrapper:
        the average sees the weights after clipping, decay and the update)."""
        if not self.use_ema:
            return rule
        return _ema.with_ema(rule, self.ema_momentum, self.ema_overwrite_frequency)

    @property
    def tx(self) -> optax.GradientTransformation:
        """The optax transformation (learning rate injected into its state)."""
        if self._tx is None:
            self._tx = optax.inject_hyperparams(self._build)(learning_rate=self._learning_rate)
        return self._tx

    # ------------------------------------------------------------------ learning rate

    @property
    def learning_rate(self):
        """The current learning rate as a Python float (a schedule is evaluated at the current
        iteration). Settable between steps when it is a constant."""
        if _is_schedule(self._learning_rate):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if _is_schedule(self._learning_rate):
            raise TypeError(
                f"{type(self).__name__}: this optimizer was created with a learning-rate schedule; "
                "its learning rate cannot be set. Create it with a float learning_rate instead."
            )
        value = float(value)
        if value < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got {value}")
        self._learning_rate = value
        self._lr_version += 1

    @property
    def injected_learning_rate(self):
        """The float the engine writes into the optimizer state (None for schedules)."""
        return None if _is_schedule(self._learning_rate) else self._learning_rate

    @property
    def iterations(self) -> int:
        """Steps taken so far by the model this optimizer trains (0 before any training)."""
        return 0 if self._state_owner is None else self._state_owner.step()

    @property
    def learning_rate_version(self) -> int:
        """A counter bumped each time `learning_rate` is set: the engine writes the new value
        into the training state when it changes."""
        return self._lr_version

    # ------------------------------------------------------------------ config

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        elif _is_schedule(lr):
            raise ValueError(f"{type(self).__name__}: a plain-function learning-rate schedule cannot be serialized")
        config = {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
        }
        config.update({k: getattr(self, k) for k in self._defaults})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self._learning_rate!r}>"


def _snake(name: str) -> str:
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class OptaxOptimizer(Optimizer):
    """Any raw `optax.GradientTransformation`, used as is. Its learning rate is settable when it
    was built with `optax.inject_hyperparams(...)(learning_rate=...)`."""

    def __init__(self, tx, name="optax"):
        if not isinstance(tx, optax.GradientTransformation):
            raise TypeError(f"OptaxOptimizer expects an optax.GradientTransformation, got {type(tx).__name__}")
        self._tx = tx
        self.name = name
        self._learning_rate = None
        self.weight_decay = self.clipnorm = self.clipvalue = self.global_clipnorm = None
        self.use_ema, self.ema_momentum, self.ema_overwrite_frequency = False, 0.99, None
        self._lr_version = 0
        self._state_owner = None
        self.needs_value_fn = (
            "value_fn" in getattr(tx.update, "__code__", type("c", (), {"co_varnames": ()})).co_varnames
        )

    @property
    def tx(self):
        return self._tx

    @property
    def learning_rate(self):
        hp = getattr(self.live_state(), "hyperparams", None)
        if self._learning_rate is None and hp is not None and "learning_rate" in hp:
            return float(hp["learning_rate"])
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = float(value)
        self._lr_version += 1

    @property
    def injected_learning_rate(self):
        return self._learning_rate

    def get_config(self):
        raise ValueError("A raw optax transformation cannot be serialized; save the weights instead")
