"""Keras 3 layers jnet added later (normalization, EinsumDense, 3D reshaping, adaptive pooling,
dropout variants, wrappers), each against Keras 3 on copied weights and the same inputs, with a
save/load round trip through jnet's format."""

import jax
import numpy as np
import pytest
from harness import check_layer
from keras_ref import jnet_weights, keras_run

import jnet
from jnet import layers

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)


def _x(*shape):
    return RS.randn(*shape).astype(np.float32)


def _perturbed(layer, x, key=0):
    v = layer.init(jax.random.key(key), x)
    keys = iter(jax.random.split(jax.random.key(key + 1), 16))
    return jax.tree_util.tree_map(lambda p: p + 0.3 * jax.random.normal(next(keys), p.shape), v)


# name, kwargs, input shape; Keras's class has the same name and arguments.
CASES = [
    ("GroupNormalization", {"groups": 2}, (2, 3, 4)),
    ("GroupNormalization", {"groups": -1, "axis": 1, "epsilon": 1e-2}, (2, 4, 3)),
    ("GroupNormalization", {"groups": 1, "center": False}, (2, 2, 2, 6)),
    ("UnitNormalization", {}, (3, 5)),
    ("UnitNormalization", {"axis": [1, 2]}, (2, 3, 4)),
    ("RMSNormalization", {}, (2, 3, 5)),
    ("RMSNormalization", {"axis": [-2, -1], "epsilon": 1e-3}, (2, 3, 4)),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c"}, (3, 5)),
    (
        "EinsumDense",
        {"equation": "abc,cde->abde", "output_shape": (None, 2, 3), "bias_axes": "de", "activation": "relu"},
        (2, 3, 4),
    ),
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 3}, (2, 3, 4)),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (3, 2), "bias_axes": "b"}, (2, 3, 4)),
    ("EinsumDense", {"equation": "ab...,bc->ac...", "output_shape": 2, "bias_axes": "c"}, (2, 3, 4)),
    ("ZeroPadding3D", {"padding": ((1, 0), (0, 2), (1, 1))}, (1, 2, 3, 2, 2)),
    ("ZeroPadding3D", {"padding": 1, "data_format": "channels_first"}, (1, 2, 3, 2, 2)),
    ("Cropping3D", {"cropping": ((1, 0), (0, 1), (1, 1))}, (1, 3, 3, 4, 2)),
    ("Cropping3D", {"cropping": (1, 0, 1), "data_format": "channels_first"}, (1, 2, 3, 3, 4)),
    ("UpSampling3D", {"size": (1, 2, 3)}, (1, 2, 2, 2, 2)),
    ("UpSampling3D", {"size": 2, "data_format": "channels_first"}, (1, 2, 2, 1, 2)),
    ("AdaptiveAveragePooling1D", {"output_size": 3}, (2, 7, 2)),
    ("AdaptiveMaxPooling1D", {"output_size": 4}, (2, 7, 2)),
    ("AdaptiveAveragePooling2D", {"output_size": (2, 3)}, (1, 5, 7, 2)),
    ("AdaptiveMaxPooling2D", {"output_size": (3, 2), "data_format": "channels_first"}, (1, 2, 5, 4)),
    ("AdaptiveAveragePooling3D", {"output_size": 2}, (1, 3, 4, 5, 1)),
    ("AdaptiveMaxPooling3D", {"output_size": (2, 1, 3)}, (1, 3, 4, 5, 1)),
    ("SpatialDropout3D", {"rate": 0.5}, (2, 2, 2, 2, 3)),
    ("AlphaDropout", {"rate": 0.3}, (2, 5)),
    ("ActivityRegularization", {"l1": 0.1, "l2": 0.2}, (2, 5)),
]


def _keras_config(kl):
    return {k: v for k, v in kl.get_config().items() if k not in ("name", "dtype", "trainable", "quantization_config")}


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layer_matches_keras_and_round_trips(name, kwargs, shape, tmp_path):
    x = _x(*shape)
    layer = getattr(layers, name)(**kwargs)
    v = _perturbed(layer, x)
    kl = getattr(keras.layers, name)(**kwargs)
    _, out = check_layer(layer, x, variables=v)
    expected = keras_run(kl, x, jnet_weights(layer, v))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # the arguments Keras saves are saved with the same values
    ours = layer.get_config()
    for key, value in _keras_config(kl).items():
        if key in ours and not isinstance(value, dict):
            assert _same_setting(ours[key], value), (key, ours[key], value)
    if name in _SAVED:
        return
    _SAVED.add(name)  # save / load once per class, through jnet's format
    model = jnet.Sequential([jnet.Input(shape[1:]), layer])
    tree = model.current_variables()
    for part in ("params", "state"):
        if v[part]:
            tree[part][layer.name] = v[part]
    model.assign_variables(tree)
    model.save(tmp_path / "m.keras")
    loaded = jnet.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x), out, rtol=1e-5, atol=1e-6)


