"""Convolution layers: the harness, Keras 3 parity with copied weights, an independent numpy
reference for Conv2D, gradients against Keras, and the build-time errors.

Speed: params come from `_variables` (numpy random numbers shaped by `jax.eval_shape(init)`)
rather than `layer.init`, because on CPU every new param shape costs a ~1.3 s compile of
jax's threefry generator; one test runs the real initializers. The Keras layers are built
with zero initializers for the same reason (their weights are overwritten anyway).
"""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers

keras = pytest.importorskip("keras")


def _spec(shape):
    return jax.ShapeDtypeStruct(shape, jnp.float32)


def _x(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _variables(layer, shape, seed=0):
    """Random params shaped as `layer.init` makes them (biases non-zero, so they are tested)."""
    shapes = jax.eval_shape(lambda key: layer.init(key, _spec(shape)), jax.random.key(0))
    rs = np.random.RandomState(seed)
    return jax.tree_util.tree_map(lambda s: jnp.asarray(0.5 * rs.randn(*s.shape), s.dtype), shapes)


def _keras_layer(name, kwargs, params, input_shape):
    """The Keras layer with jnet's params copied in by name (Keras 3 weight names)."""
    cls = getattr(keras.layers, name)
    zeros = {arg: "zeros" for arg in inspect.signature(cls.__init__).parameters if arg.endswith("_initializer")}
    kl = cls(**{**kwargs, **zeros})
    kl.build(input_shape)
    kl.set_weights([np.asarray(params[w.name]) for w in kl.weights])
    return kl


# (layer name, kwargs, input shape): strides, padding, dilation, groups, output_padding,
# depth_multiplier and channels_first variants, tiny shapes.
PARITY = [
    ("Conv1D", dict(filters=3, kernel_size=3), (2, 9, 4)),
    ("Conv1D", dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2), (1, 9, 4)),
    ("Conv1D", dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2, activation="tanh"), (1, 9, 4)),
    ("Conv1D", dict(filters=2, kernel_size=2, strides=3, padding="causal"), (1, 8, 3)),
    ("Conv2D", dict(filters=3, kernel_size=3), (1, 7, 7, 4)),
    ("Conv2D", dict(filters=4, kernel_size=(3, 2), strides=(2, 1), padding="same", activation="relu"), (2, 7, 7, 4)),
    ("Conv2D", dict(filters=6, kernel_size=3, dilation_rate=2, groups=2, padding="same"), (1, 7, 7, 4)),
    ("Conv2D", dict(filters=4, kernel_size=2, groups=4, use_bias=False), (1, 7, 7, 4)),
    ("Conv2D", dict(filters=3, kernel_size=3, strides=2, data_format="channels_first"), (1, 4, 7, 7)),
    ("Conv3D", dict(filters=2, kernel_size=2), (1, 4, 4, 4, 3)),
    ("Conv3D", dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2), (1, 5, 5, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2), (1, 7, 4)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=4, strides=2, padding="same"), (1, 7, 4)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3), (1, 7, 7, 4)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (1, 7, 7, 4)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same", output_padding=0), (1, 7, 7, 4)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=2, strides=3, output_padding=(1, 2)), (1, 5, 5, 4)),
    (
        "Conv2DTranspose",
        dict(filters=2, kernel_size=(4, 3), strides=(2, 3), padding="same", output_padding=(1, 0)),
        (1, 5, 5, 4),
    ),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (1, 5, 5, 4)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, data_format="channels_first"), (1, 4, 5, 5)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=2, padding="same"), (1, 3, 3, 3, 2)),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2), (1, 7, 4)),
    ("DepthwiseConv2D", dict(kernel_size=3), (1, 7, 7, 4)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, strides=2, padding="same"), (1, 7, 7, 4)),
    ("DepthwiseConv2D", dict(kernel_size=2, dilation_rate=2, depth_multiplier=3), (1, 7, 7, 4)),
    ("SeparableConv1D", dict(filters=3, kernel_size=3, padding="same"), (1, 7, 4)),
    ("SeparableConv2D", dict(filters=5, kernel_size=3), (1, 7, 7, 4)),
    ("SeparableConv2D", dict(filters=5, kernel_size=3, depth_multiplier=2, strides=2, padding="same"), (1, 7, 7, 4)),
    ("SeparableConv2D", dict(filters=3, kernel_size=2, dilation_rate=2, data_format="channels_first"), (1, 4, 7, 7)),
]


