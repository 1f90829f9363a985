"""Recurrent layers: harness checks, Keras 3 parity with copied weights, masking, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

B, T, D, U = 2, 5, 3, 4
RNG = np.random.RandomState(0)
X = RNG.randn(B, T, D).astype(np.float32)
# Right padding: sample 0 has 3 valid steps, sample 1 all 5.
LENGTHS = np.array([3, 5])
MASK = np.arange(T)[None, :] < LENGTHS[:, None]

RNN_NAMES = ("kernel", "recurrent_kernel", "bias")


def keras_side():
    """Keras itself breaks jnet's `rank_promotion="raise"` test setting: allow it there only."""
    return jax.numpy_rank_promotion("allow")


def spec(x):
    return jax.ShapeDtypeStruct(np.shape(x), jnp.asarray(x).dtype)


def copied(kl, names=RNN_NAMES):
    """jnet variables holding a built Keras layer's weights."""
    return {"params": dict(zip(names, (jnp.asarray(w) for w in kl.get_weights()))), "state": {}}


def randomize(kl, seed=1):
    """Non-trivial weights everywhere (zero biases would hide bias-layout bugs)."""
    rs = np.random.RandomState(seed)
    with keras_side():
        kl.set_weights([np.asarray(0.5 * rs.randn(*w.shape), np.float32) for w in kl.get_weights()])


def keras_out(kl, *args, **kwargs):
    with keras_side():
        out = kl(*args, **kwargs)
    return jax.tree_util.tree_map(np.asarray, out)


def close(a, b, tol=1e-5):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


CASES = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})]


def built_pair(name, **kw):
    kl = getattr(keras.layers, name)(U, **kw)
    with keras_side():
        kl.build((None, T, D))
    randomize(kl)
    jl = getattr(layers, name)(U, **kw)
    return kl, jl


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}{kw}" for n, kw in CASES])
def test_keras_parity_through_harness(name, kw):
    kl, jl = built_pair(name, return_sequences=True, **kw)
    v = jl.init(jax.random.key(0), spec(X))
    ours = jax.tree_util.tree_map(lambda a: a.shape, v["params"])
    assert ours == {n: w.shape for n, w in zip(RNN_NAMES, kl.get_weights())}
    check_layer(jl, X, variables=copied(kl), reference=lambda v, x: keras_out(kl, np.asarray(x)))


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}{kw}" for n, kw in CASES])
def test_keras_parity_variants(name, kw):
    """return_state / go_backwards / initial_state / mask, each against Keras."""
    kl, jl = built_pair(name, return_sequences=True, return_state=True, go_backwards=True, **kw)
    n_states = 2 if name == "LSTM" else 1
    init = [RNG.randn(B, U).astype(np.float32) for _ in range(n_states)]
    v = copied(kl)
    mask = jnp.asarray(MASK)
    run = jax.jit(lambda v, x, s, m: jl.apply(v, x, initial_state=s, mask=m)[0])
    ours = run(v, X, [jnp.asarray(s) for s in init], mask)
    theirs = keras_out(kl, X, initial_state=init, mask=MASK)
    assert len(ours) == 1 + n_states
    close(ours, theirs)
    # Last output, forward, no state: the plain case.
    kl2, jl2 = built_pair(name, **kw)
    close(jl2.apply(copied(kl2), X, mask=mask)[0], keras_out(kl2, X, mask=MASK))


def test_lstm_input_gradient_matches_keras():
    kl, jl = built_pair("LSTM", return_sequences=True)
    v = copied(kl)
    g_ours = jax.grad(lambda x: jnp.sum(jl.apply(v, x)[0] ** 2))(jnp.asarray(X))
    with keras_side():
        g_keras = jax.grad(lambda x: jnp.sum(kl(x) ** 2))(jnp.asarray(X))
    close(g_ours, g_keras)


def test_masked_lstm_equals_trimmed_sequences():
    """Right-padded + mask gives the same last output and states as the unpadded sequence."""
    jl = layers.LSTM(U, return_state=True)
    v = jl.init(jax.random.key(1), spec(X))
    padded = np.where(MASK[..., None], X, 0.0).astype(np.float32)
    out, h, c = jl.apply(v, padded, mask=jnp.asarray(MASK))[0]
    for i, n in enumerate(LENGTHS):
        o_i, h_i, c_i = jl.apply(v, X[i : i + 1, :n])[0]
        close((out[i : i + 1], h[i : i + 1], c[i : i + 1]), (o_i, h_i, c_i), tol=1e-6)