_SAVED = set()


def _same_setting(ours, theirs):
    """Config values equal up to JSON's tuples-as-lists, Keras's `[axis]` for `axis` and
    `"linear"` for no activation."""

    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(i) for i in v]
        return "linear" if v is None else v

    ours, theirs = plain(ours), plain(theirs)
    return ours == theirs or [ours] == theirs


def test_activity_regularization_penalty_matches_keras():
    x = _x(4, 3)
    layer = layers.ActivityRegularization(l1=0.1, l2=0.2)
    layer(x)
    kl = keras.layers.ActivityRegularization(l1=0.1, l2=0.2)
    keras_run(kl, x)
    np.testing.assert_allclose(float(sum(layer.losses)), float(sum(kl.losses)), rtol=1e-5)
    assert "activity_regularizer" not in layer.get_config()


def test_alpha_dropout_training_statistics_and_values():
    x = _x(4000)[None]
    layer = layers.AlphaDropout(0.2)
    y, _ = layer.apply({"params": {}, "state": {}}, x, training=True, rng=jax.random.key(1))
    y = np.asarray(y)
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.2) * (1 + 0.2 * alpha_p**2)) ** -0.5
    b = -a * alpha_p * 0.2
    dropped = np.isclose(y, a * alpha_p + b)
    assert 0.15 < dropped.mean() < 0.25
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-5)
    assert abs(y.mean()) < 0.1 and abs(y.std() - 1) < 0.1  # self-normalising


def test_spatial_dropout3d_drops_whole_channels():
    x = np.ones((2, 2, 2, 2, 8), np.float32)
    y, _ = layers.SpatialDropout3D(0.5).apply({"params": {}, "state": {}}, x, training=True, rng=jax.random.key(0))
    y = np.asarray(y)
    per_channel = y.reshape(2, -1, 8)
    assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))
    assert set(np.unique(y)) <= {0.0, 2.0}


def test_spectral_normalization_matches_keras_in_training_and_round_trips(tmp_path):
    x = _x(3, 4)
    layer = layers.SpectralNormalization(layers.Dense(5), power_iterations=2)
    v = _perturbed(layer, x)
    ours = jnet_weights(layer, v)
    assert [w.shape for w in ours] == [(1, 5), (4, 5), (5,)]
    # Keras lists the kernel first (the wrapper holds it as an attribute), then its own vector_u
    weights = [ours[1], ours[0], ours[2]]
    for training in (False, True):
        y, state = layer.apply(v, x, training=training)
        kl = keras.layers.SpectralNormalization(keras.layers.Dense(5), power_iterations=2)
        expected = keras_run(kl, x, weights, training=training)
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state["vector_u"], np.asarray(kl.vector_u.value), rtol=1e-5, atol=1e-6)
    # the normalised kernel has spectral norm ~1 after enough iterations
    sn = layers.SpectralNormalization(layers.Dense(5), power_iterations=50)
    sn(x)
    sn(x, training=True)
    assert abs(np.linalg.svd(np.asarray(sn.layer.kernel.value), compute_uv=False)[0] - 1) < 1e-3
    model = jnet.Sequential([jnet.Input((4,)), layer])
    model.save(tmp_path / "m.keras")
    loaded = jnet.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    check_layer(layers.SpectralNormalization(layers.Dense(5)), x, training=True)


def test_wrapper_base_class_and_exports():
    class Twice(layers.Wrapper):
        def call(self, x):
            return self.layer(self.layer(x))

    w = Twice(layers.Dense(3, use_bias=False))
    x = _x(2, 3)
    y = w(x)
    k = np.asarray(w.layer.kernel.value)
    np.testing.assert_allclose(y, x @ k @ k, rtol=1e-5)
    assert w.get_config()["layer"]["class_name"] == "Dense"
    assert layers.InputSpec is jnet.InputSpec
    assert layers.Convolution1DTranspose is layers.Conv1DTranspose
    assert layers.Convolution3DTranspose is layers.Conv3DTranspose


