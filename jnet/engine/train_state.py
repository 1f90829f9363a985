"""`TrainState`: everything that changes during training, as one pytree.

It is the carry of the compiled training loop (donated each call) and what `get_train_state`
/ `set_train_state` exchange with checkpointing (orbax restores it with the current one as
target).
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jnet.utils import rng as jrng


class TrainState(NamedTuple):
    params: Any  # trainable and frozen parameters, keyed by layer name
    state: Any  # non-trained carried arrays (BatchNorm moving statistics)
    opt_state: Any  # the optax state (the learning rate lives inside it)
    metrics: Any  # {log name: metric state}, accumulated on device, reset each epoch
    rng: jax.Array  # uint32 key data; dropout uses fold_in(rng, step), shuffling (rng, epoch)
    step: jax.Array  # int32 count of optimizer steps taken


def key_data(key) -> jax.Array:
    """Raw uint32 data of a (typed or raw) key: plain arrays checkpoint everywhere."""
    if jnp.issubdtype(getattr(key, "dtype", jnp.uint32), jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return jnp.asarray(key, jnp.uint32)


def step_key(rng_data, step):
    """The key for training step `step` (dropout etc.)."""
    return jax.random.fold_in(jrng.wrap(rng_data), step)


# The base of evaluation and prediction keys: a constant, so that a model's draws depend only on
# its layers' seeds and how many inference calls it has made (Keras: a `SeedGenerator(1337)` in
# a freshly built model gives the same first `predict`, and every later call fresh noise).
_INFERENCE_BASE = 0x1F3D5


def inference_key(draws, position):
    """The key of the batch at `position` of a model's evaluation / prediction call, with
    `draws = (call number, number of the batch at position 0)` (traced ints): a layer that
    draws in inference (e.g. `jnet.random.normal(..., seed=self.seed_generator)`) gets fresh
    noise per batch and per call, without a recompile."""
    call, offset = draws
    key = jax.random.fold_in(jrng.make_key(_INFERENCE_BASE), call)
    return jax.random.fold_in(key, offset + position)


_inference_calls = weakref.WeakKeyDictionary()


def next_inference_call(model) -> int:
    """The number of `model`'s next evaluation / prediction call (0, 1, ...): advanced on every
    call, as Keras advances its seed generators' states."""
    count = _inference_calls.get(model, 0)
    _inference_calls[model] = count + 1
    return count


def shuffle_key(rng_data, epoch, epoch_start_step):
    """The key of one epoch's permutation: a function of (seed, epoch) and the step at which the
    epoch began (so repeated `fit` calls reshuffle, and a resumed run reshuffles identically)."""
    key = jax.random.fold_in(jrng.wrap(rng_data), 0x5EED)
    return jax.random.fold_in(jax.random.fold_in(key, epoch), epoch_start_step)


_copy = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree))


def copy_tree(tree):
    """Fresh device buffers (so donating them never invalidates arrays held elsewhere)."""
    return _copy(tree)


def find_hyperparams(opt_state):
    """The `hyperparams` dict of the (first) `inject_hyperparams` state inside `opt_state`."""
    if hasattr(opt_state, "hyperparams") and isinstance(opt_state.hyperparams, dict):
        return opt_state.hyperparams
    if isinstance(opt_state, (tuple, list)):
        for s in opt_state:
            hp = find_hyperparams(s)
            if hp is not None:
                return hp
    return None


def with_learning_rate(opt_state, value):
    """`opt_state` with its injected learning rate replaced (same dtype: no recompile)."""
    if (
        hasattr(opt_state, "hyperparams")
        and isinstance(opt_state.hyperparams, dict)
        and "learning_rate" in opt_state.hyperparams
    ):
        old = opt_state.hyperparams["learning_rate"]
        hp = dict(opt_state.hyperparams)
        hp["learning_rate"] = jnp.asarray(value, dtype=old.dtype)
        return opt_state._replace(hyperparams=hp)
    if isinstance(opt_state, tuple) and not hasattr(opt_state, "_fields"):
        return tuple(with_learning_rate(s, value) for s in opt_state)
    if hasattr(opt_state, "_fields"):
        return type(opt_state)(*[with_learning_rate(s, value) for s in opt_state])
    return opt_state


def distinct_buffers(tree):
    """Copy repeated leaves (optax states may hold one array twice): a donated call may not
    receive the same buffer in two places."""
    seen = set()

    def one(a):
        if not isinstance(a, jax.Array):
            return a
        if id(a) in seen:
            return jnp.copy(a)
        seen.add(id(a))
        return a

    return jax.tree_util.tree_map(one, tree)


def strong_types(tree):
    """Drop weak types (Python-scalar-born arrays) so that a value written later with an explicit
    dtype matches the compiled signature."""
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=a.dtype) if hasattr(a, "dtype") else a, tree)


class StateOwner:
    """The one owner of a compiled model's `TrainState`.

    The compiled steps read and write `ts` (the engine swaps it after every call); everything
    else reaches the state through these methods: the model (its variables live here while
    training runs), the optimizer (`iterations`, its state as `variables`) and callbacks
    (`BackupAndRestore`'s resume point). While a training session is active
    (`with owner.training():`), the variables are the state's arrays, not the layers'.
    """

    def __init__(self):
        self.ts = None
        self._active = False
        self._resume = None

    @contextlib.contextmanager
    def training(self):
        """Mark a training session (fit, train_on_batch): the state holds the live variables."""
        self._active = True
        try:
            yield self
        finally:
            self._active = False

    @property
    def active(self) -> bool:
        """Whether a training session is running (the live variables are in the state)."""
        return self._active and self.ts is not None

    def variables(self):
        """The live `{"params", "state"}` during training (no copy: the next step donates them),
        else None."""
        return {"params": self.ts.params, "state": self.ts.state} if self.active else None

    def set_variables(self, variables) -> bool:
        """During training, make `variables` (copied) the live arrays; returns whether it did."""
        if not self.active:
            return False
        params, state = copy_tree((variables["params"], variables.get("state", {})))
        self.ts = self.ts._replace(params=params, state=state)
        return True

    def optimizer_state(self):
        """The optax state (None before the first training call)."""
        return None if self.ts is None else self.ts.opt_state

    def step(self) -> int:
        """Optimizer steps taken."""
        return 0 if self.ts is None else int(self.ts.step)

    def resume_at(self, epoch: int, batch: int = 0):
        """Make the next `fit` start at `epoch`, batch `batch` (a restored backup's position)."""
        self._resume = (int(epoch), int(batch))

    def take_resume_point(self):
        """`(epoch, batch)` set by `resume_at` (then cleared), or None."""
        point, self._resume = self._resume, None
        return point