def test_masked_sequences_output_previous_step():
    jl = layers.GRU(U, return_sequences=True)
    v = jl.init(jax.random.key(2), spec(X))
    seq = jl.apply(v, X, mask=jnp.asarray(MASK))[0]
    # Sample 0 is masked from step 3 on: the output repeats step 2 (Keras semantics).
    np.testing.assert_array_equal(np.asarray(seq[0, 3]), np.asarray(seq[0, 2]))
    np.testing.assert_array_equal(np.asarray(seq[0, 4]), np.asarray(seq[0, 2]))


def test_bidirectional_parity_merge_modes():
    for mode in ("concat", "sum", "mul", "ave", None):
        kl = keras.layers.Bidirectional(keras.layers.LSTM(U, return_sequences=True), merge_mode=mode)
        with keras_side():
            kl.build((None, T, D))
        randomize(kl)
        w = kl.get_weights()
        jl = layers.Bidirectional(layers.LSTM(U, return_sequences=True), merge_mode=mode)
        v = {
            "params": {
                "forward_lstm": dict(zip(RNN_NAMES, map(jnp.asarray, w[:3]))),
                "backward_lstm": dict(zip(RNN_NAMES, map(jnp.asarray, w[3:]))),
            },
            "state": {},
        }
        if mode == "concat":
            check_layer(jl, X, variables=v, reference=lambda v, x: keras_out(kl, np.asarray(x)))
        close(jl.apply(v, X, mask=jnp.asarray(MASK))[0], keras_out(kl, X, mask=MASK))


def test_bidirectional_return_state_and_initial_state_parity():
    kl = keras.layers.Bidirectional(keras.layers.GRU(U, return_state=True))
    with keras_side():
        kl.build((None, T, D))
    randomize(kl)
    w = kl.get_weights()
    jl = layers.Bidirectional(layers.GRU(U, return_state=True))
    v = {
        "params": {
            "forward_gru": dict(zip(RNN_NAMES, map(jnp.asarray, w[:3]))),
            "backward_gru": dict(zip(RNN_NAMES, map(jnp.asarray, w[3:]))),
        },
        "state": {},
    }
    init = [RNG.randn(B, U).astype(np.float32) for _ in range(2)]
    ours = jl.apply(v, X, initial_state=[jnp.asarray(s) for s in init])[0]
    assert len(ours) == 3 and ours[0].shape == (B, 2 * U)
    close(ours, keras_out(kl, X, initial_state=init))


def test_time_distributed_parity():
    kl = keras.layers.TimeDistributed(keras.layers.Dense(3))
    with keras_side():
        kl.build((None, T, D))
    randomize(kl)
    jl = layers.TimeDistributed(layers.Dense(3))
    check_layer(jl, X, variables=copied(kl, ("kernel", "bias")), reference=lambda v, x: keras_out(kl, np.asarray(x)))


def test_time_distributed_passes_mask_through():
    td = layers.TimeDistributed(layers.Dense(3))
    m = jnp.asarray(MASK)
    assert td.compute_mask(X, m) is m
    with pytest.raises(ValueError, match="TimeDistributed.*mask"):
        td.apply(td.init(jax.random.key(0), spec(X)), X, mask=m[:, :2])


