"""Muon and ScheduleFreeAdamW with Keras 3's arguments and update rules.

Each rule is written from Keras's `update_step` and returns the deltas to add to the params.
Muon picks its rule per variable from the variable's path in the params tree
(`"layer_name/weight_name"`, as Keras's `variable.path`).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnet.optimizers.keras_optimizers_more import _VariableAwareOptimizer

tmap = jax.tree_util.tree_map


def _path_name(path) -> str:
    """`"dense/kernel"` for the tree path of the params leaf `params["dense"]["kernel"]`."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return "/".join(parts)


# ----------------------------------------------------------------------------- Muon


class MuonState(NamedTuple):
    count: jax.Array
    momentum: Any
    velocity: Any  # zeros of shape () for the variables Muon updates (Keras: no velocity)


def newton_schulz5(x, steps, a, b, c):
    """Keras's quintic Newton-Schulz iteration towards the orthogonal factor of `x` (2D+)."""
    transpose = x.shape[-2] > x.shape[-1]
    if transpose:
        x = jnp.swapaxes(x, -1, -2)
    x = x / (jnp.sqrt(jnp.sum(jnp.square(x), axis=(-2, -1), keepdims=True)) + 1e-7)
    for _ in range(steps):
        gram = x @ jnp.swapaxes(x, -1, -2)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return jnp.swapaxes(x, -1, -2) if transpose else x


def muon(lr, opt, use_adam):
    """The Muon rule of optimizer `opt` (its hyperparameters); `use_adam` is a params-shaped
    tree of bools: which variables take the AdamW step instead."""

    def init(params):
        velocity = tmap(lambda p, a: jnp.zeros_like(p) if a else jnp.zeros((), p.dtype), params, use_adam)
        return MuonState(jnp.zeros([], jnp.int32), tmap(jnp.zeros_like, params), velocity)

    def update(grads, state, params=None):
        t = (state.count + 1).astype(jnp.float32)
        adam_lr = lr * opt.adam_lr_ratio
        alpha = adam_lr * jnp.sqrt(1 - opt.adam_beta_2**t) / (1 - opt.adam_beta_1**t)

        def one(g, m, v, p, adam):
            g = g.astype(p.dtype)
            decay = opt.adam_weight_decay if adam else opt.weight_decay
            decay_delta = -(lr * decay) * p if decay else jnp.zeros_like(p)
            if adam:
                m = m + (g - m) * (1 - opt.adam_beta_1)
                v = v + (jnp.square(g) - v) * (1 - opt.adam_beta_2)
                return decay_delta - (m * alpha) / (jnp.sqrt(v) + opt.epsilon), m, v
            m = m + (g + m * (opt.momentum - 1))
            direction = g + opt.momentum * m if opt.nesterov else m
            step = lr * newton_schulz5(direction, opt.ns_steps, opt.muon_a, opt.muon_b, opt.muon_c)
            if opt.rms_rate is not None:
                step = step * jnp.sqrt(float(max(p.shape[0], p.shape[1]))) * opt.rms_rate
            return decay_delta - step.astype(p.dtype), m, v

        out = tmap(one, grads, state.momentum, state.velocity, params, use_adam)
        pick = lambda i: tmap(lambda _, o: o[i], params, out, is_leaf=lambda x: isinstance(x, tuple))  # noqa: E731
        return pick(0), MuonState(state.count + 1, pick(1), pick(2))

    return optax.GradientTransformation(init, update)


