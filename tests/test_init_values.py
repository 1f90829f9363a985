"""Initial values made many at once (`jnet.core.initial`) are bit-identical to the one-by-one path
`variable.initial_value(path_key(key, path))`, and to jax.random itself."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnet
from jnet import initializers
from jnet.core import initial
from jnet.core.trees import variable_paths
from jnet.core.variables import path_key


def _scaled_by_three(key, shape, dtype):  # a user's initializer: drawn as it always was
    return 3.0 * jax.random.normal(key, shape, dtype)


# (name, shape, initializer, dtype): every kind of draw, shapes of rank 0 to 4, narrow floats.
WEIGHTS = [
    ("glorot", (3, 4), "glorot_uniform", "float32"),
    ("glorot_same_shape", (3, 4), "glorot_uniform", "float32"),
    ("he_normal_conv", (3, 3, 2, 5), "he_normal", "float32"),
    ("lecun_normal_vec", (7,), "lecun_normal", "float32"),
    ("normal_scalar", (), "random_normal", "float32"),
    ("normal", (5, 3), "random_normal", "float32"),
    ("uniform", (4, 2), initializers.RandomUniform(-2.0, 3.0), "float32"),
    ("truncated", (6,), "truncated_normal", "float32"),
    ("untruncated", (2, 3), initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"), "float32"),
    ("glorot_bf16", (4, 3), "glorot_uniform", "bfloat16"),
    ("normal_f16", (3, 3), "random_normal", "float16"),
    ("orthogonal", (4, 4), "orthogonal", "float32"),
    ("identity", (3, 3), "identity", "float32"),
    ("seeded", (2, 2), initializers.GlorotNormal(seed=5), "float32"),
    ("custom", (3,), _scaled_by_three, "float32"),
    ("zeros_int", (2, 2), "zeros", "int32"),
    ("ones", (3,), "ones", "float32"),
    ("constant_bf16", (2,), initializers.Constant(0.1), "bfloat16"),
    ("constant_int", (2,), initializers.Constant(3), "int32"),
    ("empty", (0, 3), "random_normal", "float32"),
]


class ManyWeights(jnet.layers.Layer):
    def build(self, input_shape):
        for name, shape, init, dtype in WEIGHTS:
            setattr(self, name, self.add_weight(shape=shape, initializer=init, dtype=dtype, name=name))

    def call(self, inputs):
        return inputs


@pytest.fixture(scope="module")
def pairs():
    layer = ManyWeights(name="many")
    layer.build((None, 2))
    return variable_paths(layer._variable_tree())


def _one_by_one(key, pairs):
    """The path before `jnet.core.initial`: every weight drawn by its initializer, in one program."""
    values = jax.jit(lambda k: [v.initial_value(path_key(k, p)) for p, v in pairs])(key)
    return [np.asarray(a) for a in values]


def _assert_identical(got, want, pairs):
    for (p, v), g, w in zip(pairs, got, want):
        assert g.dtype == w.dtype and g.shape == w.shape == v.shape, p
        np.testing.assert_array_equal(np.asarray(g), w, err_msg=p)


KEY = 3


@pytest.fixture(scope="module")
def made(pairs):
    return dict(zip([p for p, _ in pairs], initial.initial_values(jax.random.key(KEY), pairs)))


def test_bit_identical_to_one_by_one(pairs, made):
    _assert_identical(list(made.values()), _one_by_one(jax.random.key(KEY), pairs), pairs)
    assert not np.array_equal(made["glorot"], made["glorot_same_shape"])  # each path its own key


def test_pinned_to_jax_random(made):
    key = jax.random.key(KEY)
    glorot = jax.nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")

    @jax.jit
    def direct(key):
        return (
            glorot(path_key(key, "glorot"), (3, 4), jnp.float32),
            0.05 * jax.random.normal(path_key(key, "normal"), (5, 3), jnp.float32),
            glorot(path_key(key, "glorot_bf16"), (4, 3), jnp.bfloat16),
        )

    for name, want in zip(("glorot", "normal", "glorot_bf16"), direct(key)):
        np.testing.assert_array_equal(np.asarray(made[name], np.float32), np.asarray(want, np.float32), err_msg=name)
    np.testing.assert_array_equal(made["constant_bf16"], jnp.full((2,), 0.1, jnp.bfloat16))


def test_chunks_raw_keys_and_other_bit_layouts_keep_values(pairs, monkeypatch):
    key = jax.random.PRNGKey(5)
    monkeypatch.setattr(initial, "CHUNK", 16)  # several threefry loops, a bigger weight alone
    initial._PROGRAMS.clear()
    _assert_identical(initial.initial_values(key, pairs), _one_by_one(key, pairs), pairs)
    initial._PROGRAMS.clear()
    with jax.threefry_partitionable(False):  # bits laid out differently: every weight draws itself
        _assert_identical(initial.initial_values(key, pairs), _one_by_one(key, pairs), pairs)
    initial._PROGRAMS.clear()


def _model():
    inputs = jnet.Input((4,))
    x = jnet.layers.Dense(5, kernel_initializer="he_normal", bias_initializer="ones")(inputs)
    x = jnet.layers.BatchNormalization()(x)
    return jnet.Model(inputs, jnet.layers.Dense(2)(x))


def test_models_materialize_as_the_pure_init_and_reuse_the_program():
    key = jax.random.key(0)
    first = _model()
    first._materialize(key)
    want = first.initial_variables(key)
    got = first.current_variables()
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), got, want)
    compiled = len(initial._PROGRAMS)
    second = _model()  # same initializers, shapes, dtypes (other layer names): nothing to compile
    second._materialize(jax.random.key(1))
    assert len(initial._PROGRAMS) == compiled
    assert not np.array_equal(first.layers[1].kernel.numpy(), second.layers[1].kernel.numpy())


def test_lazy_single_variable_read_matches_its_path_key():
    layer = jnet.layers.Dense(3, name="lazy")
    layer.build((None, 2))
    from jnet.utils import rng as jrng

    count = jrng._state["count"]
    kernel = layer.kernel.numpy()  # first read: its own initial value, from the next global key
    jrng._state["count"] = count
    want = layer.kernel.initial_value(path_key(jrng.next_key(), "lazy/kernel"))
    np.testing.assert_array_equal(kernel, np.asarray(want))
