"""Adafactor, Ftrl and Lamb with Keras 3's arguments and update rules.

Each rule is written from Keras's `update_step` (as `keras_rules` does for the others) and
returns the deltas to add to the params. These three rules read the variable itself, so
`weight_decay` is applied first and the rule sees the decayed variable, as in Keras.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnet.optimizers.base import Optimizer

tmap = jax.tree_util.tree_map


def _decay_first(rule, learning_rate, weight_decay):
    """Keras's order: `var -= lr * wd * var`, then the rule's step on the decayed `var`."""

    def update(g, state, params=None):
        decayed = tmap(lambda p: p - (learning_rate * weight_decay) * p, params)
        out, state = rule.update(g, state, decayed)
        return tmap(lambda o, d, p: o + (d - p), out, decayed, params), state

    return optax.GradientTransformation(rule.init, update)


class _VariableAwareOptimizer(Optimizer):
    def _build(self, learning_rate):
        rule = self._rule(learning_rate)
        if self.weight_decay:
            rule = _decay_first(rule, learning_rate, self.weight_decay)
        clip = self._clip()
        return self._with_ema(optax.chain(clip, rule) if clip is not None else rule)


# ----------------------------------------------------------------------------- Adafactor


class AdafactorState(NamedTuple):
    count: jax.Array
    r: Any
    c: Any
    v: Any


def _rms(x):
    return jnp.sqrt(jnp.mean(jnp.square(x)))


def adafactor(lr, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0):
    def init(params):
        def factored(p, which):
            if p.ndim < 2:
                return jnp.zeros((), p.dtype)
            return jnp.zeros(p.shape[:-1] if which == "r" else p.shape[:-2] + p.shape[-1:], p.dtype)

        return AdafactorState(
            jnp.zeros([], jnp.int32),
            tmap(lambda p: factored(p, "r"), params),
            tmap(lambda p: factored(p, "c"), params),
            tmap(jnp.zeros_like, params),
        )

    def update(grads, state, params=None):
        t = (state.count + 1).astype(jnp.float32)
        rho = jnp.minimum(lr, 1.0 / jnp.sqrt(t))
        beta = 1.0 - t**beta_2_decay

        def one(g, p, r, c, v):
            alpha = jnp.maximum(epsilon_2, _rms(p)) * rho
            sq = jnp.square(g) + epsilon_1
            if p.ndim >= 2:
                r = beta * r + (1 - beta) * jnp.mean(sq, axis=-1)
                c = beta * c + (1 - beta) * jnp.mean(sq, axis=-2)
                v = jnp.expand_dims(r / jnp.mean(r, axis=-1, keepdims=True), -1) * jnp.expand_dims(c, -2)
            else:
                v = beta * v + (1 - beta) * sq
            u = g / jnp.sqrt(v)
            u = u / jnp.maximum(1.0, _rms(u) / clip_threshold)
            return -(alpha * u), r, c, v

        flat_g, treedef = jax.tree_util.tree_flatten(grads)
        leaves = [jax.tree_util.tree_leaves(x) for x in (params, state.r, state.c, state.v)]
        outs = [one(g, *rest) for g, *rest in zip(flat_g, *leaves)]
        out, r, c, v = (jax.tree_util.tree_unflatten(treedef, [o[i] for o in outs]) for i in range(4))
        return out, AdafactorState(state.count + 1, r, c, v)

    return optax.GradientTransformation(init, update)


class Adafactor(_VariableAwareOptimizer):
    """Adafactor (Shazeer & Stern, 2018): second moments of matrices kept as row and column
    averages (memory `O(n + m)` instead of `O(nm)`), updates scaled by the parameter's RMS.

    Args:
        learning_rate: default 0.001; the step size is `min(learning_rate, 1 / sqrt(step))`
            times `max(epsilon_2, rms(variable))`.
        beta_2_decay: the second-moment decay is `1 - step ** beta_2_decay` (default -0.8).
        epsilon_1: added to the squared gradient (default 1e-30).
        epsilon_2: floor of the parameter RMS (default 1e-3).
        clip_threshold: updates are scaled down to RMS <= this (default 1.0).
        relative_step: accepted for Keras compatibility (Keras's step size is already
            `min(learning_rate, 1 / sqrt(step))` either way).

    Example:
    ```python
    model.compile(optimizer=jnet.optimizers.Adafactor(learning_rate=0.01), loss="mse")
    ```
    """

    _defaults = {
        "beta_2_decay": -0.8,
        "epsilon_1": 1e-30,
        "epsilon_2": 1e-3,
        "clip_threshold": 1.0,
        "relative_step": True,
    }

    def __init__(
        self,
        learning_rate=0.001,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="adafactor",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if clip_threshold <= 0:
            raise ValueError(f"Adafactor: clip_threshold must be > 0, got {clip_threshold}")
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = beta_2_decay, epsilon_1, epsilon_2
        self.clip_threshold, self.relative_step = clip_threshold, bool(relative_step)

    def _rule(self, lr):
        return adafactor(lr, self.beta_2_decay, self.epsilon_1, self.epsilon_2, self.clip_threshold)


# ----------------------------------------------------------------------------- Ftrl


class FtrlState(NamedTuple):
    accumulator: Any
    linear: Any


def ftrl(lr, learning_rate_power=-0.5, initial_accumulator_value=0.1, l1=0.0, l2=0.0, l2_shrinkage=0.0, beta=0.0):
    def init(params):
        return FtrlState(
            tmap(lambda p: jnp.full_like(p, initial_accumulator_value), params), tmap(jnp.zeros_like, params)
        )

    def update(grads, state, params=None):
        l2_reg = l2 + beta / (2.0 * lr)
        power = -learning_rate_power

        def one(g, p, accum, linear):
            grad = g + 2 * l2_shrinkage * p
            new_accum = accum + jnp.square(g)
            linear = linear + grad - (jnp.power(new_accum, power) - jnp.power(accum, power)) / lr * p
            quadratic = jnp.power(new_accum, power) / lr + 2 * l2_reg
            new_p = (jnp.clip(linear, -l1, l1) - linear) / quadratic
            return new_p - p, new_accum, linear

        outs = tmap(one, grads, params, state.accumulator, state.linear)
        is_triple = lambda x: isinstance(x, tuple) and len(x) == 3
        pick = lambda i: tmap(lambda o: o[i], outs, is_leaf=is_triple)
        return pick(0), FtrlState(pick(1), pick(2))

    return optax.GradientTransformation(init, update)


class Ftrl(_VariableAwareOptimizer):
    """Follow-the-regularized-leader (McMahan et al., 2013), Keras's formulation: suited to
    large sparse models, with L1 (giving exact zeros), L2 and L2-shrinkage regularisation.

    Args:
        learning_rate: default 0.001.
        learning_rate_power: <= 0 (default -0.5); 0 is a fixed rate.
        initial_accumulator_value: >= 0 (default 0.1).
        l1_regularization_strength, l2_regularization_strength,
        l2_shrinkage_regularization_strength: >= 0 (default 0).
        beta: added to the L2 strength as `beta / (2 * learning_rate)` (default 0).
    """

    _defaults = {
        "learning_rate_power": -0.5,
        "initial_accumulator_value": 0.1,
        "l1_regularization_strength": 0.0,
        "l2_regularization_strength": 0.0,
        "l2_shrinkage_regularization_strength": 0.0,
        "beta": 0.0,
    }

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="ftrl",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if initial_accumulator_value < 0:
            raise ValueError(f"Ftrl: initial_accumulator_value must be >= 0, got {initial_accumulator_value}")
        if learning_rate_power > 0:
            raise ValueError(f"Ftrl: learning_rate_power must be <= 0, got {learning_rate_power}")
        for n, v in (
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
        ):
            if v < 0:
                raise ValueError(f"Ftrl: {n} must be >= 0, got {v}")
        self.learning_rate_power, self.initial_accumulator_value = learning_rate_power, initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _rule(self, lr):
        return ftrl(
            lr,
            self.learning_rate_power,
            self.initial_accumulator_value,
            self.l1_regularization_strength,
            self.l2_regularization_strength,
            self.l2_shrinkage_regularization_strength,
            self.beta,
        )


# ----------------------------------------------------------------------------- Lamb


class LambState(NamedTuple):
    count: jax.Array
    m: Any
    v: Any


def lamb(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    def init(params):
        return LambState(jnp.zeros([], jnp.int32), tmap(jnp.zeros_like, params), tmap(jnp.zeros_like, params))

    def update(grads, state, params=None):
        t = (state.count + 1).astype(jnp.float32)
        m = tmap(lambda m, g: m + (g - m) * (1 - beta_1), state.m, grads)
        v = tmap(lambda v, g: v + (jnp.square(g) - v) * (1 - beta_2), state.v, grads)

        def one(m, v, p):
            step = (m / (1.0 - beta_1**t)) / (jnp.sqrt(v / (1.0 - beta_2**t)) + epsilon)
            w_norm = jnp.sqrt(jnp.sum(jnp.square(p)))
            g_norm = jnp.sqrt(jnp.sum(jnp.square(step)))
            # the trust ratio ||w|| / ||step||, 1 when either norm is 0
            ratio = jnp.where((w_norm > 0) & (g_norm > 0), w_norm / jnp.where(g_norm > 0, g_norm, 1.0), 1.0)
            return -(ratio * lr * step)

        return tmap(one, m, v, params), LambState(state.count + 1, m, v)

    return optax.GradientTransformation(init, update)


class Lamb(_VariableAwareOptimizer):
    """LAMB (You et al., 2019): Adam's step rescaled per tensor by the trust ratio
    `||variable|| / ||step||`, for large-batch training.

    Args:
        learning_rate: default 0.001.
        beta_1, beta_2: moment decay rates (0.9, 0.999).
        epsilon: added to the root of the corrected second moment (1e-7).
    """

    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name="lamb",
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _rule(self, lr):
        return lamb(lr, self.beta_1, self.beta_2, self.epsilon)


__all__ = ["Adafactor", "Ftrl", "Lamb"]
