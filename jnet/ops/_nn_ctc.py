"""Connectionist temporal classification ops of `keras.ops.nn`: `ctc_loss` and `ctc_decode`
(greedy and beam search)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jnet.ops._utils import tensor, to_float


def _paddings(lengths, size, dtype):
    return (jnp.arange(size)[None, :] >= tensor(lengths).astype("int32")[:, None]).astype(dtype)


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Connectionist temporal classification loss per sequence (`optax.ctc_loss`).

    Args:
        target: Int labels `(batch, max_label_length)`.
        output: Logits `(batch, max_time, num_classes)`.
        target_length: Label lengths `(batch,)`.
        output_length: Output lengths `(batch,)`.
        mask_index: The blank class.

    Returns:
        The loss, shape `(batch,)`.
    """
    target = tensor(target).astype("int32")
    output = to_float(output)
    output = output.astype(jnp.promote_types(output.dtype, "float32"))
    if output.ndim != 3 or target.ndim != 2:
        raise ValueError(
            f"ctc_loss: expected `output` of rank 3 and `target` of rank 2; received {output.shape} and {target.shape}"
        )
    return optax.ctc_loss(
        output,
        _paddings(output_length, output.shape[1], output.dtype),
        target,
        _paddings(target_length, target.shape[1], output.dtype),
        blank_id=mask_index,
    )


def ctc_decode(
    inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True, mask_index=0
):
    """Decode CTC outputs: greedily (best class per step, repeats merged, blanks dropped) or by
    prefix beam search.

    Args:
        inputs: Scores `(batch, max_time, num_classes)` (beam search takes them as logits).
        sequence_lengths: Valid lengths `(batch,)`.
        strategy: `"greedy"` or `"beam_search"`.
        beam_width: Prefixes kept per step by beam search.
        top_paths: Decoded sequences returned by beam search, best first (at most `beam_width`).
        merge_repeated: Greedy only: merge consecutive repeated labels (beam search always
            merges, as CTC defines it).
        mask_index: The blank class (`None`: the last class).

    Returns:
        `(decoded, scores)`: labels padded with -1, `(1, batch, max_time)` greedy and
        `(top_paths, batch, max_time)` beam search; greedy scores are the negative summed
        best scores `(batch, 1)`, beam-search scores the log-probabilities of the decoded
        sequences `(batch, top_paths)`.

    Raises:
        ValueError: for another strategy, or `top_paths` not in `[1, beam_width]`.

    Example:

    >>> probs = jnp.array([[[0.1, 0.6, 0.3], [0.2, 0.1, 0.7]]])  # class 0 is the blank
    >>> paths, log_probs = ctc_decode(jnp.log(probs), [2], strategy="beam_search", beam_width=4, top_paths=2)
    >>> paths[:, 0].tolist()
    [[1, 2], [2, -1]]
    >>> [round(float(p), 2) for p in jnp.exp(log_probs[0])]  # .6 * .7; .1 * .7 + .3 * .7 + .3 * .2
    [0.42, 0.34]
    """
    x = to_float(inputs)
    x = x.astype(jnp.promote_types(x.dtype, "float32"))
    if x.ndim != 3:
        raise ValueError(f"ctc_decode: `inputs` must have rank 3 (batch, time, classes); received shape {x.shape}")
    lengths = tensor(sequence_lengths).astype("int32")
    blank = x.shape[2] - 1 if mask_index is None else int(mask_index)
    if strategy == "greedy":
        return _greedy_decode(x, lengths, merge_repeated, blank)
    if strategy == "beam_search":
        if not isinstance(beam_width, int) or beam_width < 1:
            raise ValueError(f"ctc_decode: `beam_width` must be a positive int; received {beam_width!r}")
        if not isinstance(top_paths, int) or not 1 <= top_paths <= beam_width:
            raise ValueError(
                f"ctc_decode: `top_paths` must be an int in [1, beam_width={beam_width}]; received {top_paths!r}"
            )
        return _beam_search_decode(x, lengths, beam_width, top_paths, blank)
    raise ValueError(f"ctc_decode: `strategy` must be 'greedy' or 'beam_search'; received {strategy!r}")


