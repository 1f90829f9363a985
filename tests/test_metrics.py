"""Metrics against Keras 3 (JAX backend) streamed over three batches, plus the pure protocol,
zero-weight rows, the facade, `get`'s resolution rules and errors."""

import json
import re

import jax
import numpy as np
import pytest

from jnet import losses, metrics

keras = pytest.importorskip("keras")

B, C = 6, 4


def _batches(kind, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        sw = rng.random(B).astype(np.float32)
        sw[0] = 0.0
        if kind == "bin":
            yt = rng.integers(0, 2, (B, 1)).astype(np.float32)
            yp = rng.random((B, 1), dtype=np.float32)
        elif kind == "logit":
            yt = rng.integers(0, 2, (B, 1)).astype(np.float32)
            yp = rng.normal(size=(B, 1)).astype(np.float32) * 2
        elif kind == "cat":
            yt = np.eye(C, dtype=np.float32)[rng.integers(0, C, B)]
            yp = rng.random((B, C), dtype=np.float32)
        elif kind == "sparse":
            yt = rng.integers(0, C, (B,))
            yp = rng.random((B, C), dtype=np.float32)
        elif kind == "sparse_col":
            yt = rng.integers(0, C, (B, 1))
            yp = rng.random((B, C), dtype=np.float32)
        elif kind == "reg":
            yt = rng.random((B, C), dtype=np.float32)
            yp = rng.random((B, C), dtype=np.float32)
        elif kind == "multi":
            yt = rng.integers(0, 2, (B, C)).astype(np.float32)
            yp = rng.random((B, C), dtype=np.float32)
        else:
            raise ValueError(kind)
        out.append((yt, yp, sw))
    return out


CASES = [
    ("Accuracy", {}, "bin"),
    ("BinaryAccuracy", {}, "bin"),
    ("BinaryAccuracy", {"threshold": 0.3}, "bin"),
    ("CategoricalAccuracy", {}, "cat"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("SparseCategoricalAccuracy", {}, "sparse_col"),
    ("TopKCategoricalAccuracy", {"k": 2}, "cat"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("MeanSquaredError", {}, "reg"),
    ("MeanAbsoluteError", {}, "reg"),
    ("MeanAbsolutePercentageError", {}, "reg"),
    ("MeanSquaredLogarithmicError", {}, "reg"),
    ("RootMeanSquaredError", {}, "reg"),
    ("CosineSimilarity", {}, "reg"),
    ("LogCoshError", {}, "reg"),
    ("KLDivergence", {}, "reg"),
    ("Poisson", {}, "reg"),
    ("Hinge", {}, "bin"),
    ("SquaredHinge", {}, "bin"),
    ("CategoricalHinge", {}, "cat"),
    ("BinaryCrossentropy", {}, "bin"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logit"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "cat"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse"),
    ("AUC", {}, "bin"),
    ("AUC", {"num_thresholds": 9}, "multi"),
    ("AUC", {"curve": "PR"}, "bin"),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, "multi"),
    ("AUC", {"curve": "ROC", "summation_method": "majoring"}, "multi"),
    ("AUC", {"curve": "PRGAIN", "from_logits": True}, "logit"),
    ("AUC", {"thresholds": [0.1, 0.5, 0.77]}, "multi"),
    ("AUC", {"multi_label": True}, "multi"),
    ("AUC", {"multi_label": True, "curve": "PR", "label_weights": [1.0, 2.0, 0.0, 1.0]}, "multi"),
    ("AUC", {"label_weights": [1.0, 2.0, 0.5, 1.0]}, "multi"),
    ("Precision", {}, "bin"),
    ("Precision", {"thresholds": [0.2, 0.5, 0.9]}, "multi"),
    ("Precision", {"top_k": 2}, "multi"),
    ("Precision", {"class_id": 2, "thresholds": 0.4}, "multi"),
    ("Recall", {}, "bin"),
    ("Recall", {"class_id": 1}, "multi"),
    ("Recall", {"thresholds": [0.0, 0.5, 1.0]}, "multi"),
    ("Recall", {"top_k": 1}, "multi"),
    ("TruePositives", {}, "bin"),
    ("FalseNegatives", {"thresholds": [0.3, 0.6]}, "multi"),
    ("F1Score", {}, "cat"),
    ("F1Score", {"average": "macro", "threshold": 0.5}, "multi"),
    ("F1Score", {"average": "micro", "threshold": 0.5}, "multi"),
    ("F1Score", {"average": "weighted"}, "cat"),
    ("FBetaScore", {"beta": 2.0, "average": "macro"}, "cat"),
]
CASE_IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


def _keras_call(fn, *args, **kwargs):
    # Keras itself relies on implicit rank promotion in places.
    with jax.numpy_rank_promotion("allow"):
        return fn(*args, **kwargs)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=CASE_IDS)
def test_streaming_matches_keras(name, kwargs, kind, weighted):
    data = _batches(kind, seed=len(name) + 7 * len(kwargs))
    theirs = getattr(keras.metrics, name)(**kwargs)
    ours = metrics.get(getattr(metrics, name)(**kwargs), y_true_shape=data[0][0].shape, y_pred_shape=data[0][1].shape)
    # Keras numbers repeated default names (auc_1); jnet names are deterministic.
    assert ours.name == re.sub(r"_\d+$", "", theirs.name)
    state = ours.init()
    update = jax.jit(ours.update)
    for yt, yp, sw in data:
        keras_sw = sw if weighted else None
        if "ignore_class" in kwargs and not weighted:
            # Keras drops ignored entries only when a sample_weight is given, and otherwise
            # averages them in as zeros; jnet always drops them (unit weights show Keras's
            # intended result).
            keras_sw = np.ones_like(sw)
        _keras_call(theirs.update_state, yt, yp, sample_weight=keras_sw)
        state = update(state, yt, yp, sw if weighted else None)
    want = np.asarray(_keras_call(theirs.result))
    np.testing.assert_allclose(np.asarray(ours.result(state)), want, rtol=1e-4, atol=1e-5)
    if not weighted:
        return
    # The stateful facade gives the same, from the same batches (checked once per case: each
    # facade compiles its own update).
    for yt, yp, sw in data:
        ours.update_state(yt, yp, sample_weight=sw)
    np.testing.assert_allclose(np.asarray(ours.result()), want, rtol=1e-4, atol=1e-5)
    ours.reset_state()
    np.testing.assert_allclose(np.asarray(ours.result()), np.asarray(ours.result(ours.init())))


@pytest.mark.parametrize(
    "name,kwargs,kind",
    [
        ("SparseCategoricalAccuracy", {}, "sparse"),
        ("CategoricalCrossentropy", {}, "cat"),
        ("RootMeanSquaredError", {}, "reg"),
        ("AUC", {}, "bin"),
        ("AUC", {"multi_label": True}, "multi"),
        ("Precision", {"thresholds": [0.3, 0.7]}, "multi"),
        ("Recall", {}, "bin"),
        ("F1Score", {"average": "macro"}, "cat"),
        ("BinaryAccuracy", {}, "bin"),
    ],
)
def test_zero_weight_rows_do_not_count(name, kwargs, kind):
    """Rows with sample_weight 0 — even NaN ones, as padded rows may be — change nothing."""
    ((yt, yp, _),) = _batches(kind, seed=3)[:1]
    metric = metrics.get(getattr(metrics, name)(**kwargs), y_true_shape=yt.shape, y_pred_shape=yp.shape)
    pad_t = np.concatenate([yt, yt[:2]])
    pad_p = np.concatenate([yp, np.full_like(yp[:2], np.nan)])
    sw = np.concatenate([np.ones(B, np.float32), np.zeros(2, np.float32)])
    run = jax.jit(lambda t, p, w: metric.result(metric.update(metric.init(), t, p, w)))
    padded = run(pad_t, pad_p, sw)
    plain = run(yt, yp, np.ones(B, np.float32))
    np.testing.assert_allclose(np.asarray(padded), np.asarray(plain), rtol=1e-6, atol=1e-7)


def test_hand_computed_numpy():
    m = metrics.Mean()
    state = m.update(m.init(), np.array([1.0, 3.0, 5.0, 7.0]), np.array([1.0, 1.0, 0.0, 2.0]))
    assert np.isclose(float(m.result(state)), (1 + 3 + 14) / 4)
    s = metrics.Sum()
    assert np.isclose(float(s.result(s.update(s.init(), np.array([1.0, 3.0, 5.0])))), 9.0)
    acc = metrics.SparseCategoricalAccuracy()
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], np.float32)
    state = acc.update(acc.init(), np.array([1, 1, 1]), probs)
    assert np.isclose(float(acc.result(state)), 2 / 3)
    prec = metrics.Precision()
    state = prec.update(prec.init(), np.array([0, 1, 1, 1]), np.array([1.0, 0.0, 1.0, 1.0]))
    assert np.isclose(float(prec.result(state)), 2 / 3)
    rmse = metrics.RootMeanSquaredError()
    rmse.update_state(np.array([[0, 1], [0, 0]]), np.array([[1, 1], [0, 0]]))
    assert np.isclose(float(rmse.result()), 0.5)
    # AUC of perfectly separated scores is 1; of reversed ones, 0.
    auc = metrics.AUC()
    y = np.array([0, 0, 1, 1])
    assert np.isclose(float(auc.result(auc.update(auc.init(), y, np.array([0.1, 0.2, 0.8, 0.9])))), 1.0, atol=1e-6)
    assert np.isclose(float(auc.result(auc.update(auc.init(), y, np.array([0.9, 0.8, 0.2, 0.1])))), 0.0, atol=1e-6)


