"""Keras example "Structured data classification from scratch" (keras-io
examples/structured_data/structured_data_classification_from_scratch.py, the backend-agnostic
version), ported with `import jnet as keras`; the metadata, `encode_categorical`,
`encode_numerical_feature`, the model (`create_model_inputs`, `Classifier`, `create_model`),
training and the prediction on a one-hot encoded sample are the example's.

Changes: synthetic heart-disease-like columns instead of the CSV (`heart_data.py`); the
`tf.data` pipeline (`from_tensor_slices(...).map(encode_categorical)`, shuffle, batch 32)
becomes `encode_categorical` on the whole columns (as `(n, 1)` arrays, one row per sample,
where tf.data mapped one scalar at a time) and a `jnet.utils.Dataset`; the Normalization layers
adapt on the training column as an `(n, 1)` array; `plot_model` writes into a temporary folder;
50 epochs -> 2. As in Keras, the model's inputs for the numeric features are the Normalization
layers' outputs, so `keras.Model` starts the graph there (the raw values are fed in their
place). Keras 3 runs the same model code (its lookups need TensorFlow, so both get jnet's
encoded data) and, with jnet's weights (initial and trained), predicts the same.
"""

import numpy as np
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401
from heart_data import heart_columns, split

JNET, KERAS = frameworks()
keras, layers, _ = JNET

dataframe, targets = heart_columns()

COLUMN_NAMES = [
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
    "target",
]
# Target feature name.
TARGET_FEATURE_NAME = "target"
# Numeric feature names.
NUMERIC_FEATURE_NAMES = ["age", "trestbps", "thalach", "oldpeak", "slope", "chol"]
# Categorical features and their vocabulary lists.
CATEGORICAL_FEATURES_WITH_VOCABULARY = {
    feature_name: sorted(
        [
            # Integer categorcal must be int and string must be str
            value if dataframe[feature_name].dtype == "int64" else str(value)
            for value in list(np.unique(dataframe[feature_name]).tolist())
        ]
    )
    for feature_name in COLUMN_NAMES
    if feature_name not in list(NUMERIC_FEATURE_NAMES + [TARGET_FEATURE_NAME])
}
# All features names.
FEATURE_NAMES = NUMERIC_FEATURE_NAMES + list(CATEGORICAL_FEATURES_WITH_VOCABULARY.keys())


def encode_categorical(features, target):
    for feature_name in features:
        if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            lookup_class = layers.StringLookup if features[feature_name].dtype.kind == "U" else layers.IntegerLookup
            vocabulary = CATEGORICAL_FEATURES_WITH_VOCABULARY[feature_name]
            # Create a lookup to convert a string values to an integer indices.
            # Since we are not using a mask token nor expecting any out of vocabulary
            # (oov) token, we set mask_token to None and  num_oov_indices to 0.
            index = lookup_class(vocabulary=vocabulary, mask_token=None, num_oov_indices=0, output_mode="binary")
            # Convert the string input values into integer indices.
            value_index = index(features[feature_name])
            features[feature_name] = value_index

        else:
            pass

    # Change features from OrderedDict to Dict to match Inputs as they are Dict.
    return dict(features), target


def dataframe_to_dataset(columns, labels):
    columns = {k: v[:, None] for k, v in columns.items()}  # one row per sample
    features, labels = encode_categorical(columns, labels)
    features = {k: np.asarray(v) for k, v in features.items()}
    return keras.utils.Dataset.from_arrays((features, labels), batch_size=32, shuffle=True, seed=0)


(train_columns, train_labels), (val_columns, val_labels) = split(dataframe, targets)
train_ds = dataframe_to_dataset(train_columns, train_labels)
val_ds = dataframe_to_dataset(val_columns, val_labels)


def encode_numerical_feature(layers, feature, name, dataset):
    # Create a Normalization layer for our feature
    normalizer = layers.Normalization()
    # Prepare a Dataset that only yields our feature (tf.data: dataset.map(...) + expand_dims)
    feature_ds = np.expand_dims(dataset[name], -1)
    # Learn the statistics of the data
    normalizer.adapt(feature_ds)
    # Normalize the input feature
    encoded_feature = normalizer(feature)
    return encoded_feature


