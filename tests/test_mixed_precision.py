"""Mixed precision: policies, dtypes of params / activations / gradients, loss scaling."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnet
from jnet import mixed_precision as mp
from jnet import optimizers


@pytest.fixture
def policy():
    """Set a global policy for one test and always restore float32."""

    def set_(name):
        mp.set_global_policy(name)

    yield set_
    mp.set_global_policy("float32")


def _mlp(out_activation="softmax", **out_kwargs):
    return jnet.Sequential(
        [
            jnet.layers.Dense(16, activation="relu", input_shape=(4,)),
            jnet.layers.Dense(3, activation=out_activation, **out_kwargs),
        ]
    )


def test_policy_properties():
    p = mp.Policy("mixed_bfloat16")
    assert (p.name, p.variable_dtype, p.compute_dtype) == ("mixed_bfloat16", "float32", "bfloat16")
    p = mp.DTypePolicy("mixed_float16")
    assert (p.variable_dtype, p.compute_dtype) == ("float32", "float16")
    p = mp.DTypePolicy("bfloat16")
    assert (p.variable_dtype, p.compute_dtype) == ("bfloat16", "bfloat16")
    assert mp.DTypePolicy.from_config(p.get_config()) == p
    with pytest.raises(ValueError, match="Unknown dtype policy 'mixed_int3'"):
        mp.DTypePolicy("mixed_int3")


def test_set_global_policy_round_trip(policy):
    assert mp.global_policy() == mp.Policy("float32")
    policy("mixed_bfloat16")
    assert mp.global_policy().name == "mixed_bfloat16"
    assert jnet.layers.Dense(2).compute_dtype == jnp.bfloat16
    mp.set_global_policy(mp.Policy("mixed_float16"))
    assert mp.global_policy().compute_dtype == "float16"
    mp.set_global_policy(None)
    assert mp.global_policy().name == "float32"
    with pytest.raises(ValueError, match="Unknown dtype policy"):
        mp.set_global_policy("float99")


def test_mixed_bfloat16_dtypes_of_params_activations_gradients(policy):
    policy("mixed_bfloat16")
    model = _mlp()
    variables = model.current_variables()
    leaves = jax.tree_util.tree_leaves(variables["params"])
    assert leaves and all(p.dtype == jnp.float32 for p in leaves)  # params float32
    x = jnp.ones((2, 4), jnp.float32)
    hidden = model.layers[0].apply({"params": variables["params"]["dense"]}, x)[0]
    assert hidden.dtype == jnp.bfloat16  # activations bf16
    probs = model.apply(variables, x)[0]
    assert probs.dtype == jnp.float32  # softmax in float32
    np.testing.assert_allclose(np.asarray(probs.sum(-1)), 1.0, rtol=1e-6)

    def loss(params):
        p = model.apply({"params": params, "state": {}}, x)[0]
        return -jnp.mean(jnp.log(p[:, 0]))

    grads = jax.grad(loss)(variables["params"])
    assert all(g.dtype == jnp.float32 for g in jax.tree_util.tree_leaves(grads))  # grads float32
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))


def test_per_layer_dtype_overrides_global(policy):
    policy("mixed_bfloat16")
    model = _mlp(out_activation=None, dtype="float32")
    out = model.apply(model.current_variables(), jnp.ones((2, 4)))[0]
    assert out.dtype == jnp.float32
    assert model.layers[0].compute_dtype == jnp.bfloat16
    layer = jnet.layers.Dense(2, dtype=mp.Policy("mixed_float16"))
    assert layer.compute_dtype == jnp.float16 and layer.param_dtype == jnp.float32
    assert layer.get_config()["dtype"] == "mixed_float16"  # JSON-able config
    assert jnet.layers.Dense.from_config(layer.get_config()).compute_dtype == jnp.float16


def _train(model, x, y, steps, tx, loss_scale=None):
    """A plain loop (the engine's fit does the same through model.compile/fit)."""
    params = model.current_variables()["params"]
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state):
        def loss_fn(p):
            pred = model.apply({"params": p, "state": {}}, x)[0].astype(jnp.float32)
            loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(jnp.log(pred + 1e-7), y))
            scaled = loss if loss_scale is None else loss * mp.find_loss_scale(opt_state)
            return scaled, loss

        grads, loss = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    losses = []
    for _ in range(steps):
        params, opt_state, loss = step(params, opt_state)
        losses.append(float(loss))
    return losses, params


def _blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], np.float32)
    y = rng.integers(0, 3, size=96)
    x = centers[y] + 0.3 * rng.normal(size=(96, 4)).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y)


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
def test_training_still_converges(policy, name):
    policy(name)
    x, y = _blobs()
    tx = mp.LossScaleOptimizer(optimizers.Adam(0.05)).tx if name == "mixed_float16" else optimizers.Adam(0.05).tx
    losses, params = _train(_mlp(), x, y, 40, tx, loss_scale=name == "mixed_float16" or None)
    assert losses[-1] < 0.1 < losses[0]
    assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(params))


# --------------------------------------------------------------------------- loss scaling


def test_dynamic_loss_scale_finite_step_equals_inner_step():
    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([0.5, 0.25])}
    tx = mp.dynamic_loss_scale(optax.sgd(0.1), initial_scale=8.0, dynamic_growth_steps=3)
    state = tx.init(params)
    scaled = jax.tree_util.tree_map(lambda g: g * 8.0, grads)
    updates, state = tx.update(scaled, state, params)
    np.testing.assert_allclose(np.asarray(updates["w"]), [-0.05, -0.025], rtol=1e-6)
    assert float(state.loss_scale) == 8.0 and int(state.good_steps) == 1
    for _ in range(2):
        updates, state = tx.update(scaled, state, params)
    assert float(state.loss_scale) == 16.0 and int(state.good_steps) == 0  # grew after 3 steps


