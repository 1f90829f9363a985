"""compile / fit / evaluate / predict: behaviour against independent references."""

import jax
import jax.monitoring
import numpy as np
import pytest

import jnet
import jnet.callbacks
from jnet import layers

# ---------------------------------------------------------------------------- helpers

_COMPILES = {"on": False, "n": 0}


def _listener(name, secs, **kw):
    if _COMPILES["on"] and name == "/jax/core/compile/backend_compile_duration":
        _COMPILES["n"] += 1


jax.monitoring.register_event_duration_secs_listener(_listener)


class CountCompiles(jnet.callbacks.Callback):
    """Counts XLA compilations during epoch `epoch` (its validation included)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.count = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            _COMPILES.update(on=True, n=0)

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            _COMPILES["on"] = False
            self.count = _COMPILES["n"]


def mlp(n_in=8, hidden=16, n_out=3, activation="softmax"):
    return jnet.Sequential(
        [layers.Dense(hidden, activation="relu", input_shape=(n_in,)), layers.Dense(n_out, activation=activation)]
    )


def linear(n_in=3):
    return jnet.Sequential([layers.Dense(1, input_shape=(n_in,))])


@pytest.fixture(scope="module")
def cls_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 8)).astype("float32")
    labels = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
    return x, labels, np.eye(3, dtype="float32")[labels]


# ---------------------------------------------------------------------------- the seed workflow


def test_seed_document_workflow():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 784)).astype("float32")
    labels = rng.integers(0, 10, 300)
    x[np.arange(300), labels] += 3.0  # learnable
    y = np.eye(10, dtype="float32")[labels]
    model = jnet.Sequential()
    model.add(layers.Dense(32, activation="relu", input_shape=(784,)))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    h1 = model.fit(x, y, batch_size=128, epochs=3, verbose=0)
    h2 = model.fit(x, y, batch_size=128, epochs=2, verbose=0)  # fit again: continues
    assert set(h1.history) == {"loss", "accuracy"}  # as Keras: no learning_rate unless a callback logs it
    assert h2.history["loss"][-1] < h1.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert 0 <= acc <= 1 and acc > 0.5 and np.isfinite(loss)
    probs = model.predict(x[:7], verbose=0)
    assert probs.shape == (7, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # evaluate's loss is the mean categorical cross-entropy of predict's outputs
    p = model.predict(x, verbose=0)
    ref = -np.mean(np.sum(y * np.log(np.clip(p, 1e-7, 1 - 1e-7)), axis=1))
    np.testing.assert_allclose(loss, ref, rtol=1e-4)


def test_second_epoch_compiles_nothing(cls_data):
    x, labels, _ = cls_data
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    counter = CountCompiles(epoch=1)
    model.fit(x, labels, batch_size=16, epochs=3, validation_split=0.2, verbose=0, callbacks=[counter])
    assert counter.count == 0
    # a second fit on the same data compiles nothing either
    counter = CountCompiles(epoch=0)
    model.fit(x, labels, batch_size=16, epochs=1, validation_split=0.2, verbose=0, callbacks=[counter])
    assert counter.count == 0


def test_steps_per_execution_gives_identical_weights(cls_data):
    x, labels, _ = cls_data
    results = []
    for spe in (1, 4, "auto"):
        jnet.utils.set_random_seed(3)
        model = mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=spe)
        model.fit(x, labels, batch_size=16, epochs=2, verbose=0)  # 90/16: a partial last batch
        results.append(model.get_weights())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_partial_last_batch_is_masked_exactly():
    # SGD on a linear model, no shuffling: the reference is plain numpy on batches 4, 4, 2.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = rng.normal(size=(10, 1)).astype("float32")
    model = linear()
    w0, b0 = model.get_weights()
    model.compile(optimizer=jnet.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    w, b = w0.astype(np.float64), b0.astype(np.float64)
    for s in (slice(0, 4), slice(4, 8), slice(8, 10)):
        err = x[s] @ w + b - y[s]  # (n, 1)
        n = len(err)
        w = w - 0.1 * (2.0 / n) * x[s].T @ err
        b = b - 0.1 * (2.0 / n) * err.sum(axis=0)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-6)


def test_sample_and_class_weights():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 3)).astype("float32")
    labels = np.array([0, 1] * 6)
    y = labels[:, None].astype("float32")
    sw = np.where(labels == 1, 3.0, 1.0).astype("float32")

    def trained(**kw):
        jnet.utils.set_random_seed(5)
        model = linear()
        model.compile(optimizer=jnet.optimizers.SGD(learning_rate=0.1), loss="mse")
        model.fit(x, y, batch_size=12, epochs=1, shuffle=False, verbose=0, **kw)
        return model

    a = trained(sample_weight=sw)
    b = trained(class_weight={0: 1.0, 1: 3.0})
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6)
    # evaluate with sample weights: Keras's sum_over_batch_size = sum(w * l) / n
    pred = a.predict(x, verbose=0)
    ref = np.sum(sw * (pred[:, 0] - y[:, 0]) ** 2) / len(x)
    np.testing.assert_allclose(a.evaluate(x, y, sample_weight=sw, verbose=0), ref, rtol=1e-5)
    unweighted = trained()
    assert not np.allclose(unweighted.get_weights()[0], a.get_weights()[0])


@pytest.fixture(scope="module")
def two_heads():
    inp = jnet.Input(shape=(6,), name="features")
    h = layers.Dense(8, activation="relu")(inp)
    priority = layers.Dense(1, name="priority")(h)
    department = layers.Dense(4, activation="softmax", name="department")(h)
    return jnet.Model(inputs=inp, outputs={"priority": priority, "department": department})


def test_multi_output_losses_weights_and_log_names(two_heads):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = {
        "priority": rng.normal(size=(40, 1)).astype("float32"),
        "department": np.eye(4, dtype="float32")[rng.integers(0, 4, 40)],
    }
    model = two_heads
    model.compile(
        optimizer="adam",
        loss={"priority": "mse", "department": "categorical_crossentropy"},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"department": ["accuracy"]},
    )
    h = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    assert set(h.history) == {
        "loss",
        "priority_loss",
        "department_loss",
        "department_accuracy",
        "val_loss",
        "val_priority_loss",
        "val_department_loss",
        "val_department_accuracy",
    }
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["loss"], logs["priority_loss"] + 0.2 * logs["department_loss"], rtol=1e-5)
    out = model.predict(x, verbose=0)
    assert set(out) == {"priority", "department"} and out["department"].shape == (40, 4)
    np.testing.assert_allclose(logs["priority_loss"], np.mean((out["priority"] - y["priority"]) ** 2), rtol=1e-4)
    # per-output class weights
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, class_weight={"department": {0: 2.0, 1: 1.0}})
    with pytest.raises(ValueError, match=r"priorty.*\['department', 'priority'\]|priorty.*expected keys"):
        model.compile(optimizer="adam", loss={"priorty": "mse"})


def test_validation_split_holds_out_the_last_fraction(cls_data):
    x, labels, _ = cls_data
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    h = model.fit(x, labels, batch_size=16, epochs=1, validation_split=1 / 3, verbose=0)
    val = model.evaluate(x[60:], labels[60:], verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0], val, rtol=1e-5)
    h = model.fit(x[:60], labels[:60], batch_size=16, epochs=1, validation_data=(x[60:], labels[60:]), verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0], model.evaluate(x[60:], labels[60:], verbose=0), rtol=1e-5)


def test_generator_input_matches_arrays(cls_data):
    x, labels, _ = cls_data

    def batches():
        for i in range(0, 90, 16):
            yield x[i : i + 16], labels[i : i + 16]

    weights = []
    for source in ("arrays", "generator"):
        jnet.utils.set_random_seed(7)
        model = mlp()
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=4
        )
        if source == "arrays":
            h = model.fit(x, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
        else:

            class Reiterable:
                def __iter__(self):
                    return batches()

            h = model.fit(Reiterable(), epochs=2, verbose=0)
        weights.append(model.get_weights())
        assert len(h.history["loss"]) == 2
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # a one-shot generator with steps_per_epoch; evaluate and predict from generators too
    model.fit(batches(), steps_per_epoch=3, epochs=1, verbose=0)
    loss = model.evaluate(batches(), verbose=0)[0]
    np.testing.assert_allclose(loss, model.evaluate(x, labels, batch_size=16, verbose=0)[0], rtol=1e-5)
    preds = model.predict((b[0] for b in batches()), verbose=0)
    np.testing.assert_allclose(preds, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_keyboard_interrupt_leaves_usable_weights(cls_data):
    x, labels, _ = cls_data

    class Interrupt(jnet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.seen = self.model.get_weights()
                raise KeyboardInterrupt

    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=1)
    w0 = model.get_weights()
    cb = Interrupt()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, labels, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    after = model.get_weights()
    for a, b in zip(after, cb.seen):  # the model is at its last completed step (3 steps)
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(after[0], w0[0])
    assert np.isfinite(model.predict(x, verbose=0)).all()
    model.fit(x, labels, batch_size=16, epochs=1, verbose=0)  # and training goes on


def test_seed_makes_runs_reproducible(cls_data):
    x, labels, _ = cls_data
    runs = []
    for _ in range(2):
        jnet.utils.set_random_seed(11)
        model = mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, labels, batch_size=16, epochs=2, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_resume_from_train_state_is_bit_identical(cls_data):
    x, labels, _ = cls_data
    jnet.utils.set_random_seed(4)
    ref = mlp()
    ref.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=2)
    w0 = ref.get_weights()
    ref.fit(x, labels, batch_size=16, epochs=3, verbose=0)

    class Stop(jnet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if (
                self.params
                and batch >= 1
                and self.model._trainer.ts is not None
                and int(self.model._trainer.ts.step) == 8
            ):
                self.model.stop_training = True

    jnet.utils.set_random_seed(4)
    run = mlp()
    run.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=2)
    run.set_weights(w0)
    run.fit(x, labels, batch_size=16, epochs=3, verbose=0, callbacks=[Stop()])  # stops in epoch 1, batch 1
    saved = jax.device_get(run.get_train_state())
    assert int(saved.step) == 8

    class Restore(jnet.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.set_train_state(saved)
            self.model.resume_at(1, 2)  # epoch 1, after its batches 0 and 1

    saved.opt_state.hyperparams["learning_rate"] = np.float32(0.001)  # as restored from disk
    fresh = mlp()
    fresh.compile(
        optimizer=jnet.optimizers.Adam(0.5), loss="sparse_categorical_crossentropy", steps_per_execution=2
    )  # the restored state's rate wins
    fresh.fit(x, labels, batch_size=16, epochs=3, verbose=0, callbacks=[Restore()])
    for a, b in zip(ref.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_live_variables_learning_rate_and_set_weights_during_fit(cls_data):
    x, labels, _ = cls_data

    class Probe(jnet.callbacks.Callback):
        rates = ()

        def on_epoch_begin(self, epoch, logs=None):
            self.rates += (self.model.optimizer.learning_rate,)

        def on_epoch_end(self, epoch, logs=None):
            live = self.model.current_variables()["params"]
            self.live_ok = all(isinstance(a, jax.Array) for a in jax.tree_util.tree_leaves(live))
            if epoch == 0:
                self.model.optimizer.learning_rate = 0.5
                self.saved = self.model.get_weights()
            if epoch == 1:
                self.model.set_weights(self.saved)  # EarlyStopping-style restore

    model = mlp()
    model.compile(optimizer=jnet.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    probe = Probe()
    counter = CountCompiles(epoch=1)
    model.fit(x, labels, batch_size=16, epochs=2, verbose=0, callbacks=[probe, counter])
    assert probe.live_ok
    assert probe.rates == (0.01, 0.5)
    assert counter.count == 0  # a new learning rate is not a new program
    for a, b in zip(model.get_weights(), probe.saved):
        np.testing.assert_array_equal(a, b)


def test_on_batch_methods(cls_data):
    x, labels, _ = cls_data
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x[:16], labels[:16])
    for _ in range(5):
        logs = model.train_on_batch(x[:16], labels[:16], return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    after = model.test_on_batch(x[:16], labels[:16])
    assert after[0] < before[0]
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), model.predict(x[:5], verbose=0), rtol=1e-6)


def test_bad_inputs_are_named_before_compiling(cls_data):
    x, labels, onehot = cls_data
    model = mlp()
    with pytest.raises(ValueError, match="adamm"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="msee"):
        model.compile(optimizer="adam", loss="msee")
    with pytest.raises(ValueError, match="accurracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["accurracy"])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"x has 90.*y has 80"):
        model.fit(x, onehot[:80], verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight has 10"):
        model.fit(x, onehot, sample_weight=np.ones(10), verbose=0)
    with pytest.raises(ValueError, match=r"(?s)\(90,\).*categorical_crossentropy.*\(90, 3\).*Sparse"):
        model.fit(x, labels, verbose=0)  # integer labels with a one-hot loss
    bad = x.copy()
    bad[17, 2] = np.nan
    with pytest.raises(ValueError, match="NaN.*index 17"):
        model.fit(bad, onehot, check_nan=True, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        mlp().fit(x, onehot, verbose=0)


def test_second_order_optimizers_solve_least_squares():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + 0.01 * rng.normal(size=(64, 1))).astype("float32")
    design = np.hstack([x, np.ones((64, 1))])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    for opt, epochs in ((jnet.optimizers.LBFGS(), 20), (jnet.optimizers.NewtonCG(), 3)):
        model = linear()
        model.compile(optimizer=opt, loss="mse")
        h = model.fit(x, y, epochs=epochs, verbose=0)
        w, b = model.get_weights()
        np.testing.assert_allclose(np.concatenate([w[:, 0], b]), coef[:, 0], atol=2e-3)
        assert h.history["loss"][-1] < h.history["loss"][0]


def test_progress_output(cls_data, capsys):
    x, labels, _ = cls_data
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, batch_size=16, epochs=2, verbose=2)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[1].startswith("Epoch 2/2") and "loss:" in out[1] and "accuracy:" in out[1]
    model.fit(x, labels, batch_size=16, epochs=1, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().err


class _Noise(jnet.layers.Layer):
    """Test layer: multiplies by a random 0/2 mask in training only (like Dropout(0.5))."""

    def call(self, x, training=False, rng=None):
        if not training:
            return x
        keep = jax.random.bernoulli(rng, 0.5, x.shape)
        return jax.numpy.where(keep, 2.0 * x, 0.0)


class _CountTrainingCalls(jnet.layers.Layer):
    """Test layer with carried state (like BatchNorm's statistics): counts training calls."""

    def build(self, input_shape):
        self.n = self.add_weight((), "zeros", name="n", trainable=False)

    def call(self, x, training=False):
        self.n.assign(self.n + (1.0 if training else 0.0))
        return x


def test_training_mode_state_and_penalty():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(24, 4)).astype("float32")
    y = rng.normal(size=(24, 1)).astype("float32")
    model = jnet.Sequential(
        [
            layers.Dense(8, input_shape=(4,), kernel_regularizer=jnet.regularizers.L2(0.1)),
            _Noise(),
            _CountTrainingCalls(),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    counter = model.layers[2].name
    assert float(model.current_variables()["state"][counter]["n"]) == 3  # 3 training steps
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))  # no noise
    loss = model.evaluate(x, y, verbose=0)
    assert float(model.current_variables()["state"][counter]["n"]) == 3  # evaluation leaves state alone
    kernel = model.get_weights()[0]
    ref = np.mean((model.predict(x, verbose=0) - y) ** 2) + 0.1 * np.sum(kernel**2)
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    # training mode really is random: two train_on_batch losses at equal weights differ
    state = model.get_train_state()
    a = model.train_on_batch(x, y)
    model.set_train_state(state)  # back to the same weights: inference has no noise
    b = model.test_on_batch(x, y)
    assert a != b


