"""Focused tests for the gaps the ported keras.io vision examples hit (tests/guides/test_*
for the examples themselves): Keras 3.0-style `compute_loss` overrides, the `tf.data` methods on
`jnet.utils.Dataset`, functional-model input rank adjustment, average pooling under `jit(grad)`,
and custom loss functions (rank alignment, one value per batch)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnet
from jnet import layers, ops


def test_compute_loss_override_without_training_argument():
    class Old(jnet.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
            return ops.mean(ops.square(y - y_pred)) * 2.0

    inputs = jnet.Input((3,))
    model = Old(inputs, layers.Dense(1, use_bias=False, kernel_initializer="ones")(inputs))
    model.compile(optimizer="sgd")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(18.0)  # 2 * 3**2


def test_dataset_map_take_prefetch():
    x = np.arange(10, dtype="float32")[:, None]
    y = np.arange(10)
    ds = jnet.utils.Dataset.from_arrays((x, y), batch_size=4)
    mapped = ds.map(lambda a, b: (a * 2, b + 1), num_parallel_calls=-1).prefetch(2)
    batches = list(mapped)
    assert len(mapped) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches])[:, 0], np.arange(10) * 2)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(10) + 1)
    assert len(ds.take(2)) == 2 and len(list(mapped.take(1))) == 1 and len(ds.take(-1)) == 3
    single = jnet.utils.Dataset.from_arrays(x).map(lambda a: a + 1)  # a non-tuple element: one argument
    assert [float(b[0]) for b in single.take(2)] == [1.0, 2.0]
    with pytest.raises(ValueError, match="Dataset.unbatch"):
        mapped.unbatch()
    with pytest.raises(ValueError, match="Dataset.take: count"):
        ds.take(-2)
    with pytest.raises(TypeError, match="Dataset.map: map_func"):
        ds.map(3)
    # fit reads the mapped batches.
    inputs = jnet.Input((1,))
    model = jnet.Model(inputs, layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    assert len(model.fit(mapped, epochs=1, verbose=0).history["loss"]) == 1


def test_functional_model_adds_or_squeezes_a_trailing_unit_axis():
    inputs = jnet.Input((4, 1))
    model = jnet.Model(inputs, layers.Flatten()(inputs))
    x = np.arange(8, dtype="float32").reshape(2, 4)
    np.testing.assert_array_equal(np.asarray(model(x)), x)  # (2, 4) -> (2, 4, 1)
    flat_inputs = jnet.Input((4,))
    flat = jnet.Model(flat_inputs, flat_inputs * 2)
    np.testing.assert_array_equal(np.asarray(flat.predict(x[..., None], verbose=0)), x * 2)  # (2, 4, 1) -> (2, 4)
    with pytest.raises(ValueError, match=r"expects shape \(None, 4, 1\)"):
        model(np.zeros((2, 3), "float32"))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_average_pooling_differentiates_under_jit(padding):
    x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    layer = layers.AveragePooling2D(2, padding=padding)
    variables = layer.init(jax.random.key(0), x)

    def f(x):
        return jnp.sum(layer.apply(variables, x)[0]) + jnp.sum(ops.average_pool(x, 2, padding=padding))

    expected = jax.grad(f)(x)  # eager: lax sees the zero init
    np.testing.assert_allclose(jax.jit(jax.grad(f))(x), expected)
    assert float(jnp.sum(expected)) > 0


def test_loss_function_gets_labels_aligned_with_predictions():
    from keras.src.losses.losses import LossFunctionWrapper

    def l1(y_true, y_pred):
        return ops.mean(ops.abs(y_true - y_pred), axis=-1)

    y_true = np.array([0.0, 1.0, 1.0], "float32")
    y_pred = np.array([[0.2], [0.9], [0.4]], "float32")
    expected = float(LossFunctionWrapper(l1)(y_true, y_pred))
    assert float(jnet.losses.LossFunctionWrapper(l1)(y_true, y_pred)) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx((0.2 + 0.1 + 0.6) / 3, rel=1e-6)


def test_batch_level_loss_on_a_padded_batch_counts_real_rows_only():
    def batch_mean_loss(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred))  # one value for the whole batch

    loss = jnet.losses.LossFunctionWrapper(batch_mean_loss)
    y_true = np.array([[1.0], [2.0], [3.0], [0.0]], "float32")
    y_pred = np.array([[0.0], [0.0], [0.0], [100.0]], "float32")
    valid = np.array([True, True, True, False])
    with pytest.warns(UserWarning, match="one value for the whole batch"):
        padded = float(loss(y_true, y_pred, mask=valid))
    assert padded == pytest.approx((1 + 4 + 9) / 3)
    assert float(loss(y_true, y_pred, mask=np.ones(4, bool))) == pytest.approx((1 + 4 + 9 + 10000) / 4)


def test_model_from_an_intermediate_tensor_shares_the_layers():
    inputs = jnet.Input((4,))
    hidden = layers.Dense(3, name="first")(inputs)
    outputs = layers.Dense(2, name="second")(layers.Activation("relu")(hidden))
    model = jnet.Model(inputs, outputs)
    head = jnet.Model(hidden, outputs)  # Keras 3: the layers after `first`, on a new Input
    assert [type(l).__name__ for l in head.layers] == ["InputLayer", "Activation", "Dense"]
    assert head.layers[-1] is model.get_layer("second") and tuple(head.inputs[0].shape) == (None, 3)
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    features = jnet.Model(inputs, hidden)(x)
    np.testing.assert_allclose(np.asarray(head(features)), np.asarray(model(x)), rtol=1e-6)
    # Gradients with respect to the intermediate activations (Grad-CAM) flow through the head.
    grads = jax.grad(lambda h: jnp.sum(head(h)[:, 0]))(jnp.asarray(features))
    assert grads.shape == (2, 3)
    other = jnet.Input((2,))
    mixed = layers.Add()([outputs, other])
    with pytest.raises(ValueError, match="not among the model's inputs"):
        jnet.Model(hidden, mixed)
