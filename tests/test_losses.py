"""Losses against Keras 3 (JAX backend) as the oracle, plus hand-computed checks and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnet import losses

keras = pytest.importorskip("keras")

B, C, T = 5, 4, 3
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none"]


def _data(kind, seed=0, shape=(B,)):
    rng = np.random.default_rng(seed)
    full = shape + (C,)
    if kind == "reg":
        return rng.random(full, dtype=np.float32), rng.random(full, dtype=np.float32)
    if kind == "signed":
        return (rng.normal(size=full).astype(np.float32), rng.normal(size=full).astype(np.float32))
    if kind == "prob":
        p = rng.random(full, dtype=np.float32) + 0.05
        q = rng.random(full, dtype=np.float32) + 0.05
        return p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)
    if kind == "binary":
        return (rng.integers(0, 2, shape + (1,)).astype(np.float32), rng.random(shape + (1,), dtype=np.float32))
    if kind == "binary_logits":
        return (
            rng.integers(0, 2, shape + (2,)).astype(np.float32),
            rng.normal(size=shape + (2,)).astype(np.float32) * 3,
        )
    if kind == "onehot":
        return (np.eye(C, dtype=np.float32)[rng.integers(0, C, shape)], rng.random(full, dtype=np.float32) + 0.01)
    if kind == "onehot_logits":
        return (np.eye(C, dtype=np.float32)[rng.integers(0, C, shape)], rng.normal(size=full).astype(np.float32) * 2)
    if kind == "sparse":
        return rng.integers(0, C, shape), rng.random(full, dtype=np.float32) + 0.01
    if kind == "sparse_logits":
        return rng.integers(0, C, shape), rng.normal(size=full).astype(np.float32) * 2
    if kind == "pm1":  # hinge labels in {-1, 1}
        return (rng.choice([-1.0, 1.0], size=full).astype(np.float32), rng.normal(size=full).astype(np.float32))
    raise ValueError(kind)


# (class name, kwargs, data kind)
CASES = [
    ("MeanSquaredError", {}, "reg"),
    ("MeanAbsoluteError", {}, "reg"),
    ("MeanSquaredLogarithmicError", {}, "reg"),
    ("MeanAbsolutePercentageError", {}, "signed"),
    ("KLDivergence", {}, "prob"),
    ("Poisson", {}, "reg"),
    ("LogCosh", {}, "signed"),
    ("CosineSimilarity", {"axis": -1}, "signed"),
    ("Huber", {"delta": 0.7}, "signed"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "binary_logits"),
    ("BinaryFocalCrossentropy", {"gamma": 1.5}, "binary"),
    (
        "BinaryFocalCrossentropy",
        {"apply_class_balancing": True, "alpha": 0.3, "from_logits": True, "label_smoothing": 0.2},
        "binary_logits",
    ),
    ("CategoricalCrossentropy", {}, "onehot"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot_logits"),
    ("CategoricalFocalCrossentropy", {"alpha": 0.4, "gamma": 1.0}, "onehot"),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot_logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 2}, "sparse_logits"),
    ("Hinge", {}, "binary_logits"),
    ("Hinge", {}, "pm1"),
    ("SquaredHinge", {}, "binary_logits"),
    ("CategoricalHinge", {}, "onehot_logits"),
]
CASE_IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


def _keras(fn, *args, **kwargs):
    # Keras itself relies on implicit rank promotion in places.
    with jax.numpy_rank_promotion("allow"):
        return np.asarray(fn(*args, **kwargs))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=CASE_IDS)
def test_matches_keras(name, kwargs, kind, reduction, weighted):
    y_true, y_pred = _data(kind, seed=sum(map(ord, name)))
    sw = np.random.default_rng(1).random(B).astype(np.float32) if weighted else None
    ours = getattr(losses, name)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, name)(reduction=reduction, **kwargs)
    got = np.asarray(ours(y_true, y_pred, sample_weight=sw))
    want = _keras(theirs, y_true, y_pred, sample_weight=sw)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    assert ours.name == theirs.name


@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=CASE_IDS)
def test_functional_form_and_sequences_match_keras(name, kwargs, kind):
    """Per-sample values on (batch, T, C) inputs, through the functional form where Keras has
    one, and the class's `call`."""
    y_true, y_pred = _data(kind, seed=3, shape=(2, T))
    ours = getattr(losses, name)(reduction="none", **kwargs)
    theirs = getattr(keras.losses, name)(reduction="none", **kwargs)
    got = np.asarray(ours(y_true, y_pred))
    assert got.shape == (2, T)
    np.testing.assert_allclose(got, _keras(theirs, y_true, y_pred), rtol=2e-5, atol=2e-6)
    if "ignore_class" not in kwargs:
        np.testing.assert_allclose(np.asarray(ours.call(y_true, y_pred)), got, rtol=1e-6)


