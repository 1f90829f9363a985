"""`linear_recurrence` (the built-in cells' hand-written backward pass) against autodiff of the
plain scan over the cell's step: outputs, final states and every gradient, with masks, reversed
time, zero outputs at masked steps, initial states and mixed precision."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnet import layers
from jnet.layers import recurrent

B, T, D, U = 3, 6, 4, 5
RNG = np.random.RandomState(0)
X = jnp.asarray(RNG.randn(B, T, D).astype(np.float32))
# Right padding (3 and 6 valid steps) and one sample with a hole in the middle.
MASK = jnp.asarray(np.array([[1, 1, 1, 0, 0, 0], [1] * 6, [1, 0, 1, 1, 0, 1]], bool))
# Every sample padded at both ends: the loops skip steps 0 and 4-5 for the whole batch.
PADDED = jnp.asarray(np.array([[0, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 1, 0, 1, 0, 0]], bool))
MASKS = {"nomask": None, "mask": MASK, "padded": PADDED, "empty": jnp.zeros((B, T), bool)}
H0 = [jnp.asarray(RNG.randn(B, U).astype(np.float32)) for _ in range(2)]

CASES = [
    ("SimpleRNN", {}),
    ("LSTM", {}),
    ("LSTM", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("GRU", {}),
    ("GRU", {"use_bias": False}),
    ("LSTM", {"go_backwards": True, "return_sequences": True}),
    ("GRU", {"go_backwards": True, "zero_output_for_mask": True}),
    ("SimpleRNN", {"return_sequences": True, "zero_output_for_mask": True}),
    ("LSTM", {"return_state": True}),
    ("GRU", {"return_state": True, "return_sequences": True}),
]


def run_both(layer, fn):
    """`fn()` with the hand-written loop, then with autodiff of the plain scan."""
    out = fn()
    old = recurrent.FUSED_LOOP
    recurrent.FUSED_LOOP = False
    try:
        ref = fn()
    finally:
        recurrent.FUSED_LOOP = old
    return out, ref


def loss_and_grads(layer, variables, mask, initial_state):
    weights = jnp.asarray(
        np.random.RandomState(3).randn(
            *jax.eval_shape(lambda: jax.tree_util.tree_leaves(layer.apply(variables, X, mask=mask))[0]).shape
        ),
        jnp.float32,
    )

    def loss(params, x, h0):
        out, _ = layer.apply({"params": params, "state": {}}, x, mask=mask, initial_state=h0)
        leaves = jax.tree_util.tree_leaves(out)
        # Every output (sequence/last output and the returned states) feeds the loss.
        return jnp.sum(leaves[0] * weights) + sum(jnp.sum(jnp.sin(leaf)) for leaf in leaves[1:])

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(variables["params"], X, initial_state)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}{kw}" for n, kw in CASES])
@pytest.mark.parametrize("masked", list(MASKS))
def test_matches_autodiff_of_the_scan(name, kw, masked):
    layer = getattr(layers, name)(U, **kw)
    variables = layer.init(jax.random.key(1), jax.ShapeDtypeStruct(X.shape, X.dtype))
    n_states = 2 if name == "LSTM" else 1
    h0 = H0[:n_states]
    mask = MASKS[masked]
    (val, grads), (ref_val, ref_grads) = run_both(layer, lambda: loss_and_grads(layer, variables, mask, h0))
    np.testing.assert_allclose(val, ref_val, rtol=1e-5, atol=1e-5)
    for got, want in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(ref_grads)):
        if masked in ("nomask", "mask"):  # padded / empty masks can zero some gradients
            assert bool(jnp.any(want != 0)), "the reference gradient should not vanish"
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_built_in_cells_take_the_hand_written_loop():
    for layer in (layers.LSTM(U), layers.GRU(U), layers.SimpleRNN(U)):
        variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(X.shape, X.dtype))
        jaxpr = str(jax.make_jaxpr(lambda p: layer.apply({"params": p, "state": {}}, X)[0])(variables["params"]))
        assert "custom_vjp_call" in jaxpr, layer


def test_recurrent_dropout_falls_back_and_still_trains():
    layer = layers.LSTM(U, recurrent_dropout=0.5)
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(X.shape, X.dtype))
    assert layer.cell.fused(variables["params"]) is not None  # the cell has a fused form ...

    def loss(params):
        out, _ = layer.apply({"params": params, "state": {}}, X, training=True, rng=jax.random.key(2))
        return jnp.sum(out**2)

    jaxpr = str(jax.make_jaxpr(loss)(variables["params"]))
    assert "custom_vjp_call" not in jaxpr  # ... but recurrent dropout takes the plain scan
    grads = jax.grad(loss)(variables["params"])
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))


def test_gru_reset_before_has_no_fused_form():
    layer = layers.GRU(U, reset_after=False)
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(X.shape, X.dtype))
    assert layer.cell.fused(variables["params"]) is None


def test_bfloat16_compute_matches_the_scan():
    layer = layers.LSTM(U, dtype="mixed_bfloat16", return_sequences=True)
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(X.shape, X.dtype))
    (val, grads), (ref_val, ref_grads) = run_both(layer, lambda: loss_and_grads(layer, variables, MASK, None))
    assert all(g.dtype == jnp.float32 for g in jax.tree_util.tree_leaves(grads[0]))
    np.testing.assert_allclose(val, ref_val, rtol=2e-2, atol=2e-2)
    for got, want in zip(jax.tree_util.tree_leaves(grads[0]), jax.tree_util.tree_leaves(ref_grads[0])):
        np.testing.assert_allclose(got, want, rtol=5e-2, atol=5e-2)


def test_all_padding_steps_are_skipped_not_run():
    """With the batch padded at both ends the loop runs only the steps some sample uses: a cell
    that counts its calls (through a host callback) sees 3 steps of 6 forward."""
    calls = []
    layer = layers.SimpleRNN(U)
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct(X.shape, X.dtype))
    cell = layer.cell
    fn, additive, bias = cell.fused(variables["params"])

    def counting(z, states):
        jax.debug.callback(lambda: calls.append(1))
        return fn(z, states)

    from jnet.layers.recurrence import linear_recurrence

    xp = jnp.swapaxes(cell.project(variables["params"], X), 0, 1)
    tmask = jnp.swapaxes(PADDED, 0, 1)[:, :, None]
    hs, final = jax.jit(
        lambda xp: linear_recurrence(
            counting, additive, 1, xp, variables["params"]["recurrent_kernel"], None, [jnp.zeros((B, U))], tmask
        )
    )(xp)
    jax.block_until_ready(hs)
    assert len(calls) == 3
    np.testing.assert_array_equal(hs[0], 0.0)  # before the first used step: the initial state
    np.testing.assert_array_equal(hs[5], final[0])  # after the last: the final state