def test_state_is_a_pytree_and_merges():
    m = metrics.CategoricalAccuracy()
    (yt, yp, _), (yt2, yp2, _) = _batches("cat", seed=5)[:2]
    a = m.update(m.init(), yt, yp)
    b = m.update(m.init(), yt2, yp2)
    both = m.update(a, yt2, yp2)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(m.init())
    np.testing.assert_allclose(np.asarray(m.result(m.merge(a, b))), np.asarray(m.result(both)))
    # update inside a scan: the state is a fixed-shape carry.
    xs = (np.stack([yt, yt2]), np.stack([yp, yp2]))
    final, _ = jax.lax.scan(lambda s, x: (m.update(s, *x), None), m.init(), xs)
    np.testing.assert_allclose(np.asarray(m.result(final)), np.asarray(m.result(both)))


def test_accuracy_resolution_rules():
    def kind(**kw):
        return type(metrics.get("accuracy", **kw))

    assert kind(y_true_shape=(None, 1), y_pred_shape=(None, 1)) is metrics.BinaryAccuracy
    assert kind(y_true_shape=(None,), y_pred_shape=(None, 10)) is (metrics.SparseCategoricalAccuracy)
    assert kind(y_true_shape=(None, 1), y_pred_shape=(None, 10)) is (metrics.SparseCategoricalAccuracy)
    assert kind(y_true_shape=(None, 7, 1), y_pred_shape=(None, 7, 10)) is (metrics.SparseCategoricalAccuracy)
    assert kind(y_true_shape=(None, 10), y_pred_shape=(None, 10)) is metrics.CategoricalAccuracy
    # The loss decides where it knows: multi-label sigmoid outputs with a binary loss.
    assert kind(y_true_shape=(None, 10), y_pred_shape=(None, 10), loss="binary_crossentropy") is metrics.BinaryAccuracy
    assert kind(loss=losses.SparseCategoricalCrossentropy(from_logits=True)) is (metrics.SparseCategoricalAccuracy)
    assert kind(loss="categorical_crossentropy") is metrics.CategoricalAccuracy
    assert kind(loss="bce") is metrics.BinaryAccuracy
    # The name stays what the user wrote: it is the log key.
    m = metrics.get("acc", y_true_shape=(None,), y_pred_shape=(None, 3))
    assert isinstance(m, metrics.SparseCategoricalAccuracy) and m.name == "acc"
    assert metrics.get("accuracy", loss="bce").name == "accuracy"
    with pytest.raises(ValueError, match="resolved from the target shapes or the loss"):
        metrics.get("accuracy")
    ce = metrics.get("crossentropy", y_true_shape=(None,), y_pred_shape=(None, 3))
    assert isinstance(ce, metrics.SparseCategoricalCrossentropy) and ce.name == "crossentropy"
    assert isinstance(metrics.get("ce", y_true_shape=(None, 1), y_pred_shape=(None, 1)), metrics.BinaryCrossentropy)


