"""One harness that checks every layer the same way (DESIGN.md §9).

`check_layer(layer, *inputs)` asserts:
- the output's shape and dtype equal `layer.output_spec` (the `jax.eval_shape` prediction),
  including with an unknown (None) batch axis;
- the config survives a JSON round trip and rebuilds an identical config;
- `jax.jit(apply)` equals eager `apply`;
- `jax.grad` through params (and float inputs) is finite and shaped like them;
- one SGD step on a sum-of-squares loss changes the params (when the layer has any);
- `reference(variables, *inputs)`, when given, matches the output (numpy or Keras oracle).

Returns `(variables, outputs)` for further checks.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import deserialize, serialize


def _spec(x):
    return jax.ShapeDtypeStruct(np.shape(x), jnp.asarray(x).dtype)


def _unknown_batch(spec):
    return jax.ShapeDtypeStruct((None,) + tuple(spec.shape[1:]), spec.dtype)


def check_layer(
    layer,
    *inputs,
    reference=None,
    rtol=1e-5,
    atol=1e-5,
    training=False,
    rng=None,
    key=0,
    variables=None,
    grad=True,
    apply_kwargs=None,
):
    apply_kwargs = apply_kwargs or {}
    inputs = jax.tree_util.tree_map(jnp.asarray, inputs)
    specs = jax.tree_util.tree_map(_spec, inputs)
    if variables is None:
        variables = layer.init(jax.random.key(key), *specs)

    def run(v, *xs):
        return layer.apply(v, *xs, training=training, rng=rng, **apply_kwargs)

    out, state = run(variables, *inputs)

    # shape / dtype: eval_shape prediction, also with an unknown batch axis
    predicted = layer.output_spec(*specs, **apply_kwargs)
    for o, p in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(predicted)):
        assert tuple(o.shape) == tuple(p.shape), (o.shape, p.shape)
        assert o.dtype == p.dtype, (o.dtype, p.dtype)
    unknown = layer.output_spec(*jax.tree_util.tree_map(_unknown_batch, specs), **apply_kwargs)
    for o, p in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(unknown)):
        assert p.shape[0] is None and tuple(p.shape[1:]) == tuple(o.shape[1:]), (o.shape, p.shape)

    # config round trip through JSON
    config = json.loads(json.dumps(serialize(layer)))
    clone = deserialize(config)
    assert type(clone) is type(layer)
    assert serialize(clone) == serialize(layer)

    # jit equals eager
    jit_out, _ = jax.jit(run)(variables, *inputs)
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(jit_out)):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-5, atol=1e-5)

    if reference is not None:
        expected = reference(variables, *inputs)
        for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(expected)):
            np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol)

    if grad and jax.tree_util.tree_leaves(variables["params"]):

        def loss(params, *xs):
            o, _ = run({"params": params, "state": variables["state"]}, *xs)
            return sum(jnp.sum(jnp.square(leaf.astype(jnp.float32))) for leaf in jax.tree_util.tree_leaves(o))

        g = jax.jit(jax.grad(loss))(variables["params"], *inputs)
        for gp, p in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(variables["params"])):
            assert gp.shape == p.shape and bool(jnp.all(jnp.isfinite(gp)))
        stepped = jax.tree_util.tree_map(lambda p, gp: p - 0.1 * gp, variables["params"], g)
        assert any(
            not np.allclose(a, b)
            for a, b in zip(jax.tree_util.tree_leaves(stepped), jax.tree_util.tree_leaves(variables["params"]))
        ), "a gradient step did not change any param"
    return variables, out
