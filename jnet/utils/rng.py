"""The global seed: `set_random_seed(s)` makes model initialisation and training reproducible."""

from __future__ import annotations

import random

import jax
import numpy as np

_state = {"seed": 0, "count": 0}


def set_random_seed(seed: int) -> None:
    """Seed jnet (model init and fit's rng), Python's `random` and NumPy, as Keras does."""
    _state["seed"] = int(seed)
    _state["count"] = 0
    random.seed(seed)
    np.random.seed(seed)


def next_key():
    """A fresh key: the global seed folded with a counter, so each model differs but a script
    run twice gives the same numbers."""
    key = jax.random.fold_in(jax.random.key(_state["seed"]), _state["count"])
    _state["count"] += 1
    return key