@pytest.mark.parametrize(
    "make,shape,match",
    [
        (lambda: layers.GroupNormalization(groups=3), (2, 4), "divide"),
        (lambda: layers.GroupNormalization(groups=8), (2, 4), "cannot be more"),
        (lambda: layers.GroupNormalization(groups=0), None, "groups"),
        (lambda: layers.EinsumDense("ab,bc", 3), None, "invalid equation"),
        (lambda: layers.EinsumDense("ab,bc->ac", (3, 4)), (2, 5), "output_shape"),
        (lambda: layers.EinsumDense("ab,bc->ac", 3, bias_axes="z"), (2, 5), "bias axis"),
        (lambda: layers.Cropping3D(2), (1, 3, 3, 3, 1), "removes all"),
        (lambda: layers.UpSampling3D((1, 2)), None, "size"),
        (lambda: layers.AdaptiveAveragePooling2D((2, 0)), None, "output_size"),
        (lambda: layers.AdaptiveMaxPooling1D(2), (2, 5), "rank 3"),
        (lambda: layers.SpectralNormalization(layers.Dense(2), power_iterations=0), None, "power_iterations"),
        (lambda: layers.SpectralNormalization(layers.Flatten()), (2, 3), "kernel"),
        (lambda: layers.Wrapper("dense"), None, "layer must"),
        (lambda: layers.ActivityRegularization(l1=-1), None, "l1"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, shape, match):
    with pytest.raises(ValueError, match=match):
        layer = make()
        if shape is not None:
            layer(_x(*shape))


@pytest.mark.parametrize("kwargs", [{}, {"use_gate": True}, {"sliding_window": 2, "use_bias": False}])
def test_group_query_attention_matches_keras(kwargs, tmp_path):
    q, val = _x(2, 4, 6), _x(2, 5, 6)
    qm = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    layer = layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2, **kwargs)
    y, scores = layer(q, val, query_mask=qm, use_causal_mask=True, return_attention_scores=True)
    kl = keras.layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2, **kwargs)
    with jax.numpy_rank_promotion("allow"):
        kl(q, val)
        kl.set_weights([np.asarray(w) for w in layer.get_weights()])
        ky, ks = kl(q, val, query_mask=qm, use_causal_mask=True, return_attention_scores=True)
    np.testing.assert_allclose(y, ky, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, ks, rtol=1e-5, atol=1e-6)
    assert [w.path for w in layer.weights] == [w.path.split("/", 1)[1] for w in kl.weights]
    if kwargs:
        return
    qi, vi = jnet.Input((4, 6)), jnet.Input((5, 6))
    model = jnet.Model([qi, vi], layer(qi, vi))
    model.save(tmp_path / "m.keras")
    loaded = jnet.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded([q, val]), model([q, val]), rtol=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        layers.GroupQueryAttention(head_dim=3, num_query_heads=3, num_key_value_heads=2)


@jnet.saving.register_keras_serializable("test_names")
def _jax_init(rng, inputs):
    return {"w": jax.random.normal(rng, (inputs.shape[-1], 3)) * 0.5, "b": jax.numpy.zeros(3)}, {
        "count": jax.numpy.zeros(())
    }


@jnet.saving.register_keras_serializable("test_names")
def _jax_call(params, state, inputs, training):
    count = state["count"] + (1.0 if training else 0.0)
    return inputs @ params["w"] + params["b"][None], {"count": count}


def test_jax_layer_matches_keras_and_trains_and_round_trips(tmp_path):
    x = _x(4, 5)
    layer = layers.JaxLayer(_jax_call, _jax_init)
    v = _perturbed(layer, x)
    y, state = layer.apply(v, x, training=True)
    assert float(state["state_0"]) == pytest.approx(float(v["state"]["state_0"]) + 1) and len(v["params"]) == 2
    b, w = (np.asarray(p) for p in jnet_weights(layer, v)[:2])  # leaves in key order: b, w
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-5, atol=1e-6)
    # Keras's JaxLayer given the same arrays (its init_fn path needs TensorFlow)
    kl = keras.layers.JaxLayer(_jax_call, params={"w": w, "b": b}, state={"count": np.float32(0)})
    np.testing.assert_allclose(keras_run(kl, x, training=True), y, rtol=1e-5, atol=1e-6)
    # inside a model: fit updates params and the state counter
    model = jnet.Sequential([jnet.Input((5,)), layers.JaxLayer(_jax_call, _jax_init)])
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((4, 3), np.float32), epochs=2, batch_size=4, verbose=0)
    assert float(model.layers[0].non_trainable_weights[0].value) == 2.0
    model.save(tmp_path / "m.keras")
    loaded = jnet.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    # params given as arrays; a call_fn without params
    fixed = layers.JaxLayer(lambda params, inputs: inputs * params["s"], params={"s": np.float32(3.0)})
    np.testing.assert_allclose(fixed(x), 3 * x, rtol=1e-6)
    np.testing.assert_allclose(layers.JaxLayer(lambda inputs: inputs + 1)(x), x + 1)
    with pytest.raises(ValueError, match="unsupported argument 'x'"):
        layers.JaxLayer(lambda x, inputs: x)
    with pytest.raises(ValueError, match="init_fn, params or state"):
        layers.JaxLayer(lambda params, inputs: inputs)
