"""R2Score, correlations, IoU metrics and the operating-point metrics against Keras 3 (two
batches streamed, sample weights, configs), and inside compile/fit."""

import json

import jax
import numpy as np
import pytest

import jnet
from jnet import metrics

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)
REG_T, REG_P = RS.randn(2, 6, 3).astype(np.float32), RS.randn(2, 6, 3).astype(np.float32)
REG_P = (REG_T + 0.7 * REG_P).astype(np.float32)
W6 = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 1.0], np.float32)
CLS_T = RS.randint(0, 3, (2, 8))
CLS_P = RS.randint(0, 3, (2, 8))
SEG_T = RS.randint(0, 3, (2, 2, 3, 3))
HOT_T = np.eye(3, dtype=np.float32)[CLS_T]
HOT_P = RS.rand(2, 8, 3).astype(np.float32)
BIN_T = RS.randint(0, 2, (2, 10)).astype(np.float32)
BIN_P = np.clip(BIN_T * 0.4 + RS.rand(2, 10) * 0.6, 0, 1).astype(np.float32)
W10 = np.linspace(0.2, 1.0, 10).astype(np.float32)
W8 = np.linspace(0.0, 2.0, 8).astype(np.float32)

# class name, kwargs, batches (y_true, y_pred), sample weight per batch (or None)
CASES = [
    ("R2Score", {}, REG_T, REG_P, None),
    ("R2Score", {"class_aggregation": None}, REG_T, REG_P, W6),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2}, REG_T, REG_P, None),
    ("PearsonCorrelation", {}, REG_T, REG_P, None),
    ("PearsonCorrelation", {"axis": -1}, REG_T, REG_P, W6),
    ("ConcordanceCorrelation", {}, REG_T, REG_P, W6),
    ("IoU", {"num_classes": 3, "target_class_ids": [0, 2]}, CLS_T, CLS_P, None),
    ("IoU", {"num_classes": 3, "target_class_ids": [1], "ignore_class": 0}, CLS_T, CLS_P, W8),
    ("MeanIoU", {"num_classes": 3}, CLS_T, CLS_P, W8),
    ("MeanIoU", {"num_classes": 3}, SEG_T, SEG_T[:, ::-1], None),
    ("BinaryIoU", {"target_class_ids": [0, 1], "threshold": 0.3}, BIN_T, BIN_P, W10),
    ("BinaryIoU", {"target_class_ids": [1]}, BIN_T, BIN_P, None),
    ("OneHotIoU", {"num_classes": 3, "target_class_ids": [0, 1]}, HOT_T, HOT_P, None),
    ("OneHotMeanIoU", {"num_classes": 3}, HOT_T, HOT_P, W8),
    ("SensitivityAtSpecificity", {"specificity": 0.6}, BIN_T, BIN_P, None),
    ("SpecificityAtSensitivity", {"sensitivity": 0.7, "num_thresholds": 50}, BIN_T, BIN_P, W10),
    ("PrecisionAtRecall", {"recall": 0.5}, BIN_T, BIN_P, W10),
    ("RecallAtPrecision", {"precision": 0.8, "num_thresholds": 1}, BIN_T, BIN_P, None),
    ("PrecisionAtRecall", {"recall": 0.5, "class_id": 1}, HOT_T, HOT_P, None),
]


def _keras_kwargs(name, kwargs):
    # Keras's IoU matrices are integer by default and truncate fractional weights; compare in float.
    return {**kwargs, "dtype": "float32"} if "IoU" in name else kwargs


@pytest.mark.parametrize("name,kwargs,y_true,y_pred,weight", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_metric_matches_keras(name, kwargs, y_true, y_pred, weight):
    ours = metrics.get(getattr(metrics, name)(**kwargs), y_true_shape=y_true.shape[1:], y_pred_shape=y_pred.shape[1:])
    theirs = getattr(keras.metrics, name)(**_keras_kwargs(name, kwargs))
    state = ours.init()
    update = jax.jit(ours.update)
    with jax.numpy_rank_promotion("allow"):
        for t, p in zip(y_true, y_pred):
            state = update(state, t, p, sample_weight=weight)
            theirs.update_state(t, p, sample_weight=weight)
        expected = np.asarray(theirs.result())
    np.testing.assert_allclose(np.asarray(ours.result(state)), expected, rtol=1e-5, atol=1e-6)
    config = ours.get_config()
    for key, value in theirs.get_config().items():
        if key not in ("dtype", "name"):  # Keras numbers repeated names
            assert config[key] == value, (key, config[key], value)
    clone = metrics.deserialize(json.loads(json.dumps(metrics.serialize(ours))))
    assert clone.get_config() == config


def test_correlation_functions_match_keras():
    for fn in ("pearson_correlation", "concordance_correlation"):
        with jax.numpy_rank_promotion("allow"):
            expected = np.asarray(getattr(keras.metrics, fn)(REG_T[0], REG_P[0]))
        np.testing.assert_allclose(np.asarray(getattr(metrics, fn)(REG_T[0], REG_P[0])), expected, rtol=1e-5)
        assert fn in metrics.__all__


def test_closed_forms():
    m = metrics.R2Score()
    m.update_state(np.array([[1.0], [4.0], [3.0]]), np.array([[2.0], [4.0], [4.0]]))
    # SS_res = 2, SS_tot = 14/3
    np.testing.assert_allclose(float(m.result()), 1 - 2 / (14 / 3), rtol=1e-5)
    iou = metrics.MeanIoU(num_classes=2)
    iou.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    np.testing.assert_allclose(float(iou.result()), 1 / 3, rtol=1e-5)


def test_new_metrics_in_compile_and_fit():
    x = RS.randn(20, 4).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = jnet.Sequential([jnet.Input((4,)), jnet.layers.Dense(1, activation="sigmoid")])
    model.compile(
        "adam", "binary_crossentropy", metrics=[metrics.BinaryIoU(), metrics.PrecisionAtRecall(0.5), metrics.R2Score()]
    )
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for key in ("binary_io_u", "precision_at_recall", "r2_score"):
        assert key in history.history and np.isfinite(history.history[key][-1]), (key, history.history)
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    kiou = keras.metrics.BinaryIoU(dtype="float32")
    kiou.update_state(y, np.asarray(model.predict(x, verbose=0)))
    np.testing.assert_allclose(logs["binary_io_u"], float(kiou.result()), rtol=1e-5)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: metrics.R2Score(class_aggregation="median"), "class_aggregation"),
        (lambda: metrics.R2Score(num_regressors=-1), "num_regressors"),
        (lambda: metrics.IoU(num_classes=2, target_class_ids=[2]), "target_class_ids"),
        (lambda: metrics.PrecisionAtRecall(1.5), "recall must be in the range"),
        (lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0), "num_thresholds"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
