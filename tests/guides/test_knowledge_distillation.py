"""Keras example "Knowledge Distillation" (keras-io examples/vision/knowledge_distillation.py,
Keras 3 version), ported with `import jnet as keras`, `from jnet import layers, ops`. The
`Distiller` is the example's: a `Model` subclass overriding `compile()` (extra arguments) and
`compute_loss()` (the teacher's soft targets), with `call()` running the student. Teacher and
student are the example's with fewer filters; tiny random images stand in for MNIST, 1 epoch each.
Left out: training `student_scratch` (the same `fit` as the teacher's). Training is deterministic,
so the distillation run is compared with Keras 3 on copied weights. As in Keras, the teacher's
weights train too during distillation (they are tracked by the Distiller and its predictions enter
the loss)."""

import numpy as np
import pytest
from guide_util import copy_weights, frameworks, guide_broadcasting, keras_ok  # noqa: F401

# About 15 s of CPU (training the teacher, then distilling on jnet and on Keras):
# outside the default run's time budget; `pytest -m slow` runs it.
pytestmark = pytest.mark.slow

JNET, KERAS = frameworks()


def define(keras, layers, ops):
    class Distiller(keras.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher = teacher
            self.student = student

        def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1, temperature=3):
            """Configure the distiller.

            Args:
                optimizer: Keras optimizer for the student weights
                metrics: Keras metrics for evaluation
                student_loss_fn: Loss function of difference between student
                    predictions and ground-truth
                distillation_loss_fn: Loss function of difference between soft
                    student predictions and soft teacher predictions
                alpha: weight to student_loss_fn and 1-alpha to distillation_loss_fn
                temperature: Temperature for softening probability distributions.
                    Larger temperature gives softer distributions.
            """
            super().compile(optimizer=optimizer, metrics=metrics)
            self.student_loss_fn = student_loss_fn
            self.distillation_loss_fn = distillation_loss_fn
            self.alpha = alpha
            self.temperature = temperature

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
            teacher_pred = self.teacher(x, training=False)
            student_loss = self.student_loss_fn(y, y_pred)

            distillation_loss = self.distillation_loss_fn(
                ops.softmax(teacher_pred / self.temperature, axis=1), ops.softmax(y_pred / self.temperature, axis=1)
            ) * (self.temperature**2)

            loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
            return loss

        def call(self, x):
            return self.student(x)

    # Create the teacher
    teacher = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="teacher",
    )

    # Create the student
    student = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="student",
    )
    return Distiller, teacher, student


def data():
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (16, 28, 28)).astype("uint8")
    y_train = rng.integers(0, 10, (16,))
    # Normalize data
    x_train = x_train.astype("float32") / 255.0
    x_train = np.reshape(x_train, (-1, 28, 28, 1))
    return x_train, y_train


def distill(keras, Distiller, teacher, student, x_train, y_train):
    # Initialize and compile distiller
    distiller = Distiller(student=student, teacher=teacher)
    distiller.compile(
        optimizer=keras.optimizers.Adam(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=keras.losses.KLDivergence(),
        alpha=0.1,
        temperature=10,
    )
    # Distill teacher to student
    history = distiller.fit(x_train, y_train, epochs=1, batch_size=8, shuffle=False, verbose=0)
    return distiller, history.history


def test_distiller_matches_keras():
    x_train, y_train = data()
    keras, layers, ops = JNET
    Distiller, teacher, student = define(*JNET)
    # Clone student for later comparison
    student_scratch = keras.models.clone_model(student)
    assert [l.__class__ for l in student_scratch.layers] == [l.__class__ for l in student.layers]

    # Train teacher as usual
    teacher.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    teacher.fit(x_train, y_train, epochs=1, batch_size=8, verbose=0)

    with keras_ok():
        KDistiller, kteacher, kstudent = define(*KERAS)
        copy_weights(teacher, kteacher)
        copy_weights(student, kstudent)

    distiller, jh = distill(keras, Distiller, teacher, student, x_train, y_train)
    with keras_ok():
        _, kh = distill(KERAS[0], KDistiller, kteacher, kstudent, x_train, y_train)

    assert set(jh) == set(kh) == {"loss", "sparse_categorical_accuracy"}
    for key in kh:
        np.testing.assert_allclose(jh[key], kh[key], rtol=1e-4, err_msg=key)
    # Keras trains every tracked weight the loss depends on: the teacher's too (its predictions
    # enter the distillation loss), so both models end where Keras's do.
    for a, b in zip(student.get_weights() + teacher.get_weights(), kstudent.get_weights() + kteacher.get_weights()):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    assert len(distiller.trainable_weights) == len(teacher.trainable_weights) + len(student.trainable_weights)

    # Evaluate student on test dataset: compute_loss runs in the test step too.
    loss, accuracy = distiller.evaluate(x_train, y_train, batch_size=8, verbose=0)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
