"""StackedRNNCells and ConvLSTM1D/2D/3D against Keras 3 on copied weights, with masks,
states, save/load and a short fit."""

import jax
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)


def _keras_out(kl, x, weights, **kwargs):
    with jax.numpy_rank_promotion("allow"):
        kl(x)
        kl.set_weights([np.asarray(w) for w in weights])
        out = kl(x, **kwargs)
    return out if isinstance(out, (list, tuple)) else [out]


def _flat(out):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(out)]


CONV_CASES = [
    ("ConvLSTM1D", (2, 4, 6, 2), {"strides": 2}),
    ("ConvLSTM2D", (2, 3, 5, 5, 2), {"padding": "same", "return_sequences": True}),
    (
        "ConvLSTM2D",
        (2, 3, 2, 5, 5),
        {"data_format": "channels_first", "return_state": True, "go_backwards": True, "use_bias": False},
    ),
    ("ConvLSTM2D", (1, 3, 6, 6, 1), {"dilation_rate": 2, "activation": "relu", "unit_forget_bias": False}),
    ("ConvLSTM3D", (1, 2, 4, 4, 4, 1), {"padding": "same"}),
]


@pytest.mark.parametrize("name,shape,kwargs", CONV_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONV_CASES)])
def test_conv_lstm_matches_keras(name, shape, kwargs, tmp_path):
    x = RS.randn(*shape).astype(np.float32)
    layer = getattr(layers, name)(filters=3, kernel_size=3, **kwargs)
    v = layer.init(jax.random.key(0), x)
    v = jax.tree_util.tree_map(lambda p: p + 0.2, v)
    out, _ = layer.apply(v, x)
    expected = _keras_out(getattr(keras.layers, name)(filters=3, kernel_size=3, **kwargs), x, layer.weights_of(v))
    for a, b in zip(_flat(out), expected):
        assert np.abs(a).max() > 1e-3
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5)
    kconfig = getattr(keras.layers, name)(filters=3, kernel_size=3, **kwargs).get_config()
    ours = layer.get_config()
    for key in (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        "return_sequences",
        "return_state",
        "go_backwards",
        "unit_forget_bias",
        "dropout",
        "recurrent_dropout",
    ):
        assert list(np.atleast_1d(ours[key])) == list(np.atleast_1d(kconfig[key])), key
    if kwargs.get("return_state") or name != "ConvLSTM2D":
        return
    check_layer(layer, x, variables=v)
    model = jnet.Sequential([jnet.Input(shape[1:]), layer])
    model.save(tmp_path / "m.keras")
    loaded = jnet.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_conv_lstm_mask_initial_state_and_fit():
    x = RS.randn(2, 4, 5, 2).astype(np.float32)
    mask = np.array([[True, True, False, True], [True, False, False, False]])
    layer = layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True, return_state=True)
    out = layer(x, mask=mask)
    # (Keras's ConvLSTM fails on masks.) A masked step leaves the states and output as they were:
    # sample 0 ends where the sequence without step 2 ends; its output at step 2 repeats step 1.
    trimmed = layer(x[:1, [0, 1, 3]])
    np.testing.assert_allclose(np.asarray(out[1])[0], np.asarray(trimmed[1])[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out[0])[0, 2], np.asarray(out[0])[0, 1], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out[2])[1], np.asarray(layer(x[1:, :1])[2])[0], rtol=1e-5, atol=1e-6)
    h, c = np.asarray(out[1]), np.asarray(out[2])
    y2 = layer(x, initial_state=[h, c])
    assert not np.allclose(np.asarray(y2[0]), np.asarray(out[0]))
    with pytest.raises(ValueError, match="initial_state"):
        layer(x, initial_state=[h])
    model = jnet.Sequential(
        [
            jnet.Input((4, 5, 2)),
            layers.ConvLSTM1D(2, 3, dropout=0.2, recurrent_dropout=0.2),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    hist = model.fit(x, np.ones((2, 1), np.float32), epochs=3, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


def test_stacked_rnn_cells_match_keras_and_round_trip(tmp_path):
    x = RS.randn(2, 5, 3).astype(np.float32)
    layer = layers.RNN(
        layers.StackedRNNCells([layers.LSTMCell(4), layers.GRUCell(3), layers.SimpleRNNCell(2)]),
        return_sequences=True,
        return_state=True,
    )
    out = layer(x)
    assert layer.cell.state_size == [4, 4, 3, 2] and layer.cell.output_size == 2
    kl = keras.layers.RNN(
        keras.layers.StackedRNNCells(
            [keras.layers.LSTMCell(4), keras.layers.GRUCell(3), keras.layers.SimpleRNNCell(2)]
        ),
        return_sequences=True,
        return_state=True,
    )
    expected = _keras_out(kl, x, layer.get_weights())
    for a, b in zip(_flat(out), _flat(expected)):  # Keras nests the states per cell; flattened alike
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    model = jnet.Sequential(
        [jnet.Input((5, 3)), layers.RNN(layers.StackedRNNCells([layers.GRUCell(4), layers.GRUCell(2)]))]
    )
    model.compile("adam", "mse")
    model.fit(x, np.zeros((2, 2), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = jnet.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_stacked_rnn_cells_with_a_mask():
    x = RS.randn(2, 5, 3).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = layers.RNN(layers.StackedRNNCells([layers.LSTMCell(4), layers.GRUCell(2)]), return_state=True)
    masked, short = layer(x, mask=mask), layer(x[:1, :3])
    for a, b in zip(_flat(masked), _flat(short)):  # masked trailing steps change nothing
        np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make,shape,match",
    [
        (lambda: layers.ConvLSTM2D(0, 3), None, "filters"),
        (lambda: layers.ConvLSTM2D(2, 3, stateful=True), None, "stateful"),
        (lambda: layers.ConvLSTM2D(2, 3, dropout=1.0), None, "dropout"),
        (lambda: layers.ConvLSTM2D(2, 3), (2, 3, 4, 2), "rank 5"),
        (lambda: layers.ConvLSTM1D(2, 5), (2, 3, 4, 2), "kernel"),
        (lambda: layers.StackedRNNCells([]), None, "non-empty"),
        (lambda: layers.StackedRNNCells([layers.Dense(2)]), None, "state_size"),
    ],
)
def test_bad_arguments(make, shape, match):
    with pytest.raises(ValueError, match=match):
        layer = make()
        if shape is not None:
            layer(RS.randn(*shape).astype(np.float32))
