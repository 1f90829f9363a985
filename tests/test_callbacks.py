"""Callbacks against the real `fit`: TensorBoard, EarlyStopping, ModelCheckpoint,
BackupAndRestore, learning-rate callbacks, CSVLogger, TerminateOnNaN, LambdaCallback."""

import csv
import math
import os

import jax
import numpy as np
import pytest

import jnet
from jnet import callbacks, layers


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    return x, y


def _model(optimizer="sgd", metrics=("mae",), steps_per_execution=1):
    # One step per compiled call (with "auto", callbacks that override batch hooks get every
    # batch too; an integer steps_per_execution calls them once per execution, as Keras).
    jnet.utils.set_random_seed(1)
    model = jnet.Sequential([layers.Dense(4, input_dim=3, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", metrics=list(metrics), steps_per_execution=steps_per_execution)
    return model


class _FakeModel:
    """Just enough of a model for callbacks driven by hand."""

    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros(2)]
        self.metrics = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]


def _drive(cb, values, key="val_loss"):
    """Run `cb` over epochs with `values` of `key`; weights record the epoch. Returns epochs run."""
    model = _FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    ran = 0
    for epoch, v in enumerate(values):
        model.weights = [np.full(2, float(epoch))]
        cb.on_epoch_end(epoch, {key: v})
        ran += 1
        if model.stop_training:
            break
    cb.on_train_end()
    return ran, model


# --------------------------------------------------------------------------- TensorBoard


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_seed_sequence_scalars_and_histograms(tmp_path):
    logdir = str(tmp_path / "logs")
    tensorboard_callback = callbacks.TensorBoard(logdir, histogram_freq=1)
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, callbacks=[tensorboard_callback], verbose=0)
    assert sorted(os.listdir(logdir)) == ["train", "validation"]
    train, val = _events(tmp_path / "logs" / "train"), _events(tmp_path / "logs" / "validation")
    for tag in ("epoch_loss", "epoch_mae", "epoch_learning_rate"):
        assert tag in train.Tags()["scalars"], train.Tags()
        assert [e.step for e in train.Scalars(tag)] == [0, 1]
    for tag in ("epoch_loss", "epoch_mae"):
        assert [e.step for e in val.Scalars(tag)] == [0, 1]
    np.testing.assert_allclose([e.value for e in train.Scalars("epoch_loss")], model.history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(
        [e.value for e in val.Scalars("epoch_loss")], model.history.history["val_loss"], rtol=1e-6
    )
    hist_tags = train.Tags()["histograms"]
    for name in ("dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"):
        tag = f"{name}/histogram"  # Keras's tag: the weight's path
        assert tag in hist_tags, hist_tags
        assert len(train.Histograms(tag)) == 2
    # The kernel histogram counts every weight.
    assert train.Histograms("dense/kernel/histogram")[-1].histogram_value.num == 12
    assert any("model_summary" in t for t in train.Tags()["tensors"])


def test_tensorboard_update_freq_batch(tmp_path):
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=2, batch_size=8, callbacks=[callbacks.TensorBoard(tmp_path, update_freq="batch")], verbose=0)
    train = _events(tmp_path / "train")
    steps = [e.step for e in train.Scalars("batch_loss")]
    assert steps == list(range(1, 9))  # 4 batches x 2 epochs, at the global batch count
    with pytest.raises(ValueError, match="update_freq"):
        callbacks.TensorBoard(tmp_path, update_freq="sometimes")


# --------------------------------------------------------------------------- EarlyStopping


def test_early_stopping_patience_baseline_start_from_epoch_by_hand():
    ran, _ = _drive(callbacks.EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.91, 0.8])
    assert ran == 4  # best at epoch 1, two epochs without improvement
    ran, _ = _drive(callbacks.EarlyStopping(patience=1, min_delta=0.2), [1.0, 0.9, 0.85])
    assert ran == 2  # 0.9 is not 0.2 better than 1.0
    ran, _ = _drive(callbacks.EarlyStopping(patience=2, baseline=0.5), [0.9, 0.95, 0.97, 0.4])
    assert ran == 2  # the first epoch did not beat the baseline, so it counts towards patience
    ran, _ = _drive(callbacks.EarlyStopping(patience=2), [0.9, 0.95, 0.97, 0.4])
    assert ran == 3
    ran, _ = _drive(callbacks.EarlyStopping(patience=0, start_from_epoch=3), [1.0, 2.0, 3.0, 4.0, 5.0])
    assert ran == 5  # watching starts at epoch 3, stops at the first non-improvement after it
    ran, model = _drive(
        callbacks.EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True),
        [0.5, 0.8, 0.7, 0.6],
        key="val_accuracy",
    )
    assert ran == 3 and model.weights[0][0] == 1.0  # max mode from the name; best epoch restored
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        _drive(callbacks.EarlyStopping(monitor="val_foo"), [1.0], key="val_foo")


