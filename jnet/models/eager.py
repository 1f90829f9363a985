"""A graph model called eagerly on arrays (`model(x)`) runs as one compiled function.

Run layer by layer, an eager call dispatches every op on its own (compiling each the first
time): seconds for a ResNet. Here the call is traced once per input shapes/dtypes, training
flag and layers' `trainable` flags, as `predict`'s step is, with every weight bound as an
argument; what the call assigns (BatchNorm's moving statistics, a stateful RNN's carried
states) is written back to the variables afterwards and what it adds with `add_loss` becomes
`model.losses`, as an eager call leaves them.

A call that relies on Python-side state a compiled function cannot repeat runs eagerly
instead, then and for later calls with the same signature: an eager `SeedGenerator` draw or a
draw from the global seed during the call (each eager call must draw anew), a variable the
model does not own read or written, or code that cannot be traced (`np.asarray` on a tensor,
a data-dependent shape).
"""

from __future__ import annotations

import jax

from jnet import random as jrandom
from jnet.core.variables import _stack, call_scope
from jnet.utils import rng as jrng

__all__ = ["compiled_call"]

_EAGER = object()  # a signature whose call runs eagerly


class _UnboundReads:
    """Sits below the call's scope and notes variables read that the call does not bind (their
    values would be baked into the compiled function as constants)."""

    def __init__(self, bound):
        self.bound = bound
        self.seen = False

    def lookup(self, variable):
        if id(variable) not in self.bound:
            self.seen = True
        return None


class _NotCompilable(Exception):
    pass


def _nested_layers(layer, out, seen):
    for sub in layer._sublayers():
        if id(sub) not in seen:
            seen.add(id(sub))
            out.append(sub)
            _nested_layers(sub, out, seen)
    return out


def _signature(tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(a.shape), str(a.dtype), getattr(a, "weak_type", False)) for a in leaves)


def compiled_call(model, args, kwargs, training, mask, rng):
    """`model(*args, training=, mask=, rng=)` outside any scope, compiled: `(True, outputs)`,
    or `(False, None)` when the call must run eagerly."""
    variables = model.weights
    layers = _nested_layers(model, [], {id(model)})
    key = (
        bool(training),
        _signature((args, kwargs, mask, rng)),
        tuple(layer.trainable for layer in layers),
        tuple(id(v) for v in variables),
    )
    cache = model.__dict__.setdefault("_eager_cache", {})
    entry = cache.get(key)
    if entry is _EAGER:
        return False, None
    if entry is None:
        entry = cache[key] = _make(model, variables, training)
    count = jrng._state["count"]
    try:
        outputs, assigned, losses = entry([v.value for v in variables], args, kwargs, mask, rng)
    except Exception:
        # Python-side state (`_NotCompilable`), code that only runs eagerly (a tracer turned
        # into numpy, a data-dependent shape) or a genuine error: the eager call runs it and
        # raises what it raises.
        jrng._state["count"] = count
        cache[key] = _EAGER
        return False, None
    for i, value in assigned.items():
        variables[i].assign(value)
    model.__dict__["_call_losses"] = list(losses)
    return True, outputs


def _make(model, variables, training):
    bound_ids = {id(v): i for i, v in enumerate(variables)}

    def run(values, args, kwargs, mask, rng):
        reads = _UnboundReads(bound_ids)
        sentinel = {"key": jax.random.key(0), "counts": {}}  # catches eager SeedGenerator draws
        count = jrng._state["count"]
        stack = _stack()
        stack.insert(0, reads)
        jrandom._scopes().insert(0, sentinel)
        try:
            with call_scope({id(v): a for v, a in zip(variables, values)}, training=training, rng=rng) as scope:
                outputs = model._invoke(args, kwargs, training, mask, rng)
                assigned = dict(scope.assigned)
                losses = list(scope.losses)
        finally:
            stack.remove(reads)
            jrandom._scopes().remove(sentinel)
        if (
            reads.seen
            or sentinel["counts"]
            or jrng._state["count"] != count
            or any(vid not in bound_ids for vid in assigned)
        ):
            raise _NotCompilable
        return outputs, {bound_ids[vid]: value for vid, value in assigned.items()}, losses

    return jax.jit(run)
