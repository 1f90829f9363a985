"""Learning-rate schedules with Keras names: `jnet.optimizers.schedules.ExponentialDecay`, ...

A schedule is a pure, jittable `step -> learning_rate` function (so it is also a valid optax
schedule) with a Keras config. Pass one as `learning_rate=` to any optimizer.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from jnet import serialization as _registry

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "CosineDecay",
    "PiecewiseConstantDecay",
    "InverseTimeDecay",
    "PolynomialDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
]


class LearningRateSchedule:
    """Base class: subclasses define `__call__(step)` (jittable) and `get_config()`."""

    def __call__(self, step):
        raise TypeError(f"{type(self).__name__} must define __call__(step)")

    def get_config(self) -> dict:
        return dict(self._config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _positive(cls, name, value):
    if not value or value <= 0:
        raise ValueError(f"{cls}: {name} must be > 0, got {value!r}")


def _progress(step, decay_steps, staircase):
    """`step / decay_steps`, floored when `staircase` (Exponential- and InverseTimeDecay)."""
    p = jnp.asarray(step, jnp.float32) / decay_steps
    return jnp.floor(p) if staircase else p


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (floored exponent if
    `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _positive("ExponentialDecay", "decay_steps", decay_steps)
        self._config = dict(
            initial_learning_rate=initial_learning_rate,
            decay_steps=decay_steps,
            decay_rate=decay_rate,
            staircase=staircase,
            name=name,
        )

    def __call__(self, step):
        c = self._config
        p = _progress(step, c["decay_steps"], c["staircase"])
        return c["initial_learning_rate"] * jnp.power(jnp.float32(c["decay_rate"]), p)


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _positive("InverseTimeDecay", "decay_steps", decay_steps)
        self._config = dict(
            initial_learning_rate=initial_learning_rate,
            decay_steps=decay_steps,
            decay_rate=decay_rate,
            staircase=staircase,
            name=name,
        )

    def __call__(self, step):
        c = self._config
        p = _progress(step, c["decay_steps"], c["staircase"])
        return c["initial_learning_rate"] / (1.0 + c["decay_rate"] * p)


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from `initial_learning_rate` to `end_learning_rate` over `decay_steps`
    (restarting with a longer period when `cycle`), as Keras."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        _positive("PolynomialDecay", "decay_steps", decay_steps)
        self._config = dict(
            initial_learning_rate=initial_learning_rate,
            decay_steps=decay_steps,
            end_learning_rate=end_learning_rate,
            power=power,
            cycle=cycle,
            name=name,
        )

    def __call__(self, step):
        c = self._config
        step = jnp.asarray(step, jnp.float32)
        decay_steps = jnp.float32(c["decay_steps"])
        if c["cycle"]:
            decay_steps = decay_steps * jnp.where(step == 0, 1.0, jnp.ceil(step / decay_steps))
        else:
            step = jnp.minimum(step, decay_steps)
        p = step / decay_steps
        span = c["initial_learning_rate"] - c["end_learning_rate"]
        return span * jnp.power(1.0 - p, c["power"]) + c["end_learning_rate"]


class CosineDecay(LearningRateSchedule):
    """Cosine decay to `alpha * initial` over `decay_steps`, after an optional linear warmup
    from `initial_learning_rate` to `warmup_target` over `warmup_steps` (Keras semantics)."""

    def __init__(
        self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None, warmup_steps=0
    ):
        _positive("CosineDecay", "decay_steps", decay_steps)
        self._config = dict(
            initial_learning_rate=initial_learning_rate,
            decay_steps=decay_steps,
            alpha=alpha,
            name=name,
            warmup_target=warmup_target,
            warmup_steps=warmup_steps,
        )

    def _decay(self, step, decay_from):
        c = self._config
        cosine = 0.5 * (1.0 + jnp.cos(math.pi * step / c["decay_steps"]))
        return decay_from * ((1 - c["alpha"]) * cosine + c["alpha"])

    def __call__(self, step):
        c = self._config
        step = jnp.asarray(step, jnp.float32)
        if c["warmup_target"] is None:
            return self._decay(jnp.minimum(step, c["decay_steps"]), c["initial_learning_rate"])
        warm = max(c["warmup_steps"], 1e-12)
        step = jnp.minimum(step, c["decay_steps"] + c["warmup_steps"])
        warmup = (c["warmup_target"] - c["initial_learning_rate"]) * (step / warm) + c["initial_learning_rate"]
        decay = self._decay(step - c["warmup_steps"], c["warmup_target"])
        return jnp.where(step < c["warmup_steps"], warmup, decay)


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[1]` while `step <= boundaries[1]`, ...,
    `values[-1]` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstantDecay"):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"PiecewiseConstantDecay: values must have one more element than boundaries; got "
                f"{len(values)} values and {len(boundaries)} boundaries"
            )
        self._config = dict(boundaries=list(boundaries), values=list(values), name=name)

    def __call__(self, step):
        c = self._config
        step = jnp.asarray(step, jnp.float32)
        index = jnp.sum(step > jnp.asarray(c["boundaries"], jnp.float32))
        return jnp.asarray(c["values"], jnp.float32)[index]


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017): a cosine decay over
    `first_decay_steps`, then restarts, each period `t_mul` times longer and starting
    `m_mul` times lower than the one before.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: the length of the first period (> 0).
        t_mul: period growth factor (default 2.0).
        m_mul: restart-height factor (default 1.0).
        alpha: the floor, as a fraction of the period's start (default 0.0).
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        _positive("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        self._config = dict(
            initial_learning_rate=initial_learning_rate,
            first_decay_steps=first_decay_steps,
            t_mul=t_mul,
            m_mul=m_mul,
            alpha=alpha,
            name=name,
        )

    def __call__(self, step):
        c = self._config
        fraction = jnp.asarray(step, jnp.float32) / c["first_decay_steps"]
        t_mul = float(c["t_mul"])
        if t_mul == 1.0:
            restart = jnp.floor(fraction)
            fraction = fraction - restart
        else:  # periods grow geometrically: find the period `fraction` falls in
            restart = jnp.floor(jnp.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul**restart
        cosine = 0.5 * c["m_mul"] ** restart * (1.0 + jnp.cos(math.pi * fraction))
        return c["initial_learning_rate"] * ((1 - c["alpha"]) * cosine + c["alpha"])


_SCHEDULES = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        CosineDecay,
        PiecewiseConstantDecay,
        InverseTimeDecay,
        PolynomialDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule) -> dict:
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"Only jnet LearningRateSchedules serialize, got {type(schedule).__name__}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config, custom_objects=None) -> LearningRateSchedule:
    """A schedule from `serialize`'s output or a Keras 3 config; custom schedules resolve through
    `custom_objects`, the open `custom_object_scope`s and registration."""
    name = config.get("class_name") if isinstance(config, dict) else None
    custom = _registry.find_custom(config.get("registered_name") or name, custom_objects) if name else None
    if name not in _SCHEDULES and custom is None:
        raise _registry.unknown_name_error("learning-rate schedule", name, f" Valid: {sorted(_SCHEDULES)}.")
    cls, cfg = _registry.resolve(config, custom_objects, default_module="jnet.optimizers.schedules")
    return cls.from_config(cfg)


_registry.register_family("optimizers.schedules", _SCHEDULES)