def test_ctc_matches_keras():
    rng = np.random.default_rng(0)
    y_true = np.array([[1, 2, 2, 0], [3, 1, 0, 0], [2, 0, 0, 0]])
    y_pred = rng.normal(size=(3, 6, 5)).astype(np.float32)
    sw = np.array([1.0, 0.5, 2.0], np.float32)
    for reduction in REDUCTIONS:
        got = losses.CTC(reduction=reduction)(y_true, y_pred, sample_weight=sw)
        want = _keras(keras.losses.CTC(reduction=reduction), y_true, y_pred, sample_weight=sw)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(losses.ctc(y_true, y_pred)), _keras(keras.losses.ctc, y_true, y_pred), rtol=1e-5
    )


def test_hand_computed_numpy():
    y_true = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)
    y_pred = np.array([[0.5, 0.5], [0.9, 0.2]], np.float32)
    sw = np.array([2.0, 1.0], np.float32)
    mse = np.mean((y_true - y_pred) ** 2, axis=-1)
    assert np.isclose(float(losses.MeanSquaredError()(y_true, y_pred)), mse.mean())
    assert np.isclose(float(losses.MeanSquaredError(reduction="sum")(y_true, y_pred, sw)), (mse * sw).sum())
    assert np.isclose(
        float(losses.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, sw)),
        (mse * sw).sum() / sw.sum(),
    )
    p = np.clip(y_pred, 1e-7, 1 - 1e-7)
    bce = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean(-1)
    np.testing.assert_allclose(np.asarray(losses.binary_crossentropy(y_true, y_pred)), bce, rtol=1e-6)
    probs = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], np.float32)
    labels = np.array([1, 0])
    want = -np.log(probs[[0, 1], labels]).mean()
    assert np.isclose(float(losses.SparseCategoricalCrossentropy()(labels, probs)), want)
    assert np.isclose(float(losses.CategoricalCrossentropy()(np.eye(3)[labels], probs)), want)


def test_sample_weight_broadcast_over_timesteps():
    """Per-sample weights (batch,) on per-timestep values (batch, T): weights broadcast from
    the left, like Keras with weights of shape (batch, 1)."""
    y_true, y_pred = _data("reg", shape=(B, T))
    sw = np.random.default_rng(2).random(B).astype(np.float32)
    for reduction in ["sum_over_batch_size", "sum", "none"]:
        got = losses.MeanSquaredError(reduction=reduction)(y_true, y_pred, sample_weight=sw)
        want = _keras(keras.losses.MeanSquaredError(reduction=reduction), y_true, y_pred, sample_weight=sw[:, None])
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    # mean_with_sample_weight divides by the weights broadcast to every entry (a true
    # weighted mean; Keras would divide by sum(sw) alone, a factor T too small).
    values = np.mean((y_true - y_pred) ** 2, axis=-1)
    got = losses.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, sw)
    want = (values * sw[:, None]).sum() / (sw.sum() * T)
    assert np.isclose(float(got), want, rtol=1e-5)


def test_reduce_values_with_mask_matches_keras():
    from keras.src.losses.loss import reduce_weighted_values

    rng = np.random.default_rng(4)
    values = rng.random((B, T), dtype=np.float32)
    mask = rng.random((B, T)) > 0.4
    sw = rng.random((B, 1), dtype=np.float32)
    for reduction in REDUCTIONS:
        for weight in (None, sw):
            got = losses.reduce_values(values, weight, reduction, mask=mask)
            want = _keras(reduce_weighted_values, values, sample_weight=weight, mask=mask, reduction=reduction)
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-7)
    # The divisor of sum_over_batch_size is the number of unmasked entries.
    got = losses.reduce_values(values, mask=mask)
    assert np.isclose(float(got), values[mask].sum() / mask.sum(), rtol=1e-6)
    # A per-row mask (batch,) broadcasts over the steps.
    row_mask = np.array([True, False, True, True, False])
    got = losses.reduce_values(values, mask=row_mask)
    assert np.isclose(float(got), values[row_mask].mean(), rtol=1e-6)


def test_row_mask_combines_with_ignore_class():
    """A padded-row mask (batch,) and ignore_class on (batch, T) labels: the mean is over the
    entries that are both real and not ignored."""
    labels, logits = _data("sparse_logits", seed=8, shape=(B, T))
    rows = np.array([True, True, False, True, False])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    got = loss(labels, logits, mask=rows)
    per_entry = np.asarray(losses.sparse_categorical_crossentropy(labels, logits, True))
    keep = rows[:, None] & (labels != 0)
    assert np.isclose(float(got), per_entry[keep].mean(), rtol=1e-6)


def test_zero_weight_rows_are_ignored_even_if_nan():
    y_true, y_pred = _data("onehot_logits", seed=5)
    bad_pred = y_pred.copy()
    bad_pred[0] = np.nan
    sw = np.ones(B, np.float32)
    sw[0] = 0.0
    loss = losses.CategoricalCrossentropy(from_logits=True, reduction="sum")
    got = loss(y_true, bad_pred, sample_weight=sw)
    want = loss(y_true[1:], y_pred[1:])
    assert np.isfinite(float(got)) and np.isclose(float(got), float(want), rtol=1e-6)