def test_get_names_as_keras():
    for name, cls in [
        ("mse", metrics.MeanSquaredError),
        ("mae", metrics.MeanAbsoluteError),
        ("mape", metrics.MeanAbsolutePercentageError),
        ("auc", metrics.AUC),
        ("AUC", metrics.AUC),
        ("precision", metrics.Precision),
        ("recall", metrics.Recall),
        ("Recall", metrics.Recall),
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
        ("categorical_accuracy", metrics.CategoricalAccuracy),
        ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
        ("binary_crossentropy", metrics.BinaryCrossentropy),
    ]:
        m = metrics.get(name)
        assert type(m) is cls and m.name == name
    inst = metrics.AUC(name="my_auc")
    assert metrics.get(inst) is inst
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    with pytest.raises(
        ValueError,
        match=r"Unknown metric 'acuracy'\. Valid names:.*accuracy"
        r".*mse",
    ):
        metrics.get("acuracy")

    def my_error(y_true, y_pred):
        return losses.mean_absolute_error(y_true, y_pred) * 2

    wrapped = metrics.get(my_error)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "my_error"
    yt, yp, _ = _batches("reg", seed=1)[0]
    mae = metrics.MeanAbsoluteError()
    assert np.isclose(float(wrapped(yt, yp)), 2 * float(mae(yt, yp)), rtol=1e-6)


