"""Keras guide "Writing your own callbacks" (keras-io guides/writing_your_own_callbacks.py),
ported with `import jnet as keras`; the callbacks are the guide's, with `print` replaced by
appending to a list so the test can compare what jnet and Keras 3 report, hook by hook.
Left out: MNIST download (tiny random data instead)."""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()


def get_model(keras):
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


def guide_callbacks(keras, out):
    class CustomCallback(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            out.append(("Starting training", sorted(logs.keys())))

        def on_train_end(self, logs=None):
            out.append(("Stop training", sorted(logs.keys())))

        def on_epoch_begin(self, epoch, logs=None):
            out.append((f"Start epoch {epoch} of training", sorted(logs.keys())))

        def on_epoch_end(self, epoch, logs=None):
            out.append((f"End epoch {epoch} of training", sorted(logs.keys())))

        def on_test_begin(self, logs=None):
            out.append(("Start testing", sorted(logs.keys())))

        def on_test_end(self, logs=None):
            out.append(("Stop testing", sorted(logs.keys())))

        def on_predict_begin(self, logs=None):
            out.append(("Start predicting", sorted(logs.keys())))

        def on_predict_end(self, logs=None):
            out.append(("Stop predicting", sorted(logs.keys())))

        def on_train_batch_begin(self, batch, logs=None):
            out.append((f"...Training: start of batch {batch}", sorted(logs.keys())))

        def on_train_batch_end(self, batch, logs=None):
            out.append((f"...Training: end of batch {batch}", sorted(logs.keys())))

        def on_test_batch_begin(self, batch, logs=None):
            out.append((f"...Evaluating: start of batch {batch}", sorted(logs.keys())))

        def on_test_batch_end(self, batch, logs=None):
            out.append((f"...Evaluating: end of batch {batch}", sorted(logs.keys())))

        def on_predict_batch_begin(self, batch, logs=None):
            out.append((f"...Predicting: start of batch {batch}", sorted(logs.keys())))

        def on_predict_batch_end(self, batch, logs=None):
            out.append((f"...Predicting: end of batch {batch}", sorted(logs.keys())))

    class LossAndErrorPrintingCallback(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            out.append("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))

        def on_test_batch_end(self, batch, logs=None):
            out.append("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            out.append(
                "The average loss for epoch {} is {:7.2f} and mean absolute error is {:7.2f}.".format(
                    epoch, logs["loss"], logs["mean_absolute_error"]
                )
            )

    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        """Stop training when the loss is at its min, i.e. the loss stops decreasing."""

        def __init__(self, patience=0):
            super().__init__()
            self.patience = patience
            self.best_weights = None

        def on_train_begin(self, logs=None):
            self.wait = 0
            self.stopped_epoch = 0
            self.best = np.inf

        def on_epoch_end(self, epoch, logs=None):
            current = logs.get("loss")
            if np.less(current, self.best):
                self.best = current
                self.wait = 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    out.append("Restoring model weights from the end of the best epoch.")
                    self.model.set_weights(self.best_weights)

        def on_train_end(self, logs=None):
            if self.stopped_epoch > 0:
                out.append(f"Epoch {self.stopped_epoch + 1}: early stopping")

    class CustomLearningRateScheduler(keras.callbacks.Callback):
        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule

        def on_epoch_begin(self, epoch, logs=None):
            if not hasattr(self.model.optimizer, "learning_rate"):
                raise ValueError('Optimizer must have a "learning_rate" attribute.')
            lr = self.model.optimizer.learning_rate
            scheduled_lr = self.schedule(epoch, lr)
            self.model.optimizer.learning_rate = scheduled_lr
            # Rounded: Keras's learning_rate is a float32 variable (0.10000000149011612), jnet's a float.
            out.append(f"Epoch {epoch}: Learning rate is {round(float(np.array(scheduled_lr)), 6)}.")

    return CustomCallback, LossAndErrorPrintingCallback, EarlyStoppingAtMinLoss, CustomLearningRateScheduler


LR_SCHEDULE = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]


def lr_schedule(epoch, lr):
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((32, 8)).astype("float32")
    return x, (x @ rng.random((8, 1))).astype("float32")


def run_both(scenario):
    """Run `scenario(keras, model, out, callback_classes)` with jnet and with Keras on copied
    weights; return both `out` lists."""
    outs, models = [], []
    for fw in (JNET, KERAS):
        keras = fw[0]
        with keras_ok():
            model = get_model(keras)
            model.build((None, 8))
        models.append(model)
    with keras_ok():
        copy_weights(*models)
    for fw, model in zip((JNET, KERAS), models):
        out = []
        with keras_ok():
            scenario(fw[0], model, out, guide_callbacks(fw[0], out))
        outs.append(out)
    return outs


def test_custom_callback_hooks_and_log_keys_match_keras():
    x, y = _data()

    def scenario(keras, model, out, cbs):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_split=0.5, callbacks=[cbs[0]()])
        model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[cbs[0]()])
        model.predict(x, batch_size=16, callbacks=[cbs[0]()])

    jnet_out, keras_out = run_both(scenario)
    assert jnet_out == keras_out


def test_loss_and_error_printing_callback_matches_keras():
    x, y = _data()

    def scenario(keras, model, out, cbs):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[cbs[1]()])
        model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[cbs[1]()])

    jnet_out, keras_out = run_both(scenario)
    assert jnet_out == keras_out


def test_early_stopping_at_min_loss_matches_keras():
    x, y = _data()

    def scenario(keras, model, out, cbs):
        # The guide's steps_per_epoch=5 on MNIST is left out (see the xfail below): whole epochs.
        h = model.fit(x, y, batch_size=16, epochs=30, verbose=0, shuffle=False, callbacks=[cbs[1](), cbs[2]()])
        out.append(len(h.history["loss"]))
        out.append(np.round(model.get_weights()[0], 4).tolist())

    jnet_out, keras_out = run_both(scenario)
    assert jnet_out == keras_out
    assert any("early stopping" in str(line) for line in jnet_out)


def test_custom_learning_rate_scheduler_matches_keras():
    x, y = _data()

    def scenario(keras, model, out, cbs):
        h = model.fit(
            x, y, batch_size=16, epochs=15, verbose=0, shuffle=False, callbacks=[cbs[1](), cbs[3](lr_schedule)]
        )
        out.append(np.round(h.history["loss"], 3).tolist())

    jnet_out, keras_out = run_both(scenario)
    assert jnet_out == keras_out


def test_steps_per_epoch_continues_through_the_data_like_keras():
    x, y = _data()

    def scenario(keras, model, out, cbs):
        model.fit(x, y, batch_size=8, steps_per_epoch=2, epochs=2, verbose=0, shuffle=False, callbacks=[cbs[1]()])

    jnet_out, keras_out = run_both(scenario)
    assert jnet_out == keras_out
