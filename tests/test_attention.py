"""Attention layers: harness checks, Keras 3 parity with copied weights, masks, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

B, TQ, TV, D = 2, 4, 5, 6
RS = np.random.RandomState(0)
Q = RS.randn(B, TQ, D).astype(np.float32)
V = RS.randn(B, TV, 3).astype(np.float32)
QM = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
VM = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], bool)
MHA_PARTS = ("query", "key", "value", "attention_output")


def keras_side():
    """Keras itself breaks jnet's `rank_promotion="raise"` test setting: allow it there only."""
    return jax.numpy_rank_promotion("allow")


def spec(x):
    return jax.ShapeDtypeStruct(np.shape(x), jnp.asarray(x).dtype)


def close(a, b, tol=1e-5):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def keras_call(kl, *args, **kwargs):
    with keras_side():
        return jax.tree_util.tree_map(np.asarray, kl(*args, **kwargs))


def randomize(kl, seed=1):
    rs = np.random.RandomState(seed)
    with keras_side():
        kl.set_weights([np.asarray(0.5 * rs.randn(*w.shape), np.float32) for w in kl.get_weights()])


def mha_params(kl):
    w = [jnp.asarray(a) for a in kl.get_weights()]
    return {"params": {n: {"kernel": w[2 * i], "bias": w[2 * i + 1]} for i, n in enumerate(MHA_PARTS)}, "state": {}}


@pytest.fixture(scope="module")
def mha_pair():
    kl = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    keras_call(kl, Q, V)
    randomize(kl)
    return kl, layers.MultiHeadAttention(num_heads=2, key_dim=3)


def test_mha_param_layout_matches_keras(mha_pair):
    kl, jl = mha_pair
    v = jl.init(jax.random.key(0), spec(Q), spec(V))
    shapes = [p[k].shape for p in (v["params"][n] for n in MHA_PARTS) for k in ("kernel", "bias")]
    assert shapes == [w.shape for w in kl.get_weights()]
    assert v["params"]["query"]["kernel"].shape == (D, 2, 3)


def test_mha_parity_through_harness(mha_pair):
    kl, jl = mha_pair
    check_layer(
        jl, Q, V, variables=mha_params(kl), reference=lambda v, q, val: keras_call(kl, np.asarray(q), np.asarray(val))
    )


def test_mha_masks_causal_and_scores_parity(mha_pair):
    kl, jl = mha_pair
    v = mha_params(kl)
    am = RS.rand(B, TQ, TV) > 0.3
    am[:, :, 0] = True  # no fully masked row: Keras's two code paths disagree there
    for kwargs in (
        {"attention_mask": am},
        {"attention_mask": am, "use_causal_mask": True},
        {"use_causal_mask": True},
        {"return_attention_scores": True},
        {"return_attention_scores": True, "attention_mask": am},
    ):
        ours = jl.apply(v, Q, V, **{k: jnp.asarray(x) if k == "attention_mask" else x for k, x in kwargs.items()})[0]
        close(ours, keras_call(kl, Q, V, **kwargs))
    _, scores = jl.apply(v, Q, V, return_attention_scores=True)[0]
    assert scores.shape == (B, 2, TQ, TV)


def test_mha_input_gradient_matches_keras(mha_pair):
    kl, jl = mha_pair
    v = mha_params(kl)
    g_ours = jax.grad(lambda q, val: jnp.sum(jl.apply(v, q, val)[0] ** 2), argnums=(0, 1))(
        jnp.asarray(Q), jnp.asarray(V)
    )
    with keras_side():
        g_keras = jax.grad(lambda q, val: jnp.sum(kl(q, val) ** 2), argnums=(0, 1))(jnp.asarray(Q), jnp.asarray(V))
    close(g_ours, g_keras)


def test_mha_key_value_dims_output_shape_and_no_bias():
    k = RS.randn(B, TV, 2).astype(np.float32)
    kl = keras.layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, output_shape=5, use_bias=False)
    keras_call(kl, Q, V, k, return_attention_scores=True)
    randomize(kl)
    jl = layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, output_shape=5, use_bias=False)
    w = [jnp.asarray(a) for a in kl.get_weights()]
    v = {"params": {n: {"kernel": w[i]} for i, n in enumerate(MHA_PARTS)}, "state": {}}
    assert jax.tree_util.tree_map(
        lambda a: a.shape, jl.init(jax.random.key(0), spec(Q), spec(V), spec(k))["params"]
    ) == jax.tree_util.tree_map(lambda a: a.shape, v["params"])
    out = jl.apply(v, Q, V, k)[0]
    assert out.shape == (B, TQ, 5)
    # Keras 3.15's fused path fails when value_dim != key_dim; its scores path works.
    close(out, keras_call(kl, Q, V, k, return_attention_scores=True)[0])