class Muon(_VariableAwareOptimizer):
    """Muon (Jordan et al., 2024): momentum orthogonalised by Newton-Schulz iterations for 2D
    weights, with the Moonlight learning-rate scaling; AdamW for every other variable (not 2D,
    embeddings, or a path matching `exclude_layers`).

    Args:
        learning_rate: default 0.001.
        adam_beta_1, adam_beta_2: the AdamW variables' moment decay rates (0.9, 0.999).
        adam_weight_decay: the AdamW variables' decoupled decay (0.004).
        epsilon: AdamW's epsilon (1e-7).
        weight_decay: the Muon variables' decoupled decay (0.004).
        exclude_layers: regular expressions; variables whose path (`"layer/weight"`) matches
            one take the AdamW step.
        exclude_embeddings: variables whose path contains "embedding" take the AdamW step
            (default True).
        muon_a, muon_b, muon_c: the Newton-Schulz coefficients (3.4445, -4.7750, 2.0315).
        adam_lr_ratio: the AdamW variables' learning rate as a multiple of `learning_rate`.
        momentum: Muon's momentum (0.95).
        ns_steps: Newton-Schulz iterations (5).
        nesterov: use Nesterov momentum (True).
        rms_rate: scale the step by `sqrt(max(rows, cols)) * rms_rate` (0.2; None: no scaling).

    Example:
    ```python
    model.compile(optimizer=jnet.optimizers.Muon(learning_rate=0.02), loss="mse")
    ```
    """

    _defaults = {
        "adam_beta_1": 0.9,
        "adam_beta_2": 0.999,
        "epsilon": 1e-7,
        "exclude_layers": None,
        "muon_a": 3.4445,
        "muon_b": -4.7750,
        "muon_c": 2.0315,
        "adam_lr_ratio": 1,
        "momentum": 0.95,
        "ns_steps": 5,
        "nesterov": True,
        "exclude_embeddings": True,
        "adam_weight_decay": 0.004,
        "rms_rate": 0.2,
    }

    def __init__(
        self,
        learning_rate=0.001,
        adam_beta_1=0.9,
        adam_beta_2=0.999,
        adam_weight_decay=0.004,
        epsilon=1e-7,
        weight_decay=0.004,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        name="muon",
        exclude_layers=None,
        exclude_embeddings=True,
        muon_a=3.4445,
        muon_b=-4.7750,
        muon_c=2.0315,
        adam_lr_ratio=1,
        momentum=0.95,
        ns_steps=5,
        nesterov=True,
        rms_rate=0.2,
        **kwargs,
    ):
        super().__init__(
            learning_rate,
            weight_decay,
            clipnorm,
            clipvalue,
            global_clipnorm,
            name,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            **kwargs,
        )
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(f"Muon: ns_steps must be an int >= 0, got {ns_steps!r}")
        if adam_weight_decay is not None and adam_weight_decay < 0:
            raise ValueError(f"Muon: adam_weight_decay must be >= 0, got {adam_weight_decay}")
        self.adam_beta_1, self.adam_beta_2, self.epsilon = adam_beta_1, adam_beta_2, epsilon
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio, self.momentum, self.ns_steps = adam_lr_ratio, momentum, ns_steps
        self.nesterov, self.exclude_embeddings = bool(nesterov), bool(exclude_embeddings)
        self.exclude_layers = list(exclude_layers or [])
        self.adam_weight_decay, self.rms_rate = adam_weight_decay, rms_rate

    def should_use_adamw(self, path: str, shape) -> bool:
        """Whether the variable at `path` (`"layer/weight"`) of `shape` takes the AdamW step."""
        if len(shape) != 2:
            return True
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def _build(self, learning_rate):
        opt = self

        def init(params):
            return rule(params).init(params)

        def update(grads, state, params=None):
            return rule(params).update(grads, state, params)

        def rule(params):
            use_adam = jax.tree_util.tree_map_with_path(
                lambda path, p: opt.should_use_adamw(_path_name(path), p.shape), params
            )
            return muon(learning_rate, opt, use_adam)

        # Weight decay is inside the rule (two rates); the clip runs first, as Keras.
        chained = optax.GradientTransformation(init, update)
        clip = self._clip()
        return self._with_ema(optax.chain(clip, chained) if clip is not None else chained)


# ----------------------------------------------------------------------------- ScheduleFreeAdamW


class ScheduleFreeState(NamedTuple):
    count: jax.Array
    momentum: Any  # Keras's "momentum": the z sequence, starting at the variable
    velocity: Any


def schedule_free_adamw(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0):
    def init(params):
        return ScheduleFreeState(jnp.zeros([], jnp.int32), tmap(jnp.copy, params), tmap(jnp.zeros_like, params))

    def update(grads, state, params=None):
        t = (state.count + 1).astype(jnp.float32)
        step_lr = lr * jnp.minimum(t / warmup_steps, 1.0) if warmup_steps > 0 else lr
        weight = 1.0 / t

        def one(g, z, v, y):
            g = g.astype(y.dtype)
            v = v + (jnp.square(g) - v) * (1 - beta_2)
            denom = jnp.sqrt(v / (1 - beta_2**t)) + epsilon
            z_new = z - step_lr * g / denom
            x_old = (y - (1 - beta_1) * z) / beta_1
            x_new = (1 - weight) * x_old + weight * z_new
            y_new = (1 - beta_1) * z_new + beta_1 * x_new
            return (y_new - y).astype(y.dtype), z_new, v

        out = tmap(one, grads, state.momentum, state.velocity, params)
        pick = lambda i: tmap(lambda _, o: o[i], params, out, is_leaf=lambda x: isinstance(x, tuple))  # noqa: E731
        return pick(0), ScheduleFreeState(state.count + 1, pick(1), pick(2))

    return optax.GradientTransformation(init, update)


class ScheduleFreeAdamW(_VariableAwareOptimizer):
    """Schedule-free AdamW (Defazio et al., 2024): no learning-rate schedule needed; the
    weights are an interpolation between the Adam iterate and its running average.

    Args:
        learning_rate: default 0.0025.
        beta_1: the interpolation (momentum) coefficient (0.9).
        beta_2: the second-moment decay rate (0.999).
        epsilon: 1e-8.
        warmup_steps: linear learning-rate warmup over this many steps (0: none).

    Example:
    ```python
    model.compile(optimizer=jnet.optimizers.ScheduleFreeAdamW(warmup_steps=100), loss="mse")
    ```
    """

    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "warmup_steps": 0}

    def __init__(
        self,
        learning_rate=0.0025,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warmup_steps=0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="schedule_free_adamw",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"ScheduleFreeAdamW: beta_1 must be in (0, 1], got {beta_1}")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"ScheduleFreeAdamW: warmup_steps must be an int >= 0, got {warmup_steps!r}")
        self.beta_1, self.beta_2, self.epsilon, self.warmup_steps = beta_1, beta_2, epsilon, warmup_steps

    def _rule(self, lr):
        return schedule_free_adamw(lr, self.beta_1, self.beta_2, self.epsilon, self.warmup_steps)


__all__ = ["Muon", "ScheduleFreeAdamW"]
