"""Keras guide "Introduction to Keras for Researchers" (keras-io
guides/intro_to_keras_for_researchers.py), its Keras parts ported with `import jnet as keras`
and run on jnet and on Keras 3 (JAX backend) from the same weights: layers with `add_weight`
(trainable and not), nested layers, `add_loss` (losses of the last forward pass only), a
custom `Metric` (F1Score), training / inference mode, the functional API, and the guide's
add_loss training loop written for JAX (`jax.value_and_grad` over `stateless_call`, then
`optimizer.stateless_apply`) in place of its `tf.GradientTape` loops.
Changes: TensorFlow ops become `keras.ops` (`tf.matmul` -> `ops.matmul`, `tf.nn.relu` ->
`ops.relu`, `tf.reduce_sum` -> `ops.sum`, `tf.Variable` -> `add_weight`, `tf.nn.dropout` ->
`keras.random.dropout`); tiny random digits instead of MNIST.
Left out: the TensorFlow-only sections (tensors, tf.Variable, GradientTape, tf.function),
`add_metric` (Keras 3 disabled it: tests/test_model_attributes.py checks that), the metric
tracking loop (the same pattern as the JAX custom-loop guide's, ported in
tests/guides/test_writing_a_custom_training_loop_in_jax.py), the
`train_step` override written with GradientTape, and the VAE / hypernetwork examples (their
sampling draws differ between frameworks; tests/guides/test_vae.py covers a VAE)."""

import jax
import numpy as np
from guide_util import frameworks, guide_broadcasting, keras_ok  # noqa: F401

JNET, KERAS = frameworks()