def test_mha_self_attention_masks_from_embedding_match_keras():
    ids = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 0]], np.int32)
    with keras_side():
        tok = keras.Input((5,), dtype="int32")
        emb = keras.layers.Embedding(10, D, mask_zero=True)
        x = emb(tok)
        kmha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
        kmodel = keras.Model(tok, kmha(x, x))
    randomize(kmodel)
    theirs = keras_call(kmodel, ids)

    tokens = jnet.Input((5,), dtype="int32")
    e = layers.Embedding(10, D, mask_zero=True)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = e(tokens)
    out = mha(x, x)
    model = jnet.Model(tokens, out)
    w = [jnp.asarray(a) for a in kmodel.get_weights()]
    params = {
        e.name: {"embeddings": w[0]},
        mha.name: {n: {"kernel": w[1 + 2 * i], "bias": w[2 + 2 * i]} for i, n in enumerate(MHA_PARTS)},
    }
    ours, _ = jax.jit(model.apply)({"params": params, "state": {}}, ids)
    close(ours, theirs)


@pytest.mark.parametrize(
    "cls,kw",
    [
        ("Attention", {}),
        ("Attention", {"use_scale": True, "score_mode": "concat"}),
        ("AdditiveAttention", {}),
        ("AdditiveAttention", {"use_scale": False}),
    ],
)
def test_dense_attention_parity(cls, kw):
    q = RS.randn(B, TQ, 3).astype(np.float32)
    kl = getattr(keras.layers, cls)(**kw)
    keras_call(kl, [q, V])
    if kl.get_weights():
        randomize(kl)
    jl = getattr(layers, cls)(**kw)
    v = jl.init(jax.random.key(0), [spec(q), spec(V)])
    assert [w.shape for w in jl.weights] == [w.shape for w in kl.get_weights()]
    v = {"params": {w.name: jnp.asarray(k) for w, k in zip(jl.weights, kl.get_weights())}, "state": {}}
    check_layer(
        jl,
        [q, V],
        variables=v,
        reference=lambda v, inp: keras_call(kl, [np.asarray(a) for a in inp]),
        grad=bool(v["params"]),
    )
    k = RS.randn(B, TV, 3).astype(np.float32)
    masks = [jnp.asarray(QM), jnp.asarray(VM)]
    for kwargs in ({}, {"return_attention_scores": True}, {"use_causal_mask": True}):
        ours = jl.apply(v, [q, V, k], mask=masks, **kwargs)[0]
        close(ours, keras_call(kl, [q, V, k], mask=[QM, VM], **kwargs))
    assert jl.compute_mask([q, V], masks) is masks[0]


def test_attention_masks_flow_from_embeddings_in_a_model():
    qt, vt = jnet.Input((TQ,), dtype="int32"), jnet.Input((TV,), dtype="int32")
    eq, ev = layers.Embedding(10, 3, mask_zero=True), layers.Embedding(10, 3, mask_zero=True)
    att = layers.Attention()
    model = jnet.Model([qt, vt], att([eq(qt), ev(vt)]))
    variables = model.init(jax.random.key(0))
    q_ids = np.where(QM, 3, 0).astype(np.int32)
    v_ids = np.where(VM, 5, 0).astype(np.int32)
    out, _ = model.apply(variables, [q_ids, v_ids])
    p = variables["params"]
    qx, vx = p[eq.name]["embeddings"][q_ids], p[ev.name]["embeddings"][v_ids]
    expected = att.apply({"params": {}}, [qx, vx], mask=[jnp.asarray(QM), jnp.asarray(VM)])[0]
    unmasked = att.apply({"params": {}}, [qx, vx])[0]
    close(out, expected)
    assert not np.allclose(out, unmasked)


def test_dropout_needs_rng():
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5)
    v = mha.init(jax.random.key(0), spec(Q), spec(V))
    with pytest.raises(ValueError, match="MultiHeadAttention.*rng"):
        mha.apply(v, Q, V, training=True)
    a = mha.apply(v, Q, V, training=True, rng=jax.random.key(1))[0]
    assert not np.allclose(a, mha.apply(v, Q, V)[0])
    att = layers.Attention(dropout=0.5)
    with pytest.raises(ValueError, match="Attention.*rng"):
        att.apply({"params": {}}, [Q, Q], training=True)


