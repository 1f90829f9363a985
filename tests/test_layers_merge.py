"""Merge layers and their functional forms; the seed document's multi-input model summary."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer
from keras_ref import keras_run

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(1)
A = RS.randn(2, 3, 4).astype(np.float32)
B = RS.randn(2, 3, 4).astype(np.float32)
C = RS.randn(2, 3, 4).astype(np.float32)

MERGES = [
    ("Concatenate", {}, [A, B, C]),
    ("Concatenate", {"axis": 1}, [A, RS.randn(2, 5, 4).astype(np.float32)]),
    ("Add", {}, [A, B, C]),
    ("Subtract", {}, [A, B]),
    ("Multiply", {}, [A, B, C]),
    ("Average", {}, [A, B, C]),
    ("Maximum", {}, [A, B, C]),
    ("Minimum", {}, [A, B, C]),
    ("Add", {}, [A, RS.randn(2, 1, 4).astype(np.float32)]),  # a size-1 axis broadcasts
    ("Add", {}, [A, RS.randn(2, 4).astype(np.float32)]),  # lower rank: unit axis after the batch
    ("Dot", {"axes": 2}, [A, B]),
    ("Dot", {"axes": (1, 1), "normalize": True}, [A, B]),
    ("Dot", {"axes": -1}, [A[:, 0], B[:, 0]]),  # (batch, d) . (batch, d) -> (batch, 1)
    ("Dot", {"axes": (2, 1)}, [A, RS.randn(2, 4, 5).astype(np.float32)]),
]


@pytest.mark.parametrize("i", range(len(MERGES)))
def test_merge_layers_match_keras(i):
    name, kwargs, inputs = MERGES[i]
    layer = getattr(layers, name)(**kwargs)
    _, y = check_layer(layer, inputs, reference=lambda v, xs: keras_run(getattr(keras.layers, name)(**kwargs), xs))
    assert y.shape == keras_run(getattr(keras.layers, name)(**kwargs), inputs).shape


def test_merge_numpy_semantics():
    # independent closed forms (not only Keras)
    out = lambda layer, xs: np.asarray(layer.apply({}, xs)[0])  # noqa: E731
    np.testing.assert_allclose(out(layers.Concatenate(), [A, B]), np.concatenate([A, B], -1))
    np.testing.assert_allclose(out(layers.Average(), [A, B, C]), (A + B + C) / 3, rtol=1e-6)
    np.testing.assert_allclose(out(layers.Maximum(), [A, B, C]), np.maximum(np.maximum(A, B), C))
    np.testing.assert_allclose(out(layers.Dot(axes=2), [A, B]), np.einsum("bid,bjd->bij", A, B), rtol=1e-5, atol=1e-6)
    cos = out(layers.Dot(axes=-1, normalize=True), [A[:, 0], B[:, 0]])
    a, b = A[:, 0], B[:, 0]
    expected = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(cos[:, 0], expected, rtol=1e-5)


def test_functional_forms_build_graph_nodes():
    a, b = jnet.Input((3, 4), name="a"), jnet.Input((3, 4), name="b")
    outs = {
        "concatenate": layers.concatenate([a, b], axis=1),
        "add": layers.add([a, b]),
        "subtract": layers.subtract([a, b]),
        "multiply": layers.multiply([a, b]),
        "average": layers.average([a, b]),
        "maximum": layers.maximum([a, b]),
        "minimum": layers.minimum([a, b]),
        "dot": layers.dot([a, b], axes=2),
    }
    assert outs["concatenate"].shape == (None, 6, 4) and outs["dot"].shape == (None, 3, 3)
    model = jnet.Model([a, b], outs)
    assert sorted(l.name for l in model.layers if not isinstance(l, layers.InputLayer)) == sorted(outs)
    y, _ = model.apply(model.init(jax.random.key(0)), [A, B])
    np.testing.assert_allclose(y["subtract"], A - B, rtol=1e-6)
    np.testing.assert_allclose(y["concatenate"], np.concatenate([A, B], 1), rtol=1e-6)


def test_concatenate_mismatch_names_layer_input_and_axis():
    a, b = jnet.Input((3, 4)), jnet.Input((5, 4))
    with pytest.raises(
        ValueError,
        match=r"Concatenate 'concatenate': input 1 of shape \(None, 5, 4\) does not match "
        r"input 0 of shape \(None, 3, 4\) on axis 1 \(5 vs 3\).*concatenation axis -1",
    ):
        layers.concatenate([a, b])
    assert layers.concatenate([a, b], axis=1).shape == (None, 8, 4)  # fine on the axis that differs
    with pytest.raises(ValueError, match=r"Concatenate 'joined': input 1 has rank 2"):
        layers.Concatenate(name="joined")([a, jnet.Input((4,))])
    with pytest.raises(ValueError, match=r"Concatenate 'concatenate': axis 3 is out of range"):
        layers.Concatenate(axis=3)([a, a])


def test_merge_errors_name_layer():
    a, b = jnet.Input((3,)), jnet.Input((5,))
    with pytest.raises(
        ValueError,
        match=r"Add 'add': input 1 of shape \(None, 5\) does not match input 0 of shape \(None, 3\) on axis 1 \(5 vs 3\)",
    ):
        layers.add([a, b])
    with pytest.raises(ValueError, match="Subtract 'subtract': expected exactly 2 inputs, got 3"):
        layers.subtract([a, a, a])
    with pytest.raises(ValueError, match="Multiply 'multiply': a merge layer takes a list of inputs"):
        layers.Multiply()(a)
    with pytest.raises(ValueError, match=r"Dot 'dot': input 0 axis 1 has size 3 but input 1 axis 1 has size 5"):
        layers.dot([a, b], axes=1)
    with pytest.raises(ValueError, match="Dot 'dot': cannot take the dot product over the batch axis"):
        layers.dot([a, a], axes=0)
    with pytest.raises(ValueError, match="Dot 'dot': axes must be an int or a pair of ints"):
        layers.Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="Add 'add': inputs have different batch sizes"):
        layers.Add().apply({}, [np.ones((2, 3)), np.ones((3, 3))])


# --------------------------------------------------------------------------- masks


M1 = np.array([[True, True, False], [True, False, False]])
M2 = np.array([[True, False, False], [True, True, False]])


def test_merge_compute_mask_matches_keras():
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        ours = getattr(layers, name)().compute_mask([A, B], [M1, M2])
        theirs = getattr(keras.layers, name)().compute_mask([A, B], [M1, M2])
        np.testing.assert_array_equal(ours, np.asarray(theirs), err_msg=name)  # union of masks
        assert getattr(layers, name)().compute_mask([A, B], [M1, None]) is None
    for masks in ([M1, M2], [M1, None]):
        ours = layers.Concatenate(axis=1).compute_mask([A, B], masks)
        theirs = keras.layers.Concatenate(axis=1).compute_mask([A, B], masks)
        np.testing.assert_array_equal(ours, np.asarray(theirs))
        ours = layers.Concatenate().compute_mask([A, B], masks)
        np.testing.assert_array_equal(ours, np.asarray(keras.layers.Concatenate().compute_mask([A, B], masks)))
    assert layers.Concatenate().compute_mask([A, B], None) is None
    assert layers.Dot(axes=2).compute_mask([A, B], [M1, M2]) is None


def _masked_pair_model(lib, name):
    a, b = lib.Input((3, 4)), lib.Input((3, 4))
    merged = getattr(lib.layers, name)()([lib.layers.Masking()(a), lib.layers.Masking()(b)])
    return lib.Model([a, b], merged)


@pytest.mark.parametrize("name", ["Maximum", "Minimum", "Multiply", "Add"])
def test_masked_merge_values_match_keras_graph(name):
    # Keras uses the masks inside Maximum/Minimum/Multiply; both graphs carry them from Masking.
    a, b = A.copy(), B.copy()
    a[~M1] = 0.0
    b[~M2] = 0.0
    model = _masked_pair_model(jnet, name)
    ours, _ = model.apply(model.init(jax.random.key(0)), [a, b])
    with jax.numpy_rank_promotion("allow"):
        theirs = np.asarray(_masked_pair_model(keras, name)([a, b]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


# --------------------------------------------------------------------------- seed document


def test_seed_multi_input_model_summary(capsys):
    # The seed document's functional model, with a Lambda mean over time standing in for the
    # LSTMs (another branch): title and body token sequences of any length, 12 tags.
    num_tags, num_words, num_departments = 12, 10000, 4
    title_input = jnet.Input(shape=(None,), name="title")
    body_input = jnet.Input(shape=(None,), name="body")
    tags_input = jnet.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 64)(title_input)
    body_features = layers.Embedding(num_words, 64)(body_input)
    title_features = layers.Lambda(jnp.mean, arguments={"axis": 1}, name="title_mean")(title_features)
    body_features = layers.Lambda(jnp.mean, arguments={"axis": 1}, name="body_mean")(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = jnet.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
    assert model.output_names == ["priority", "department"]
    model.summary()
    out = capsys.readouterr().out
    for row in (
        "title (InputLayer)",
        "body (InputLayer)",
        "tags (InputLayer)",
        "embedding (Embedding)",
        "embedding_1 (Embedding)",
        "title_mean (Lambda)",
        "body_mean (Lambda)",
        "concatenate (Concatenate)",
        "priority (Dense)",
        "department (Dense)",
    ):
        assert row in out, row
    assert "(None, None, 64)" in out and "(None, 140)" in out
    total = 2 * num_words * 64 + (140 + 1) + (140 * 4 + 4)
    assert f"Total params: {total:,}" in out and f"Trainable params: {total:,}" in out
    assert model.count_params() == total
    title = np.array([[5, 7, 0], [1, 2, 3]], np.float32)  # default float Input, as in the seed
    body = np.array([[9, 8, 7, 6, 5]] * 2, np.float32)
    priority, department = model([title, body, np.zeros((2, num_tags), np.float32)])
    assert priority.shape == (2, 1) and department.shape == (2, 4)


def test_merge_model_config_round_trip():
    import json

    a, b = jnet.Input((None,), dtype="int32", name="a"), jnet.Input((3,), name="b")
    h = layers.Embedding(6, 3, mask_zero=True)(a)
    h = layers.Lambda(jnp.mean, arguments={"axis": 1})(h)
    model = jnet.Model([a, b], layers.Dense(2)(layers.concatenate([h, b])))
    config = json.loads(json.dumps(model.get_config()))
    clone = jnet.Model.from_config(config, safe_mode=False)  # the Lambda imports jnp.mean by name
    v = model.init(jax.random.key(0))
    xa, xb = np.array([[1, 2, 0, 0]], np.int32), np.ones((1, 3), np.float32)
    np.testing.assert_allclose(clone.apply(v, [xa, xb])[0], model.apply(v, [xa, xb])[0], rtol=1e-6)
