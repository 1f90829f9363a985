"""`use_ema` / `ema_momentum` / `ema_overwrite_frequency` on every optimizer, the end-of-fit
finalisation and `callbacks.SwapEMAWeights`, against Keras 3."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnet
from jnet import callbacks, optimizers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(3)
PARAMS = {"kernel": RS.randn(3, 2).astype(np.float32), "bias": RS.randn(2).astype(np.float32)}
GRADS = [{k: RS.randn(*v.shape).astype(np.float32) for k, v in PARAMS.items()} for _ in range(5)]
X = RS.randn(16, 3).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)


def _steps(ours, theirs):
    """Apply GRADS with both; return (our params, our average, Keras vars, Keras averages)."""
    tx = ours.tx
    params = {k: jnp.asarray(v) for k, v in PARAMS.items()}
    state = tx.init(params)
    kvars = [keras.Variable(PARAMS[k]) for k in ("kernel", "bias")]
    step = jax.jit(tx.update)
    for grads in GRADS:
        updates, state = step({k: jnp.asarray(v) for k, v in grads.items()}, state, params)
        params = optax.apply_updates(params, updates)
        with jax.numpy_rank_promotion("allow"):
            theirs.apply_gradients(zip([grads["kernel"], grads["bias"]], kvars))
    average = optimizers.ema.find_ema(state)
    return params, average, kvars, getattr(theirs, "_model_variables_moving_average", None)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("Adam", {"learning_rate": 0.05, "use_ema": True, "ema_overwrite_frequency": 2}),
        ("Lamb", {"learning_rate": 0.05, "use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 3}),
        ("RMSprop", {"learning_rate": 0.05, "use_ema": True, "weight_decay": 0.1, "clipnorm": 1.0}),
    ],
)
def test_ema_steps_match_keras(name, kwargs):
    ours = getattr(optimizers, name)(**kwargs)
    params, average, kvars, kaverage = _steps(ours, getattr(keras.optimizers, name)(**kwargs))
    for k, kv, ka in zip(("kernel", "bias"), kvars, kaverage):
        np.testing.assert_allclose(np.asarray(params[k]), np.asarray(kv.value), rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(np.asarray(average[k]), np.asarray(ka.value), rtol=2e-5, atol=2e-6)
    config = ours.get_config()
    theirs = getattr(keras.optimizers, name)(**kwargs).get_config()
    for key in ("use_ema", "ema_momentum", "ema_overwrite_frequency"):
        assert config[key] == theirs[key]
    clone = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(ours))))
    assert clone.get_config() == config and clone.use_ema


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"use_ema": True, "ema_momentum": 1.5}, "ema_momentum"),
        ({"use_ema": True, "ema_overwrite_frequency": -1}, "ema_overwrite_frequency"),
        ({"use_ema": True, "ema_overwrite_frequency": 2.5}, "ema_overwrite_frequency"),
    ],
)
def test_bad_ema_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        optimizers.Adam(**kwargs)


def _models(make_opt, make_kopt):
    ours = jnet.Sequential([jnet.Input((3,)), jnet.layers.Dense(4, activation="tanh"), jnet.layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=make_opt(), loss="mse")
    theirs.compile(optimizer=make_kopt(), loss="mse")
    return ours, theirs


def _fit_both(ours, theirs, cbs, kcbs, **kw):
    h = ours.fit(X, Y, batch_size=4, shuffle=False, verbose=0, callbacks=cbs, **kw)
    with jax.numpy_rank_promotion("allow"):
        kh = theirs.fit(X, Y, batch_size=4, shuffle=False, verbose=0, callbacks=kcbs, **kw)
    return h, kh


def _close(ours, theirs):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fit_ends_on_the_average_and_swap_evaluates_with_it():
    ours, theirs = _models(
        lambda: optimizers.SGD(0.1, use_ema=True, ema_momentum=0.7),
        lambda: keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.7),
    )
    h, kh = _fit_both(
        ours,
        theirs,
        [callbacks.SwapEMAWeights()],
        [keras.callbacks.SwapEMAWeights()],
        epochs=2,
        validation_data=(X[:8], Y[:8]),
    )
    # val_loss comes from the swapped-in average; loss from the raw weights.
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h.history[key], kh.history[key], rtol=1e-4)
    _close(ours, theirs)  # finalize_variable_values: the weights are the average after fit
    raw = ours.optimizer.moving_average()  # the average now holds itself too
    np.testing.assert_allclose(np.asarray(raw["dense"]["kernel"]), ours.get_weights()[0], rtol=1e-6)
    # evaluate outside fit with the callback: swapped in, then back.
    with jax.numpy_rank_promotion("allow"):
        kval = theirs.evaluate(X, Y, verbose=0, callbacks=[keras.callbacks.SwapEMAWeights()])
    before = ours.get_weights()
    assert ours.evaluate(X, Y, verbose=0, callbacks=[callbacks.SwapEMAWeights()]) == pytest.approx(kval, rel=1e-4)
    for a, b in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_swap_on_epoch_and_overwrite_frequency_match_keras():
    ours, theirs = _models(
        lambda: optimizers.Adam(0.05, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=3),
        lambda: keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=3),
    )
    seen, kseen = [], []
    record = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(ours.get_weights()[0]))
    krecord = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: kseen.append(theirs.get_weights()[0]))
    _fit_both(
        ours,
        theirs,
        [callbacks.SwapEMAWeights(swap_on_epoch=True), record],
        [keras.callbacks.SwapEMAWeights(swap_on_epoch=True), krecord],
        epochs=3,
    )
    assert len(seen) == 3
    for a, b in zip(seen, kseen):  # what ModelCheckpoint after the swap would save
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    _close(ours, theirs)


def test_swap_needs_an_ema_optimizer():
    model = jnet.Sequential([jnet.Input((3,)), jnet.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="use_ema=True"):
        model.fit(X, Y, epochs=1, verbose=0, validation_data=(X, Y), callbacks=[callbacks.SwapEMAWeights()])
    model.compile(optimizer=optimizers.SGD(use_ema=True), loss="mse")
    with pytest.raises(ValueError, match="no moving average"):
        model.evaluate(X, Y, verbose=0, callbacks=[callbacks.SwapEMAWeights()])


# ----------------------------------------------------------------------------- Muon, ScheduleFreeAdamW

TREE = {
    "embedding": {"embeddings": RS.randn(5, 3).astype(np.float32)},
    "dense": {"kernel": RS.randn(3, 4).astype(np.float32), "bias": RS.randn(4).astype(np.float32)},
    "conv": {"kernel": RS.randn(6, 2).astype(np.float32)},
}
TREE_GRADS = [jax.tree_util.tree_map(lambda a: RS.randn(*a.shape).astype(np.float32), TREE) for _ in range(4)]
ORDER = [("embedding", "embeddings"), ("dense", "kernel"), ("dense", "bias"), ("conv", "kernel")]


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("Muon", {"learning_rate": 0.05}),
        (
            "Muon",
            {
                "learning_rate": 0.05,
                "nesterov": False,
                "exclude_layers": ["conv"],
                "rms_rate": None,
                "adam_lr_ratio": 0.5,
                "weight_decay": 0.1,
                "use_ema": True,
            },
        ),
        ("ScheduleFreeAdamW", {"learning_rate": 0.05, "warmup_steps": 3, "weight_decay": 0.1, "clipnorm": 1.0}),
    ],
)
def test_new_optimizers_match_keras(name, kwargs):
    ours = getattr(optimizers, name)(**kwargs)
    tx = ours.tx
    params = jax.tree_util.tree_map(jnp.asarray, TREE)
    state = tx.init(params)
    theirs = getattr(keras.optimizers, name)(**kwargs)
    kvars = [keras.Variable(TREE[a][b], name=b) for a, b in ORDER]
    for v, (a, b) in zip(kvars, ORDER):
        v._path = f"{a}/{b}"  # Muon picks its rule by the variable's path, as in a model
    step = jax.jit(tx.update)
    for grads in TREE_GRADS:
        updates, state = step(grads, state, params)
        params = optax.apply_updates(params, updates)
        with jax.numpy_rank_promotion("allow"):
            theirs.apply_gradients(zip([grads[a][b] for a, b in ORDER], kvars))
    for v, (a, b) in zip(kvars, ORDER):
        np.testing.assert_allclose(np.asarray(params[a][b]), np.asarray(v.value), rtol=2e-5, atol=5e-6)
    config = ours.get_config()
    for key, value in theirs.get_config().items():
        if key in config and key != "name":
            assert config[key] == pytest.approx(value), key
    clone = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(ours))))
    assert type(clone) is type(ours) and clone.get_config() == config
    assert isinstance(optimizers.get(name.lower()), type(ours))


def test_new_optimizers_train_in_fit():
    model = jnet.Sequential([jnet.Input((3,)), jnet.layers.Dense(4), jnet.layers.Dense(1)])
    model.compile(optimizer=optimizers.Muon(0.02), loss="mse")
    history = model.fit(X, Y, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match="warmup_steps"):
        optimizers.ScheduleFreeAdamW(warmup_steps=-1)
    with pytest.raises(ValueError, match="ns_steps"):
        optimizers.Muon(ns_steps=1.5)


# ----------------------------------------------------------------------------- MultiOptimizer


def _two_layer(lib):
    return lib.Sequential(
        [lib.Input((3,)), lib.layers.Dense(4, activation="tanh", name="encoder"), lib.layers.Dense(1, name="head")]
    )


def test_multi_optimizer_matches_keras_and_round_trips(tmp_path):
    ours, theirs = _two_layer(jnet), _two_layer(keras)
    theirs.set_weights(ours.get_weights())
    opt_map = optimizers.OptimizerMap(optimizers.SGD(0.1))
    opt_map[".*encoder/.*"] = optimizers.Adam(0.05)  # Keras's paths start with the model's name
    kmap = keras.optimizers.OptimizerMap(keras.optimizers.SGD(0.1))
    kmap[".*encoder/.*"] = keras.optimizers.Adam(0.05)
    ours.compile(optimizer=optimizers.MultiOptimizer(opt_map), loss="mse")
    theirs.compile(optimizer=keras.optimizers.MultiOptimizer(kmap), loss="mse")
    _fit_both(ours, theirs, None, None, epochs=2)
    _close(ours, theirs)
    assert [type(o).__name__ for o in ours.optimizer.optimizers] == ["Adam", "SGD"]
    config = optimizers.serialize(ours.optimizer)
    clone = optimizers.deserialize(json.loads(json.dumps(config)))
    assert clone.get_config() == ours.optimizer.get_config()
    from_keras = optimizers.deserialize(json.loads(json.dumps(keras.optimizers.serialize(theirs.optimizer))))
    assert isinstance(from_keras.optimizers[0], optimizers.Adam) and from_keras.optimizers[
        0
    ].learning_rate == pytest.approx(0.05)
    with pytest.raises(AttributeError, match="sub-optimizers"):
        ours.optimizer.learning_rate  # noqa: B018 - Keras: a MultiOptimizer has none
    ours.save(tmp_path / "multi.keras")
    with jax.numpy_rank_promotion("allow"):
        loaded = keras.models.load_model(tmp_path / "multi.keras")
    assert [type(o).__name__ for o in loaded.optimizer.optimizers] == ["Adam", "SGD"]


def test_multi_optimizer_selector_function_and_errors():
    adam, frozen = optimizers.Adam(0.05), optimizers.SGD(0.0)
    model = _two_layer(jnet)
    before = model.get_weights()
    select = lambda v: frozen if v.path.startswith("head") else adam  # noqa: E731
    model.compile(optimizer=optimizers.MultiOptimizer(select), loss="mse")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    after = model.get_weights()
    assert not np.allclose(before[0], after[0])  # encoder kernel: Adam
    np.testing.assert_array_equal(before[2], after[2])  # head kernel: SGD with lr 0
    with pytest.raises(ValueError, match="selector function cannot be serialized"):
        model.optimizer.get_config()
    with pytest.raises(ValueError, match="use_ema"):
        optimizers.OptimizerMap(optimizers.SGD(use_ema=True))
    with pytest.raises(ValueError, match="already"):
        opt_map = optimizers.OptimizerMap(optimizers.SGD(), {"a": optimizers.Adam()})
        opt_map["a"] = optimizers.Adam()