def test_bad_input_errors():
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")
    with pytest.raises(ValueError, match=r"MultiHeadAttention 'mha'.*query.*rank >= 3"):
        mha.init(jax.random.key(0), jax.ShapeDtypeStruct((B, D), jnp.float32), spec(V))
    with pytest.raises(ValueError, match="attention_axes must be axes between batch and features"):
        layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(3,)).init(
            jax.random.key(0),
            jax.ShapeDtypeStruct((B, 3, 4, D), jnp.float32),
            jax.ShapeDtypeStruct((B, 3, 4, D), jnp.float32),
        )
    with pytest.raises(ValueError, match="agree on the axes outside attention_axes"):
        layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(2,)).init(
            jax.random.key(0),
            jax.ShapeDtypeStruct((B, 3, 4, D), jnp.float32),
            jax.ShapeDtypeStruct((B, 2, 4, D), jnp.float32),
        )
    with pytest.raises(ValueError, match="positive integer"):
        layers.MultiHeadAttention(num_heads=0, key_dim=3)
    v = mha.init(jax.random.key(0), spec(Q), spec(V))
    with pytest.raises(ValueError, match="query mask must have shape"):
        mha.apply(v, Q, V, mask=jnp.ones((B, TQ + 1), bool))
    att = layers.Attention()
    with pytest.raises(ValueError, match=r"Attention.*\[query, value\]"):
        att.init(jax.random.key(0), spec(Q))
    with pytest.raises(ValueError, match="value_mask must have shape"):
        att.apply({"params": {}}, [Q, Q], mask=[None, jnp.ones((B, 2), bool)])
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="general")


def test_mha_over_two_attention_axes_flattens_them():
    """Default attention_axes on rank-4 input: attention over both middle axes jointly."""
    x = RS.randn(B, 2, 3, D).astype(np.float32)
    kl = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    keras_call(kl, x, x)
    randomize(kl)
    jl = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    (out, scores), _ = jl.apply(mha_params(kl), x, x, return_attention_scores=True)
    k_out, k_scores = keras_call(kl, x, x, return_attention_scores=True)
    close((out, scores), (k_out, k_scores))


def test_model_get_weights_in_keras_order(mha_pair):
    kl, _ = mha_pair
    q, v = jnet.Input((TQ, D)), jnet.Input((TV, 3))
    model = jnet.Model([q, v], layers.MultiHeadAttention(num_heads=2, key_dim=3)(q, v))
    assert [w.shape for w in model.get_weights()] == [w.shape for w in kl.get_weights()]


def test_graph_passes_key_keyword_and_value_mask():
    """`mha(q, v, key=k)` builds the key kernel from k's width, and the value's Embedding
    mask reaches MHA as `value_mask` (Keras does both)."""
    q_in, v_in, k_in = jnet.Input((3, 4)), jnet.Input((5,), dtype="int32"), jnet.Input((5, 6))
    v = layers.Embedding(10, 4, mask_zero=True)(v_in)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    model = jnet.Model([q_in, v_in, k_in], mha(q_in, v, key=k_in))
    variables = model.init(jax.random.key(0))
    assert variables["params"][mha.name]["key"]["kernel"].shape == (6, 2, 3)
    rng = np.random.RandomState(0)
    q, k = rng.randn(2, 3, 4).astype("float32"), rng.randn(2, 5, 6).astype("float32")
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]], dtype="int32")
    out, _ = model.apply(variables, q, ids, k)
    emb = variables["params"]["embedding"]["embeddings"][ids]
    mha_vars = {"params": variables["params"][mha.name], "state": {}}
    expected, _ = mha.apply(mha_vars, q, emb, key=k, value_mask=jnp.asarray(ids != 0))
    unmasked, _ = mha.apply(mha_vars, q, emb, key=k)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(out, unmasked, atol=1e-4)


@pytest.mark.parametrize("axes", [(2,), (1,), (-2,), (1, 3)], ids=str)
def test_mha_non_default_attention_axes_match_keras(axes):
    """Attention over some middle axes, the others independent: outputs, scores and an
    attention mask as Keras 3 lays them out; rank 5 for (1, 3)."""
    rs = np.random.RandomState(7)
    shape = (B, 2, 3, 4, D) if axes == (1, 3) else (B, 3, 4, D)
    x = rs.randn(*shape).astype(np.float32)
    v = rs.randn(*shape[:-1], 5).astype(np.float32)
    kl = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=axes)
    keras_call(kl, x, v)
    randomize(kl)
    jl = layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=axes)
    (out, scores), _ = jl.apply(mha_params(kl), x, v, return_attention_scores=True)
    k_out, k_scores = keras_call(kl, x, v, return_attention_scores=True)
    assert out.shape == k_out.shape and scores.shape == k_scores.shape
    close((out, scores), (k_out, k_scores))
    # An attention mask shaped like the scores without the heads axis.
    mask_shape = k_scores.shape[: len(shape) - 1 - len(axes)] + k_scores.shape[len(shape) - len(axes) :]
    am = rs.rand(*mask_shape) > 0.3
    am.reshape(mask_shape[: len(mask_shape) - len(axes)] + (-1,))[..., 0] = True  # no query row fully masked
    (out, scores), _ = jl.apply(mha_params(kl), x, v, attention_mask=am, return_attention_scores=True)
    k_out, k_scores = keras_call(kl, x, v, attention_mask=am, return_attention_scores=True)
    close((out, scores), (k_out, k_scores))


def test_mha_attention_axes_gradient_and_config_round_trip():
    x = jnp.asarray(RS.randn(B, 3, 4, D).astype(np.float32))
    jl = layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=2)
    check_layer(jl, x, x)
