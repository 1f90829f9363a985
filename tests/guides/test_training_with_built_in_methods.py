"""Keras guide "Training & evaluation with the built-in methods" (keras-io
guides/training_with_built_in_methods.py), ported with `import jnet as keras`,
`from jnet import layers, ops`; model, loss and metric code is the guide's.
Left out: MNIST download (tiny random data), tf.data / torch DataLoader sections, TensorBoard
callback, `plot_model`."""

import numpy as np
import pytest
from guide_util import fit_both, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras, layers, ops = JNET


def get_uncompiled_model(keras, layers, ops):
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compile_args(keras):
    return dict(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )


def _mnist(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784)).astype("float32"), rng.integers(0, 10, (n,))


def test_api_overview_matches_keras():
    x_train, y_train = _mnist()
    x_val, y_val = _mnist(8, seed=1)
    model, km, history, _ = fit_both(
        get_uncompiled_model,
        get_compile_args,
        x_train,
        y_train,
        dict(batch_size=16, epochs=2, validation_data=(x_val, y_val)),
    )
    assert set(history) == {"loss", "sparse_categorical_accuracy", "val_loss", "val_sparse_categorical_accuracy"}
    results = model.evaluate(x_val, y_val, batch_size=8, verbose=0)
    with keras_ok():
        np.testing.assert_allclose(results, km.evaluate(x_val, y_val, batch_size=8, verbose=0), rtol=1e-4)
    predictions = model.predict(x_val[:3], verbose=0)
    assert predictions.shape == (3, 10)


def test_validation_split_class_weight_and_sample_weight_match_keras():
    x_train, y_train = _mnist()
    fit_both(
        get_uncompiled_model, get_compile_args, x_train, y_train, dict(batch_size=16, validation_split=0.25, epochs=1)
    )
    class_weight = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 2.0, 6: 1.0, 7: 1.0, 8: 1.0, 9: 1.0}
    fit_both(
        get_uncompiled_model,
        get_compile_args,
        x_train,
        y_train,
        dict(class_weight=class_weight, batch_size=16, epochs=1),
    )
    sample_weight = np.ones(shape=(len(y_train),))
    sample_weight[y_train == 5] = 2.0
    fit_both(
        get_uncompiled_model,
        get_compile_args,
        x_train,
        y_train,
        dict(sample_weight=sample_weight, batch_size=16, epochs=1),
    )


def guide_losses_and_metrics(keras, layers, ops):
    def custom_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, "float32")
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

        def reset_state(self):
            self.true_positives.assign(0)

    return custom_mean_squared_error, CustomMSE, CategoricalTruePositives


def test_custom_loss_function_and_loss_class_match_keras():
    x_train, y_train = _mnist()
    y_train_one_hot = np.asarray(ops.one_hot(y_train, num_classes=10))
    fit_both(
        get_uncompiled_model,
        lambda k: dict(
            optimizer=k.optimizers.Adam(), loss=guide_losses_and_metrics(*(JNET if k is JNET[0] else KERAS))[0]
        ),
        x_train,
        y_train_one_hot,
        dict(batch_size=16, epochs=1),
    )
    fit_both(
        get_uncompiled_model,
        lambda k: dict(
            optimizer=k.optimizers.Adam(), loss=guide_losses_and_metrics(*(JNET if k is JNET[0] else KERAS))[1]()
        ),
        x_train,
        y_train_one_hot,
        dict(batch_size=16, epochs=1),
    )


def test_custom_metric_counts_true_positives():
    """The guide's Keras-style metric (add_variable, update_state assigning it, result reading it)
    in fit and evaluate. Checked against numpy on fixed weights: Keras 3 itself cannot run this
    guide code on this JAX version (`result()` returns the variable, which jax.jit refuses)."""
    x_train, y_train = _mnist()
    metric = guide_losses_and_metrics(*JNET)[2]()
    model = get_uncompiled_model(*JNET)
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[metric],
    )
    history = model.fit(x_train, y_train.reshape(-1, 1), batch_size=16, epochs=2, verbose=0)
    assert len(history.history["categorical_true_positives"]) == 2
    logs = model.evaluate(x_train, y_train.reshape(-1, 1), batch_size=16, verbose=0, return_dict=True)
    expected = np.sum(np.argmax(model.predict(x_train, verbose=0), axis=1) == y_train)
    assert logs["categorical_true_positives"] == pytest.approx(float(expected))
    eager = guide_losses_and_metrics(*JNET)[2]()  # eagerly, as Keras: update_state / result / reset_state
    eager.update_state(np.array([[1], [2]]), np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]]))
    assert float(eager.result()) == 1.0
    eager.reset_state()
    assert float(eager.result()) == 0.0


def test_metric_objects_given_to_compile_hold_the_state_like_keras():
    """Not in the guide: the metric object passed to compile() reads, after fit and after
    evaluate, the state of the last epoch / the evaluation, as Keras's does."""
    x_train, y_train = _mnist()
    x_val, y_val = _mnist(8, seed=1)
    given = []

    def compile_args(k):
        given.append(k.metrics.SparseCategoricalAccuracy())
        return dict(
            optimizer=k.optimizers.RMSprop(learning_rate=1e-3),
            loss=k.losses.SparseCategoricalCrossentropy(),
            metrics=[given[-1]],
        )

    jm, km, jh, _ = fit_both(get_uncompiled_model, compile_args, x_train, y_train, dict(batch_size=16, epochs=2))
    jmetric, kmetric = given
    with keras_ok():
        after_fit = float(kmetric.result())
    assert after_fit > 0 and float(jmetric.result()) == pytest.approx(after_fit, abs=1e-6)
    assert float(jmetric.result()) == pytest.approx(jh["sparse_categorical_accuracy"][-1], abs=1e-6)
    jlogs = jm.evaluate(x_val, y_val, batch_size=4, verbose=0, return_dict=True)
    with keras_ok():
        km.evaluate(x_val, y_val, batch_size=4, verbose=0)
        after_evaluate = float(kmetric.result())
    assert float(jmetric.result()) == pytest.approx(after_evaluate, abs=1e-6)
    assert float(jmetric.result()) == pytest.approx(jlogs["sparse_categorical_accuracy"], abs=1e-6)


