"""Adafactor, Ftrl, Lamb, CosineDecayRestarts, OrthogonalRegularizer, the lowercase constraint
aliases and the dtype-policy names, against Keras 3."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnet
from jnet import optimizers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)
PARAMS = {"kernel": RS.randn(3, 4).astype(np.float32), "bias": RS.randn(4).astype(np.float32)}
GRADS = [{k: RS.randn(*v.shape).astype(np.float32) for k, v in PARAMS.items()} for _ in range(4)]

CASES = [
    ("Adafactor", {}),
    ("Adafactor", {"learning_rate": 0.5, "clip_threshold": 0.5, "beta_2_decay": -0.5}),
    ("Ftrl", {"learning_rate": 0.1}),
    (
        "Ftrl",
        {
            "learning_rate": 0.1,
            "l1_regularization_strength": 0.05,
            "l2_regularization_strength": 0.1,
            "l2_shrinkage_regularization_strength": 0.01,
            "beta": 0.2,
            "learning_rate_power": -0.7,
        },
    ),
    ("Lamb", {"learning_rate": 0.01}),
    ("Lamb", {"learning_rate": 0.01, "weight_decay": 0.1, "clipnorm": 1.0}),
    ("Adafactor", {"learning_rate": 0.1, "weight_decay": 0.05}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_optimizer_steps_match_keras(name, kwargs):
    ours = getattr(optimizers, name)(**kwargs)
    tx = ours.tx
    params = {k: jnp.asarray(v) for k, v in PARAMS.items()}
    state = tx.init(params)
    step = jax.jit(tx.update)
    theirs = getattr(keras.optimizers, name)(**kwargs)
    kvars = [keras.Variable(PARAMS[k]) for k in ("kernel", "bias")]
    for grads in GRADS:
        updates, state = step({k: jnp.asarray(v) for k, v in grads.items()}, state, params)
        params = optax.apply_updates(params, updates)
        with jax.numpy_rank_promotion("allow"):
            theirs.apply_gradients(zip([grads["kernel"], grads["bias"]], kvars))
    for k, kv in zip(("kernel", "bias"), kvars):
        np.testing.assert_allclose(np.asarray(params[k]), np.asarray(kv.value), rtol=2e-5, atol=2e-6)
    config = ours.get_config()
    for key, value in theirs.get_config().items():
        if key in config and key not in ("name",):
            assert config[key] == pytest.approx(value), key
    clone = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(ours))))
    assert type(clone) is type(ours) and clone.get_config() == config


def test_new_optimizers_train_in_fit():
    x = RS.randn(32, 3).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    for opt in (optimizers.Lamb(0.05), optimizers.Adafactor(0.1), optimizers.Ftrl(0.5), "lamb"):
        model = jnet.Sequential([jnet.Input((3,)), jnet.layers.Dense(1)])
        model.compile(opt, "mse")
        h = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
        assert h.history["loss"][-1] < h.history["loss"][0], opt


def test_cosine_decay_restarts_matches_keras():
    steps = np.arange(0, 60, 3)
    for kwargs in ({}, {"t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}, {"t_mul": 1.5, "m_mul": 0.8}):
        ours = optimizers.schedules.CosineDecayRestarts(0.1, 7, **kwargs)
        theirs = keras.optimizers.schedules.CosineDecayRestarts(0.1, 7, **kwargs)
        got = np.asarray(jax.vmap(ours)(steps))
        expected = np.array([float(theirs(int(s))) for s in steps])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        assert ours.get_config() == theirs.get_config()
        opt = optimizers.SGD(learning_rate=ours)
        assert (
            optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(opt)))).get_config() == opt.get_config()
        )
    with pytest.raises(ValueError, match="first_decay_steps"):
        optimizers.schedules.CosineDecayRestarts(0.1, 0)


def test_orthogonal_regularizer_matches_keras():
    w = RS.randn(4, 3).astype(np.float32)
    for mode in ("rows", "columns"):
        ours = jnet.regularizers.OrthogonalRegularizer(factor=0.3, mode=mode)
        theirs = keras.regularizers.OrthogonalRegularizer(factor=0.3, mode=mode)
        np.testing.assert_allclose(
            float(ours(w)), float(theirs(jnp.asarray(w))), rtol=1e-5
        )  # numpy input takes a Keras path with an axis bug
        assert ours.get_config()["mode"] == theirs.get_config()["mode"]
        assert ours.get_config()["factor"] == pytest.approx(theirs.get_config()["factor"])  # Keras: float32
    # an orthogonal matrix has no penalty
    q, _ = np.linalg.qr(RS.randn(4, 4))
    assert float(jnet.regularizers.orthogonal_regularizer(1.0)(q.astype(np.float32))) < 1e-6
    layer = jnet.layers.Dense(3, kernel_regularizer="orthogonal_regularizer")
    layer(np.ones((2, 4), np.float32))
    assert float(sum(layer.losses)) > 0
    with pytest.raises(ValueError, match="mode"):
        jnet.regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank 2"):
        jnet.regularizers.OrthogonalRegularizer()(np.ones(3, np.float32))


def test_lowercase_constraints_and_dtype_policy_names():
    c = jnet.constraints
    assert (c.max_norm, c.min_max_norm, c.non_neg, c.unit_norm) == (c.MaxNorm, c.MinMaxNorm, c.NonNeg, c.UnitNorm)
    w = np.array([[3.0, -4.0]], np.float32).T
    np.testing.assert_allclose(c.max_norm(2.0)(w), keras.constraints.max_norm(2.0)(w), rtol=1e-6)
    mp = jnet.mixed_precision
    try:
        mp.set_dtype_policy("mixed_bfloat16")
        assert mp.dtype_policy().name == "mixed_bfloat16" and mp.global_policy().compute_dtype == "bfloat16"
    finally:
        mp.set_dtype_policy("float32")
    assert mp.dtype_policy().name == "float32"
    assert optimizers.LossScaleOptimizer is mp.LossScaleOptimizer


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: optimizers.Ftrl(learning_rate_power=0.5), "learning_rate_power"),
        (lambda: optimizers.Ftrl(l1_regularization_strength=-1.0), "l1_regularization_strength"),
        (lambda: optimizers.Adafactor(clip_threshold=0), "clip_threshold"),
        (lambda: optimizers.Lamb(use_ema=True, ema_momentum=2.0), "ema_momentum"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
