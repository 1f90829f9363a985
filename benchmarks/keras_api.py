"""jnet `fit` and Keras 3 `fit`: the same Keras-API code, with `jnet` or `keras` as the module.

Both run with default `fit` settings (verbose=0 so no progress bar is drawn), shuffling on.
"""

import time

from benchmarks.workloads import BODY_LEN, LOSS_WEIGHTS, NUM_DEPARTMENTS, NUM_TAGS, NUM_WORDS, TITLE_LEN


def build(K, w):
    """Build and compile the workload's model with the Keras-API module `K` (jnet or keras)."""
    L = K.layers
    if w.kind == "mlp":
        inputs = K.Input(shape=(w.sizes[0],))
        x = inputs
        for units in w.sizes[1:-1]:
            x = L.Dense(units, activation="relu")(x)
        model = K.Model(inputs, L.Dense(w.sizes[-1])(x))
    elif w.kind == "cnn":
        inputs = K.Input(shape=(28, 28, 1))
        x = L.Conv2D(32, 3, activation="relu")(inputs)
        x = L.MaxPooling2D(2)(x)
        x = L.Conv2D(64, 3, activation="relu")(x)
        x = L.MaxPooling2D(2)(x)
        model = K.Model(inputs, L.Dense(10)(L.Flatten()(x)))
    else:
        title = K.Input(shape=(TITLE_LEN,), dtype="int32", name="title")
        body = K.Input(shape=(BODY_LEN,), dtype="int32", name="body")
        tags = K.Input(shape=(NUM_TAGS,), name="tags")
        t = L.LSTM(128)(L.Embedding(NUM_WORDS, 64, mask_zero=True)(title))
        b = L.LSTM(32)(L.Embedding(NUM_WORDS, 64, mask_zero=True)(body))
        x = L.concatenate([t, b, tags])
        model = K.Model(
            [title, body, tags], [L.Dense(1, name="priority")(x), L.Dense(NUM_DEPARTMENTS, name="department")(x)]
        )
        model.compile(
            optimizer=K.optimizers.Adam(1e-3),
            loss={
                "priority": "mean_squared_error",
                "department": K.losses.SparseCategoricalCrossentropy(from_logits=True),
            },
            loss_weights=LOSS_WEIGHTS,
        )
        return model
    model.compile(optimizer=K.optimizers.Adam(1e-3), loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def run(K, w, x, y, epochs):
    tb = time.perf_counter()
    model = build(K, w)
    model.get_weights()  # the variables exist (jnet creates them lazily, Keras in build)
    build_s = time.perf_counter() - tb
    times = []

    class EpochTimer(K.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            float(logs["loss"])  # the loss is on the host: the epoch's work is done
            times.append(time.perf_counter())

    t0 = time.perf_counter()
    model.fit(x, y, batch_size=w.batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[EpochTimer()])
    return {"t0": t0, "epoch_ends": times, "n_params": int(model.count_params()), "build_s": build_s}


def run_jnet(w, x, y, epochs):
    import jnet

    jnet.utils.set_random_seed(0)
    return run(jnet, w, x, y, epochs)


def run_keras(w, x, y, epochs):
    import keras

    if keras.backend.backend() != "jax":
        raise RuntimeError(f"Keras must run on the JAX backend (KERAS_BACKEND=jax), got {keras.backend.backend()}")
    keras.utils.set_random_seed(0)
    return run(keras, w, x, y, epochs)
