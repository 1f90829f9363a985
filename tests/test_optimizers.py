"""Optimizers: one-to-three steps against Keras 3 on the same gradients; schedules; API."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from jnet import optimizers as O  # noqa: E402

W0 = np.array([[0.5, -1.0, 2.0], [0.1, 0.0, -0.3]], np.float32)
GRADS = [
    np.array([[0.3, -0.2, 1.5], [0.0, 2.0, -0.7]], np.float32),
    np.array([[-0.1, 0.4, 0.2], [1.0, -3.0, 0.05]], np.float32),
    np.array([[0.7, 0.1, -0.9], [0.2, 0.3, 0.4]], np.float32),
]

CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "clipnorm": 1.0}),
    ("AdamW", {"learning_rate": 0.01}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "global_clipnorm": 1.0}),
    ("Adagrad", {"learning_rate": 0.1, "clipvalue": 0.5}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.05}),
]


def keras_steps(name, kwargs):
    opt = getattr(keras.optimizers, name)(**kwargs)
    var = keras.Variable(W0.copy())
    out = []
    for g in GRADS:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
        out.append(np.asarray(var.value))
    return out


def jnet_steps(name, kwargs):
    opt = getattr(O, name)(**kwargs)
    params = {"w": jnp.asarray(W0)}
    state = opt.tx.init(params)
    out = []
    for g in GRADS:
        updates, state = opt.tx.update({"w": jnp.asarray(g)}, state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(params["w"]))
    return out


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_keras(name, kwargs):
    for ours, theirs in zip(jnet_steps(name, kwargs), keras_steps(name, kwargs)):
        np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-7)


def test_keras_defaults():
    assert O.SGD().learning_rate == 0.01 and O.SGD().momentum == 0.0
    adam = O.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert O.AdamW().weight_decay == 0.004
    rms = O.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    for name in ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion"):
        k = getattr(keras.optimizers, type(O.get(name)).__name__)()
        assert O.get(name).learning_rate == pytest.approx(float(k.learning_rate))


SCHEDULES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5, staircase=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=7, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=7, warmup_target=0.1, warmup_steps=3)),
    ("PiecewiseConstantDecay", dict(boundaries=[2, 5], values=[0.1, 0.05, 0.01])),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=4, end_learning_rate=0.01, power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=4, cycle=True)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES)
def test_schedules_match_keras(name, kwargs):
    ours = getattr(O.schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    for step in range(12):
        np.testing.assert_allclose(float(ours(step)), float(theirs(step)), rtol=1e-5, atol=1e-8)
    again = O.schedules.deserialize(O.schedules.serialize(ours))
    assert float(again(5)) == float(ours(5))


def test_optimizer_with_schedule_matches_keras():
    kwargs = dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.5)
    ours = jnet_steps("SGD", {"learning_rate": O.schedules.ExponentialDecay(**kwargs)})
    theirs = keras_steps("SGD", {"learning_rate": keras.optimizers.schedules.ExponentialDecay(**kwargs)})
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    plain = jnet_steps("SGD", {"learning_rate": optax.exponential_decay(0.1, 1, 0.5)})  # optax schedules too
    np.testing.assert_allclose(plain[-1], ours[-1], rtol=1e-6)


def test_get_serialize_and_errors():
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'.*'adam'"):
        O.get("adamm")
    assert isinstance(O.get("Adam"), O.Adam)
    raw = optax.sgd(0.1)
    assert O.get(raw).tx is raw
    opt = O.Adam(learning_rate=O.schedules.CosineDecay(0.1, 10), clipnorm=2.0, amsgrad=True)
    again = O.deserialize(O.serialize(opt))
    assert isinstance(again, O.Adam) and again.clipnorm == 2.0 and again.amsgrad
    assert float(again._learning_rate(3)) == pytest.approx(float(opt._learning_rate(3)))
    with pytest.raises(ValueError, match="only one of"):
        O.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.1
    with pytest.raises(ValueError, match="learning_rate"):
        O.Adam(learning_rate="fast")


def test_learning_rate_is_injected_state():
    opt = O.SGD(learning_rate=0.1)
    params = {"w": jnp.ones(2)}
    state = opt.tx.init(params)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.1)
    opt.learning_rate = 0.2
    assert opt.learning_rate == 0.2 and opt.injected_learning_rate == 0.2


def test_newton_cg_solves_a_quadratic_in_one_step():
    a = jnp.array([[3.0, 1.0], [1.0, 2.0]])
    b = jnp.array([1.0, -1.0])
    f = lambda p: 0.5 * p["x"] @ a @ p["x"] - b @ p["x"]  # noqa: E731
    tx = O.NewtonCG(damping=0.0).tx
    params = {"x": jnp.zeros(2)}
    state = tx.init(params)
    value, grad = jax.value_and_grad(f)(params)
    updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=f)
    np.testing.assert_allclose(optax.apply_updates(params, updates)["x"], np.linalg.solve(a, b), rtol=1e-5)