def test_multi_input_dict_and_list_outputs():
    a = jnet.Input(shape=(3,), name="a")
    b = jnet.Input(shape=(2,), name="b")
    out_a = layers.Dense(1, name="out_a")(a)
    out_b = layers.Dense(2, activation="softmax", name="out_b")(b)
    model = jnet.Model(inputs=[a, b], outputs=[out_a, out_b])
    rng = np.random.default_rng(8)
    xa, xb = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    ya, yb = rng.normal(size=(16, 1)).astype("float32"), rng.integers(0, 2, 16)
    preds = model.predict({"a": xa, "b": xb}, verbose=0)  # uncompiled predict works
    assert isinstance(preds, list) and preds[1].shape == (16, 2)
    model.compile(
        optimizer="adam",
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights=[0.5, 1.0],
        metrics=[[], ["accuracy"]],
    )
    h = model.fit({"a": xa, "b": xb}, [ya, yb], batch_size=4, epochs=1, verbose=0)
    assert set(h.history) == {"loss", "out_a_loss", "out_b_loss", "out_b_accuracy"}
    logs = model.evaluate([xa, xb], {"out_a": ya, "out_b": yb}, return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["loss"], 0.5 * logs["out_a_loss"] + logs["out_b_loss"], rtol=1e-5)
    with pytest.raises(ValueError, match=r"1 entries.*2 output\(s\) \['out_a', 'out_b'\]"):
        model.compile(optimizer="adam", loss=["mse"])