@pytest.mark.parametrize("name", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_cells_parity(name):
    kc = getattr(keras.layers, name)(U)
    with keras_side():
        kc.build((None, D))
    randomize(kc)
    jc = getattr(layers, name)(U)
    n_states = 2 if name == "LSTMCell" else 1
    x = X[:, 0]
    states = [RNG.randn(B, U).astype(np.float32) for _ in range(n_states)]
    v, (h, new) = check_layer(
        jc,
        x,
        states,
        variables=copied(kc),
        reference=lambda v, x, s: keras_out(kc, np.asarray(x), [np.asarray(a) for a in s]),
    )
    assert isinstance(new, list) and len(new) == n_states


def test_generic_rnn_over_builtin_and_custom_cells():
    kl, jl = built_pair("LSTM", return_sequences=True)
    wrapped = layers.RNN(layers.LSTMCell(U), return_sequences=True)
    check_layer(wrapped, X, variables=copied(kl), reference=lambda v, x: keras_out(kl, np.asarray(x)))

    class MinimalCell(jnet.layers.Layer):  # Keras's docs example: h = x @ W + h_prev @ U
        units: int = U

        @property
        def state_size(self):
            return self.units

        def build(self, input_shape):
            self.kernel = self.add_weight((input_shape[-1], self.units), "random_normal", name="kernel")
            self.recurrent_kernel = self.add_weight((self.units, self.units), "random_normal", name="recurrent_kernel")

        def call(self, x, states):
            h = x @ self.kernel + states[0] @ self.recurrent_kernel
            return h, [h]

    rnn = layers.RNN(MinimalCell(), return_sequences=True)
    v = rnn.init(jax.random.key(3), spec(X))
    ref = layers.SimpleRNN(U, activation=None, use_bias=False, return_sequences=True)
    close(rnn.apply(v, X, mask=jnp.asarray(MASK))[0], ref.apply(v, X, mask=jnp.asarray(MASK))[0])


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}{kw}" for n, kw in CASES])
def test_hoisted_and_per_step_projection_agree(name, kw, monkeypatch):
    """The GPU path (input projection hoisted out of the loop) equals the CPU path."""
    from jnet.layers import recurrent

    jl = getattr(layers, name)(U, return_sequences=True, go_backwards=True, **kw)
    v = jl.init(jax.random.key(6), spec(X))
    outs = []
    for hoist in (False, True):
        monkeypatch.setattr(recurrent, "HOIST_INPUTS", hoist)
        assert recurrent.hoist_inputs() is hoist
        outs.append(jl.apply(v, X, mask=jnp.asarray(MASK))[0])
    close(outs[0], outs[1], tol=1e-6)


def test_unroll_and_backend_default():
    jl = layers.LSTM(U, return_sequences=True)
    v = jl.init(jax.random.key(4), spec(X))
    base = jl.apply(v, X)[0]
    for unroll in (2, 3, True, False):
        close(layers.LSTM(U, return_sequences=True, unroll=unroll).apply(v, X)[0], base, tol=1e-6)
    expected = 1 if jax.default_backend() == "cpu" else 10
    assert layers.default_unroll() == expected
    with pytest.raises(ValueError, match="unroll"):
        layers.LSTM(U, unroll=0)


def test_dropout_needs_rng_and_is_deterministic_per_key():
    jl = layers.LSTM(U, dropout=0.5, recurrent_dropout=0.5)
    v = jl.init(jax.random.key(5), spec(X))
    infer = jl.apply(v, X)[0]
    with pytest.raises(ValueError, match="LSTM.*rng"):
        jl.apply(v, X, training=True)
    a = jl.apply(v, X, training=True, rng=jax.random.key(1))[0]
    b = jl.apply(v, X, training=True, rng=jax.random.key(1))[0]
    c = jl.apply(v, X, training=True, rng=jax.random.key(2))[0]
    close(a, b, tol=0)
    assert not np.allclose(a, infer) and not np.allclose(a, c)


