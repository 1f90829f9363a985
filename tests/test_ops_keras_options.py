"""Keras options of `jnet.ops` beyond the table in test_ops.py: CTC beam search (against Keras 3
on random logits and against exhaustive enumeration), `sparse=True` results (BCOO), and
`dot_product_attention(attn_logits_soft_cap=...)` against a NumPy closed form."""

import itertools

import jax
import keras
import numpy as np
import pytest
from jax.experimental import sparse as jsparse

from jnet import ops


def _keras(fn, *args, **kwargs):
    with jax.numpy_rank_promotion("allow"):  # Keras relies on implicit rank promotion
        return fn(*args, **kwargs)


# (classes, beam_width, top_paths, mask_index): beams narrower and wider than the classes
BEAM_CASES = [(4, 1, 1, 0), (6, 3, 2, None), (3, 5, 5, 1), (7, 2, 2, 0)]


@pytest.mark.parametrize("classes, beam, top, blank", BEAM_CASES)
def test_ctc_beam_search_matches_keras_on_random_logits(classes, beam, top, blank):
    r = np.random.RandomState(classes)
    x = (2 * r.randn(4, 6, classes)).astype("float32")
    lengths = np.int32([6, 1, 3, 5])
    kwargs = {"strategy": "beam_search", "beam_width": beam, "top_paths": top, "mask_index": blank}
    # one compiled program per case: far faster than dispatching the search op by op
    got = jax.jit(lambda a, n: ops.ctc_decode(a, n, **kwargs))(x, lengths)
    want = _keras(jax.jit(lambda a, n: keras.ops.ctc_decode(a, n, **kwargs)), x, lengths)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-5)


def _collapse(path, blank):
    out = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
    return tuple(out)


def test_ctc_beam_search_is_exact_with_a_wide_beam():
    """With a beam wider than the number of prefixes nothing is pruned: the decoded sequences
    and their log-probabilities are those of summing every alignment."""
    r = np.random.RandomState(0)
    steps, classes, blank = 4, 3, 0
    logits = r.randn(1, steps, classes).astype("float32")
    probs = np.exp(logits[0]) / np.exp(logits[0]).sum(-1, keepdims=True)
    totals = {}
    for path in itertools.product(range(classes), repeat=steps):
        label = _collapse(path, blank)
        totals[label] = totals.get(label, 0.0) + np.prod([probs[t, c] for t, c in enumerate(path)])
    best = sorted(totals.items(), key=lambda kv: -kv[1])[:3]
    paths, scores = ops.ctc_decode(logits, np.int32([steps]), strategy="beam_search", beam_width=40, top_paths=3)
    for k, (label, p) in enumerate(best):
        decoded = [int(c) for c in np.asarray(paths[k, 0]) if c != -1]
        assert tuple(decoded) == label
        np.testing.assert_allclose(float(scores[0, k]), np.log(p), rtol=1e-5)


def test_ctc_beam_search_runs_under_jit():
    x = np.random.RandomState(1).randn(2, 5, 4).astype("float32")
    fn = jax.jit(lambda a, n: ops.ctc_decode(a, n, strategy="beam_search", beam_width=3, top_paths=2))
    jitted = fn(x, np.int32([5, 2]))
    eager = ops.ctc_decode(x, np.int32([5, 2]), strategy="beam_search", beam_width=3, top_paths=2)
    np.testing.assert_array_equal(jitted[0], eager[0])
    np.testing.assert_allclose(jitted[1], eager[1], rtol=1e-6)


