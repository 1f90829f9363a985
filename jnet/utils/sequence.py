"""`pad_sequences`: a list of variable-length sequences into one padded array (Keras semantics)."""

from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pads sequences to the same length, as `keras.utils.pad_sequences`.

    Sequences longer than `maxlen` are cut (from the start with `truncating="pre"`, the end with
    `"post"`); shorter ones are filled with `value` (before the data with `padding="pre"`,
    after with `"post"`). Elements may themselves be arrays: their common shape is kept.

    Args:
        sequences: list of sequences (each a list or array).
        maxlen: length of the output; `None` pads to the longest sequence.
        dtype: output dtype (`object` or a string dtype for variable-length strings).
        padding: `"pre"` or `"post"`: where the padding goes.
        truncating: `"pre"` or `"post"`: which end of a too-long sequence is removed.
        value: the padding value (a float or a string).

    Returns:
        A NumPy array of shape `(len(sequences), maxlen) + element_shape`.

    Example:
    ```python
    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2, padding="post")
    array([[2, 3],
           [4, 0]], dtype=int32)
    ```
    """
    for arg, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {arg} must be 'pre' or 'post', got {v!r}")
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"pad_sequences: sequences must be a list of sequences, got {type(sequences).__name__}")
    if maxlen is not None and (isinstance(maxlen, bool) or int(maxlen) != maxlen or maxlen < 0):
        raise ValueError(f"pad_sequences: maxlen must be a non-negative int or None, got {maxlen!r}")
    lengths, sample_shape, seen = [], (), False
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__") or isinstance(s, (str, bytes)):
            raise ValueError(f"pad_sequences: sequences must be a list of iterables; item {i} is {s!r}")
        lengths.append(len(s))
        if not seen and len(s):
            sample_shape, seen = np.asarray(s).shape[1:], True
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    maxlen = int(maxlen)
    is_str_dtype = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.bytes_)
    if isinstance(value, str) and np.dtype(dtype) != np.dtype(object) and not is_str_dtype:
        raise ValueError(
            f"pad_sequences: dtype {dtype} cannot hold the string value {value!r}; "
            "use dtype=object for variable-length strings"
        )
    out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences: sequence {i} has elements of shape {kept.shape[1:]}, "
                f"expected {sample_shape} (the shape of the first non-empty sequence's elements)"
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept) :] = kept
    return out
