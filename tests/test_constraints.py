"""Weight constraints: Keras 3's formulas, the layers' `*_constraint` arguments, applied by the
trainer after each step (trainable weights only), configs and bad names."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnet
from jnet import constraints, layers

keras = pytest.importorskip("keras")

W = np.random.RandomState(0).randn(5, 4).astype(np.float32) * 2


@pytest.mark.parametrize(
    "name,kw",
    [
        ("MaxNorm", {"max_value": 1.5}),
        ("MaxNorm", {"max_value": 2.0, "axis": 1}),
        ("MinMaxNorm", {"min_value": 0.5, "max_value": 1.2, "rate": 0.7}),
        ("NonNeg", {}),
        ("UnitNorm", {"axis": 1}),
    ],
    ids=lambda v: str(v),
)
def test_constraints_match_keras(name, kw):
    ours = getattr(constraints, name)(**kw)
    theirs = getattr(keras.constraints, name)(**kw)
    with jax.numpy_rank_promotion("allow"):
        want = np.asarray(theirs(W))
    np.testing.assert_allclose(ours(jnp.asarray(W)), want, rtol=1e-6, atol=1e-6)
    again = constraints.get({"class_name": name, "config": ours.get_config()})
    np.testing.assert_allclose(again(jnp.asarray(W)), want, rtol=1e-6, atol=1e-6)


def test_names_and_bad_input():
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    with pytest.raises(ValueError, match=r"Dense 'd': kernel_constraint: Unknown constraint 'maxnorm'"):
        layers.Dense(2, kernel_constraint="maxnorm", name="d")


def test_fit_keeps_constrained_weights_inside_and_leaves_frozen_ones():
    rs = np.random.RandomState(1)
    x = rs.randn(64, 6).astype(np.float32)
    y = (x @ rs.randn(6, 1)).astype(np.float32)
    frozen = layers.Dense(3, kernel_constraint=constraints.NonNeg(), trainable=False, name="frozen")
    model = jnet.Sequential(
        [
            jnet.Input((6,)),
            layers.Dense(8, kernel_constraint=constraints.MaxNorm(0.5), bias_constraint="non_neg", name="dense"),
            frozen,
            layers.Dense(1),
        ]
    )
    before = model.current_variables()["params"]["frozen"]["kernel"]
    assert bool(jnp.any(before < 0))  # glorot init has negative weights; the frozen layer keeps them
    model.compile(jnet.optimizers.SGD(0.05), "mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    p = model.current_variables()["params"]
    norms = np.sqrt((np.asarray(p["dense"]["kernel"]) ** 2).sum(0))
    assert norms.max() <= 0.5 + 1e-5
    assert np.all(np.asarray(p["dense"]["bias"]) >= 0)
    np.testing.assert_array_equal(p["frozen"]["kernel"], before)


def test_every_layer_family_applies_its_constraints():
    nonneg = constraints.NonNeg()
    cases = [
        (
            layers.Embedding(10, 3, embeddings_constraint=nonneg),
            jax.ShapeDtypeStruct((2, 4), jnp.int32),
            ["embeddings"],
        ),
        (
            layers.Conv2D(2, 3, kernel_constraint=nonneg, bias_constraint=nonneg, bias_initializer="random_normal"),
            jax.ShapeDtypeStruct((1, 5, 5, 2), jnp.float32),
            ["kernel", "bias"],
        ),
        (
            layers.SeparableConv2D(2, 3, depthwise_constraint=nonneg, pointwise_constraint=nonneg),
            jax.ShapeDtypeStruct((1, 5, 5, 2), jnp.float32),
            ["depthwise_kernel", "pointwise_kernel"],
        ),
        (
            layers.LSTM(3, kernel_constraint=nonneg, recurrent_constraint=nonneg),
            jax.ShapeDtypeStruct((1, 4, 2), jnp.float32),
            ["kernel", "recurrent_kernel"],
        ),
        (
            layers.Bidirectional(layers.GRU(2, recurrent_constraint=nonneg)),
            jax.ShapeDtypeStruct((1, 4, 2), jnp.float32),
            [("forward_gru", "recurrent_kernel"), ("backward_gru", "recurrent_kernel")],
        ),
        (
            layers.BatchNormalization(gamma_constraint=constraints.MaxNorm(0.1)),
            jax.ShapeDtypeStruct((3, 2), jnp.float32),
            ["gamma"],
        ),
        (
            layers.MultiHeadAttention(2, 3, kernel_constraint=nonneg),
            None,
            [("query", "kernel"), ("attention_output", "kernel")],
        ),
        (
            layers.TimeDistributed(layers.Dense(2, kernel_constraint=nonneg)),
            jax.ShapeDtypeStruct((1, 3, 4), jnp.float32),
            ["kernel"],
        ),
    ]
    for layer, spec, names in cases:
        if spec is None:
            q = jax.ShapeDtypeStruct((1, 4, 5), jnp.float32)
            params = layer.init(jax.random.key(0), q, q)["params"]
        else:
            params = layer.init(jax.random.key(0), spec)["params"]
        out = layer.constrain(params)
        for name in names:
            path = name if isinstance(name, tuple) else (name,)
            before, after = params, out
            for k in path:
                before, after = before[k], after[k]
            assert after.shape == before.shape
            if isinstance(layer, layers.BatchNormalization):
                assert float(jnp.linalg.norm(after)) <= 0.1 + 1e-6, layer
            else:
                assert bool(jnp.all(after >= 0)) and bool(jnp.any(before < 0)), (layer, name)


def test_constraint_configs_round_trip():
    model = jnet.Sequential([jnet.Input((3,)), layers.Dense(2, kernel_constraint=constraints.MaxNorm(1.5, axis=0))])
    again = jnet.Sequential.from_config(model.get_config())
    c = constraints.get(again.layers[0].kernel_constraint)
    assert isinstance(c, constraints.MaxNorm) and c.max_value == 1.5
    emb = layers.Embedding(5, 2, embeddings_constraint="unit_norm")
    assert constraints.get(layers.Embedding.from_config(emb.get_config()).embeddings_constraint) is not None