def _case_id(case):
    name, kwargs, _ = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", PARITY, ids=[_case_id(c) for c in PARITY])
def test_conv_matches_keras(case):
    name, kwargs, shape = case
    layer = getattr(layers, name)(**kwargs)
    variables = _variables(layer, shape)
    kl = _keras_layer(name, kwargs, variables["params"], shape)
    # same param names and shapes as Keras (set_weights above also checks the shapes)
    assert {w.name: tuple(w.shape) for w in kl.weights} == {k: p.shape for k, p in variables["params"].items()}
    check_layer(layer, _x(shape), variables=variables, reference=lambda v, x: np.asarray(kl(np.asarray(x))))


# --------------------------------------------------------------------------- numpy reference


def _numpy_conv2d(x, kernel, bias, strides, padding, dilation, groups):
    """Direct NHWC convolution with TensorFlow/Keras 'same' padding (smaller half first)."""
    n, h, w, c = x.shape
    kh, kw, cg, f = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + ekh - h, 0), max((ow - 1) * sw + ekw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - ekh) // sh + 1, (w - ekw) // sw + 1
    fg = f // groups
    out = np.zeros((n, oh, ow, f), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * sh : i * sh + ekh : dh, j * sw : j * sw + ekw : dw, :]
            for g in range(groups):
                out[:, i, j, g * fg : (g + 1) * fg] = np.einsum(
                    "nhwc,hwcf->nf", patch[..., g * cg : (g + 1) * cg], kernel[..., g * fg : (g + 1) * fg]
                )
    return out + bias


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2),
        dict(filters=3, kernel_size=(2, 3), dilation_rate=(2, 1), padding="same"),
        dict(filters=2, kernel_size=3, strides=(1, 3)),
    ],
)
def test_conv2d_matches_numpy(kwargs):
    layer = layers.Conv2D(**kwargs)
    shape = (2, 7, 8, 4)

    def reference(v, x):
        p = v["params"]
        return _numpy_conv2d(
            np.asarray(x, np.float64),
            np.asarray(p["kernel"], np.float64),
            np.asarray(p["bias"]),
            layer.strides,
            layer.padding,
            layer.dilation_rate,
            layer.groups,
        )

    check_layer(layer, _x(shape), variables=_variables(layer, shape), reference=reference)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("Conv2D", dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2)),
        ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same")),
    ],
)
def test_gradients_match_keras(name, kwargs):
    """Grads w.r.t. kernel, bias and input equal those of Keras's stateless call."""
    shape = (2, 7, 7, 4)
    x = jnp.asarray(_x(shape))
    layer = getattr(layers, name)(**kwargs)
    v = _variables(layer, shape)
    kl = _keras_layer(name, dict(kwargs), v["params"], shape)
    target = jnp.asarray(_x(layer.output_spec(_spec(shape)).shape, seed=1))

    def jnet_loss(params, x):
        y, _ = layer.apply({"params": params, "state": {}}, x)
        return jnp.sum(jnp.square(y - target))

    def keras_loss(trainable, x):
        y, _ = kl.stateless_call(trainable, [], x)
        return jnp.sum(jnp.square(y - target))

    g_params, g_x = jax.grad(jnet_loss, argnums=(0, 1))(v["params"], x)
    trainable = [jnp.asarray(w.value) for w in kl.trainable_variables]
    k_params, k_x = jax.grad(keras_loss, argnums=(0, 1))(trainable, x)
    for w, kg in zip(kl.trainable_variables, k_params):
        np.testing.assert_allclose(g_params[w.name], kg, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g_x, k_x, rtol=1e-5, atol=1e-5)
    assert float(jnp.max(jnp.abs(g_x))) > 0


# --------------------------------------------------------------------------- models, penalties