def test_early_stopping_in_fit_restores_best_weights():
    model = _model()
    x, y = _data()
    snapshots = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    # Loss falls every epoch, so in "max" mode epoch 0 stays the best and training stops after it.
    stop = callbacks.EarlyStopping(monitor="loss", mode="max", patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, batch_size=8, callbacks=[record, stop], verbose=0)
    assert len(history.history["loss"]) == 2 and stop.stopped_epoch == 1
    for a, b in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(snapshots[0][0], snapshots[1][0])


# --------------------------------------------------------------------------- ModelCheckpoint


def test_model_checkpoint_formatted_names_and_best_only(tmp_path):
    model = _model()
    x, y = _data()
    every = callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.keras"))
    best = callbacks.ModelCheckpoint(
        str(tmp_path / "best.weights.h5"), monitor="val_loss", save_best_only=True, save_weights_only=True
    )
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, callbacks=[every, best], verbose=0)
    val = history.history["val_loss"]
    expected = {f"ckpt-{e + 1:02d}-{v:.2f}.keras" for e, v in enumerate(val)}
    assert expected <= set(os.listdir(tmp_path))
    last = jnet.load_model(tmp_path / f"ckpt-03-{val[-1]:.2f}.keras")
    for a, b in zip(last.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert best.best == pytest.approx(min(val))
    restored = _model()
    restored.load_weights(tmp_path / "best.weights.h5")  # the weights of the best epoch
    x_val, y_val = x[24:], y[24:]
    assert restored.evaluate(x_val, y_val, verbose=0)[0] == pytest.approx(min(val), rel=1e-5)


def test_model_checkpoint_save_freq_batches_and_max_to_keep(tmp_path):
    model = _model()
    x, y = _data()
    ckpt = callbacks.ModelCheckpoint(
        str(tmp_path / "w-{epoch}-{batch}.h5"), save_weights_only=True, save_freq=3, max_to_keep=2
    )
    model.fit(x, y, epochs=2, batch_size=8, callbacks=[ckpt], verbose=0)
    # 8 batches, a save every 3 (after batches 3 and 6: epoch 1 batch 3, epoch 2 batch 2).
    assert sorted(os.listdir(tmp_path)) == ["w-1-3.h5", "w-2-2.h5"]
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint("x.keras", save_freq="sometimes")


# --------------------------------------------------------------------------- BackupAndRestore


class _Crash(callbacks.Callback):
    """Simulates the process dying mid-epoch: raises after a given batch."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.at[0] and batch >= self.at[1]:  # chunks may skip the exact batch
            raise KeyboardInterrupt("simulated kill")


def test_backup_and_restore_resumes_bit_identical(tmp_path):
    x, y = _data(40)
    kwargs = dict(epochs=3, batch_size=8, validation_split=0.2, verbose=0)  # 4 batches per epoch

    reference = _model(optimizer="adam")
    ref_history = reference.fit(x, y, **kwargs)

    backup_dir = tmp_path / "backup"
    crashed = _model(optimizer="adam")
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(x, y, callbacks=[callbacks.BackupAndRestore(backup_dir, save_freq=3), _Crash(1, 3)], **kwargs)
    assert os.listdir(backup_dir)  # the last backup: after epoch 1, batch 1 (6 batches seen)

    resumed = _model(optimizer="adam")  # a fresh process would build the model from scratch
    history = resumed.fit(x, y, callbacks=[callbacks.BackupAndRestore(backup_dir, save_freq=3)], **kwargs)
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The interrupted epoch (1) and the next one report exactly the reference's numbers.
    assert history.history["loss"] == ref_history.history["loss"][1:]
    assert history.history["val_loss"] == ref_history.history["val_loss"][1:]
    assert not backup_dir.exists()  # delete_checkpoint=True after a finished run


def test_backup_and_restore_epoch_freq_and_keep(tmp_path):
    x, y = _data()
    model = _model()
    cb = callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    model.fit(x, y, epochs=2, batch_size=8, callbacks=[cb], verbose=0)
    assert (tmp_path / "b" / "backup.jnet").exists()
    again = _model()
    # The backup says both epochs are done: fit restores the final state and runs nothing.
    history = again.fit(x, y, epochs=2, batch_size=8, callbacks=[cb], verbose=0)
    assert history.history.get("loss", []) == []
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- learning rate


def _compile_counter():
    counts = {"n": 0}

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            counts["n"] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    return counts


def test_learning_rate_scheduler_sets_rate_without_recompiling():
    model = _model(optimizer=jnet.optimizers.SGD(learning_rate=0.1))
    x, y = _data()
    counts = _compile_counter()
    after_first = {}
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)
    mark = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: after_first.setdefault("n", counts["n"]))
    history = model.fit(x, y, epochs=3, batch_size=8, callbacks=[sched, mark], verbose=0)
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.025], rtol=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert after_first["n"] > 0  # the listener sees compilations (the first epoch compiles the step)
    assert counts["n"] == after_first["n"]  # epochs 2 and 3 compiled nothing new
    # The rate really reaches the step: a zero rate leaves the weights alone.
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=8, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.0)], verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_reduce_lr_on_plateau_in_fit():
    model = _model(optimizer=jnet.optimizers.SGD(learning_rate=0.1))
    x, y = _data()
    # "max" on a falling loss: never improves after epoch 0, so the rate halves every epoch.
    cb = callbacks.ReduceLROnPlateau(monitor="loss", mode="max", factor=0.5, patience=1, min_lr=0.02)
    history = model.fit(x, y, epochs=4, batch_size=8, callbacks=[cb], verbose=0)
    # As Keras: each epoch logs the rate it trained with; the cut applies from the next epoch.
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.1, 0.05, 0.025], rtol=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(0.02)  # floored at min_lr
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_cooldown_by_hand():
    class Opt:
        learning_rate = 1.0

    model = _FakeModel()
    model.optimizer = Opt()
    cb = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, cooldown=2)
    cb.set_model(model)
    cb.on_train_begin()
    rates = []
    for epoch, v in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        cb.on_epoch_end(epoch, {"val_loss": v})
        rates.append(model.optimizer.learning_rate)
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]  # Keras: the cooldown epoch count includes the reducing one


# --------------------------------------------------------------------------- loggers and misc


def test_csv_logger_rows_and_append(tmp_path):
    model = _model()
    x, y = _data()
    path = tmp_path / "log" / "training.csv"
    history = model.fit(
        x, y, epochs=2, batch_size=8, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)], verbose=0
    )
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert set(rows[0]) == {"epoch", *history.history}
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], history.history["val_loss"], rtol=1e-6)
    model.fit(
        x,
        y,
        epochs=1,
        batch_size=8,
        validation_split=0.25,
        callbacks=[callbacks.CSVLogger(path, append=True)],
        verbose=0,
    )
    with open(path) as f:
        lines = f.read().strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch")


def test_terminate_on_nan():
    model = _model(optimizer=jnet.optimizers.SGD(learning_rate=1e6))
    x, y = _data()
    with pytest.warns(RuntimeWarning, match="training stopped there"):
        history = model.fit(x * 1e3, y * 1e3, epochs=5, batch_size=8, callbacks=[callbacks.TerminateOnNaN()], verbose=0)
    assert len(history.history["loss"]) < 5
    assert not math.isfinite(history.history["loss"][-1])
    fake = _FakeModel()
    cb = callbacks.TerminateOnNaN()
    cb.set_model(fake)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not fake.stop_training
    cb.on_train_batch_end(1, {"loss": float("inf")})
    assert fake.stop_training


def test_lambda_callback_hooks_and_errors():
    seen = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append("begin"),
        on_batch_end=lambda batch, logs: seen.append(batch),
        on_test_end=lambda logs: seen.append("test"),
    )
    assert cb.wants_batch_logs and not callbacks.LambdaCallback(on_epoch_end=print).wants_batch_logs
    cb.on_train_begin()
    cb.on_train_batch_end(3, {})
    cb.on_test_end()
    assert seen == ["begin", 3, "test"]
    with pytest.raises(ValueError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_middle=print)


# --------------------------------------------------------------------------- Keras as oracle


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(patience=2),
        dict(patience=1, min_delta=0.05),
        dict(patience=2, baseline=0.3),
        dict(patience=1, start_from_epoch=3, restore_best_weights=True),
        dict(patience=3, mode="max"),
    ],
)
def test_early_stopping_matches_keras(kwargs):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(len(str(kwargs)))
    for _trial in range(5):
        values = list(np.round(rng.uniform(0.0, 1.0, size=12), 3))
        ran, ours = _drive(callbacks.EarlyStopping(**kwargs), values)
        ref_cb = keras.callbacks.EarlyStopping(**kwargs)
        ref_ran, theirs = _drive(ref_cb, values)
        assert ran == ref_ran, (values, kwargs)
        np.testing.assert_array_equal(ours.weights[0], theirs.weights[0])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(patience=1),
        dict(patience=2, cooldown=1, min_lr=0.05),
        dict(patience=1, mode="max", factor=0.3, min_delta=0.1),
    ],
)
def test_reduce_lr_on_plateau_matches_keras(kwargs):
    keras = pytest.importorskip("keras")

    class Opt:
        learning_rate = 1.0

    rng = np.random.default_rng(len(str(kwargs)))
    for _trial in range(5):
        values = list(np.round(rng.uniform(0.0, 1.0, size=12), 3))
        rates = []
        for cb in (callbacks.ReduceLROnPlateau(**kwargs), keras.callbacks.ReduceLROnPlateau(**kwargs)):
            model = _FakeModel()
            model.optimizer = Opt()
            cb.set_model(model)
            cb.on_train_begin()
            seq = []
            for epoch, v in enumerate(values):
                cb.on_epoch_end(epoch, {"val_loss": v})
                seq.append(float(model.optimizer.learning_rate))
            rates.append(seq)
        np.testing.assert_allclose(rates[0], rates[1], rtol=1e-6, err_msg=str((values, kwargs)))
