"""Dice, Tversky, Circle and CategoricalGeneralizedCrossEntropy against Keras 3: classes,
functions, reductions, sample weights and configs."""

import json

import jax
import numpy as np
import pytest

import jnet
from jnet import losses

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)
SEG_TRUE = (RS.rand(3, 4, 4, 1) > 0.5).astype(np.float32)
SEG_PRED = RS.rand(3, 4, 4, 1).astype(np.float32)
EMB = RS.randn(6, 4).astype(np.float32)
EMB /= np.linalg.norm(EMB, axis=1, keepdims=True)
EMB_LABELS = np.array([0, 1, 0, 2, 1, 0])
PROBS = jax.nn.softmax(RS.randn(5, 3)).astype(np.float32)
LABELS = np.array([0, 2, 1, 1, 0])
WEIGHTS = np.array([1.0, 0.5, 2.0], np.float32)

# class name, kwargs, y_true, y_pred, sample weight (per sample, or None)
CASES = [
    ("Dice", {}, SEG_TRUE, SEG_PRED, None),
    ("Dice", {"axis": (1, 2, 3)}, SEG_TRUE, SEG_PRED, WEIGHTS),
    ("Dice", {"axis": (1, 2), "reduction": "none"}, SEG_TRUE, SEG_PRED, None),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, SEG_TRUE, SEG_PRED, None),
    ("Tversky", {"axis": (1, 2, 3), "reduction": "sum"}, SEG_TRUE, SEG_PRED, WEIGHTS),
    ("Circle", {}, EMB_LABELS, EMB, None),
    ("Circle", {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False}, EMB_LABELS, EMB, None),
    ("Circle", {"reduction": "none"}, EMB_LABELS, EMB, None),
    ("CategoricalGeneralizedCrossEntropy", {}, LABELS, PROBS, None),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.2}, LABELS, PROBS, np.linspace(0.5, 1.5, 5).astype(np.float32)),
]


@pytest.mark.parametrize("name,kwargs,y_true,y_pred,weight", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_loss_matches_keras(name, kwargs, y_true, y_pred, weight):
    ours = getattr(losses, name)(**kwargs)
    theirs = getattr(keras.losses, name)(**kwargs)
    with jax.numpy_rank_promotion("allow"):
        expected = np.asarray(theirs(y_true, y_pred, sample_weight=weight))
    got = np.asarray(jax.jit(lambda t, p: ours(t, p, sample_weight=weight))(y_true, y_pred))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # config: Keras's keys and values; a JSON round trip rebuilds the same loss
    config = ours.get_config()
    for key, value in theirs.get_config().items():
        if key != "dtype":
            assert list(np.atleast_1d(config[key])) == list(np.atleast_1d(value)), key
    clone = losses.deserialize(json.loads(json.dumps(losses.serialize(ours))))
    np.testing.assert_allclose(np.asarray(clone(y_true, y_pred, sample_weight=weight)), got, rtol=1e-6)


@pytest.mark.parametrize(
    "fn,args,kwargs",
    [
        ("dice", (SEG_TRUE, SEG_PRED), {"axis": (1, 2)}),
        ("tversky", (SEG_TRUE, SEG_PRED), {"alpha": 0.2, "beta": 0.8, "axis": (1, 2, 3)}),
        ("circle", (EMB_LABELS, EMB), {"gamma": 20}),
        ("circle", (EMB_LABELS[:3], EMB[:3]), {"ref_labels": EMB_LABELS, "ref_embeddings": EMB}),
        ("categorical_generalized_cross_entropy", (LABELS, PROBS), {"q": 0.7}),
    ],
)
def test_loss_functions_match_keras(fn, args, kwargs):
    with jax.numpy_rank_promotion("allow"):
        expected = np.asarray(getattr(keras.losses, fn)(*args, **kwargs))
    np.testing.assert_allclose(np.asarray(getattr(losses, fn)(*args, **kwargs)), expected, rtol=1e-5, atol=1e-6)
    assert losses.get(fn) is not None


def test_closed_forms_and_names():
    y = np.array([[1.0, 0.0, 1.0]], np.float32)
    p = np.array([[0.5, 0.5, 1.0]], np.float32)
    # TP 1.5, |y| 2, |p| 2 -> dice 1 - 3 / 4; FP (Keras's) 0.5, FN 0.5
    np.testing.assert_allclose(float(losses.dice(y, p)), 0.25, rtol=1e-5)
    np.testing.assert_allclose(float(losses.tversky(y, p, alpha=1.0, beta=0.0)), 1 - 1.5 / 2.0, rtol=1e-5)
    np.testing.assert_allclose(
        losses.categorical_generalized_cross_entropy(np.array([0]), np.array([[0.25, 0.75]]), 0.5)[0],
        (1 - 0.5) / 0.5,
        rtol=1e-6,
    )
    for name, cls in [
        ("dice", losses.Dice),
        ("tversky", losses.Tversky),
        ("circle", losses.Circle),
        ("categorical_generalized_cross_entropy", losses.CategoricalGeneralizedCrossEntropy),
    ]:
        assert isinstance(losses.get(name), cls) and name in losses.__all__


def test_circle_loss_trains_embeddings_in_fit():
    x = RS.randn(16, 3).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = jnet.Sequential([jnet.Input((3,)), jnet.layers.Dense(4), jnet.layers.UnitNormalization()])
    model.compile(jnet.optimizers.Adam(0.05), losses.Circle(gamma=10.0))
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_bad_q_raises():
    with pytest.raises(ValueError, match="q must be in the interval"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.5)
