"""jnet.utils.FeatureSpace against Keras 3's documented behaviour.

Keras's FeatureSpace (and its lookup, hashing and discretization layers) need TensorFlow, which
the test environment does not have, so the expected arrays are written out from Keras's rules:
vocabularies by descending frequency (ties: the larger token first), OOV index 0, population
variance, multi-hot encoders, features sorted by name and then the crosses sorted by name.
Hashed bins are jnet's own (see `Hashing`), checked against the hashing layers themselves.
"""

import collections

import numpy as np
import pytest

import jnet
from jnet import layers
from jnet.utils import FeatureSpace


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "amount": rng.normal(3.0, 2.0, n).astype("float32"),
        "count": rng.integers(0, 10, n).astype("float32"),
        "size": rng.choice([1, 2, 3, 7], n, p=[0.4, 0.3, 0.2, 0.1]),
        "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        "age": rng.uniform(0, 80, n).astype("float32"),
        "city": rng.choice(["paris", "rome", "oslo", "lima", "kyiv"], n),
    }


@pytest.fixture(scope="module")
def data():
    return _data()


def _vocab(values):
    """Keras's adapted vocabulary: descending count, ties broken by the larger token."""
    counts = collections.Counter(np.asarray(values).tolist())
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def _one_hot_lookup(values, vocab):
    index = {t: i + 1 for i, t in enumerate(vocab)}  # 0 is the OOV index
    out = np.zeros((len(values), len(vocab) + 1), np.float32)
    out[np.arange(len(values)), [index.get(v, 0) for v in np.asarray(values).tolist()]] = 1
    return out


def _normalized(x):
    x = np.asarray(x, np.float64)
    return ((x - x.mean()) / np.sqrt(x.var()))[:, None]


def _one_hot(ids, depth):
    ids = np.asarray(ids).reshape(-1)
    out = np.zeros((len(ids), depth), np.float32)
    out[np.arange(len(ids)), ids] = 1
    return out


@pytest.fixture(scope="module")
def concat_space(data):
    fs = FeatureSpace(
        features={
            "amount": "float_normalized",
            "count": FeatureSpace.float_rescaled(scale=0.5, offset=1.0),
            "size": "integer_categorical",
            "color": "string_categorical",
            "age": "float",
        },
        output_mode="concat",
    )
    fs.adapt(data)
    return fs


def test_concat_matches_keras_rules(concat_space, data):
    out = np.asarray(concat_space({k: data[k] for k in concat_space.features}))
    expected = np.concatenate(
        [  # sorted by name: age, amount, color, count, size
            data["age"][:, None],
            _normalized(data["amount"]),
            _one_hot_lookup(data["color"], _vocab(data["color"])),
            (data["count"] * 0.5 + 1.0)[:, None],
            _one_hot_lookup(data["size"], _vocab(data["size"])),
        ],
        axis=1,
    )
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert concat_space.preprocessors["color"].get_vocabulary() == ["[UNK]"] + _vocab(data["color"])
    assert concat_space.preprocessors["size"].get_vocabulary() == [-1] + _vocab(data["size"])


def test_unseen_values_and_single_sample(concat_space, data):
    sample = {"amount": 3.0, "count": 4.0, "size": 99, "color": "purple", "age": 40.0}
    out = np.asarray(concat_space(sample))
    assert out.shape == (1 + 1 + 4 + 1 + 5,)  # one sample: no batch axis, as in Keras
    color = out[2:6]
    size = out[7:]
    np.testing.assert_array_equal(color, [1, 0, 0, 0])  # OOV index 0
    np.testing.assert_array_equal(size, [1, 0, 0, 0, 0])
    batch = concat_space({k: [v, v] for k, v in sample.items()})
    np.testing.assert_allclose(np.asarray(batch), np.stack([out, out]), rtol=1e-6)


