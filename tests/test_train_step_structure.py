"""The compiled training step's structure: what keeps a convolutional model's step as fast as a
hand-written `jax.jit` of `value_and_grad` + the optimizer update.

XLA:CPU runs convolutions inside a `while` loop (or a `conditional`) several times slower than
in a loop-free program, so `train_on_batch` runs the loop-free single step, and the guarded step's
`lax.cond` (exact stops at a non-finite loss) holds only the cheap update, never the
convolutions of the forward or backward pass.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest

import jnet
from jnet import layers


def _conv_bn_model():
    model = jnet.Sequential(
        [
            jnet.Input((6, 6, 2)),
            layers.Conv2D(3, 3, padding="same"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Conv2D(3, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.GlobalAveragePooling2D(),
            layers.Dense(3),
        ]
    )
    model.compile(
        optimizer=jnet.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def _data(n=4):
    rs = np.random.RandomState(0)
    return rs.rand(n, 6, 6, 2).astype("float32"), (np.arange(n) % 3).astype("int32")


def test_train_on_batch_runs_the_loop_free_step():
    """`train_on_batch` compiles the single step only, never the chunked `while` loop."""
    model = _conv_bn_model()
    x, y = _data()
    first = model.train_on_batch(x, y, return_dict=True)["loss"]
    second = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert np.isfinite(first) and second != first
    fns = model._trainer.fns(4)
    assert fns.train._cache_size() == 0
    assert fns.train_one._cache_size() == 1


def test_train_on_batch_skips_a_non_finite_step():
    """The loop-free step keeps the exact-stop guard: a NaN loss changes no weight."""
    model = _conv_bn_model()
    x, y = _data()
    model.train_on_batch(x, y)
    before = [np.array(w) for w in model.get_weights()]
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    loss = model.train_on_batch(bad, y, return_dict=True)["loss"]
    assert not np.isfinite(loss)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def _computations(hlo: str) -> dict:
    comps = {}
    for block in re.split(r"\n(?=\S)", hlo):
        m = re.match(r"(?:ENTRY )?(%[\w.\-]+)", block)
        if m:
            comps[m.group(1)] = block
    return comps


def _called(text: str) -> set:
    names = set(re.findall(r"(?:calls|to_apply|body|condition)=(%[\w.\-]+)", text))
    for group in re.findall(r"(?:branch_computations|calls)=\{([^}]*)\}", text):
        names |= {n.strip() for n in group.split(",")}
    return names


def _reachable(comps, roots) -> set:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in comps:
            continue
        seen.add(name)
        todo += _called(comps[name])
    return seen


def test_guarded_step_has_no_convolution_under_control_flow():
    """In the optimized HLO of the loop-free train step no convolution sits inside a `while`
    body or a `conditional` branch (the guard's `cond` holds the optimizer update only)."""
    if jax.default_backend() != "cpu":
        pytest.skip("the structure matters for XLA:CPU")
    model = _conv_bn_model()
    x, y = _data()
    model.train_on_batch(x, y)
    trainer = model._trainer
    fns = trainer.fns(4)
    source = model._source(model._arrays(model._host_inputs(x), y, None, None, "train_on_batch", False), 4, 1)
    hlo = fns.train_one.lower(trainer.ts, source.arrays, source.index(), source.n, 0).compile().as_text()
    comps = _computations(hlo)
    assert sum(c.count(" convolution(") for c in comps.values()) == 5  # 2 forward, 3 backward (no input gradient)
    controlled = set()
    for text in comps.values():
        for line in re.findall(r"= .*\b(?:conditional|while)\(.*", text):
            controlled |= _called(line)
    assert any("conditional(" in c for c in comps.values())  # the exact-stop guard is there
    inside = _reachable(comps, controlled)
    assert not [name for name in inside if " convolution(" in comps[name]]


def test_streamed_convolution_steps_run_loop_free():
    """Data streamed from a generator takes the same loop-free decision as arrays on the
    device: `fit` and `evaluate` never compile the chunked loops of a convolutional step, and
    train as the device-resident, unshuffled arrays do."""
    if jax.default_backend() != "cpu":
        pytest.skip("the choice is made on CPU only")
    x, y = _data(12)

    def batches():
        for i in range(0, 12, 4):
            yield x[i : i + 4], y[i : i + 4]

    jnet.utils.set_random_seed(1)
    streamed = _conv_bn_model()
    history = streamed.fit(batches(), epochs=1, verbose=0)
    streamed.evaluate(batches(), verbose=0)
    trainer = streamed._trainer
    assert trainer.train_sizer.single and trainer.eval_sizer.single
    fns = trainer.fns(4)
    assert fns.train._cache_size() == 0 and fns.eval._cache_size() == 0
    assert fns.train_one._cache_size() == 1 and fns.eval_one._cache_size() == 1

    jnet.utils.set_random_seed(1)
    device = _conv_bn_model()
    expected = device.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-5)
    for a, b in zip(streamed.get_weights(), device.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