def guide(keras, layers, ops):
    class Linear(keras.layers.Layer):
        """y = w.x + b"""

        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

    class ComputeSum(keras.layers.Layer):
        """Returns the sum of the inputs."""

        def __init__(self, input_dim):
            super().__init__()
            # Create a non-trainable weight.
            self.total = self.add_weight(shape=(input_dim,), initializer="zeros", trainable=False)

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    class MLP(keras.layers.Layer):
        """Simple stack of Linear layers."""

        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.linear_2 = Linear(32)
            self.linear_3 = Linear(10)

        def call(self, inputs):
            x = self.linear_1(inputs)
            x = ops.relu(x)
            x = self.linear_2(x)
            x = ops.relu(x)
            return self.linear_3(x)

    class ActivityRegularization(keras.layers.Layer):
        """Layer that creates an activity sparsity regularization loss."""

        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            # We use `add_loss` to create a regularization loss
            # that depends on the inputs.
            self.add_loss(self.rate * ops.sum(inputs))
            return inputs

    class SparseMLP(keras.layers.Layer):
        """Stack of Linear layers with a sparsity regularization loss."""

        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.regularization = ActivityRegularization(1e-2)
            self.linear_3 = Linear(10)

        def call(self, inputs):
            x = self.linear_1(inputs)
            x = ops.relu(x)
            x = self.regularization(x)
            return self.linear_3(x)

    class F1Score(keras.metrics.Metric):
        def __init__(self, name="f1_score", dtype="float32", threshold=0.5, **kwargs):
            super().__init__(name=name, dtype=dtype, **kwargs)
            self.threshold = 0.5
            self.true_positives = self.add_weight(name="tp", dtype=dtype, initializer="zeros")
            self.false_positives = self.add_weight(name="fp", dtype=dtype, initializer="zeros")
            self.false_negatives = self.add_weight(name="fn", dtype=dtype, initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.greater_equal(y_pred, self.threshold)
            y_true = ops.cast(y_true, "bool")
            y_pred = ops.cast(y_pred, "bool")

            true_positives = ops.cast(y_true & y_pred, self.dtype)
            false_positives = ops.cast(~y_true & y_pred, self.dtype)
            false_negatives = ops.cast(y_true & ~y_pred, self.dtype)

            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, self.dtype)
                true_positives *= sample_weight
                false_positives *= sample_weight
                false_negatives *= sample_weight

            self.true_positives.assign_add(ops.sum(true_positives))
            self.false_positives.assign_add(ops.sum(false_positives))
            self.false_negatives.assign_add(ops.sum(false_negatives))

        def result(self):
            precision = self.true_positives / (self.true_positives + self.false_positives)
            recall = self.true_positives / (self.true_positives + self.false_negatives)
            return precision * recall * 2.0 / (precision + recall)

        def reset_state(self):
            self.true_positives.assign(0)
            self.false_positives.assign(0)
            self.false_negatives.assign(0)

    class Dropout(keras.layers.Layer):
        def __init__(self, rate):
            super().__init__()
            self.rate = rate
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs, training=None):
            if training:
                return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
            return inputs

    class MLPWithDropout(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.dropout = Dropout(0.5)
            self.linear_3 = Linear(10)

        def call(self, inputs, training=None):
            x = self.linear_1(inputs)
            x = ops.relu(x)
            x = self.dropout(x, training=training)
            return self.linear_3(x)

    return Linear, ComputeSum, MLP, SparseMLP, F1Score, Dropout, MLPWithDropout


def dataset():
    rng = np.random.default_rng(0)
    x = rng.random((48, 784)).astype("float32")
    y = rng.integers(0, 10, 48)
    return [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]


def arrays(variables):
    return [jax.numpy.asarray(getattr(v, "value", v)) for v in variables]


def sparse_mlp_loop(keras, mlp, log):
    """The guide's add_loss training loop, for JAX: the layer's losses come back from
    `stateless_call(..., return_losses=True)` and join the loss before the gradient."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=1e-3)

    def compute_loss(trainable_variables, non_trainable_variables, x, y):
        logits, non_trainable_variables, losses = mlp.stateless_call(
            trainable_variables, non_trainable_variables, x, return_losses=True
        )
        # External loss value for this batch, plus the losses created during the forward pass.
        loss = loss_fn(y, logits) + sum(losses)
        return loss, non_trainable_variables

    grad_fn = jax.jit(jax.value_and_grad(compute_loss, has_aux=True))
    optimizer.build(mlp.trainable_variables)
    tv, ntv, ov = arrays(mlp.trainable_variables), arrays(mlp.non_trainable_variables), arrays(optimizer.variables)
    for step, (x, y) in enumerate(dataset()):
        (loss, ntv), grads = grad_fn(tv, ntv, x, y)
        tv, ov = optimizer.stateless_apply(ov, grads, tv)
        log.append(("Step:", step, "Loss:", float(loss)))
    for variable, value in zip(mlp.trainable_variables, tv):
        variable.assign(value)


def run(fw, weights):
    keras, layers, ops = fw
    Linear, ComputeSum, MLP, SparseMLP, F1Score, Dropout, MLPWithDropout = guide(keras, layers, ops)
    out = {}

    def same_start(name, layer):
        if name in weights:
            layer.set_weights(weights[name])
        else:
            weights[name] = layer.get_weights()

    linear_layer = Linear(4)
    linear_layer(np.ones((2, 2), "float32"))
    same_start("linear", linear_layer)
    out["linear"] = np.asarray(linear_layer(np.ones((2, 2), "float32")))
    assert linear_layer.weights[0] is linear_layer.w

    my_sum = ComputeSum(2)
    x = np.ones((2, 2), "float32")
    out["sum"] = [np.asarray(my_sum(x)), np.asarray(my_sum(x))]  # [2. 2.], then [4. 4.]
    assert len(my_sum.weights) == len(my_sum.non_trainable_weights) == 1 and my_sum.trainable_weights == []

    mlp = MLP()
    mlp(np.ones((3, 64), "float32"))
    assert len(mlp.weights) == 6  # Weights are recursively tracked.

    # Losses correspond to the *last* forward pass.
    mlp = SparseMLP()
    mlp(np.ones((10, 10), "float32"))
    assert len(mlp.losses) == 1
    mlp(np.ones((10, 10), "float32"))
    assert len(mlp.losses) == 1  # No accumulation.

    log = []
    mlp = SparseMLP()
    mlp(np.ones((1, 784), "float32"))
    same_start("sparse_mlp", mlp)
    sparse_mlp_loop(keras, mlp, log)
    out["sparse_mlp"] = (log, mlp.get_weights())

    m = F1Score()
    m.update_state([0, 1, 0, 0], [0.3, 0.5, 0.8, 0.9])
    f1 = [float(m.result())]
    m.update_state([1, 1, 1, 1], [0.1, 0.7, 0.6, 0.0])
    f1.append(float(m.result()))
    assert [v.path for v in m.variables] == ["f1_score/tp", "f1_score/fp", "f1_score/fn"]
    m.reset_state()
    out["f1"] = f1

    mlp = MLPWithDropout()
    mlp(np.ones((2, 2), "float32"))
    same_start("dropout_mlp", mlp)
    y_test = mlp(np.ones((2, 2), "float32"), training=False)
    y_train = mlp(np.ones((2, 2), "float32"), training=True)
    out["inference"] = np.asarray(y_test)
    assert not np.allclose(np.asarray(y_train), np.asarray(y_test))

    inputs = keras.Input(shape=(16,), dtype="float32")
    x = Linear(32)(inputs)  # We are reusing the Linear layer we defined earlier.
    x = Dropout(0.5)(x)  # We are reusing the Dropout layer we defined earlier.
    outputs = Linear(10)(x)
    model = keras.Model(inputs, outputs)
    assert len(model.weights) == 4
    same_start("functional", model)
    out["functional"] = np.asarray(model(np.ones((2, 16), "float32")))
    assert out["functional"].shape == (2, 10)
    assert model(np.ones((2, 16), "float32"), training=True).shape == (2, 10)
    return out


def test_guide_matches_keras():
    weights = {}
    jout = run(JNET, weights)
    with keras_ok():
        kout = run(KERAS, weights)
    np.testing.assert_allclose(jout["linear"], kout["linear"], rtol=1e-6)
    np.testing.assert_allclose(jout["sum"], [[2.0, 2.0], [4.0, 4.0]])
    np.testing.assert_allclose(jout["sum"], kout["sum"])
    (jlog, jw), (klog, kw) = jout["sparse_mlp"], kout["sparse_mlp"]
    np.testing.assert_allclose([e[-1] for e in jlog], [e[-1] for e in klog], rtol=1e-5)
    for a, b in zip(jw, kw):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # F1: tp=1 fp=2 fn=0 -> 0.5; then tp=3 fp=2 fn=2 -> 0.6.
    np.testing.assert_allclose(jout["f1"], [0.5, 0.6], rtol=1e-6)
    np.testing.assert_allclose(jout["f1"], kout["f1"], rtol=1e-6)
    np.testing.assert_allclose(jout["inference"], kout["inference"], rtol=1e-5)
    np.testing.assert_allclose(jout["functional"], kout["functional"], rtol=1e-5)
