"""Keras example "Structured data classification with FeatureSpace" (keras-io
examples/structured_data/structured_data_classification_with_feature_space.py), ported with
`import jnet as keras`; the FeatureSpace configuration, the two models, training and the
prediction on a raw sample are the example's.

Changes: synthetic heart-disease-like columns instead of the CSV (`heart_data.py`); the
`tf.data` pipeline becomes a `jnet.utils.Dataset` of `(dict, label)` batches for `adapt`, and
the preprocessed training data is `feature_space(x)` on the whole columns (jnet's Dataset has no
`map`); 20 epochs -> 2. Keras's FeatureSpace needs TensorFlow (absent here), so Keras 3 checks
the training model's head only: the same layers with jnet's weights give the same predictions.
"""

import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401
from heart_data import heart_columns, split

JNET, KERAS = frameworks()
keras = JNET[0]
FeatureSpace = keras.utils.FeatureSpace


def make_feature_space():
    return FeatureSpace(
        features={
            # Categorical features encoded as integers
            "sex": FeatureSpace.integer_categorical(num_oov_indices=0),
            "cp": FeatureSpace.integer_categorical(num_oov_indices=0),
            "fbs": FeatureSpace.integer_categorical(num_oov_indices=0),
            "restecg": FeatureSpace.integer_categorical(num_oov_indices=0),
            "exang": FeatureSpace.integer_categorical(num_oov_indices=0),
            "ca": FeatureSpace.integer_categorical(num_oov_indices=0),
            # Categorical feature encoded as string
            "thal": FeatureSpace.string_categorical(num_oov_indices=0),
            # Numerical features to discretize
            "age": FeatureSpace.float_discretized(num_bins=30),
            # Numerical features to normalize
            "trestbps": FeatureSpace.float_normalized(),
            "chol": FeatureSpace.float_normalized(),
            "thalach": FeatureSpace.float_normalized(),
            "oldpeak": FeatureSpace.float_normalized(),
            "slope": FeatureSpace.float_normalized(),
        },
        # Specify feature cross with a custom crossing dim.
        crosses=[
            FeatureSpace.cross(feature_names=("sex", "age"), crossing_dim=64),
            FeatureSpace.cross(feature_names=("thal", "ca"), crossing_dim=16),
        ],
        output_mode="concat",
    )


def build_models(keras, feature_space):
    dict_inputs = feature_space.get_inputs()
    encoded_features = feature_space.get_encoded_features()

    x = keras.layers.Dense(32, activation="relu")(encoded_features)
    x = keras.layers.Dropout(0.5)(x)
    predictions = keras.layers.Dense(1, activation="sigmoid")(x)

    training_model = keras.Model(inputs=encoded_features, outputs=predictions)
    training_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    inference_model = keras.Model(inputs=dict_inputs, outputs=predictions)
    return training_model, inference_model


SAMPLE = {
    "age": 60,
    "sex": 1,
    "cp": 1,
    "trestbps": 145,
    "chol": 233,
    "fbs": 1,
    "restecg": 2,
    "thalach": 150,
    "exang": 0,
    "oldpeak": 2.3,
    "slope": 3,
    "ca": 0,
    "thal": "fixed",
}


def test_feature_space_example_end_to_end():
    (train_x, train_y), (val_x, val_y) = split(*heart_columns())
    train_ds = keras.utils.Dataset.from_arrays((train_x, train_y), batch_size=32, shuffle=True, seed=0)

    # The example's first, all-defaults configuration.
    simple = FeatureSpace(
        features={
            **{k: "integer_categorical" for k in ("sex", "cp", "fbs", "restecg", "exang", "ca")},
            "thal": "string_categorical",
            "age": "float_discretized",
            **{k: "float_normalized" for k in ("trestbps", "chol", "thalach", "oldpeak", "slope")},
        },
        crosses=[("sex", "age"), ("thal", "ca")],
        crossing_dim=32,
        output_mode="concat",
    )
    assert simple.crossers["thal_X_ca"].num_bins == 32 and simple.preprocessors["age"].num_bins == 32

    feature_space = make_feature_space()
    feature_space.adapt(train_ds)  # Keras: train_ds.map(lambda x, _: x)
    x, _ = next(iter(train_ds))
    preprocessed_x = feature_space(x)
    # 2+5+2+3+2+4 integer categories, 3 thal values, 30 age bins, 5 normalized, 64+16 crosses.
    assert preprocessed_x.shape == (32, 18 + 3 + 30 + 5 + 80)
    assert preprocessed_x.dtype == np.float32

    training_model, inference_model = build_models(keras, feature_space)
    x_train, x_val = np.asarray(feature_space(train_x)), np.asarray(feature_space(val_x))
    history = training_model.fit(
        x_train, train_y, batch_size=32, epochs=2, validation_data=(x_val, val_y), verbose=0
    ).history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert np.all(np.isfinite(history["loss"]))

    # Keras 3: the training model's head with jnet's trained weights.
    p_val = training_model.predict(x_val, verbose=0)
    kkeras = KERAS[0]
    inputs = kkeras.Input(shape=(x_val.shape[1],))
    h = kkeras.layers.Dense(32, activation="relu")(inputs)
    h = kkeras.layers.Dropout(0.5)(h)
    head = kkeras.Model(inputs, kkeras.layers.Dense(1, activation="sigmoid")(h))
    with keras_ok():
        head.set_weights([np.asarray(w) for w in training_model.get_weights()])
        np.testing.assert_allclose(p_val, head.predict(x_val, verbose=0), rtol=1e-5, atol=1e-6)

    input_dict = {name: np.asarray([value]) for name, value in SAMPLE.items()}
    predictions = inference_model.predict(input_dict, verbose=0)
    assert predictions.shape == (1, 1) and 0.0 < predictions[0][0] < 1.0
    # The end-to-end model is the training model on the FeatureSpace's vector of the sample.
    encoded = np.asarray(feature_space({k: [v] for k, v in SAMPLE.items()}), np.float64)
    w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in training_model.get_weights())
    expected = 1 / (1 + np.exp(-(np.maximum(encoded @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(predictions, expected, rtol=1e-5, atol=1e-6)
