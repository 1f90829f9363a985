"""Stateful RNNs (`stateful=True`): states carried from batch to batch in direct calls, fit,
evaluate and predict; `reset_state(s)`; the fixed batch size; parity with Keras 3 on chunks."""

import jax
import numpy as np
import pytest

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

B, T, F, U = 2, 6, 3, 4


def _data(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, F)).astype("float32")


def _stateful_model(cls=layers.LSTM, t=T // 2, **kw):
    inp = jnet.Input(batch_shape=(B, t, F))
    layer = cls(U, stateful=True, **kw)
    return jnet.Model(inp, layer(inp)), layer


def _whole(cls, weights, **kw):
    model = jnet.Sequential([jnet.Input((T, F)), cls(U, **kw)])
    model.set_weights(weights)
    return model


def _chunks(x):
    """The two halves of each sequence, stacked: batch 0 = first halves, batch 1 = second."""
    return np.concatenate([x[:, : T // 2], x[:, T // 2 :]], axis=0)


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_chunks_in_direct_calls_match_whole_sequence_and_keras(cls):
    x = _data()
    model, layer = _stateful_model(cls)
    ref = np.asarray(_whole(cls, model.get_weights())(x))
    model(x[:, : T // 2])
    ours = np.asarray(model(x[:, T // 2 :]))
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    # Keras 3, same weights, same chunks through direct calls
    with jax.numpy_rank_promotion("allow"):
        kinp = keras.Input(batch_shape=(B, T // 2, F))
        kl = getattr(keras.layers, cls.__name__)(U, stateful=True)
        km = keras.Model(kinp, kl(kinp))
        km.set_weights(model.get_weights())
        km(x[:, : T // 2])
        theirs = np.asarray(km(x[:, T // 2 :]))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    for ours_s, theirs_s in zip(layer.states, kl.states):
        np.testing.assert_allclose(np.asarray(ours_s.value), np.asarray(theirs_s), atol=1e-5)


def test_return_sequences_and_return_state_continue_across_chunks():
    x = _data(1)
    model, layer = _stateful_model(layers.LSTM, return_sequences=True, return_state=True)
    whole = _whole(layers.LSTM, model.get_weights(), return_sequences=True, return_state=True)
    seq, h, c = (np.asarray(a) for a in whole(x))
    first = model(x[:, : T // 2])
    second = model(x[:, T // 2 :])
    np.testing.assert_allclose(np.concatenate([first[0], second[0]], axis=1), seq, atol=1e-5)
    np.testing.assert_allclose(second[1], h, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.states[1].value), c, atol=1e-5)


def test_bidirectional_stateful_matches_keras_on_chunks():
    x = _data(2)
    inp = jnet.Input(batch_shape=(B, T // 2, F))
    bi = layers.Bidirectional(layers.GRU(U, stateful=True))
    model = jnet.Model(inp, bi(inp))
    assert bi.stateful
    with jax.numpy_rank_promotion("allow"):
        kinp = keras.Input(batch_shape=(B, T // 2, F))
        kbi = keras.layers.Bidirectional(keras.layers.GRU(U, stateful=True))
        km = keras.Model(kinp, kbi(kinp))
        km.set_weights(model.get_weights())
        for chunk in (x[:, : T // 2], x[:, T // 2 :]):
            np.testing.assert_allclose(np.asarray(model(chunk)), np.asarray(km(chunk)), atol=1e-5)
        bi.reset_states()
        kbi.reset_states()
        np.testing.assert_allclose(np.asarray(model(x[:, :3])), np.asarray(km(x[:, :3])), atol=1e-5)


def test_reset_state_zeros_or_sets_the_states():
    x = _data(3)
    model, layer = _stateful_model()
    fresh = np.asarray(model(x[:, : T // 2]))
    assert np.abs(np.asarray(layer.states[0].value)).sum() > 0
    layer.reset_state()
    assert all(np.all(np.asarray(s.value) == 0) for s in layer.states)
    np.testing.assert_allclose(np.asarray(model(x[:, : T // 2])), fresh, atol=1e-6)
    model.reset_states()
    np.testing.assert_allclose(np.asarray(model(x[:, : T // 2])), fresh, atol=1e-6)
    h = np.full((B, U), 0.5, "float32")
    layer.reset_states([h, np.zeros((B, U), "float32")])
    np.testing.assert_allclose(np.asarray(layer.states[0].value), h)
    with pytest.raises(ValueError, match="expected 2 state"):
        layer.reset_state([h])
    with pytest.raises(AttributeError, match="stateful"):
        layers.LSTM(U).reset_state()


def test_fixed_batch_size_is_required_and_checked():
    with pytest.raises(ValueError, match="stateful=True needs a fixed batch size"):
        layers.LSTM(U, stateful=True)(jnet.Input((T, F)))
    layer = layers.LSTM(U, stateful=True)
    layer(_data())  # a direct call fixes the batch size (B)
    with pytest.raises(ValueError, match=f"batch_size={B}"):
        layer(np.ones((B + 1, T, F), "float32"))
    model = jnet.Model(inp := jnet.Input((T, F), batch_size=B), layers.LSTM(U, stateful=True)(inp))
    assert model.layers[1].states[0].shape == (B, U)


def test_states_are_not_weights_as_in_keras():
    model, layer = _stateful_model()
    with jax.numpy_rank_promotion("allow"):
        kinp = keras.Input(batch_shape=(B, T // 2, F))
        km = keras.Model(kinp, keras.layers.LSTM(U, stateful=True)(kinp))
    assert len(model.get_weights()) == len(km.get_weights()) == 3
    assert model.count_params() == km.count_params()
    assert layer.non_trainable_weights == []
    assert set(model.current_variables()["state"]["lstm"]) == {"rnn_state", "rnn_state_1"}
    config = layer.get_config()
    assert config["stateful"] is True
    assert layers.LSTM.from_config(config).stateful is True


def test_predict_carries_the_states_across_batches():
    x = _data(4)
    model, layer = _stateful_model()
    whole = _whole(layers.LSTM, model.get_weights(), return_state=True)
    out, h, c = (np.asarray(a) for a in whole(x))
    preds = model.predict(_chunks(x), batch_size=B, verbose=0)
    np.testing.assert_allclose(preds[B:], out, atol=1e-5)  # Keras 3 on JAX gives zero-state outputs here
    np.testing.assert_allclose(np.asarray(layer.states[0].value), h, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.states[1].value), c, atol=1e-5)
    # predict continues from the states a direct call left
    layer.reset_states()
    model(x[:, : T // 2])
    np.testing.assert_allclose(model.predict(x[:, T // 2 :], batch_size=B, verbose=0), out, atol=1e-5)
    with pytest.raises(ValueError):
        model.predict(_chunks(x), batch_size=B + 1, verbose=0)


def test_evaluate_carries_the_states_across_batches():
    x = _data(5)
    model, layer = _stateful_model()
    model.compile("sgd", "mse")
    first = np.asarray(model(x[:, : T // 2]))
    second = np.asarray(model(x[:, T // 2 :]))
    expected_state = np.asarray(layer.states[0].value)
    layer.reset_states()
    y = np.ones((2 * B, U), "float32")
    loss = model.evaluate(_chunks(x), y, batch_size=B, verbose=0)
    np.testing.assert_allclose(loss, np.mean((np.concatenate([first, second]) - 1) ** 2), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.states[0].value), expected_state, atol=1e-5)


def test_fit_carries_the_states_and_warns_on_shuffle():
    x = _data(6)
    model, layer = _stateful_model()
    model.compile(jnet.optimizers.SGD(learning_rate=0.0), "mse")
    first = np.asarray(model(x[:, : T // 2]))
    second = np.asarray(model(x[:, T // 2 :]))
    final = [np.asarray(s.value) for s in layer.states]
    layer.reset_states()
    y = np.zeros((2 * B, U), "float32")
    hist = model.fit(_chunks(x), y, batch_size=B, shuffle=False, verbose=0)
    np.testing.assert_allclose(hist.history["loss"][0], np.mean(np.concatenate([first, second]) ** 2), rtol=1e-5)
    for s, f in zip(layer.states, final):
        np.testing.assert_allclose(np.asarray(s.value), f, atol=1e-5)
    with pytest.warns(UserWarning, match="shuffle=False"):
        model.fit(_chunks(x), y, batch_size=B, epochs=1, verbose=0)


def test_reset_from_a_callback_reaches_the_live_training_state():
    x = _data(7)
    model, layer = _stateful_model()
    model.compile(jnet.optimizers.SGD(learning_rate=0.0), "mse")
    first = np.asarray(model(x[:, : T // 2]))
    layer.reset_states()
    from_zero_second = np.asarray(model(x[:, T // 2 :]))
    layer.reset_states()

    class Reset(jnet.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            layer.reset_states()

    y = np.zeros((2 * B, U), "float32")
    hist = model.fit(_chunks(x), y, batch_size=B, shuffle=False, verbose=0, callbacks=[Reset()])
    expected = np.mean(np.concatenate([first, from_zero_second]) ** 2)
    np.testing.assert_allclose(hist.history["loss"][0], expected, rtol=1e-5)


def test_stateless_models_compile_stateless_eval_and_predict():
    from jnet.layers.rnn_state import stateful_layers

    model = jnet.Sequential([jnet.Input((T, F)), layers.LSTM(U)])
    assert stateful_layers(model) == []
    model.compile("sgd", "mse")
    model.evaluate(_data(), np.zeros((B, U)), verbose=0)
    assert model._trainer.carried_state is None
    assert not next(iter(model._trainer._fns.values())).stateful
