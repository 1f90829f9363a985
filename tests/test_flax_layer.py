"""FlaxLayer: Linen and NNX modules inside jnet layers and models."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import check_layer

import jnet
from jnet import layers
from jnet.layers.base import deserialize, serialize

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")

X = np.random.RandomState(0).randn(8, 5).astype(np.float32)
Y = (X @ np.arange(1, 6, dtype=np.float32)[:, None] / 5).astype(np.float32)


@jnet.register_serializable(package="tests")
class MLP(nn.Module):
    features: tuple = (8, 4)
    rate: float = 0.5

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        for f in self.features:
            x = nn.relu(nn.Dense(f)(x))
        return nn.Dropout(self.rate, deterministic=deterministic)(x)


class BNNet(nn.Module):  # not registered: its config cannot be saved
    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.BatchNorm(use_running_average=not train, momentum=0.5)(nn.Dense(3)(x))


class NNXNet(nnx.Module):
    def __init__(self, rngs):
        self.lin = nnx.Linear(5, 4, rngs=rngs)
        self.bn = nnx.BatchNorm(4, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x):
        return self.drop(self.bn(self.lin(x)))


def spec(x):
    return jax.ShapeDtypeStruct(np.shape(x), jnp.asarray(x).dtype)


def test_linen_through_harness_matches_module_apply():
    module = MLP()
    layer = layers.FlaxLayer(module)

    def ref(v, x):
        return module.apply({"params": v["params"]}, x, deterministic=True)

    v, _ = check_layer(layer, X, reference=ref)
    assert set(v["params"]) == {"Dense_0", "Dense_1"} and v["params"]["Dense_0"]["kernel"].shape == (5, 8)
    # the registered module's fields survive the JSON round trip
    clone = deserialize(json.loads(json.dumps(serialize(layer))))
    assert clone.module.features == (8, 4) and clone.module.rate == 0.5


def test_training_maps_to_deterministic_and_rng_feeds_dropout():
    layer = layers.FlaxLayer(MLP(rate=0.5))
    v = layer.init(jax.random.key(0), spec(X))
    infer = layer.apply(v, X)[0]
    a = layer.apply(v, X, training=True, rng=jax.random.key(1))[0]
    b = layer.apply(v, X, training=True, rng=jax.random.key(1))[0]
    c = layer.apply(v, X, training=True, rng=jax.random.key(2))[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, infer) and not np.allclose(a, c)
    # dropout zeroes some units and scales the rest by 1 / (1 - rate)
    kept = np.asarray(a) != 0
    np.testing.assert_allclose(np.asarray(a)[kept], 2 * np.asarray(infer)[kept], rtol=1e-5)


def test_linen_mutable_collections_are_state():
    layer = layers.FlaxLayer(BNNet())
    v = layer.init(jax.random.key(0), spec(X))
    assert set(v["state"]) == {"batch_stats"}
    _, same = layer.apply(v, X)
    np.testing.assert_array_equal(
        same["batch_stats"]["BatchNorm_0"]["mean"], v["state"]["batch_stats"]["BatchNorm_0"]["mean"]
    )
    _, moved = layer.apply(v, X, training=True)
    assert not np.allclose(
        moved["batch_stats"]["BatchNorm_0"]["mean"], v["state"]["batch_stats"]["BatchNorm_0"]["mean"]
    )
    with pytest.raises(TypeError, match="FlaxLayer.*BNNet cannot be saved as config.*register_serializable"):
        layer.get_config()


def _train(model, steps=30, lr=0.05):
    variables = model.init(jax.random.key(2))

    def loss(params, state, key):
        out, new_state = model.apply({"params": params, "state": state}, X, training=True, rng=key)
        return jnp.mean((out - Y) ** 2), new_state

    @jax.jit
    def step(params, state, key):
        (value, new_state), g = jax.value_and_grad(loss, has_aux=True)(params, state, key)
        return jax.tree_util.tree_map(lambda p, gp: p - lr * gp, params, g), new_state, value

    params, state = variables["params"], variables["state"]
    losses = []
    for i in range(steps):
        params, state, value = step(params, state, jax.random.key(i))
        losses.append(float(value))
    return losses, {"params": params, "state": state}


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_flax_module_trains_inside_a_jnet_model(kind):
    module = MLP(rate=0.1) if kind == "linen" else NNXNet(nnx.Rngs(0))
    x = jnet.Input((5,))
    flax_layer = layers.FlaxLayer(module)
    model = jnet.Model(x, layers.Dense(1)(flax_layer(x)))
    losses, trained = _train(model)
    assert losses[-1] < 0.5 * losses[0], losses
    assert flax_layer.name in trained["params"]
    if kind == "nnx":  # BatchNorm statistics moved during training
        before = model.init(jax.random.key(0))["state"][flax_layer.name]["bn"]["mean"]
        assert not np.allclose(trained["state"][flax_layer.name]["bn"]["mean"], before)


def test_nnx_params_state_and_rng():
    module = NNXNet(nnx.Rngs(0))
    layer = layers.FlaxLayer(module)
    v = layer.init(jax.random.key(0), spec(X))
    assert set(v["params"]) == {"lin", "bn"} and v["params"]["lin"]["kernel"].shape == (5, 4)
    np.testing.assert_array_equal(v["params"]["lin"]["kernel"], module.lin.kernel[...])
    module.eval()  # eval mode: BatchNorm on its (fresh) running stats, no dropout
    np.testing.assert_allclose(layer.apply(v, X)[0], module(X), rtol=1e-5, atol=1e-5)
    run = jax.jit(lambda v, k: layer.apply(v, X, training=True, rng=k)[0])
    assert not np.allclose(run(v, jax.random.key(1)), run(v, jax.random.key(2)))
    with pytest.raises(TypeError, match="cannot be saved as config"):
        layer.get_config()


def test_bad_module_is_a_clear_error():
    with pytest.raises(ValueError, match="FlaxLayer.*flax.linen.Module or flax.nnx.Module"):
        layers.FlaxLayer(lambda x: x)
