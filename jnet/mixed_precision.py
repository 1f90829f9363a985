"""Mixed precision: float32 params, half-precision compute, float32 losses.

```python
jnet.mixed_precision.set_global_policy("mixed_bfloat16")
model = ...                      # layers built from now on: float32 params, bfloat16 compute
```

Under a `mixed_*` policy every layer stores its params in float32 and casts inputs and params
to the half type in its forward pass, so gradients with respect to the params are float32.
Softmax runs in float32 and the engine computes losses in float32. With `"mixed_float16"`,
wrap the optimizer in `LossScaleOptimizer` (float16 gradients underflow without it; bfloat16
has float32's range and needs no scaling).

A per-layer policy is the layer's `dtype` argument: `Dense(10, dtype="float32")` keeps one
layer (typically the output) in float32 under a mixed global policy.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnet import dtypes as _dtypes
from jnet import optimizers as _optimizers
from jnet import serialization as _registration
from jnet.optimizers.base import Optimizer


class DTypePolicy:
    """A dtype policy: the dtype variables are stored in and the dtype layers compute in.

    Args:
        name: `"float32"`, `"mixed_bfloat16"`, `"mixed_float16"`, or any dtype name
            (`"bfloat16"`: params and compute both bfloat16).

    Example:
    ```python
    policy = jnet.mixed_precision.Policy("mixed_bfloat16")
    policy.variable_dtype, policy.compute_dtype      # ('float32', 'bfloat16')
    ```
    """

    def __init__(self, name="float32"):
        if isinstance(name, DTypePolicy):
            name = name.name
        if not isinstance(name, str):
            name = jnp.dtype(name).name
        _dtypes._check(name)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return _dtypes.compute_dtype(self._name).name

    @property
    def variable_dtype(self) -> str:
        return _dtypes.variable_dtype(self._name).name

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self._name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras 2 / tf.keras name


def set_global_policy(policy) -> None:
    """Set the policy of every layer built from now on whose `dtype` is not given.

    Args:
        policy: a policy name (`"mixed_bfloat16"`, `"mixed_float16"`, `"float32"`, ...), a
            `DTypePolicy`, or `None` for the default `"float32"`.
    """
    _dtypes.set_global_policy(DTypePolicy(policy or "float32").name)


def global_policy() -> DTypePolicy:
    """The current global `DTypePolicy`."""
    return DTypePolicy(_dtypes.global_policy())


# --------------------------------------------------------------------------- loss scaling


class LossScaleState(NamedTuple):
    inner_state: Any
    loss_scale: jax.Array  # float32 scalar: the loss is multiplied by it before `grad`
    good_steps: jax.Array  # int32 scalar: finite steps since the scale last changed


def dynamic_loss_scale(
    inner: optax.GradientTransformation, initial_scale=2.0**15, dynamic_growth_steps=2000, min_scale=1.0
) -> optax.GradientTransformation:
    """Wrap `inner` so that it receives gradients of a *scaled* loss (optax style).

    `update` divides the incoming gradients by the current scale, and

    - if any of them is not finite: skips the step (updates are zero, the inner state is
      kept) and halves the scale (not below `min_scale`; Keras has no floor, but a scale that
      underflows to zero would poison every later step);
    - else: applies `inner`, and doubles the scale after `dynamic_growth_steps` finite steps.

    The train step multiplies the loss by `state.loss_scale` before differentiating
    (`LossScaleOptimizer.scale_loss`).
    """
    if initial_scale <= 0:
        raise ValueError(f"dynamic_loss_scale: initial_scale must be positive, got {initial_scale}")
    if int(dynamic_growth_steps) < 1:
        raise ValueError(f"dynamic_loss_scale: dynamic_growth_steps must be >= 1, got {dynamic_growth_steps}")

    def init_fn(params):
        return LossScaleState(inner.init(params), jnp.asarray(initial_scale, jnp.float32), jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        scale = state.loss_scale
        grads = jax.tree_util.tree_map(lambda g: (g.astype(jnp.float32) / scale).astype(g.dtype), updates)
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)] or [True]))
        # Non-finite grads would poison the inner state (Adam's moments): feed zeros instead
        # and throw that step's result away.
        safe = jax.tree_util.tree_map(lambda g: jnp.where(finite, g, jnp.zeros_like(g)), grads)
        new_updates, new_inner = inner.update(safe, state.inner_state, params)
        new_updates = jax.tree_util.tree_map(lambda u: jnp.where(finite, u, jnp.zeros_like(u)), new_updates)
        new_inner = jax.tree_util.tree_map(lambda n, o: jnp.where(finite, n, o), new_inner, state.inner_state)
        grow = state.good_steps + 1 >= dynamic_growth_steps
        new_scale = jnp.where(finite, jnp.where(grow, scale * 2.0, scale), jnp.maximum(scale * 0.5, min_scale))
        good = jnp.where(finite & ~grow, state.good_steps + 1, 0).astype(jnp.int32)
        return new_updates, LossScaleState(new_inner, new_scale.astype(jnp.float32), good)

    return optax.GradientTransformation(init_fn, update_fn)


def find_loss_scale(opt_state):
    """The loss scale held anywhere in an optimizer state, or `None` when there is none.

    The engine calls this in its train step: with a scale, it differentiates `loss * scale`
    (the `LossScaleState` transformation divides the gradients again)."""
    found = [
        s
        for s in jax.tree_util.tree_leaves(opt_state, is_leaf=lambda s: isinstance(s, LossScaleState))
        if isinstance(s, LossScaleState)
    ]
    return found[0].loss_scale if found else None


class LossScaleOptimizer(Optimizer):
    """An optimizer that dynamically scales the loss so float16 gradients do not underflow.

    Keras 3 semantics: the train step differentiates `loss * scale`; the gradients are divided
    by the scale again before the inner optimizer sees them. A step with a non-finite gradient
    is skipped (params and inner state unchanged) and halves the scale; `dynamic_growth_steps`
    finite steps in a row double it. `learning_rate` is the inner optimizer's, settable
    between steps as usual.

    Args:
        inner_optimizer: the optimizer to wrap (a jnet optimizer or its name, e.g. `"adam"`).
        initial_scale: the starting loss scale (high: a too-high scale drops fast).
        dynamic_growth_steps: finite steps between doublings of the scale.

    Example:
    ```python
    jnet.mixed_precision.set_global_policy("mixed_float16")
    model.compile(optimizer=jnet.mixed_precision.LossScaleOptimizer(jnet.optimizers.Adam()), loss="mse")
    ```
    A raw optax transformation gets the same behaviour from `dynamic_loss_scale(tx)`.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None, **kwargs):
        inner = _optimizers.get(inner_optimizer)
        if isinstance(inner, LossScaleOptimizer) or inner.full_batch:
            raise ValueError(
                f"LossScaleOptimizer: cannot wrap {type(inner).__name__}; wrap a Keras-named jnet optimizer"
            )
        if isinstance(inner, _optimizers.OptaxOptimizer):
            raise ValueError(
                "LossScaleOptimizer: for a raw optax transformation use jnet.mixed_precision.dynamic_loss_scale(tx)"
            )
        if kwargs:
            raise ValueError(
                f"LossScaleOptimizer: unsupported argument(s) {sorted(kwargs)}; set them on the inner optimizer"
            )
        super().__init__(learning_rate=inner._learning_rate, name=name or "loss_scale_optimizer")
        self.inner_optimizer = inner
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        dynamic_loss_scale(optax.identity(), self.initial_scale, self.dynamic_growth_steps)  # validates

    def _build(self, learning_rate):
        # The scale wraps the inner rule *inside* inject_hyperparams, so the learning rate stays
        # at the top of the state where the engine writes it.
        return dynamic_loss_scale(
            self.inner_optimizer._build(learning_rate), self.initial_scale, self.dynamic_growth_steps
        )

    @property
    def learning_rate(self):
        return Optimizer.learning_rate.fget(self)

    @learning_rate.setter
    def learning_rate(self, value):
        Optimizer.learning_rate.fset(self, value)
        self.inner_optimizer.learning_rate = value

    def scale_loss(self, loss, opt_state):
        """`loss` times the scale held in `opt_state`: differentiate this."""
        scale = find_loss_scale(opt_state)
        if scale is None:
            raise ValueError(
                "LossScaleOptimizer.scale_loss: opt_state holds no loss scale (was it made by this optimizer's tx?)"
            )
        return loss * scale.astype(loss.dtype)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "inner_optimizer": _optimizers.serialize(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = _optimizers.deserialize(config.pop("inner_optimizer"), custom_objects)
        return cls(inner, **config)

    def __repr__(self):
        return f"<LossScaleOptimizer inner={self.inner_optimizer!r}, initial_scale={self.initial_scale}>"


# Known to `jnet.optimizers.deserialize`, so compile configs (and saved models) that use it load
# back; it lives here because it wraps the optimizers module.
_optimizers._CLASSES.setdefault("LossScaleOptimizer", LossScaleOptimizer)
# Keras writes a layer's dtype as a `DTypePolicy` config (module "keras"): let it load.
_registration.register_family("mixed_precision", {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": DTypePolicy})

# Keras 3's newer names for the global policy (`keras.config.dtype_policy` /
# `set_dtype_policy`, also under `keras.mixed_precision`).
dtype_policy = global_policy
set_dtype_policy = set_global_policy

__all__ = [
    "DTypePolicy",
    "LossScaleOptimizer",
    "LossScaleState",
    "Policy",
    "dynamic_loss_scale",
    "find_loss_scale",
    "global_policy",
    "set_global_policy",
    "dtype_policy",
    "set_dtype_policy",
]