def test_gradient_accumulation_averages_batches():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    weights = []
    for batch_size, accumulate in ((8, None), (4, 2)):
        jnet.utils.set_random_seed(2)
        model = linear()
        model.compile(optimizer=jnet.optimizers.SGD(0.1), loss="mse", gradient_accumulation_steps=accumulate)
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_compile_config_round_trip(two_heads):
    import json

    model = two_heads
    sched = jnet.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.9)
    model.compile(
        optimizer=jnet.optimizers.Adam(learning_rate=sched, clipnorm=1.0),
        loss={"priority": "mse", "department": jnet.losses.CategoricalCrossentropy(label_smoothing=0.1)},
        loss_weights={"priority": 2.0, "department": 1.0},
        metrics={"department": ["accuracy"]},
        steps_per_execution=3,
    )
    config = json.loads(json.dumps(model.get_compile_config()))
    other = jnet.Model.from_config(model.get_config())
    other.compile_from_config(config)
    assert other.get_compile_config() == config
    assert isinstance(other.optimizer, jnet.optimizers.Adam) and other.optimizer.clipnorm == 1.0
    assert other._compile_args["loss"]["department"].label_smoothing == 0.1


def test_generator_builds_a_deferred_model_and_resolves_accuracy(cls_data):
    x, labels, _ = cls_data
    model = jnet.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = ((x[i : i + 30], labels[i : i + 30]) for i in range(0, 90, 30))
    model.fit(batches, epochs=1, verbose=0)  # builds from the first batch
    loss, acc = model.evaluate(iter([(x, labels)]), verbose=0)
    np.testing.assert_allclose(acc, np.mean(model.predict(x, verbose=0).argmax(1) == labels), atol=1e-6)


def test_fit_matches_keras_end_to_end(cls_data):
    """Same weights, data order, optimizer: jnet's fit/evaluate equal Keras 3's, including the
    partial last batch, sample weights, the running epoch loss and accuracy."""
    keras = pytest.importorskip("keras")
    x, labels, _ = cls_data
    sw = np.linspace(0.5, 1.5, len(x)).astype("float32")
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    k = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3, activation="softmax")]
    )
    k.set_weights(model.get_weights())
    k.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ours = model.fit(x, labels, sample_weight=sw, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    with jax.numpy_rank_promotion("allow"):  # Keras's own layers broadcast implicitly
        theirs = k.fit(x, labels, sample_weight=sw, batch_size=16, epochs=2, shuffle=False, verbose=0).history
        k_eval = k.evaluate(x, labels, verbose=0)
    for a, b in zip(model.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours["accuracy"], theirs["accuracy"], rtol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, labels, verbose=0), k_eval, rtol=1e-5)


def test_run_eagerly_matches_compiled():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = rng.normal(size=(10, 1)).astype("float32")
    weights = []
    for eager in (False, True):
        jnet.utils.set_random_seed(1)
        model = linear()
        model.compile(optimizer="adam", loss="mse", run_eagerly=eager)
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