def test_sparse_encodings_are_bcoo_with_the_dense_values():
    x = np.int32([[0, -1, 3], [1, 1, 7]])  # a negative and an out-of-range id: all-zero rows
    hot = ops.one_hot(x, 5, sparse=True)
    assert isinstance(hot, jsparse.BCOO) and hot.shape == (2, 3, 5)
    np.testing.assert_array_equal(hot.todense(), ops.one_hot(x, 5))
    np.testing.assert_array_equal(ops.one_hot(x, 5, axis=1, sparse=True).todense(), ops.one_hot(x, 5, axis=1))
    multi = ops.multi_hot(x, 5, sparse=True, dtype="int32")
    assert isinstance(multi, jsparse.BCOO) and multi.dtype == np.int32
    # the dense op's values; Keras's sparse multi_hot marks class 0 for a negative id
    np.testing.assert_array_equal(multi.todense(), [[1, 0, 0, 1, 0], [0, 1, 0, 0, 0]])
    jitted = jax.jit(lambda a: ops.multi_hot(a, 5, sparse=True))(x)
    np.testing.assert_array_equal(jitted.todense(), multi.todense())
    counts = ops.bincount(np.int32([[0, 2, 2], [1, 1, 4]]), weights=np.float32([[1, 2, 3], [4, 5, 6]]), sparse=True)
    np.testing.assert_array_equal(counts.todense(), [[1, 0, 5, 0, 0], [0, 9, 0, 0, 6]])
    with pytest.raises(ValueError, match="bincount.*weights"):
        ops.bincount(np.int32([0, 1]), weights=np.float32([1, 2, 3]), sparse=True)
    with pytest.raises(ValueError, match="one_hot.*axis"):
        ops.one_hot(x, 5, axis=3, sparse=True)


def test_sparse_on_symbolic_tensors_is_a_clear_error():
    import jnet

    inp = jnet.Input((3,), dtype="int32")
    with pytest.raises(ValueError, match="one_hot: `sparse=True` on a symbolic tensor"):
        ops.one_hot(inp, 5, sparse=True)
    with pytest.raises(ValueError, match="nn.multi_hot: `sparse=True`"):
        ops.nn.multi_hot(inp, 5, -1, None, True)  # positional too
    assert ops.one_hot(inp, 5, sparse=False).shape == (None, 3, 5)


def _attention_reference(q, k, v, cap, scale, bias=None, mask=None, causal=False):
    k = np.repeat(k, q.shape[2] // k.shape[2], axis=2)
    v = np.repeat(v, q.shape[2] // v.shape[2], axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, k).astype("float64") * scale
    if bias is not None:
        logits = logits + bias
    logits = cap * np.tanh(logits / cap)
    allowed = np.ones(logits.shape, bool)
    if mask is not None:
        allowed &= np.broadcast_to(mask, logits.shape)
    if causal:
        allowed &= np.tril(np.ones(logits.shape[2:], bool))
    logits = np.where(allowed, logits, -np.inf)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", probs, v)


def test_dot_product_attention_soft_cap():
    r = np.random.RandomState(0)
    q = (3 * r.randn(2, 3, 4, 5)).astype("float32")
    k = (3 * r.randn(2, 6, 2, 5)).astype("float32")  # grouped: 2 key heads for 4 query heads
    v = r.randn(2, 6, 2, 5).astype("float32")
    bias = r.randn(1, 4, 3, 6).astype("float32")
    mask = r.rand(2, 1, 3, 6) > 0.3
    mask[..., 0] = True
    got = ops.dot_product_attention(q, k, v, bias=bias, mask=mask, attn_logits_soft_cap=2.0)
    np.testing.assert_allclose(
        got, _attention_reference(q, k, v, 2.0, 1 / np.sqrt(5), bias, mask), rtol=1e-4, atol=1e-5
    )
    got = ops.nn.dot_product_attention(q, k, v, is_causal=True, scale=0.3, attn_logits_soft_cap=1.5)
    np.testing.assert_allclose(got, _attention_reference(q, k, v, 1.5, 0.3, causal=True), rtol=1e-4, atol=1e-5)
    # a cap far above the logits changes nothing: Keras's (uncapped) result
    far = ops.dot_product_attention(q, k, v, mask=mask, attn_logits_soft_cap=1e6)
    want = _keras(keras.ops.dot_product_attention, q, k, v, mask=mask)
    np.testing.assert_allclose(far, want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="attn_logits_soft_cap"):
        ops.dot_product_attention(q, k, v, attn_logits_soft_cap=-1.0)
    with pytest.raises(ValueError, match="attn_logits_soft_cap.*flash_attention"):
        ops.dot_product_attention(q, k, v, attn_logits_soft_cap=2.0, flash_attention=True)
