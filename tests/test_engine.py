"""Engine pieces in isolation: chunk sizing, data handling, streaming, train-state helpers and
the distribution hook."""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnet
from jnet import layers
from jnet.engine import data as D
from jnet.engine import distribute
from jnet.engine.loop import ChunkSizer
from jnet.engine.stream import ChunkBuilder, Prefetcher
from jnet.engine.train_state import TrainState, distinct_buffers, find_hyperparams, with_learning_rate


def test_chunk_sizer_fixed_and_auto():
    fixed = ChunkSizer(4)
    assert [fixed.next(r) for r in (10, 3)] == [4, 3]
    auto = ChunkSizer("auto")
    assert auto.next(100) == 1
    auto.observe(1, 5.0)  # the first call compiles: ignored
    assert auto.next(100) == 1
    auto.observe(1, 0.001)  # 1 ms per step -> ~200 steps per 0.2 s, growth capped at 8x
    assert auto.next(10_000) == 8
    auto.observe(8, 0.008)
    assert auto.next(10_000) == 64
    assert auto.next(5) == 5
    with pytest.raises(ValueError, match="steps_per_execution"):
        ChunkSizer(0)


def test_validation_split_takes_the_last_fraction():
    data = D.ArrayData([np.arange(10)[:, None]], [np.arange(10)], None, n=10)
    train, val = D.split_validation(data, 0.25)
    assert train.n == 7 and val.n == 3  # Keras: floor(10 * (1 - 0.25)) = 7
    np.testing.assert_array_equal(val.y[0], np.arange(10)[train.n :])
    with pytest.raises(ValueError, match="validation_split"):
        D.split_validation(data, 1.5)