def test_cnn_in_a_model_matches_keras_with_copied_weights():
    """Keras's weight order through `get_weights` / `set_weights` of whole models."""

    def stack(L):
        z = "zeros"  # see the module docstring; the weights are set below
        return [
            L.Conv2D(4, 3, activation="relu", padding="same", kernel_initializer=z),
            L.MaxPooling2D(),
            L.SeparableConv2D(6, 2, depth_multiplier=2, depthwise_initializer=z, pointwise_initializer=z),
            L.DepthwiseConv2D(2, padding="same", depthwise_initializer=z),
            L.GlobalAveragePooling2D(),
            L.Dense(3, kernel_initializer=z),
        ]

    model = jnet.Sequential([jnet.Input((8, 8, 2))] + stack(layers))
    kmodel = keras.Sequential([keras.Input((8, 8, 2))] + stack(keras.layers))
    assert model.count_params() == kmodel.count_params()
    rs = np.random.RandomState(0)
    weights = [0.5 * rs.randn(*w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    kmodel.set_weights(weights)
    x = _x((3, 8, 8, 2))
    with jax.numpy_rank_promotion("allow"):  # Keras's Dense broadcasts its bias implicitly
        expected = kmodel(x)
    np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-5)


def test_regularizer_penalties():
    l2 = jnet.regularizers.L2(0.1)
    conv = layers.Conv2D(2, 3, kernel_regularizer=l2, bias_regularizer=jnet.regularizers.L1(0.5))
    p = _variables(conv, (1, 5, 5, 3))["params"]
    expected = 0.1 * np.sum(np.square(p["kernel"])) + 0.5 * np.sum(np.abs(p["bias"]))
    np.testing.assert_allclose(conv.penalty(p), expected, rtol=1e-6)

    sep = layers.SeparableConv2D(2, 3, depthwise_regularizer=l2, pointwise_regularizer=jnet.regularizers.L1(1.0))
    p = _variables(sep, (1, 5, 5, 3))["params"]
    expected = 0.1 * np.sum(np.square(p["depthwise_kernel"])) + np.sum(np.abs(p["pointwise_kernel"]))
    np.testing.assert_allclose(sep.penalty(p), expected, rtol=1e-6)

    dw = layers.DepthwiseConv2D(3, depthwise_regularizer=l2)
    p = _variables(dw, (1, 5, 5, 3))["params"]
    np.testing.assert_allclose(dw.penalty(p), 0.1 * np.sum(np.square(p["kernel"])), rtol=1e-6)


def test_default_initializers_match_keras_distribution():
    """The real init: glorot-uniform bounds over Keras's fans (receptive field x channels)."""
    conv = layers.Conv2D(8, 3, groups=2)
    v = conv.init(jax.random.key(0), _spec((1, 7, 7, 4)))
    kernel, bias = np.asarray(v["params"]["kernel"]), np.asarray(v["params"]["bias"])
    assert kernel.shape == (3, 3, 2, 8) and not bias.any()
    limit = np.sqrt(6.0 / (9 * 2 + 9 * 8))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit


@pytest.mark.parametrize("name, args", [("Conv2D", (3, 3)), ("SeparableConv2D", (3, 3)), ("Conv2DTranspose", (3, 3))])
def test_mixed_precision_policy(name, args):
    layer = getattr(layers, name)(*args, dtype="mixed_bfloat16")
    shape = (1, 6, 6, 2)
    v, y = check_layer(layer, _x(shape), variables=_variables(layer, shape))
    assert y.dtype == jnp.bfloat16
    assert all(
        p.dtype == jnp.float32
        for p in jax.tree_util.tree_leaves(jax.eval_shape(lambda k: layer.init(k, _spec(shape)), jax.random.key(0)))
    )


def test_config_is_normalised_like_keras():
    layer = layers.Conv2D(8, 3, padding="SAME")
    assert layer.kernel_size == (3, 3) and layer.strides == (1, 1) and layer.padding == "same"
    assert layer.data_format == "channels_last"
    keras_config = keras.layers.Conv2D(8, 3, padding="same").get_config()
    config = layer.get_config()
    for key in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups", "use_bias"):
        assert config[key] == keras_config[key], key  # tuples stay tuples, as in Keras
    assert layers.Conv2DTranspose(2, 3, strides=2, output_padding=1).output_padding == (1, 1)


def test_conv1d_causal_does_not_look_ahead():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    v = _variables(layer, (1, 10, 3))
    x = _x((1, 10, 3))
    y, _ = layer.apply(v, x)
    x2 = x.copy()
    x2[:, 6:] += 1.0  # change the future only
    y2, _ = layer.apply(v, x2)
    np.testing.assert_allclose(y[:, :6], y2[:, :6], rtol=1e-6)
    assert not np.allclose(y[:, 6:], y2[:, 6:])


# --------------------------------------------------------------------------- bad input


def test_conv2d_fed_rank3_input_names_the_layer():
    with pytest.raises(
        ValueError, match=r"Conv2D 'conv2d': expected input of rank 4 \(batch, height, width, channels\), got rank 3"
    ):
        layers.Conv2D(2, 3).init(jax.random.key(0), _spec((7, 7, 4)))
    x = jnet.Input((7, 4))
    with pytest.raises(ValueError, match=r"Conv2D 'c': expected input of rank 4"):
        layers.Conv2D(2, 3, name="c")(x)


def test_groups_must_divide_channels_and_filters():
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d': input channels \(3\) must be divisible by groups \(2\)"):
        layers.Conv2D(4, 3, groups=2).init(jax.random.key(0), _spec((1, 7, 7, 3)))
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d': filters \(4\) must be divisible by groups \(3\)"):
        layers.Conv2D(4, 3, groups=3)


def test_kernel_larger_than_valid_input():
    with pytest.raises(
        ValueError,
        match=r"Conv2D 'conv2d': with padding='valid' the kernel \(5 along height\) is larger than the input \(3\)",
    ):
        layers.Conv2D(2, 5).init(jax.random.key(0), _spec((1, 3, 9, 1)))
    with pytest.raises(ValueError, match=r"dilated kernel \(7 along width\)"):
        layers.Conv2D(2, (1, 3), dilation_rate=3).init(jax.random.key(0), _spec((1, 9, 6, 1)))
    x = jnet.Input((4, 2))
    with pytest.raises(ValueError, match=r"Conv1D 'conv1d'.*larger than the input"):
        layers.Conv1D(2, 5)(x)
    # 'same' padding is fine with the same shapes
    assert layers.Conv2D(2, 5, padding="same").output_spec(_spec((1, 3, 9, 1))).shape == (1, 3, 9, 2)


def test_unknown_spatial_sizes_build_and_run():
    """Fully convolutional models take Input((None, None, c)); the window check must not
    mistake the unknown sizes for small ones."""
    x = jnet.Input((None, None, 3))
    h = layers.Conv2D(4, 5, name="conv")(x)
    assert h.shape == (None, None, None, 4)
    y = layers.GlobalMaxPooling2D()(layers.MaxPooling2D(3)(h))
    model = jnet.Model(x, y)
    model.set_weights([0.1 * np.ones(w.shape, np.float32) for w in model.get_weights()])
    for size in (9, 12):
        assert model(jnp.ones((2, size, size, 3))).shape == (2, 4)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: layers.Conv2D(2, 3, padding="full"),
            r"Conv2D 'conv2d': padding must be one of 'valid', 'same', got 'full'",
        ),
        (lambda: layers.Conv2D(2, 3, padding="causal"), r"padding must be one of 'valid', 'same', got 'causal'"),
        (lambda: layers.Conv2DTranspose(2, 3, padding="causal"), r"Conv2DTranspose.*padding must be one of"),
        (lambda: layers.Conv2D(0, 3), r"Conv2D 'conv2d': filters must be a positive integer, got 0"),
        (lambda: layers.Conv1D(-4, 3), r"Conv1D 'conv1d': filters must be a positive integer, got -4"),
        (lambda: layers.SeparableConv2D(0, 3), r"filters must be a positive integer"),
        (lambda: layers.Conv2DTranspose(0, 3), r"filters must be a positive integer"),
        (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), r"depth_multiplier must be a positive integer"),
        (lambda: layers.Conv2D(2, (3, 3, 3)), r"kernel_size must be an int or a tuple of 2 ints"),
        (lambda: layers.Conv2D(2, 0), r"every entry of kernel_size must be positive"),
        (
            lambda: layers.Conv2D(2, 3, strides=2, dilation_rate=2),
            r"strides > 1 cannot be combined with dilation_rate > 1",
        ),
        (
            lambda: layers.Conv2DTranspose(2, 3, strides=2, output_padding=2),
            r"output_padding must be smaller than strides",
        ),
        (lambda: layers.Conv2D(2, 3, data_format="NHWC"), r"data_format must be 'channels_last' or 'channels_first'"),
        (lambda: layers.Conv2D(2, 3, activation="relux"), r"Unknown activation 'relux'"),
    ],
)
def test_bad_config_is_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_params_for_other_channels_are_rejected():
    layer = layers.Conv2D(2, 3)
    v = _variables(layer, (1, 5, 5, 4))
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d': the kernel expects 4 input channels, got 3"):
        layer.apply(v, jnp.ones((1, 5, 5, 3)))