def test_dynamic_loss_scale_skips_non_finite_steps():
    params = {"w": jnp.zeros(2)}
    tx = mp.dynamic_loss_scale(optax.adam(0.1), initial_scale=4.0)
    state = tx.init(params)
    _, state = tx.update({"w": jnp.array([1.0, 1.0])}, state, params)
    before = state.inner_state
    updates, state = tx.update({"w": jnp.array([jnp.nan, 1.0])}, state, params)
    np.testing.assert_array_equal(np.asarray(updates["w"]), [0.0, 0.0])
    assert float(state.loss_scale) == 2.0 and int(state.good_steps) == 0
    for new, old in zip(jax.tree_util.tree_leaves(state.inner_state), jax.tree_util.tree_leaves(before)):
        np.testing.assert_array_equal(np.asarray(new), np.asarray(old))  # Adam moments untouched
    for _ in range(5):
        _, state = tx.update({"w": jnp.array([jnp.inf, 0.0])}, state, params)
    assert float(state.loss_scale) == 1.0  # floored at 1


def test_loss_scaling_rescues_float16_gradients_that_underflow(policy):
    """In float16 the cotangent 2e-9 * y underflows to 0; scaled by 2**15 it survives."""
    policy("mixed_float16")
    model = jnet.Sequential([jnet.layers.Dense(4, input_shape=(3,)), jnet.layers.Dense(1)])
    params = model.current_variables()["params"]
    x = jnp.ones((2, 3))

    def loss(p):
        return 1e-9 * jnp.sum(jnp.square(model.apply({"params": p, "state": {}}, x)[0].astype(jnp.float32)))

    plain = jax.grad(loss)(params)
    assert all(not bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(plain))  # all underflowed

    opt = mp.LossScaleOptimizer(optimizers.SGD(1.0))
    state = opt.tx.init(params)
    grads = jax.grad(lambda p: opt.scale_loss(loss(p), state))(params)
    updates, _ = opt.tx.update(grads, state, params)

    mp.set_global_policy("float32")
    ref_model = jnet.Sequential([jnet.layers.Dense(4, input_shape=(3,)), jnet.layers.Dense(1)])
    ref = jax.grad(lambda p: 1e-9 * jnp.sum(jnp.square(ref_model.apply({"params": p, "state": {}}, x)[0])))(params)
    for u, r in zip(jax.tree_util.tree_leaves(updates), jax.tree_util.tree_leaves(ref)):
        assert bool(jnp.any(u != 0))
        np.testing.assert_allclose(np.asarray(-u), np.asarray(r), rtol=2e-2, atol=1e-12)  # SGD(1): update = -grad


def test_loss_scale_optimizer_config_and_learning_rate():
    opt = mp.LossScaleOptimizer(optimizers.Adam(0.01), initial_scale=128.0, dynamic_growth_steps=10)
    assert opt.learning_rate == 0.01
    opt.learning_rate = 0.02
    assert opt.learning_rate == 0.02 and opt.inner_optimizer.learning_rate == 0.02
    state = opt.tx.init({"w": jnp.zeros(2)})
    assert float(mp.find_loss_scale(state)) == 128.0
    assert state.hyperparams["learning_rate"] == pytest.approx(0.02)  # the engine's write path
    again = mp.LossScaleOptimizer.from_config(opt.get_config())
    assert isinstance(again.inner_optimizer, optimizers.Adam) and again.dynamic_growth_steps == 10
    again = optimizers.deserialize(optimizers.serialize(opt))  # compile configs
    assert isinstance(again, mp.LossScaleOptimizer) and again.initial_scale == 128.0
    assert mp.find_loss_scale(optax.sgd(0.1).init({"w": jnp.zeros(2)})) is None
    with pytest.raises(ValueError, match="dynamic_loss_scale"):
        mp.LossScaleOptimizer(optax.sgd(0.1))
    with pytest.raises(ValueError, match="initial_scale must be positive"):
        mp.LossScaleOptimizer("sgd", initial_scale=0)


# --------------------------------------------------------------------------- through fit


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
def test_fit_converges_under_mixed_policy(policy, name):
    policy(name)
    x, y = _blobs()
    model = _mlp()
    opt = optimizers.Adam(0.05)
    if name == "mixed_float16":
        opt = mp.LossScaleOptimizer(opt)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    history = model.fit(np.asarray(x), np.asarray(y), batch_size=32, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.1 < losses[0]
    assert all(w.dtype == np.float32 for w in model.get_weights())
    probs = model.predict(np.asarray(x[:4]), verbose=0)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_fit_applies_the_loss_scale(policy):
    """A loss so small that float16 cotangents underflow: without scaling fit changes nothing;
    LossScaleOptimizer's scale (applied by the engine's train step) makes the update happen."""
    policy("mixed_float16")
    x = np.ones((8, 3), np.float32)
    y = np.zeros((8, 1), np.float32)

    def tiny_mse(y_true, y_pred):
        return 1e-9 * jnp.mean(jnp.square(y_pred - y_true), axis=-1)

    results = {}
    for scaled in (False, True):
        jnet.utils.set_random_seed(0)
        model = jnet.Sequential([jnet.layers.Dense(4, input_shape=(3,)), jnet.layers.Dense(1)])
        before = model.get_weights()
        opt = optimizers.SGD(1e6)
        model.compile(optimizer=mp.LossScaleOptimizer(opt) if scaled else opt, loss=tiny_mse)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        results[scaled] = max(float(np.max(np.abs(a - b))) for a, b in zip(model.get_weights(), before))
    assert results[False] == 0.0
    assert results[True] > 1e-4