def test_class_weight_per_output_and_one_hot():
    ys = [np.eye(3, dtype="float32")[[0, 2, 1]], np.array([1, 0, 1])]
    sws = D.apply_class_weight({"a": {2: 5.0}, "b": {0: 0.5}}, ys, None, ["a", "b"], 3)
    np.testing.assert_array_equal(sws[0], [1.0, 5.0, 1.0])
    np.testing.assert_array_equal(sws[1], [1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"'c'.*\['a', 'b'\]"):
        D.apply_class_weight({"c": {0: 1.0}}, ys, None, ["a", "b"], 3)
    with pytest.raises(ValueError, match="2 outputs"):
        D.apply_class_weight({0: 1.0}, ys, None, ["a", "b"], 3)


def test_flatten_outputs_errors_name_the_outputs():
    with pytest.raises(ValueError, match=r"'x'.*\['a', 'b'\]"):
        D.flatten_outputs(["a", "b"], {"x": 1}, "y")
    with pytest.raises(ValueError, match="2 outputs"):
        D.flatten_outputs(["a", "b"], [1, 2, 3], "y")
    assert D.flatten_outputs(["a", "b"], np.ones(3), "sample_weight")[1].shape == (3,)


def test_is_stream():
    assert D.is_stream(iter([1])) and D.is_stream(x for x in [])
    assert not D.is_stream(np.ones(3)) and not D.is_stream([np.ones(3)]) and not D.is_stream({"a": 1})


def test_chunk_builder_pads_and_marks_rows():
    b = ChunkBuilder(batch_size=4, capacity=3)
    batches = [([np.ones((4, 2))], [np.zeros(4)], [None]), ([np.full((2, 2), 2.0)], [np.ones(2)], [None])]
    (x, y, sw, valid), n = b.build(batches)
    assert n == 2 and x[0].shape == (12, 2) and sw == [None]
    np.testing.assert_array_equal(valid, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(x[0][4:6], 2.0)
    with pytest.raises(ValueError, match="same structure"):
        b.build([([np.ones((4, 3))], [np.zeros(4)], [None])])


def test_prefetcher_runs_ahead_and_reraises():
    produced = []

    def produce():
        for i in range(5):
            produced.append(i)
            yield i

    assert list(Prefetcher(produce)) == [0, 1, 2, 3, 4]

    def broken():
        yield 1
        raise RuntimeError("bad batch")

    with pytest.raises(RuntimeError, match="bad batch"):
        list(Prefetcher(broken))
    assert threading.active_count() < 50


def test_learning_rate_lives_in_the_optimizer_state():
    opt = jnet.optimizers.Adam(0.01, clipnorm=1.0)
    state = opt.tx.init({"w": jnp.ones(3)})
    new = with_learning_rate(state, 0.5)
    assert float(find_hyperparams(new)["learning_rate"]) == 0.5
    assert find_hyperparams(new)["learning_rate"].dtype == find_hyperparams(state)["learning_rate"].dtype
    multi = optax.MultiSteps(opt.tx, 2).init({"w": jnp.ones(3)})
    assert float(find_hyperparams(with_learning_rate(multi, 0.25))["learning_rate"]) == 0.25


def test_distinct_buffers_and_trainstate_is_a_pytree():
    a = jnp.ones(2)
    tree = distinct_buffers({"x": a, "y": a})
    assert tree["x"] is a and tree["y"] is not a
    ts = TrainState({"w": a}, {}, (), {}, jnp.zeros(2, jnp.uint32), jnp.zeros([], jnp.int32))
    assert len(jax.tree_util.tree_leaves(ts)) == 3


class CountingDistribution(distribute.Distribution):
    def __init__(self):
        self.placed, self.constrained, self.variables = 0, 0, 0

    def place_batch(self, tree):
        self.placed += 1
        return super().place_batch(tree)

    def constrain_batch(self, tree):
        self.constrained += 1
        return tree

    def place_variables(self, tree):
        self.variables += 1
        return tree


def test_engine_routes_placement_through_the_distribution():
    dist = CountingDistribution()
    distribute.set_current(dist)
    try:
        model = jnet.Sequential([layers.Dense(1, input_shape=(3,))])
        model.compile(optimizer="sgd", loss="mse")
        x = np.ones((8, 3), "float32")
        model.fit(x, np.ones((8, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    finally:
        distribute.set_current(None)
    assert dist.placed >= 1 and dist.constrained >= 1 and dist.variables >= 1
    assert distribute.current() is not dist


def test_single_output_accepts_a_one_element_list():
    y = np.arange(4)
    assert D.flatten_outputs(["out"], [y], "y")[0] is y
    assert np.asarray(D.flatten_outputs(["out"], [0, 1, 2], "y")[0]).shape == (3,)


def test_single_steps_and_the_chunked_loop_give_the_same_weights(monkeypatch):
    """Loop-free single steps (chosen for convolutions on CPU) train exactly like the chunked
    loop; a slow step alone (a load spike) no longer switches modes."""
    import jnet.engine.loop as L

    x = np.random.RandomState(0).rand(96, 5).astype("float32")
    y = x.sum(1, keepdims=True)

    def train(single):
        monkeypatch.setattr(L, "loop_slows_down", lambda jaxpr: single)
        jnet.utils.set_random_seed(3)
        model = jnet.Sequential([layers.Dense(4, activation="relu", input_shape=(5,)), layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        return model._trainer.train_sizer.single, model.get_weights()

    single, w_single = train(True)
    chunked, w_chunked = train(False)
    assert single and not chunked
    for a, b in zip(w_single, w_chunked):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    sizer = ChunkSizer("auto")
    for _ in range(4):
        sizer.observe(sizer.next(100), 10.0)  # very slow steps
    assert not sizer.single


def test_padding_rows_of_the_last_batch_stay_out_of_batchnorm_statistics():
    """10 rows in batches of 4: the last batch has 2 real rows and 2 padding rows. The moving
    statistics must be those of the real batches [0:4], [4:8], [8:10] (Keras runs a smaller
    last batch), also through TimeDistributed (rows repeated per step)."""
    rs = np.random.RandomState(0)
    x = (rs.randn(10, 3) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.5]).astype(np.float32)
    y = np.zeros((10, 1), np.float32)
    momentum = 0.5

    def expected():
        mean, var = np.zeros(3), np.ones(3)
        for lo, hi in ((0, 4), (4, 8), (8, 10)):
            b = x[lo:hi].astype(np.float64)
            mean = mean * momentum + b.mean(0) * (1 - momentum)
            var = var * momentum + b.var(0) * (1 - momentum)
        return mean, var

    for wrap in (False, True):
        bn = jnet.layers.BatchNormalization(momentum=momentum)
        if wrap:
            inputs = jnet.Input((1, 3))
            out = jnet.layers.Flatten()(jnet.layers.TimeDistributed(bn)(inputs))
            data = x[:, None, :]
        else:
            inputs = jnet.Input((3,))
            out = bn(inputs)
            data = x
        model = jnet.Model(inputs, jnet.layers.Dense(1)(out))
        model.compile(optimizer=jnet.optimizers.SGD(0.0), loss="mse")
        model.fit(data, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        state = model.current_variables()["state"]
        name = next(k for k in state)
        mean, var = expected()
        np.testing.assert_allclose(state[name]["moving_mean"], mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(state[name]["moving_variance"], var, rtol=1e-5, atol=1e-5)


def test_arrays_too_big_for_the_device_stream_shuffled_like_the_device_path(monkeypatch):
    """Host-streamed arrays get the same per-epoch row order as device-resident ones, so both
    paths train to the same weights (and differently from an unshuffled run)."""
    import jnet.models.training_data as T

    rs = np.random.RandomState(0)
    x = rs.randn(50, 4).astype(np.float32)
    y = (x @ rs.randn(4, 1)).astype(np.float32)

    def train(shuffle, stream):
        monkeypatch.setattr(T, "DEVICE_DATA_BYTES", 0 if stream else 1 << 30)
        jnet.utils.set_random_seed(3)
        model = jnet.Sequential([jnet.Input((4,)), layers.Dense(3, activation="tanh"), layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=shuffle, verbose=0)
        return model.get_weights(), history.history["loss"]

    device_w, device_loss = train(True, stream=False)
    stream_w, stream_loss = train(True, stream=True)
    plain_w, _ = train(False, stream=True)
    np.testing.assert_allclose(stream_loss, device_loss, rtol=1e-5)
    for a, b in zip(stream_w, device_w):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(a, b) for a, b in zip(plain_w, device_w))


def test_convolution_steps_run_loop_free_from_the_first_call():
    """On CPU a step with convolutions starts in single-step mode (XLA:CPU runs convolutions
    inside a loop several times slower): the chunked loop is never compiled, for fit or for
    its validation."""
    if jax.default_backend() != "cpu":
        pytest.skip("the choice is made on CPU only")
    x = np.random.RandomState(0).rand(24, 6, 6, 1).astype("float32")
    y = np.arange(24) % 3
    model = jnet.Sequential([jnet.Input((6, 6, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    trainer = model._trainer
    assert trainer.train_sizer.single and trainer.eval_sizer.single
    fns = trainer.fns(8)
    assert fns.train._cache_size() == 0 and fns.eval._cache_size() == 0
    assert fns.train_one._cache_size() == 1

    dense = jnet.Sequential([jnet.Input((4,)), layers.Dense(2)])
    dense.compile("sgd", "mse")
    dense.fit(np.ones((16, 4), "float32"), np.ones((16, 2), "float32"), batch_size=4, epochs=1, verbose=0)
    assert not dense._trainer.train_sizer.single


def _runs_single_steps(model, x, y, batch_size=4):
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=batch_size, epochs=1, steps_per_epoch=1, verbose=0)
    return model._trainer.train_sizer.single


def test_convolution_found_through_nested_models_and_wrappers():
    """The decision reads the traced step: a convolution inside a model inside TimeDistributed
    is found; a Bidirectional LSTM (loops, no convolution) keeps the chunked loop."""
    if jax.default_backend() != "cpu":
        pytest.skip("the choice is made on CPU only")
    inner = jnet.Sequential([jnet.Input((5, 5, 1)), layers.Conv2D(2, 3), layers.Flatten()])
    seq = jnet.Input((3, 5, 5, 1))
    outer = jnet.Model(seq, layers.TimeDistributed(inner)(seq))
    assert _runs_single_steps(outer, np.ones((4, 3, 5, 5, 1), "float32"), np.ones((4, 3, 18), "float32"))
    words = jnet.Input((3, 2))
    rnn = jnet.Model(words, layers.Bidirectional(layers.LSTM(2))(words))
    assert not _runs_single_steps(rnn, np.ones((4, 3, 2), "float32"), np.ones((4, 4), "float32"))


def test_loop_free_decision_on_the_benchmark_models(monkeypatch):
    """The benchmark models keep their modes: the MLP and the LSTM triage model run the chunked
    loop, the CNN runs loop-free single steps (decided from each traced step; the test stops
    `fit` right after the decision, before anything compiles)."""
    import jnet.engine.loop as L
    from benchmarks.keras_api import build
    from benchmarks.workloads import WORKLOADS, make_data
    from jnet.engine.chunking import loop_slows_down

    if jax.default_backend() != "cpu":
        pytest.skip("the choice is made on CPU only")

    class Decided(Exception):
        pass

    def decide(jaxpr):
        raise Decided(loop_slows_down(jaxpr))

    monkeypatch.setattr(L, "loop_slows_down", decide)
    seen = {}
    for name in ("mlp_small", "cnn", "lstm_triage"):
        w = WORKLOADS[name]
        x, y = make_data(w, 4)
        with pytest.raises(Decided) as decided:
            build(jnet, w).fit(x, y, batch_size=4, epochs=1, verbose=0)
        seen[name] = decided.value.args[0]
    assert seen == {"mlp_small": False, "cnn": True, "lstm_triage": False}
    assert not loop_slows_down(jax.make_jaxpr(lambda a: jnp.tanh(a @ a))(jnp.ones((2, 2))))


def test_convolution_inside_a_lambda_is_found_on_the_lowered_step():
    if jax.default_backend() != "cpu":
        pytest.skip("the choice is made on CPU only")
    kernel = jnp.ones((3, 3, 1, 2), jnp.float32)

    def conv(x):
        return jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    model = jnet.Sequential([jnet.Input((6, 6, 1)), layers.Lambda(conv), layers.Flatten(), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 6, 6, 1), "float32"), np.ones((8, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    assert model._trainer.train_sizer.single
    plain = jnet.Sequential([jnet.Input((3,)), layers.Lambda(lambda x: 2 * x), layers.Dense(1)])
    plain.compile("sgd", "mse")
    plain.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    assert not plain._trainer.train_sizer.single


def test_time_distributed_wraps_a_whole_model():
    inner = jnet.Sequential([jnet.Input((5, 5, 1)), layers.Conv2D(2, 3), layers.Flatten()])
    seq = jnet.Input((3, 5, 5, 1))
    outer = jnet.Model(seq, layers.TimeDistributed(inner)(seq))
    x = np.random.RandomState(0).rand(2, 3, 5, 5, 1).astype("float32")
    out = outer.predict(x, verbose=0)
    assert out.shape == (2, 3, 18)
    inner.set_weights(outer.get_weights())
    for t in range(3):
        np.testing.assert_allclose(out[:, t], inner.predict(x[:, t], verbose=0), rtol=1e-5, atol=1e-6)


def test_steps_per_epoch_below_one_pass_continues_through_the_data(monkeypatch):
    """With steps_per_epoch below one pass, the next epoch continues where the last one
    stopped (Keras): 2 epochs of 2 batches over 4 batches train exactly like one full epoch,
    on the device and streamed from the host; a pass that ends mid-epoch ends that epoch."""
    import jnet.models.training_data as T

    rs = np.random.RandomState(0)
    x = rs.randn(32, 4).astype(np.float32)
    y = (x @ rs.randn(4, 1)).astype(np.float32)

    def train(stream, **kw):
        monkeypatch.setattr(T, "DEVICE_DATA_BYTES", 0 if stream else 1 << 30)
        jnet.utils.set_random_seed(3)
        model = jnet.Sequential([jnet.Input((4,)), layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        seen = []
        cb = jnet.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
        history = model.fit(x, y, batch_size=8, shuffle=False, verbose=0, callbacks=[cb], **kw)
        return model.get_weights(), len(history.history["loss"]), seen

    whole, _, _ = train(False, epochs=1)
    for stream in (False, True):
        w, epochs, seen = train(stream, epochs=2, steps_per_epoch=2)
        assert epochs == 2 and seen == [0, 1, 0, 1]
        for a, b in zip(w, whole):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        with pytest.warns(UserWarning, match="Your input ran out of data"):  # epoch 2 ran short, as Keras
            _, epochs, seen = train(stream, epochs=2, steps_per_epoch=3)
        assert epochs == 2 and seen == [0, 1, 2, 0]