def test_keras_defaults():
    lstm, gru = layers.LSTM(3), layers.GRU(3)
    assert gru.reset_after and lstm.unit_forget_bias
    assert lstm.activation == "tanh" and lstm.recurrent_activation == "sigmoid"
    assert lstm.kernel_initializer == "glorot_uniform" and lstm.recurrent_initializer == "orthogonal"
    v = lstm.init(jax.random.key(0), spec(X))
    np.testing.assert_array_equal(np.asarray(v["params"]["bias"]), np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    assert gru.init(jax.random.key(0), spec(X))["params"]["bias"].shape == (2, 9)


def test_bad_input_errors_name_the_layer():
    lstm = layers.LSTM(U, name="encoder")
    with pytest.raises(ValueError, match=r"LSTM 'encoder'.*rank 3"):
        lstm.init(jax.random.key(0), jax.ShapeDtypeStruct((B, D), jnp.float32))
    x = jnet.Input((D,))
    with pytest.raises(ValueError, match=r"LSTM.*rank 3"):
        layers.LSTM(U)(x)
    v = lstm.init(jax.random.key(0), spec(X))
    with pytest.raises(ValueError, match=r"LSTM 'encoder'.*mask must have shape \(batch, timesteps\)"):
        lstm.apply(v, X, mask=jnp.ones((B, T + 1), bool))
    with pytest.raises(ValueError, match=r"initial_state needs 2"):
        lstm.apply(v, X, initial_state=[jnp.zeros((B, U))])
    with pytest.raises(ValueError, match=r"Bidirectional 'bidirectional'.*rank 3"):
        layers.Bidirectional(layers.LSTM(U)).init(jax.random.key(0), jax.ShapeDtypeStruct((B, D), jnp.float32))
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(U), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer"):
        layers.Bidirectional(layers.Dense(U))


def test_lstm_in_model_is_padding_invariant():
    def make_embedding():
        return layers.Embedding(10, D, mask_zero=True)

    tokens = jnet.Input((None,), dtype="int32")
    h = layers.LSTM(U)(make_embedding()(tokens))
    seq = layers.LSTM(U, return_sequences=True)(make_embedding()(tokens))
    model = jnet.Model(tokens, [h, layers.TimeDistributed(layers.Dense(2))(seq)])
    v = model.init(jax.random.key(0))
    ids = np.array([[3, 1, 4, 1, 5], [2, 7, 0, 0, 0]], np.int32)
    (last, per_step), _ = jax.jit(model.apply)(v, ids)
    for i, n in enumerate([5, 2]):
        (last_i, steps_i), _ = model.apply(v, ids[i : i + 1, :n])
        close(last[i : i + 1], last_i, tol=1e-6)
        close(per_step[i : i + 1, :n], steps_i, tol=1e-6)
    # The sequence output keeps the mask; a padded step repeats the last valid one.
    close(per_step[1, 2:], jnp.broadcast_to(per_step[1, 1], (3, 2)), tol=1e-6)


def test_functional_encoder_decoder_with_states():
    """Keras's seq2seq pattern: encoder states feed the decoder's initial_state."""
    enc_in, dec_in = jnet.Input((None, D)), jnet.Input((None, D))
    _, h, c = layers.LSTM(U, return_state=True)(enc_in)
    seq = layers.LSTM(U, return_sequences=True)(dec_in, initial_state=[h, c])
    model = jnet.Model([enc_in, dec_in], seq)
    v = model.init(jax.random.key(0))
    out, _ = model.apply(v, [X, X[:, :2]])
    assert out.shape == (B, 2, U)
    enc, dec = [l for l in model.layers if isinstance(l, layers.LSTM)]
    _, h0, c0 = enc.apply({"params": v["params"][enc.name]}, X)[0]
    expected = dec.apply({"params": v["params"][dec.name]}, X[:, :2], initial_state=[h0, c0])[0]
    close(out, expected, tol=1e-6)
    clone = jnet.Model.from_config(model.get_config())
    close(clone.apply(v, [X, X[:, :2]])[0], out, tol=1e-6)


def test_mixed_precision_policy():
    jl = layers.GRU(U, return_sequences=True, dtype="mixed_bfloat16")
    v = jl.init(jax.random.key(0), spec(X))
    assert v["params"]["kernel"].dtype == jnp.float32
    out = jl.apply(v, X, mask=jnp.asarray(MASK))[0]
    assert out.dtype == jnp.bfloat16
    full = layers.GRU(U, return_sequences=True).apply(v, X, mask=jnp.asarray(MASK))[0]
    close(out.astype(jnp.float32), full, tol=5e-2)


def test_model_get_weights_in_keras_order_for_nested_params():
    x = jnet.Input((T, D))
    model = jnet.Model(x, layers.Bidirectional(layers.LSTM(U))(x))
    kl = keras.layers.Bidirectional(keras.layers.LSTM(U))
    with keras_side():
        kl.build((None, T, D))
    assert [w.shape for w in model.get_weights()] == [w.shape for w in kl.get_weights()]


def test_output_mask_follows_keras():
    m = jnp.asarray(MASK)
    assert layers.LSTM(U, return_sequences=True).compute_mask(X, m) is m
    assert layers.LSTM(U).compute_mask(X, m) is None
    assert layers.LSTM(U, return_sequences=True, return_state=True).compute_mask(X, m) == [m, None, None]
    assert layers.Bidirectional(layers.GRU(U, return_sequences=True), merge_mode=None).compute_mask(X, m) == [m, m]
    assert layers.Bidirectional(layers.GRU(U)).compute_mask(X, m) is None
