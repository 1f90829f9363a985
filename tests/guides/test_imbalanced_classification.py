"""Keras example "Imbalanced classification: credit card fraud detection" (keras-io
examples/structured_data/imbalanced_classification.py), ported with `import jnet as keras`;
the validation split, class weights, normalization, model, metrics, `class_weight` training and
per-epoch `ModelCheckpoint` are the example's.

Changes: 400 synthetic transactions (30 features, about 6% fraud) instead of the Kaggle CSV;
30 epochs -> 2; checkpoints go to a temporary folder. Dropout makes training random, so Keras 3
checks what is deterministic: with jnet's trained weights it evaluates the same loss and the
same confusion counts, precision and recall.
"""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()
keras = JNET[0]


def make_model(keras, train_features):
    return keras.Sequential(
        [
            keras.Input(shape=train_features.shape[1:]),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def make_metrics(keras):
    return [
        keras.metrics.FalseNegatives(name="fn"),
        keras.metrics.FalsePositives(name="fp"),
        keras.metrics.TrueNegatives(name="tn"),
        keras.metrics.TruePositives(name="tp"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
    ]


def test_imbalanced_classification(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 30)).astype("float32") * rng.uniform(0.5, 50, 30).astype("float32")
    targets = ((features[:, 0] / 50 + features[:, 1] / 20 + rng.normal(0, 0.3, 400)) > 1.6).astype("uint8")[:, None]

    num_val_samples = int(len(features) * 0.2)
    train_features = features[:-num_val_samples]
    train_targets = targets[:-num_val_samples]
    val_features = features[-num_val_samples:]
    val_targets = targets[-num_val_samples:]

    counts = np.bincount(train_targets[:, 0])
    assert 0 < counts[1] < 0.1 * len(train_targets)
    weight_for_0 = 1.0 / counts[0]
    weight_for_1 = 1.0 / counts[1]

    mean = np.mean(train_features, axis=0)
    train_features -= mean
    val_features -= mean
    std = np.std(train_features, axis=0)
    train_features /= std
    val_features /= std

    model = make_model(keras, train_features)
    assert model.count_params() == 30 * 256 + 256 + 2 * (256 * 256 + 256) + 257

    metrics = make_metrics(keras)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics)

    monkeypatch.chdir(tmp_path)
    callbacks = [keras.callbacks.ModelCheckpoint("fraud_model_at_epoch_{epoch}.keras")]
    class_weight = {0: weight_for_0, 1: weight_for_1}

    history = model.fit(
        train_features,
        train_targets,
        batch_size=2048,
        epochs=2,
        verbose=0,
        callbacks=callbacks,
        validation_data=(val_features, val_targets),
        class_weight=class_weight,
    ).history
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fraud_model_at_epoch_1.keras",
        "fraud_model_at_epoch_2.keras",
    ]
    # One batch per epoch: the counts cover the whole training set.
    assert history["tn"][0] + history["fp"][0] + history["fn"][0] + history["tp"][0] == len(train_targets)
    # class_weight scales each sample's loss: the loss is far below the unweighted one.
    assert history["loss"][0] < 0.1

    results = model.evaluate(val_features, val_targets, batch_size=2048, verbose=0, return_dict=True)
    kmodel = make_model(KERAS[0], train_features)
    kmodel.compile(optimizer="adam", loss="binary_crossentropy", metrics=make_metrics(KERAS[0]))
    with keras_ok():
        kmodel.set_weights([np.asarray(w) for w in model.get_weights()])
        expected = kmodel.evaluate(val_features, val_targets, verbose=0, return_dict=True)
    assert set(results) == set(expected)
    for name in ("fn", "fp", "tn", "tp"):
        assert results[name] == expected[name], name
    for name in ("loss", "precision", "recall"):
        np.testing.assert_allclose(results[name], expected[name], rtol=1e-4, atol=1e-6, err_msg=name)
    reloaded = keras.models.load_model("fraud_model_at_epoch_2.keras")
    for saved, trained in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(saved, trained)