def test_dict_mode_int_outputs_and_crosses(data):
    fs = FeatureSpace(
        features={
            "size": FeatureSpace.integer_categorical(output_mode="int"),
            "color": FeatureSpace.string_categorical(output_mode="int", num_oov_indices=0),
            "amount": "float_normalized",
        },
        crosses=[FeatureSpace.cross(("color", "size"), crossing_dim=16, output_mode="int"), ("size", "color")],
        crossing_dim=8,
        output_mode="dict",
    )
    fs.adapt(data)
    out = fs({k: data[k] for k in ("size", "color", "amount")})
    assert list(out) == ["amount", "color", "size", "color_X_size", "size_X_color"]
    color_ids = np.asarray(out["color"]).ravel()
    vocab = _vocab(data["color"])
    np.testing.assert_array_equal(color_ids, [vocab.index(c) for c in data["color"]])  # no OOV slot
    size_vocab = _vocab(data["size"])
    np.testing.assert_array_equal(np.asarray(out["size"]).ravel(), [size_vocab.index(s) + 1 for s in data["size"]])
    np.testing.assert_allclose(np.asarray(out["amount"]), _normalized(data["amount"]), rtol=1e-5, atol=1e-5)
    # Crosses hash the lookup indices, as Keras's FeatureSpace does; one_hot is the default.
    cross = np.asarray(layers.HashedCrossing(16)((out["color"], out["size"])))
    np.testing.assert_array_equal(np.asarray(out["color_X_size"]), cross)
    assert out["color_X_size"].dtype == np.int32 and out["color_X_size"].shape == (24, 1)
    hot = np.asarray(out["size_X_color"])
    assert hot.shape == (24, 8) and np.all(hot.sum(axis=1) == 1)
    ids = np.asarray(layers.HashedCrossing(8)((out["size"], out["color"]))).ravel()
    np.testing.assert_array_equal(hot, _one_hot(ids, 8))
    assert fs.crossers["size_X_color"].num_bins == 8
    with pytest.raises(ValueError, match="cannot concatenate features because feature 'color'"):
        FeatureSpace({"color": FeatureSpace.string_categorical(output_mode="int")}).adapt(data)


def test_hashing_discretizing_and_shortcut_defaults(data):
    fs = FeatureSpace(
        features={"city": "string_hashed", "size": "integer_hashed", "age": "float_discretized"},
        crosses=[("city", "size")],
        hashing_dim=16,
        num_discretization_bins=4,
    )
    assert fs.preprocessors["city"].num_bins == 16 and fs.preprocessors["age"].num_bins == 4
    assert fs.crossers["city_X_size"].num_bins == 32  # crossing_dim's default
    fs.adapt(data)
    out = np.asarray(fs({k: data[k] for k in ("city", "size", "age")}))
    assert out.shape == (24, 4 + 16 + 16 + 32)
    reference = layers.Discretization(num_bins=4)
    reference.adapt([data["age"][i : i + 32, None] for i in range(0, 24, 32)])
    bounds = fs.preprocessors["age"].bin_boundaries
    assert bounds == reference.bin_boundaries and len(bounds) == 3
    np.testing.assert_array_equal(out[:, :4], _one_hot(np.searchsorted(bounds, data["age"], side="right"), 4))
    city = np.asarray(layers.Hashing(16)(data["city"][:, None])).ravel()
    np.testing.assert_array_equal(out[:, 4:20], _one_hot(city, 16))
    size = np.asarray(layers.Hashing(16)(data["size"][:, None].astype("int32"))).ravel()
    np.testing.assert_array_equal(out[:, 20:36], _one_hot(size, 16))
    # The same (city, size) pair always lands in the same cross bin.
    cross = out[:, 36:].argmax(axis=1)
    pairs = {}
    for c, s, b in zip(data["city"], data["size"], cross):
        assert pairs.setdefault((c, s), b) == b


def _learned(fs):
    norm = fs.preprocessors["amount"]
    return (
        fs.preprocessors["color"].get_vocabulary(),
        fs.preprocessors["size"].get_vocabulary(),
        np.asarray(norm.adapt_mean.value).tolist(),
        np.asarray(norm.adapt_variance.value).tolist(),
    )


def test_adapt_from_batches_equals_adapt_from_dict(data):
    def make():
        return FeatureSpace(
            {"amount": "float_normalized", "color": "string_categorical", "size": "integer_categorical"}
        )

    whole, batched, labelled = make(), make(), make()
    whole.adapt(data)
    cols = {k: data[k] for k in ("amount", "color", "size")}
    batched.adapt(jnet.utils.Dataset.from_arrays(cols, batch_size=5))
    labelled.adapt([({k: v[i : i + 7] for k, v in cols.items()}, np.zeros(7)) for i in range(0, 24, 7)])
    expected = _learned(whole)
    np.testing.assert_allclose(expected[2], [data["amount"].mean()], rtol=1e-5)
    for fs in (batched, labelled):
        got = _learned(fs)
        assert got[:2] == expected[:2]
        np.testing.assert_allclose(got[2:], expected[2:], rtol=1e-5)
    # Adapted again on fewer values: the one-hot encoders follow the new vocabulary.
    whole.adapt({k: v[:2] for k, v in cols.items()})
    assert whole.one_hot_encoders["color"].num_tokens == len(set(cols["color"][:2])) + 1
    encoders = whole.one_hot_encoders
    assert whole.get_encoded_features().shape[-1] == 1 + encoders["color"].num_tokens + encoders["size"].num_tokens


