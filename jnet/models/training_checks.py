"""Checks `compile` and `fit` make on the model itself: whether it adds its own losses (so a
`compile()` without a loss can still train) and whether `add_loss` values see padded rows."""

from __future__ import annotations

import warnings

import jax


def warn_padded_add_loss(model, source):
    """Losses a layer adds in `call` (`add_loss`) see the whole batch, and the engine pads the last
    partial batch with copies of real rows: say so rather than let a batch-mean loss drift."""
    n, bs = getattr(source, "n", None), getattr(source, "batch_size", None)
    if not n or not bs or n % bs == 0:
        return
    todo, seen = [model], set()
    while todo:
        layer = todo.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if layer.__dict__.get("_adds_losses"):
            warnings.warn(
                f"fit: {layer._label} adds a loss in call() (add_loss), and the last batch of each epoch "
                f"({n % bs} of {bs} rows) is padded with copies of real rows, which that loss sees; use a "
                f"batch_size that divides the {n} samples for exact values",
                stacklevel=3,
            )
            return
        todo.extend(layer._sublayers())


def has_own_losses(model) -> bool:
    """Whether the model's loss can come from the model itself, as Keras allows compile()
    without a loss then: a weight regularizer, or losses layers add during a (shape-only)
    training call."""
    if any(v.regularizer is not None for v in model.weights):
        return True
    from jnet.core.variables import Variable

    if model._graph is None:
        from jnet.models import subclassed_inputs

        specs = subclassed_inputs.example_specs(model) if model._is_subclassed() and model.built else None
        if specs is None:
            return False
    else:
        specs = [
            jax.ShapeDtypeStruct(tuple(1 if d is None else d for d in t.shape), t.dtype) for t in model._graph.feeds
        ]
    tree = jax.tree_util.tree_map(lambda v: v.spec, model._variable_tree(), is_leaf=lambda v: isinstance(v, Variable))
    losses = jax.eval_shape(
        lambda v, xs: model.apply_with_losses(v, *xs, training=True, rng=jax.random.key(0))[2], tree, specs
    )
    return len(losses) > 0