def create_model_inputs(layers):
    inputs = {}

    # This a helper function for creating categorical features
    def create_input_helper(feature_name):
        num_categories = len(CATEGORICAL_FEATURES_WITH_VOCABULARY[feature_name])
        inputs[feature_name] = layers.Input(name=feature_name, shape=(num_categories,), dtype="int64")
        return inputs

    for feature_name in FEATURE_NAMES:
        if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            # Categorical features
            create_input_helper(feature_name)
        else:
            # Make them float32, they are Real numbers
            feature_input = layers.Input(name=feature_name, shape=(1,), dtype="float32")
            # Process the Inputs here
            inputs[feature_name] = encode_numerical_feature(layers, feature_input, feature_name, train_columns)
    return inputs


def make_classifier(keras, layers):
    # This Layer defines the logic of the Model to perform the classification
    class Classifier(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense_1 = layers.Dense(32, activation="relu")
            self.dropout = layers.Dropout(0.5)
            self.dense_2 = layers.Dense(1, activation="sigmoid")

        def call(self, inputs):
            all_features = layers.concatenate(list(inputs.values()))
            x = self.dense_1(all_features)
            x = self.dropout(x)
            output = self.dense_2(x)
            return output

        # Surpress build warnings
        def build(self, input_shape):
            self.built = True

    return Classifier


# Create the Classifier model
def create_model(keras, layers):
    all_inputs = create_model_inputs(layers)
    output = make_classifier(keras, layers)()(all_inputs)
    model = keras.Model(all_inputs, output)
    return model


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


# Given the category (in the sample above - key) and the category value (in the sample above - value),
# we return its one-hot encoding
def get_cat_encoding(cat, cat_value):
    # Create a list of zeros with the same length as categories
    encoding = [0] * len(cat)
    # Find the index of category_value in categories and set the corresponding position to 1
    if cat_value in cat:
        encoding[cat.index(cat_value)] = 1
    return encoding


def test_from_scratch_example(tmp_path, monkeypatch):
    x, y = next(iter(train_ds))
    assert x["thal"].shape == (32, 3) and x["age"].shape == (32, 1)
    assert CATEGORICAL_FEATURES_WITH_VOCABULARY["thal"] == ["fixed", "normal", "reversible"]

    model = create_model(keras, layers)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    # The numeric inputs are the graph's cut at the Normalization outputs: new Inputs.
    assert {l.__class__.__name__ for l in model.layers} == {"InputLayer", "Classifier"}
    monkeypatch.chdir(tmp_path)
    keras.utils.plot_model(model, show_shapes=True, rankdir="LR")
    assert (tmp_path / "model.png").stat().st_size > 0

    # Keras 3: the same model code with jnet's initial weights predicts the same. The raw
    # numeric values saturate the sigmoid: compared relatively, a tiny p = sigmoid(z) ~ exp(z)
    # still checks the logit z to about 1e-4.
    val_x = next(iter(val_ds))[0]
    with keras_ok():
        kmodel = create_model(KERAS[0], KERAS[1])
        copy_weights(model, kmodel)
        expected = kmodel.predict(val_x, verbose=0)
    np.testing.assert_allclose(model.predict(val_x, verbose=0), expected, rtol=1e-4, atol=1e-30)
    assert np.count_nonzero(expected) >= 3  # not all underflowed to 0

    history = model.fit(train_ds, epochs=2, validation_data=val_ds, verbose=0).history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert np.all(np.isfinite(history["loss"]))

    sample = dict(SAMPLE)
    for name, value in sample.items():  # noqa: B007 - the example's loop
        if name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            sample.update({name: get_cat_encoding(CATEGORICAL_FEATURES_WITH_VOCABULARY[name], sample[name])})
    # Convert inputs to tensors
    input_dict = {name: np.asarray([value]) for name, value in sample.items()}
    predictions = model.predict(input_dict, verbose=0)
    assert predictions.shape == (1, 1) and 0.0 < predictions[0][0] < 1.0
    with keras_ok():
        copy_weights(model, kmodel)
        np.testing.assert_allclose(predictions, kmodel.predict(input_dict, verbose=0), rtol=1e-4, atol=1e-30)
