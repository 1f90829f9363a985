"""Keras's exponential moving average of the weights (`use_ema=True`) as an optax wrapper.

After each step of the wrapped rule the average takes in the new weights,
`average = m * average + (1 - m) * new_weight` (the first step copies them: Keras multiplies the
momentum by `iterations != 0`). Every `ema_overwrite_frequency` steps the update instead sets
the weights to their average. The average lives in the optimizer state (`EMAState`), in the
structure of the params, so that it checkpoints and restores with the rest of the training
state.

Example:
```python
tx = with_ema(optax.sgd(0.1), momentum=0.9)
state = tx.init(params)
updates, state = tx.update(grads, state, params)
find_ema(state)  # the averaged params
```
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

tmap = jax.tree_util.tree_map


class EMAState(NamedTuple):
    inner: Any  # the wrapped rule's state
    count: jax.Array  # steps taken (Keras's `iterations` as the average sees it)
    average: Any  # the moving average, in the structure of the params


def check_arguments(label, use_ema, ema_momentum, ema_overwrite_frequency):
    """Keras's checks on the EMA arguments (made only when `use_ema` is set, as Keras)."""
    if not use_ema:
        return
    if isinstance(ema_momentum, bool) or not isinstance(ema_momentum, (int, float)) or not 0 <= ema_momentum <= 1:
        raise ValueError(f"{label}: ema_momentum must be a float in [0, 1], got {ema_momentum!r}")
    if ema_overwrite_frequency and (
        isinstance(ema_overwrite_frequency, bool)
        or not isinstance(ema_overwrite_frequency, int)
        or ema_overwrite_frequency < 1
    ):
        raise ValueError(
            f"{label}: ema_overwrite_frequency must be an integer >= 1 or None, got {ema_overwrite_frequency!r}"
        )


def with_ema(rule: optax.GradientTransformation, momentum: float, overwrite_frequency=None):
    """`rule` that also keeps the moving average of the updated params (see the module)."""

    def init(params):
        return EMAState(rule.init(params), jnp.zeros([], jnp.int32), tmap(jnp.zeros_like, params))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("use_ema: the optimizer's update needs the params (to average them)")
        out, inner = rule.update(updates, state.inner, params)
        m = jnp.where(state.count == 0, 0.0, momentum)
        average = tmap(lambda a, p, u: (m * a + (1 - m) * (p + u)).astype(a.dtype), state.average, params, out)
        if overwrite_frequency:
            overwrite = (state.count + 1) % overwrite_frequency == 0
            out = tmap(lambda u, a, p: jnp.where(overwrite, (a - p).astype(u.dtype), u), out, average, params)
        return out, EMAState(inner, state.count + 1, average)

    return optax.GradientTransformation(init, update)


def _is_ema(node) -> bool:
    return isinstance(node, EMAState)


def find_ema(opt_state):
    """The averaged params inside an optimizer state (None when it keeps no average)."""
    found = [s for s in jax.tree_util.tree_leaves(opt_state, is_leaf=_is_ema) if _is_ema(s)]
    return found[0].average if found else None


def replace_ema(opt_state, average):
    """`opt_state` with its moving average replaced by `average` (same structure)."""
    return jax.tree_util.tree_map(
        lambda s: s._replace(average=average) if _is_ema(s) else s, opt_state, is_leaf=_is_ema
    )
