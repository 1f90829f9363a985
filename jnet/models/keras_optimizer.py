"""The optimizer's state in Keras 3's weights file (`optimizer/vars/<i>`), both ways.

Keras lists an optimizer's variables as `iterations`, `learning_rate` (absent under a
schedule), then its slots for each trainable variable in the model's `trainable_weights`
order: Adam and AdamW interleave `momentum, velocity` per variable; SGD with momentum has one
`momentum` per variable; RMSprop (no momentum, not centered) one `velocity`. jnet's optax state
holds the same slots as trees shaped like the params, in the same field order (`m, v`), so
the translation is by position. Other optimizers and settings (amsgrad, centered RMSprop)
are left out: a Keras file then resumes with fresh slots and a warning, never wrong ones.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import to_snake_case


def _slot_count(optimizer):
    """Slots per variable of the optimizers whose Keras layout jnet knows, else None."""
    name = type(optimizer).__name__
    if name not in ("Adam", "AdamW", "SGD", "RMSprop"):
        return None
    config = optimizer.get_config()
    if name in ("Adam", "AdamW"):
        return None if config.get("amsgrad") else 2
    if name == "SGD":
        return 1 if config.get("momentum") else 0
    if config.get("momentum") or config.get("centered"):
        return None
    return 1


def _trainable_paths(model):
    """Params-tree leaf positions of the model's trainable weights, in Keras's order."""
    tree = model._variable_tree()["params"]
    leaves, _ = jax.tree_util.tree_flatten(tree, is_leaf=lambda x: not isinstance(x, dict))
    index = {id(v): i for i, v in enumerate(leaves)}
    return [index[id(v)] for v in model.trainable_weights if id(v) in index]


def _is_slot_tree(x, params_def) -> bool:
    return isinstance(x, dict) and jax.tree_util.tree_structure(x) == params_def


def _slot_trees(opt_state, params_def) -> list:
    found = []
    jax.tree_util.tree_map(
        lambda x: found.append(x) if _is_slot_tree(x, params_def) else None,
        opt_state,
        is_leaf=lambda x: _is_slot_tree(x, params_def),
    )
    return found


def keras_optimizer_arrays(model) -> list | None:
    """The optimizer's state as Keras lists it (None when it cannot be expressed)."""
    slots = _slot_count(model.optimizer)
    if slots is None:
        return None
    ts = model.get_train_state()
    params_def = jax.tree_util.tree_structure(ts.params)
    trees = _slot_trees(ts.opt_state, params_def)
    if len(trees) != slots:
        return None
    flat = [jax.tree_util.tree_leaves(t) for t in trees]
    out = [np.asarray(int(ts.step), dtype="int64"), np.asarray(_learning_rate(ts.opt_state), dtype="float32")]
    for i in _trainable_paths(model):
        out.extend(np.asarray(f[i]) for f in flat)
    return out


_SLOT_NAMES = {
    "Adam": ("momentum", "velocity"),
    "AdamW": ("momentum", "velocity"),
    "SGD": ("momentum",),
    "RMSprop": ("velocity",),
}


def keras_optimizer_names(model) -> list:
    """Names for `keras_optimizer_arrays(model)`, as Keras's optimizer variables' paths read
    (`adam/iteration`, `adam/dense_kernel_momentum`, ...); Keras's legacy `.h5` loader takes
    the values by position, the names only keep the datasets apart."""
    optimizer = model.optimizer
    prefix = getattr(optimizer, "name", None) or to_snake_case(type(optimizer).__name__)
    slots = _SLOT_NAMES.get(type(optimizer).__name__, ())[: _slot_count(optimizer) or 0]
    names = [f"{prefix}/iteration", f"{prefix}/learning_rate"]
    for v in model.trainable_weights:
        names.extend(f"{prefix}/{v.path.replace('/', '_')}_{slot}" for slot in slots)
    return names


def _learning_rate(opt_state):
    hyper = getattr(opt_state, "hyperparams", None) or {}
    return hyper.get("learning_rate", np.nan)


def restore_keras_optimizer(model, arrays: list, label: str) -> bool:
    """Put Keras's optimizer variables into the compiled `model`'s train state. Returns False
    (after a warning) when their number or shapes do not fit this optimizer."""
    slots = _slot_count(model.optimizer)
    ts = model.get_train_state()
    params_def = jax.tree_util.tree_structure(ts.params)
    order = _trainable_paths(model)
    trees = _slot_trees(ts.opt_state, params_def) if slots is not None else []
    extra = len(arrays) - (slots or 0) * len(order)
    problem = None
    if slots is None or len(trees) != slots:
        problem = f"jnet cannot map the state of {type(model.optimizer).__name__} with these settings"
    elif extra not in (1, 2):
        problem = f"the file has {len(arrays)} optimizer variables, {type(model.optimizer).__name__} expects {2 + slots * len(order)}"
    if problem is None:
        flats = [jax.tree_util.tree_leaves(t) for t in trees]
        new_flats = [list(f) for f in flats]
        for n, i in enumerate(order):
            for s in range(slots):
                arr = arrays[extra + n * slots + s]
                if tuple(np.shape(arr)) != tuple(np.shape(flats[s][i])):
                    problem = f"optimizer variable {extra + n * slots + s} has shape {np.shape(arr)}, expected {np.shape(flats[s][i])}"
                    break
                new_flats[s][i] = jnp.asarray(arr, flats[s][i].dtype)
            if problem:
                break
    if problem is not None:
        warnings.warn(
            f"{label}: the optimizer state was not restored ({problem}); training resumes with fresh optimizer slots.",
            stacklevel=3,
        )
        return False
    steps = int(np.asarray(arrays[0]))
    new_trees = iter([jax.tree_util.tree_unflatten(params_def, f) for f in new_flats])

    def replace(x):
        return next(new_trees) if _is_slot_tree(x, params_def) else x

    opt_state = jax.tree_util.tree_map(replace, ts.opt_state, is_leaf=lambda x: _is_slot_tree(x, params_def))
    opt_state = _set_counts(opt_state, steps)
    if extra == 2 and hasattr(opt_state, "hyperparams") and "learning_rate" in opt_state.hyperparams:
        hyper = dict(opt_state.hyperparams)
        hyper["learning_rate"] = jnp.asarray(arrays[1], jnp.asarray(hyper["learning_rate"]).dtype)
        opt_state = opt_state._replace(hyperparams=hyper)
    model.set_train_state(ts._replace(opt_state=opt_state, step=jnp.asarray(steps, jnp.asarray(ts.step).dtype)))
    return True


def _set_counts(state, steps):
    """Every optax `count` field (bias correction, schedules) set to Keras's `iterations`."""
    if hasattr(state, "_fields"):
        values = {}
        for field in state._fields:
            value = getattr(state, field)
            if field == "count" and hasattr(value, "dtype"):
                values[field] = jnp.asarray(steps, value.dtype)
            else:
                values[field] = _set_counts(value, steps)
        return type(state)(**values)
    if isinstance(state, (list, tuple)):
        return type(state)(_set_counts(s, steps) for s in state)
    return state