def test_graph_model_on_raw_values_matches_eager_and_saves(concat_space, data, tmp_path):
    cols = {k: data[k] for k in concat_space.features}
    inputs = concat_space.get_inputs()
    assert inputs["color"].dtype == jnet.core.symbolic.STRING and inputs["size"].shape == (None, 1)
    encoded = concat_space.get_encoded_features()
    assert encoded is concat_space.get_encoded_features()
    encoder = jnet.Model(inputs, encoded)
    eager = np.asarray(concat_space(cols))
    np.testing.assert_allclose(encoder.predict(cols, verbose=0), eager, rtol=1e-5, atol=1e-6)
    # One raw sample, each value wrapped in a list (shape (1,) for an Input of shape (None, 1)).
    sample = {"amount": [3.0], "count": [4.0], "size": [7], "color": ["blue"], "age": [40.0]}
    single = {k: v[0] for k, v in sample.items()}
    np.testing.assert_allclose(encoder.predict(sample, verbose=0)[0], np.asarray(concat_space(single)), rtol=1e-5)
    # The model on raw values saves its preprocessing layers with it.
    encoder.save(str(tmp_path / "model.keras"))
    again = jnet.models.load_model(str(tmp_path / "model.keras"))
    np.testing.assert_allclose(again.predict(cols, verbose=0), eager, rtol=1e-5, atol=1e-6)


def test_save_and_load(concat_space, data, tmp_path):
    cols = {k: data[k] for k in concat_space.features}
    path = str(tmp_path / "fs.keras")
    concat_space.save(path)
    loaded = jnet.models.load_model(path)
    assert isinstance(loaded, FeatureSpace) and loaded.output_mode == "concat"
    assert loaded.preprocessors["color"].get_vocabulary() == concat_space.preprocessors["color"].get_vocabulary()
    np.testing.assert_array_equal(np.asarray(loaded(cols)), np.asarray(concat_space(cols)))


def test_config_round_trip():
    fs = FeatureSpace(
        {"a": "float_normalized", "b": FeatureSpace.integer_categorical(max_tokens=5), "c": "string_hashed"},
        crosses=[("b", "c")],
        crossing_dim=4,
        output_mode="dict",
    )
    config = fs.get_config()
    assert config["output_mode"] == "dict" and config["crossing_dim"] == 4
    assert set(config["features"]) == {"a", "b", "c"}
    copy = FeatureSpace.from_config(config)
    assert copy.preprocessors["b"].max_tokens == 5
    assert copy.crosses[0].feature_names == ("b", "c") and copy.crosses[0].crossing_dim == 4
    assert type(copy.preprocessors["c"]) is layers.Hashing and copy.preprocessors["c"].num_bins == 32


def test_errors(data):
    with pytest.raises(ValueError, match="feature 'x' has an invalid type 'floaty'"):
        FeatureSpace({"x": "floaty"})
    with pytest.raises(ValueError, match=r"names features \['zz'\]"):
        FeatureSpace({"a": "integer_categorical"}, crosses=[("a", "zz")])
    with pytest.raises(ValueError, match="output_mode must be 'concat' or 'dict'"):
        FeatureSpace({"a": "float"}, output_mode="flat")
    with pytest.raises(ValueError, match=r"output_mode must be one of \('int', 'one_hot', 'float'\)"):
        FeatureSpace.feature("float32", layers.Identity(), "binary")
    fs = FeatureSpace({"amount": "float_normalized", "color": "string_categorical"})
    with pytest.raises(ValueError, match=r"call .adapt\(dataset\)"):
        fs({"amount": [1.0], "color": ["red"]})
    fs.adapt(data)
    with pytest.raises(ValueError, match=r"missing \['color'\]"):
        fs({"amount": [1.0]})
    with pytest.raises(ValueError, match="feature 'color' takes strings"):
        fs({"amount": [1.0], "color": [3]})
    with pytest.raises(ValueError, match="can only be called on a dict"):
        fs([1.0])
    with pytest.raises(ValueError, match="is not a standard one"):
        FeatureSpace({"a": FeatureSpace.feature("float32", layers.Identity(), "one_hot")}).get_inputs()
    # A feature without anything to adapt needs no adapt().
    assert np.asarray(FeatureSpace({"a": "float"})({"a": [1.0, 2.0]})).shape == (2, 1)
