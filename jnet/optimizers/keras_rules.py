"""Keras 3's optimizer update rules as optax transformations, numerically identical to Keras.

Keras and optax place epsilon differently (Keras Adam: `lr * sqrt(1-b2^t)/(1-b1^t) * m /
(sqrt(v) + eps)`; optax: `m_hat / (sqrt(v_hat) + eps)`), so jnet writes each rule from Keras's
own update step rather than reusing optax's. Each rule returns the deltas to add to the params.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

tmap = jax.tree_util.tree_map


def _zeros(params):
    return tmap(jnp.zeros_like, params)


def _rule(init, update):
    return optax.GradientTransformation(init, update)


class SGDState(NamedTuple):
    momentum: Any


def sgd(lr, momentum=0.0, nesterov=False):
    def init(params):
        return SGDState(_zeros(params) if momentum else None)

    def update(g, state, params=None):
        if not momentum:
            return tmap(lambda g: -lr * g, g), state
        m = tmap(lambda m, g: momentum * m - lr * g, state.momentum, g)
        if nesterov:
            out = tmap(lambda m, g: momentum * m - lr * g, m, g)
        else:
            out = m
        return out, SGDState(m)

    return _rule(init, update)


class AdamState(NamedTuple):
    count: jax.Array
    m: Any
    v: Any
    v_hat: Any


def adam(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    def init(params):
        return AdamState(jnp.zeros([], jnp.int32), _zeros(params), _zeros(params), _zeros(params) if amsgrad else None)

    def update(g, state, params=None):
        t = (state.count + 1).astype(jnp.float32)
        alpha = lr * jnp.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = tmap(lambda m, g: m + (g - m) * (1 - beta_1), state.m, g)
        v = tmap(lambda v, g: v + (jnp.square(g) - v) * (1 - beta_2), state.v, g)
        v_hat = state.v_hat
        if amsgrad:
            v_hat = tmap(jnp.maximum, v_hat, v)
        denom_v = v_hat if amsgrad else v
        out = tmap(lambda m, v: -(m * alpha) / (jnp.sqrt(v) + epsilon), m, denom_v)
        return out, AdamState(state.count + 1, m, v, v_hat)

    return _rule(init, update)


class RMSpropState(NamedTuple):
    velocity: Any
    momentum: Any
    average_grad: Any


def rmsprop(lr, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    def init(params):
        return RMSpropState(
            _zeros(params), _zeros(params) if momentum > 0 else None, _zeros(params) if centered else None
        )

    def update(g, state, params=None):
        vel = tmap(lambda v, g: rho * v + (1 - rho) * jnp.square(g), state.velocity, g)
        avg = state.average_grad
        if centered:
            avg = tmap(lambda a, g: rho * a + (1 - rho) * g, avg, g)
            denom = tmap(lambda v, a: v - jnp.square(a) + epsilon, vel, avg)
        else:
            denom = tmap(lambda v: v + epsilon, vel)
        inc = tmap(lambda g, d: lr * g / jnp.sqrt(d), g, denom)
        mom = state.momentum
        if momentum > 0:
            mom = tmap(lambda m, i: momentum * m + i, mom, inc)
            out = tmap(jnp.negative, mom)
        else:
            out = tmap(jnp.negative, inc)
        return out, RMSpropState(vel, mom, avg)

    return _rule(init, update)


class AdagradState(NamedTuple):
    accumulator: Any


def adagrad(lr, initial_accumulator_value=0.1, epsilon=1e-7):
    def init(params):
        return AdagradState(tmap(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(g, state, params=None):
        acc = tmap(lambda a, g: a + jnp.square(g), state.accumulator, g)
        return tmap(lambda g, a: -(lr * g) / jnp.sqrt(a + epsilon), g, acc), AdagradState(acc)

    return _rule(init, update)


class AdadeltaState(NamedTuple):
    accumulated_grad: Any
    accumulated_delta: Any


def adadelta(lr, rho=0.95, epsilon=1e-7):
    def init(params):
        return AdadeltaState(_zeros(params), _zeros(params))

    def update(g, state, params=None):
        rms = lambda x: jnp.sqrt(x + epsilon)  # noqa: E731
        acc_g = tmap(lambda a, g: rho * a + (1 - rho) * jnp.square(g), state.accumulated_grad, g)
        delta = tmap(lambda ad, g, ag: -(rms(ad) * g) / rms(ag), state.accumulated_delta, g, acc_g)
        acc_d = tmap(lambda a, d: rho * a + (1 - rho) * jnp.square(d), state.accumulated_delta, delta)
        return tmap(lambda d: lr * d, delta), AdadeltaState(acc_g, acc_d)

    return _rule(init, update)


class AdamaxState(NamedTuple):
    count: jax.Array
    m: Any
    u: Any


def adamax(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    def init(params):
        return AdamaxState(jnp.zeros([], jnp.int32), _zeros(params), _zeros(params))

    def update(g, state, params=None):
        t = (state.count + 1).astype(jnp.float32)
        b1p = beta_1**t
        m = tmap(lambda m, g: m + (g - m) * (1 - beta_1), state.m, g)
        u = tmap(lambda u, g: jnp.maximum(beta_2 * u, jnp.abs(g)), state.u, g)
        out = tmap(lambda m, u: -(lr * m) / ((1 - b1p) * (u + epsilon)), m, u)
        return out, AdamaxState(state.count + 1, m, u)

    return _rule(init, update)


class NadamState(NamedTuple):
    count: jax.Array
    u_product: jax.Array
    m: Any
    v: Any


def nadam(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    def init(params):
        return NadamState(jnp.zeros([], jnp.int32), jnp.ones([], jnp.float32), _zeros(params), _zeros(params))

    def update(g, state, params=None):
        t = (state.count + 1).astype(jnp.float32)
        u_t = beta_1 * (1.0 - 0.5 * 0.96**t)
        u_t_1 = beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        u_prod = state.u_product * u_t  # Keras updates the product before the step
        u_prod_1 = u_prod * u_t_1
        b2p = beta_2**t
        m = tmap(lambda m, g: m + (g - m) * (1 - beta_1), state.m, g)
        v = tmap(lambda v, g: v + (jnp.square(g) - v) * (1 - beta_2), state.v, g)

        def delta(m, v, g):
            m_hat = u_t_1 * m / (1 - u_prod_1) + (1 - u_t) * g / (1 - u_prod)
            v_hat = v / (1 - b2p)
            return -(m_hat * lr) / (jnp.sqrt(v_hat) + epsilon)

        return tmap(delta, m, v, g), NadamState(state.count + 1, u_prod, m, v)

    return _rule(init, update)


class LionState(NamedTuple):
    m: Any


def lion(lr, beta_1=0.9, beta_2=0.99):
    def init(params):
        return LionState(_zeros(params))

    def update(g, state, params=None):
        out = tmap(lambda m, g: -lr * jnp.sign(m * beta_1 + g * (1 - beta_1)), state.m, g)
        m = tmap(lambda m, g: m * beta_2 + g * (1 - beta_2), state.m, g)
        return out, LionState(m)

    return _rule(init, update)