def test_jit_equals_eager_and_grad_is_finite():
    y_true, y_pred = _data("sparse", seed=6, shape=(B, T))
    loss = losses.SparseCategoricalCrossentropy(ignore_class=1)
    eager = loss(y_true, y_pred)
    jitted = jax.jit(lambda t, p: loss(t, p))(y_true, y_pred)
    assert np.isclose(float(eager), float(jitted), rtol=1e-6)
    # Keras zeroes ignored predictions and gets NaN gradients for probability inputs; jnet not.
    grad = jax.grad(lambda p: loss(y_true, p))(jnp.asarray(y_pred))
    assert np.all(np.isfinite(np.asarray(grad)))
    ignored = y_true == 1
    assert np.all(np.asarray(grad)[ignored] == 0)


@pytest.mark.parametrize("labels_shape", [(B,), (B, 1)])
def test_categorical_with_sparse_labels_says_what_to_use(labels_shape):
    y_pred = np.ones((B, C), np.float32) / C
    labels = np.zeros(labels_shape, np.int32)
    with pytest.raises(
        ValueError,
        match=r"CategoricalCrossentropy expects one-hot y_true of "
        r"shape \(batch, C\).*use SparseCategoricalCrossentropy",
    ):
        losses.get("categorical_crossentropy")(labels, y_pred)
    # Raised while tracing, before anything runs.
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy"):
        jax.jit(lambda t, p: losses.CategoricalCrossentropy()(t, p)).trace(labels, y_pred)


def test_other_shape_errors():
    y_pred = np.ones((B, C), np.float32) / C
    with pytest.raises(ValueError, match="looks one-hot.*use CategoricalCrossentropy"):
        losses.SparseCategoricalCrossentropy()(np.eye(C)[[0, 1, 2, 3, 0]], y_pred)
    with pytest.raises(
        ValueError,
        match="BinaryCrossentropy expects y_true and y_pred of the same shape.*SparseCategoricalCrossentropy",
    ):
        losses.BinaryCrossentropy()(np.zeros(B), y_pred)
    with pytest.raises(ValueError, match="mean_squared_error.*different ranks"):
        losses.MeanSquaredError()(np.zeros((B, 2, C)), y_pred)
    with pytest.raises(ValueError, match="CTC expects y_true of shape"):
        losses.CTC()(np.zeros((B,)), np.zeros((B, 3, C)))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        losses.MeanSquaredError()(y_pred, y_pred, sample_weight=np.ones(B + 1))
    with pytest.raises(ValueError, match="Invalid reduction 'avg'"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)


def test_get_aliases_and_unknown_names():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("MAE"), losses.MeanAbsoluteError)
    assert isinstance(losses.get("Huber"), losses.Huber)
    assert isinstance(losses.get("huber"), losses.Huber)
    assert isinstance(losses.get("categorical_crossentropy"), losses.CategoricalCrossentropy)
    assert isinstance(losses.get(losses.Poisson), losses.Poisson)
    inst = losses.Hinge()
    assert losses.get(inst) is inst
    with pytest.raises(
        ValueError,
        match=r"Unknown loss 'msee'\. Valid names:.*mse.*"
        r"sparse_categorical_crossentropy",
    ):
        losses.get("msee")
    # "crossentropy" resolves from the shapes, as Keras's compile does.
    get_ce = lambda t, p: type(losses.get("ce", y_true_shape=t, y_pred_shape=p))  # noqa: E731
    assert get_ce((B, 1), (B, 1)) is losses.BinaryCrossentropy
    assert get_ce((B,), (B, C)) is losses.SparseCategoricalCrossentropy
    assert get_ce((B, 1), (B, C)) is losses.SparseCategoricalCrossentropy
    assert get_ce((B, C), (B, C)) is losses.CategoricalCrossentropy
    with pytest.raises(ValueError, match="y_true_shape"):
        losses.get("crossentropy")


def test_plain_function_is_wrapped():
    def doubled_mae(y_true, y_pred):
        return 2 * jnp.mean(jnp.abs(y_true - y_pred), axis=-1)

    y_true, y_pred = _data("reg")
    loss = losses.get(doubled_mae)
    assert loss.name == "doubled_mae"
    want = 2 * float(losses.MeanAbsoluteError()(y_true, y_pred))
    assert np.isclose(float(loss(y_true, y_pred)), want, rtol=1e-6)


@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=CASE_IDS)
def test_config_round_trip(name, kwargs, kind):
    import json

    loss = getattr(losses, name)(reduction="sum", **kwargs)
    config = json.loads(json.dumps(losses.serialize(loss)))
    again = losses.deserialize(config)
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    y_true, y_pred = _data(kind)
    assert np.isclose(float(again(y_true, y_pred)), float(loss(y_true, y_pred)))


def test_function_wrapper_config_round_trip():
    wrapped = losses.deserialize(losses.serialize(losses.LossFunctionWrapper(losses.huber, delta=0.5)))
    assert wrapped.fn is losses.huber and wrapped.get_config()["delta"] == 0.5