def test_shape_dependent_metrics_are_built_by_get():
    f1 = metrics.F1Score(average="macro")
    with pytest.raises(
        ValueError,
        match=r"F1Score 'f1_score' needs the number of classes "
        r"before init\(\).*build",
    ):
        f1.init()
    metrics.get(f1, y_true_shape=(None, 3), y_pred_shape=(None, 3))
    assert f1.init()["tp"].shape == (3,)
    with pytest.raises(ValueError, match="built for 3 classes"):
        f1.update(f1.init(), np.zeros((2, 4)), np.zeros((2, 4)))
    assert metrics.F1Score(average="micro").init()["tp"].shape == ()
    auc = metrics.AUC(multi_label=True)
    with pytest.raises(ValueError, match="needs num_labels"):
        auc.init()
    # The facade builds from the first batch, as Keras does.
    auc.update_state(np.array([[0, 1], [1, 1]]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert auc.init()["tp"].shape == (200, 2)


def test_metric_shape_errors():
    with pytest.raises(ValueError, match="CategoricalAccuracy expects one-hot y_true.*use SparseCategoricalAccuracy"):
        metrics.CategoricalAccuracy()(np.array([0, 1]), np.ones((2, 3)))
    with pytest.raises(ValueError, match="SparseCategoricalAccuracy expects integer labels.*use CategoricalAccuracy"):
        metrics.SparseCategoricalAccuracy()(np.eye(3)[[0, 1]], np.ones((2, 3)))
    with pytest.raises(ValueError, match="threshold values must be in"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="invalid curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="F1Score expects 2D inputs"):
        metrics.F1Score(average="micro")(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))


@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=CASE_IDS)
def test_config_round_trip(name, kwargs, kind):
    m = getattr(metrics, name)(name="custom_name", **kwargs)
    config = json.loads(json.dumps(metrics.serialize(m)))
    again = metrics.deserialize(config)
    assert type(again) is type(m) and again.get_config() == m.get_config()
    assert again.name == "custom_name"
    theirs = getattr(keras.metrics, name)(**kwargs).get_config()
    # Keras's config keys are all there (jnet may add some, e.g. SparseCategorical axis).
    assert set(theirs) - {"dtype"} <= set(m.get_config())