def test_add_loss_layer_in_model():
    class ActivityRegularizationLayer(layers.Layer):
        def call(self, inputs):
            self.add_loss(ops.sum(inputs) * 0.1)
            return inputs

    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x_train, y_train = _mnist()
    # The activity loss is much larger than the cross-entropy: the reported loss shows it.
    loss = model.evaluate(x_train, y_train, batch_size=32, verbose=0)
    hidden = keras.Model(inputs, model.get_layer("dense_1").output).predict(x_train, verbose=0)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y_train, model.predict(x_train, verbose=0))
    np.testing.assert_allclose(loss, float(ce) + 0.1 * hidden.sum(), rtol=1e-4)
    model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)


def multi_io_model(keras, layers, ops):
    image_input = keras.Input(shape=(8, 8, 3), name="img_input")  # (32, 32, 3) in the guide
    timeseries_input = keras.Input(shape=(None, 10), name="ts_input")
    x1 = layers.Conv2D(3, 3)(image_input)
    x1 = layers.GlobalMaxPooling2D()(x1)
    x2 = layers.Conv1D(3, 3)(timeseries_input)
    x2 = layers.GlobalMaxPooling1D()(x2)
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(5, name="class_output")(x)
    return keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])


def _multi_io_data():
    rng = np.random.default_rng(0)
    img_data = rng.random(size=(16, 8, 8, 3)).astype("float32")
    ts_data = rng.random(size=(16, 20, 10)).astype("float32")
    score_targets = rng.random(size=(16, 1)).astype("float32")
    class_targets = rng.random(size=(16, 5)).astype("float32")
    return [img_data, ts_data], [score_targets, class_targets]


def test_multi_input_output_losses_metrics_weights_match_keras():
    x, y = _multi_io_data()
    fit_both(
        multi_io_model,
        lambda k: dict(
            optimizer=k.optimizers.RMSprop(1e-3),
            loss={"score_output": k.losses.MeanSquaredError(), "class_output": k.losses.CategoricalCrossentropy()},
            metrics={
                "score_output": [k.metrics.MeanAbsolutePercentageError(), k.metrics.MeanAbsoluteError()],
                "class_output": [k.metrics.CategoricalAccuracy()],
            },
            loss_weights={"score_output": 2.0, "class_output": 1.0},
        ),
        x,
        y,
        dict(batch_size=8, epochs=1),
    )


def test_multi_output_with_a_loss_list_and_none_loss_matches_keras():
    x, y = _multi_io_data()
    # List loss version, then "no loss for one output" (the guide's `[None, CCE]` and dict forms).
    fit_both(
        multi_io_model,
        lambda k: dict(
            optimizer=k.optimizers.RMSprop(1e-3), loss=[k.losses.MeanSquaredError(), k.losses.CategoricalCrossentropy()]
        ),
        x,
        y,
        dict(batch_size=8, epochs=1),
    )
    # The installed Keras refuses a partial loss dict ("Expected keys ... in loss dict"), so this
    # part checks jnet alone: the loss is the class_output cross-entropy only.
    model = multi_io_model(*JNET)
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3), loss={"class_output": keras.losses.CategoricalCrossentropy()}
    )
    loss = model.evaluate(x, {"score_output": y[0], "class_output": y[1]}, batch_size=16, verbose=0)
    expected = keras.losses.CategoricalCrossentropy()(y[1], model.predict(x, verbose=0)[1])
    np.testing.assert_allclose(np.ravel(loss)[0], float(expected), rtol=1e-5)


def test_callbacks_early_stopping_checkpoint_and_schedule(tmp_path):
    x_train, y_train = _mnist()
    model = get_uncompiled_model(*JNET)
    initial_learning_rate = 0.1
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=lr_schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=0),
        keras.callbacks.ModelCheckpoint(
            filepath=str(tmp_path / "mymodel_{epoch}.jnet"), save_best_only=True, monitor="val_loss", verbose=0
        ),
    ]
    # lr 0.1 with RMSprop diverges from the first steps: val_loss stops improving and the run stops early.
    h = model.fit(x_train, y_train, epochs=20, batch_size=16, callbacks=callbacks, validation_split=0.25, verbose=0)
    assert len(h.history["loss"]) < 20
    assert any(p.name.startswith("mymodel_") for p in tmp_path.iterdir())


def test_py_dataset():
    class ExamplePyDataset(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x = x
            self.y = y
            self.batch_size = batch_size

        def __len__(self):
            return int(np.ceil(len(self.x) / float(self.batch_size)))

        def __getitem__(self, idx):
            batch_x = self.x[idx * self.batch_size : (idx + 1) * self.batch_size]
            batch_y = self.y[idx * self.batch_size : (idx + 1) * self.batch_size]
            return batch_x, batch_y

    x_train, y_train = _mnist()
    train_py_dataset = ExamplePyDataset(x_train, y_train, batch_size=16)
    val_py_dataset = ExamplePyDataset(x_train[:8], y_train[:8], batch_size=8)
    model = get_uncompiled_model(*JNET)
    model.compile(**get_compile_args(keras))
    h = model.fit(train_py_dataset, batch_size=64, validation_data=val_py_dataset, epochs=1, verbose=0)
    assert "val_loss" in h.history
    assert len(model.evaluate(val_py_dataset, verbose=0)) == 2