def _greedy_decode(x, lengths, merge_repeated, blank):
    batch, steps, classes = x.shape
    best, score = jnp.argmax(x, -1), jnp.max(x, -1)
    past_end = jnp.arange(steps)[None, :] >= lengths[:, None]
    best = jnp.where(past_end, blank, best)
    score = jnp.where(past_end, 0.0, score)
    if merge_repeated:
        repeat = jnp.pad(best[:, 1:] == best[:, :-1], ((0, 0), (1, 0)))
        best = jnp.where(repeat, blank, best)
    dropped = best == blank
    # stable sort moves the kept labels to the front, in order
    order = jnp.argsort(jnp.where(dropped, steps, jnp.arange(steps)[None, :]), axis=-1)
    labels = jnp.take_along_axis(jnp.where(dropped, -1, best), order, axis=-1)
    return labels[None], -jnp.sum(score, axis=1)[:, None]


def _segment_logsumexp(values, segments, count):
    """log(sum(exp(values))) per segment id; -inf for an empty segment."""
    peak = jax.ops.segment_max(values, segments, num_segments=count)
    peak = jnp.where(jnp.isfinite(peak), peak, 0.0)
    total = jax.ops.segment_sum(jnp.exp(values - peak[segments]), segments, num_segments=count)
    return jnp.log(total) + peak


def _beam_search_decode(x, lengths, beam_width, top_paths, blank):
    """CTC prefix beam search. Each kept prefix carries two log-probabilities: of the paths
    that produce it and end in a label (`emit`) and of those ending in a blank (`rest`). A
    step extends every prefix by every class; equal prefixes are merged and the `beam_width`
    most probable kept (ties to the lexicographically smaller prefix)."""
    log_probs = jax.nn.log_softmax(x, axis=-1)
    batch, steps, classes = x.shape
    k, pad, ninf = beam_width, -1, -jnp.inf
    labels = jnp.arange(classes)

    def step(state, inputs):
        prefixes, emit, rest = state  # (k, steps), (k,), (k,)
        lp, active = inputs  # (classes,), ()
        size = jnp.sum(prefixes != pad, axis=1)  # the prefixes' lengths
        tail = jnp.where(size > 0, jnp.take_along_axis(prefixes, jnp.maximum(size - 1, 0)[:, None], 1)[:, 0], pad)
        either = jnp.logaddexp(emit, rest)
        # the prefix itself: a blank after anything, or its last label repeated after a label
        stay_rest = either + lp[blank]
        stay_emit = jnp.where(size > 0, emit + lp[jnp.maximum(tail, 0)], ninf)
        # the prefix and one more label; after the same label only through a blank
        grow_emit = jnp.where(labels[None, :] == tail[:, None], rest[:, None], either[:, None]) + lp[None, :]
        grow_emit = jnp.where(labels[None, :] == blank, ninf, grow_emit)
        grown = jnp.repeat(prefixes[:, None, :], classes, axis=1)
        grown = jnp.where(jnp.arange(steps)[None, None, :] == size[:, None, None], labels[None, :, None], grown)
        candidates = jnp.concatenate([prefixes, grown.reshape(k * classes, steps)])
        c_emit = jnp.concatenate([stay_emit, grow_emit.reshape(-1)])
        c_rest = jnp.concatenate([stay_rest, jnp.full(k * classes, ninf)])
        count = k * (classes + 1)
        unique, inverse = jnp.unique(candidates, axis=0, return_inverse=True, size=count, fill_value=pad)
        inverse = inverse.reshape(-1)
        u_emit = _segment_logsumexp(c_emit, inverse, count)
        u_rest = _segment_logsumexp(c_rest, inverse, count)
        _, best = jax.lax.top_k(jnp.logaddexp(u_emit, u_rest), k)
        new = (unique[best], u_emit[best], u_rest[best])
        return jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, state), None

    def decode(lp, length):
        start = (
            jnp.full((k, steps), pad, jnp.int32),
            jnp.full((k,), ninf, lp.dtype),
            jnp.full((k,), ninf, lp.dtype).at[0].set(0.0),
        )  # the empty prefix, probability 1
        active = (jnp.arange(steps) < length) | (jnp.arange(steps) == 0)  # the first step always counts
        (prefixes, emit, rest), _ = jax.lax.scan(step, start, (lp, active))
        scores, best = jax.lax.top_k(jnp.logaddexp(emit, rest), top_paths)
        # fewer possible sequences than top_paths: the rest are empty, with probability 0
        return jnp.where(jnp.isfinite(scores)[:, None], prefixes[best], pad), scores

    paths, scores = jax.vmap(decode)(log_probs, lengths)
    return jnp.transpose(paths, (1, 0, 2)), scores
