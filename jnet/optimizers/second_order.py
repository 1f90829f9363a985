"""Full-batch second-order optimizers: `LBFGS` (optax) and `NewtonCG` (Hessian-vector products).

Both need the loss as a function of the parameters (line searches evaluate it at trial points),
so `fit` runs them full-batch: one step per epoch on the whole training set. They are for small
problems (the classic gradient descent -> Newton ladder), not for minibatch training.

Example:
```python
model.compile(optimizer=jnet.optimizers.LBFGS(), loss="mse")
model.fit(x, y, epochs=50)          # 50 L-BFGS iterations on all of x
```
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jnet.optimizers.base import Optimizer


class LBFGS(Optimizer):
    """Limited-memory BFGS with optax's zoom line search (full batch).

    Args:
        learning_rate: None (default) lets the line search choose the step; a float scales it.
        memory_size: number of past updates kept (10).
        scale_init_precond: scale the initial inverse Hessian (optax's default True).
    """

    full_batch = True
    needs_value_fn = True
    _defaults = {"memory_size": 10, "scale_init_precond": True}

    def __init__(self, learning_rate=None, memory_size=10, scale_init_precond=True, name="lbfgs"):
        super().__init__(1.0 if learning_rate is None else learning_rate, name=name)
        self._learning_rate = learning_rate
        if memory_size < 1:
            raise ValueError(f"LBFGS: memory_size must be >= 1, got {memory_size}")
        self.memory_size, self.scale_init_precond = int(memory_size), bool(scale_init_precond)

    @property
    def tx(self):
        if self._tx is None:
            self._tx = optax.lbfgs(
                learning_rate=self._learning_rate,
                memory_size=self.memory_size,
                scale_init_precond=self.scale_init_precond,
            )
        return self._tx

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        raise TypeError("LBFGS: the learning rate is fixed at construction (the line search picks steps)")

    @property
    def injected_learning_rate(self):
        return None

    def get_config(self):
        return {
            "name": self.name,
            "learning_rate": self._learning_rate,
            "memory_size": self.memory_size,
            "scale_init_precond": self.scale_init_precond,
        }


class NewtonCGState(NamedTuple):
    count: jax.Array


def newton_cg(learning_rate=1.0, cg_iterations=20, tol=1e-5, damping=1e-4, max_backtracks=20):
    """Truncated Newton: solve `(H + damping I) d = -g` by conjugate gradients using
    Hessian-vector products `jax.jvp(jax.grad(f))`, then backtrack until Armijo holds."""

    def init(params):
        return NewtonCGState(jnp.zeros([], jnp.int32))

    def update(grads, state, params, *, value, grad=None, value_fn, **_):
        g, unravel = ravel_pytree(grads)
        p0, _ = ravel_pytree(params)
        f = lambda x: value_fn(unravel(x))  # noqa: E731

        def hvp(v):
            return jax.jvp(jax.grad(f), (p0,), (v,))[1] + damping * v

        # CG on H d = -g, stopping on convergence or negative curvature (truncated Newton).
        def body(i, carry):
            d, r, p, rr, done = carry
            hp = hvp(p)
            curv = jnp.vdot(p, hp)
            neg = curv <= 0
            alpha = rr / jnp.where(neg, 1.0, curv)
            stop = done | neg
            d_new = jnp.where(stop, d, d + alpha * p)
            r_new = jnp.where(stop, r, r - alpha * hp)
            rr_new = jnp.vdot(r_new, r_new)
            p_new = jnp.where(stop, p, r_new + (rr_new / jnp.where(rr == 0, 1.0, rr)) * p)
            done_new = stop | (jnp.sqrt(rr_new) <= tol * jnp.linalg.norm(g))
            return d_new, r_new, p_new, jnp.where(stop, rr, rr_new), done_new

        r0 = -g
        d, *_ = jax.lax.fori_loop(
            0, cg_iterations, body, (jnp.zeros_like(g), r0, r0, jnp.vdot(r0, r0), jnp.linalg.norm(g) == 0)
        )
        # No descent direction found (e.g. first CG step hit negative curvature): use -g.
        d = jnp.where(jnp.vdot(d, g) < 0, d, -g)
        slope = jnp.vdot(d, g)

        def cond(c):
            t, k = c
            return (f(p0 + t * d) > value + 1e-4 * t * slope) & (k < max_backtracks)

        t, _ = jax.lax.while_loop(cond, lambda c: (c[0] * 0.5, c[1] + 1), (jnp.float32(learning_rate), 0))
        return unravel(t * d), NewtonCGState(state.count + 1)

    return optax.GradientTransformationExtraArgs(init, update)


class NewtonCG(Optimizer):
    """Newton's method with a conjugate-gradient solve on Hessian-vector products (full batch).

    Args:
        learning_rate: the initial step of the backtracking line search (1.0: a full Newton step).
        cg_iterations: CG iterations per Newton step (20).
        tol: relative CG residual tolerance (1e-5).
        damping: Levenberg damping added to the Hessian (1e-4).
    """

    full_batch = True
    needs_value_fn = True
    _defaults = {"cg_iterations": 20, "tol": 1e-5, "damping": 1e-4}

    def __init__(self, learning_rate=1.0, cg_iterations=20, tol=1e-5, damping=1e-4, name="newton_cg"):
        super().__init__(learning_rate, name=name)
        if cg_iterations < 1:
            raise ValueError(f"NewtonCG: cg_iterations must be >= 1, got {cg_iterations}")
        self.cg_iterations, self.tol, self.damping = int(cg_iterations), float(tol), float(damping)

    @property
    def tx(self):
        if self._tx is None:
            self._tx = newton_cg(self._learning_rate, self.cg_iterations, self.tol, self.damping)
        return self._tx

    @property
    def injected_learning_rate(self):
        return None

    def get_config(self):
        return {
            "name": self.name,
            "learning_rate": self._learning_rate,
            "cg_iterations": self.cg_iterations,
            "tol": self.tol,
            "damping": self.damping,
        }
