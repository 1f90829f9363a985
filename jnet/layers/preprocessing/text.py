"""String layers without TensorFlow: StringLookup and TextVectorization.

Strings cannot enter a compiled XLA step, so these layers form a *host stage*: they run on the
host with numpy and Python's C-implemented string methods (standardising a whole batch in one
pass over one joined string), and hand integer or float arrays to the compiled model. Each is
marked `_host_stage = True`; called on strings (`vectorizer(["some text"])`) it returns a jax
array. In a graph model, `jnet.Input(shape=(), dtype="string")` feeds it and the compiled part
is fed its output (see `host`). The learned vocabulary and IDF weights live in the layer's
config, so they are saved with the model.
"""

from __future__ import annotations

import collections
import gc
import itertools
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet.core.symbolic import is_symbolic
from jnet.layers.preprocessing import host as _host  # noqa: F401 - registers the string-input handler
from jnet.layers.preprocessing._common import adapt_batches, check_output_mode
from jnet.layers.preprocessing._lookup import IndexLookup, string_hash

__all__ = ["StringLookup", "TextVectorization"]

# Keras's DEFAULT_STRIP_REGEX: ASCII punctuation.
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = (None, "lower", "strip_punctuation", "lower_and_strip_punctuation")
_SPLIT = (None, "whitespace", "character")
_SEP = "\x00"  # joins a batch of texts for one-pass standardisation (never punctuation or whitespace)


def _string_array(layer, x) -> np.ndarray:
    """`x` as a numpy array of Python strings (bytes decoded), or a clear error."""
    arr = np.asarray(x, dtype=object) if not isinstance(x, np.ndarray) else x
    if arr.dtype.kind == "S" or (arr.dtype.kind == "O" and arr.size and isinstance(arr.reshape(-1)[0], bytes)):
        arr = np.vectorize(lambda b: b.decode(getattr(layer, "encoding", "utf-8")), otypes=[object])(arr)
    if arr.dtype.kind not in "UO" or (arr.dtype.kind == "O" and not all(isinstance(v, str) for v in arr.reshape(-1))):
        raise ValueError(f"{layer._label}: expects strings, got an array of dtype {arr.dtype}")
    return arr.astype(str) if arr.size else arr.astype("<U1")


def _is_text(x) -> bool:
    from jnet.layers.preprocessing.host import is_raw_strings

    return isinstance(x, str) or is_raw_strings(x)


def _inside_model(layer, inputs, args, kwargs):
    """A host-stage layer called on numbers: inside a model (symbolic graph building), it
    passes its already-processed input through; called directly on numbers, it is an error."""
    if is_symbolic(inputs):
        return super(IndexLookup, layer).__call__(inputs, *args, **kwargs)
    if isinstance(inputs, str):
        raise ValueError(f"{layer._label}: expects a batch of strings, got one string {inputs!r}")
    _string_array(layer, inputs)  # raises "expects strings"
    return layer._host_call(inputs)


class StringLookup(IndexLookup):
    """Maps strings to contiguous indices through a vocabulary (or back, with `invert=True`),
    optionally encoded as one-hot / multi-hot / count / TF-IDF vectors. Runs on the host.

    Args:
        max_tokens: the most indices in all (special tokens included); `None`: no limit.
        num_oov_indices: slots for out-of-vocabulary strings (several: by a hash of the
            string; jnet's hash, CRC-32, differs from Keras's FarmHash); 0 makes an unknown
            string an error.
        mask_token: a string meaning "masked": index 0 in `int` mode, dropped otherwise.
        oov_token: the token of the OOV slots (default `"[UNK]"`), returned by `invert=True`
            for unknown indices.
        vocabulary: a list of strings or a text file with one per line; or use `adapt`.
        idf_weights: the IDF weight of each vocabulary term, for `output_mode="tf_idf"`.
        invert: map indices back to strings.
        output_mode: `"int"`, `"one_hot"`, `"multi_hot"`, `"count"` or `"tf_idf"`.
        pad_to_max_tokens: encoded outputs get `max_tokens` columns.
        sparse: must be False (Keras allows True only on the TensorFlow backend).
        encoding: the text encoding of bytes inputs and vocabulary files.

    Example:
    ```python
    lookup = jnet.layers.StringLookup(vocabulary=["a", "b", "c"])
    lookup(np.array([["a", "c"], ["d", "b"]]))    # [[1, 3], [0, 2]]
    ```
    """

    _host_stage = True

    max_tokens: Any = None
    num_oov_indices: int = 1
    mask_token: Any = None
    oov_token: str = "[UNK]"
    vocabulary: Any = None
    idf_weights: Any = None
    invert: bool = False
    output_mode: str = "int"
    pad_to_max_tokens: bool = False
    sparse: bool = False
    encoding: str = "utf-8"

    def check_config(self):
        if self.mask_token is not None and not isinstance(self.mask_token, str):
            raise ValueError(f"{self._label}: mask_token must be a string or None, got {self.mask_token!r}")
        if not isinstance(self.oov_token, str):
            raise ValueError(f"{self._label}: oov_token must be a string, got {self.oov_token!r}")
        self._check_lookup_config()

    def _as_tokens(self, values) -> list:
        arr = _string_array(self, values)
        return [str(v) for v in arr.reshape(-1)]

    def _adapt_array(self, batch):
        return _string_array(self, batch)

    def __call__(self, inputs, *args, **kwargs):
        if self.invert and is_symbolic(inputs):
            raise ValueError(
                f"{self._label}: invert=True maps indices to strings, which cannot come out of a "
                "compiled model; call it on the output of predict instead"
            )
        if self.invert or _is_text(inputs):
            return self._host_call(inputs)
        return _inside_model(self, inputs, args, kwargs)

    def call(self, inputs):
        return inputs  # inside a compiled model: already looked up on the host (see `host`)

    def _string_output_spec(self, shape):
        """The output spec on a string input of `shape` (inside a model, see `host`)."""
        from jnet.layers.preprocessing.host import _probe_spec

        if self.output_mode == "int":
            return jax.ShapeDtypeStruct(shape, jnp.int32)
        if not self._vocab and not self.pad_to_max_tokens:
            raise ValueError(
                f"{self._label}: output_mode={self.output_mode!r} needs the vocabulary (adapt or "
                "vocabulary=) before the layer is called on a model input: its size is the output width"
            )
        return _probe_spec(self, shape)

    def _host_call(self, inputs):
        self._need_vocabulary()
        if self.invert:
            ids = np.asarray(inputs)
            if ids.dtype.kind not in "iu":
                raise ValueError(f"{self._label}: invert=True expects integer indices, got dtype {ids.dtype}")
            table = np.asarray(self.get_vocabulary(), dtype=object)
            if self.mask_token is not None:
                table[0] = self.mask_token
            inside = (ids >= 0) & (ids < len(table))
            return np.where(inside, table[np.clip(ids, 0, len(table) - 1)], self.oov_token).astype(str)
        x = _string_array(self, inputs)
        keys = np.asarray(self._vocab, dtype=str)
        ids = self._indices(x, np, keys, lambda v: string_hash(v).astype(np.int64))
        return self._encode(jnp.asarray(ids))


class TextVectorization(IndexLookup):
    """Turns raw text into token ids, multi-hot, count or TF-IDF vectors, on the host.

    Each text is standardised, split into tokens, optionally extended with n-grams, and
    looked up in a vocabulary learned with `adapt` (most frequent first) or given.

    Args:
        max_tokens: the vocabulary's size limit, special tokens included.
        standardize: `"lower_and_strip_punctuation"` (default), `"lower"`,
            `"strip_punctuation"`, `None`, or a callable on a list of strings returning one.
        split: `"whitespace"` (default), `"character"`, `None` (the whole text is one token),
            or a callable from a string to a list of tokens.
        ngrams: `None`, an int `n` (all n-grams up to `n`), or a tuple of n-gram sizes.
        output_mode: `"int"` (default), `"multi_hot"`, `"count"` or `"tf_idf"`.
        output_sequence_length: in `int` mode, pad or truncate to this many tokens
            (otherwise to the longest text of the batch).
        pad_to_max_tokens: encoded outputs get `max_tokens` columns.
        vocabulary: a list of strings or a file with one per line.
        idf_weights: with `vocabulary` and `output_mode="tf_idf"`.
        sparse, ragged: must be False (Keras allows True only on the TensorFlow backend).
        encoding: the text encoding of bytes inputs.

    In `int` mode index 0 is padding (`""`) and 1 is `"[UNK]"`, as in Keras.

    Example:
    ```python
    vectorizer = jnet.layers.TextVectorization(max_tokens=1000, output_sequence_length=8)
    vectorizer.adapt(["the cat sat", "the dog ran"])
    vectorizer(["The cat ran!"])       # [[2, 3, 5, 0, 0, 0, 0, 0]]
    ```
    """

    _host_stage = True

    max_tokens: Any = None
    standardize: Any = "lower_and_strip_punctuation"
    split: Any = "whitespace"
    ngrams: Any = None
    output_mode: str = "int"
    output_sequence_length: Any = None
    pad_to_max_tokens: bool = False
    vocabulary: Any = None
    idf_weights: Any = None
    sparse: bool = False
    ragged: bool = False
    encoding: str = "utf-8"

    # The lookup fields IndexLookup expects, fixed as Keras fixes them for this layer.
    num_oov_indices = 1
    mask_token = ""
    oov_token = "[UNK]"
    invert = False

    def check_config(self):
        check_output_mode(self, ("int", "multi_hot", "count", "tf_idf"))
        if not callable(self.standardize) and self.standardize not in _STANDARDIZE:
            raise ValueError(
                f"{self._label}: standardize must be one of {list(_STANDARDIZE)} or a callable, "
                f"got {self.standardize!r}"
            )
        if not callable(self.split) and self.split not in _SPLIT:
            raise ValueError(f"{self._label}: split must be one of {list(_SPLIT)} or a callable, got {self.split!r}")
        ngrams = self.ngrams
        if isinstance(ngrams, (list, tuple)):
            if not ngrams or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in ngrams):
                raise ValueError(
                    f"{self._label}: ngrams must be None, a positive int or a tuple of them, got {ngrams!r}"
                )
            self.ngrams = list(ngrams)
        elif ngrams is not None and (isinstance(ngrams, bool) or not isinstance(ngrams, int) or ngrams < 1):
            raise ValueError(f"{self._label}: ngrams must be None, a positive int or a tuple of them, got {ngrams!r}")
        if self.output_sequence_length is not None:
            if self.output_mode != "int":
                raise ValueError(f"{self._label}: output_sequence_length needs output_mode='int'")
            if (
                isinstance(self.output_sequence_length, bool)
                or not isinstance(self.output_sequence_length, int)
                or self.output_sequence_length < 1
            ):
                raise ValueError(
                    f"{self._label}: output_sequence_length must be a positive int, got {self.output_sequence_length!r}"
                )
        if self.ragged:
            raise ValueError(f"{self._label}: ragged=True is not supported (jnet has no ragged tensors)")
        self._check_lookup_config()

    # ------------------------------------------------------------------ text -> tokens

    def _standardized(self, texts: list) -> list:
        mode = self.standardize
        if mode is None:
            return texts
        if callable(mode):
            return [str(t) for t in mode(texts)]
        joined = _SEP.join(texts) if not any(_SEP in t for t in texts) else None
        if joined is None:  # a text holds the separator: one text at a time
            return [self._standardized([t])[0] for t in texts] if len(texts) > 1 else [self._one(texts[0])]
        return self._one(joined).split(_SEP) if texts else []

    def _one(self, text: str) -> str:
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.lower()
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        return text

    def _split(self, text: str) -> list:
        if self.split is None:
            return [text]
        if self.split == "whitespace":
            return text.split()
        if self.split == "character":
            return list(text)
        return [str(t) for t in self.split(text)]

    def _with_ngrams(self, tokens: list) -> list:
        if self.ngrams is None:
            return tokens
        widths = range(1, self.ngrams + 1) if isinstance(self.ngrams, int) else self.ngrams
        out = []
        for n in widths:
            out.extend(tokens if n == 1 else [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)])
        return out

    def _texts(self, inputs) -> list:
        if isinstance(inputs, (list, tuple)) and all(type(t) is str for t in inputs):
            return list(inputs)  # already Python strings: no numpy round trip
        arr = _string_array(self, inputs)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim == 0:
            arr = arr[None]
        if arr.ndim != 1:
            raise ValueError(
                f"{self._label}: expects a batch of texts of shape (batch,) or (batch, 1), got {arr.shape}"
            )
        return arr.tolist()

    def _token_lists(self, inputs) -> list:
        texts = self._standardized(self._texts(inputs))
        # Millions of short-lived token strings would trigger Python's cyclic GC over and over
        # (they hold no cycles): pausing it here halves the time on large batches.
        paused = gc.isenabled()
        gc.disable()
        try:
            if self.split == "whitespace" and self.ngrams is None:
                return [t.split() for t in texts]  # the common case, without per-token Python calls
            return [self._with_ngrams(self._split(t)) for t in texts]
        finally:
            if paused:
                gc.enable()

    # ------------------------------------------------------------------ adapt and call

    def _as_tokens(self, values) -> list:
        return [str(v) for v in _string_array(self, values).reshape(-1)]

    def adapt(self, data, steps=None):
        """Learn the vocabulary (and IDF weights) from texts: an array or list of strings, or an
        iterable of such batches."""
        if isinstance(data, str):
            raise ValueError(f"{self._label}.adapt: expects a batch of texts, got one string")
        if isinstance(data, (list, tuple)) and data and isinstance(data[0], str):
            data = [np.asarray(data, dtype=object)]
        counts, doc_counts, num_docs = collections.Counter(), collections.Counter(), 0
        for batch in adapt_batches(self, data, steps, numeric=False):
            rows = self._token_lists(batch)
            counts.update(itertools.chain.from_iterable(rows))  # counted in C, not per token in Python
            if self.output_mode == "tf_idf":
                doc_counts.update(itertools.chain.from_iterable(set(r) for r in rows))
                num_docs += len(rows)
        self._set_from_counts(counts, doc_counts, num_docs)

    def get_vocabulary(self, include_special_tokens=True) -> list:
        if not include_special_tokens:
            return list(self._vocab)
        special = [""] * self._oov_start() + ["[UNK]"]
        return special + list(self._vocab)

    def vocabulary_size(self) -> int:
        return self._token_start() + len(self._vocab)

    def __call__(self, inputs, *args, **kwargs):
        if _is_text(inputs):
            return self._host_call(inputs)
        return _inside_model(self, inputs, args, kwargs)

    def call(self, inputs):
        return inputs  # inside a compiled model: already vectorised on the host (see `host`)

    def _string_output_spec(self, shape):
        """The output spec on a string input of `shape` (inside a model, see `host`)."""
        if len(shape) == 2 and shape[1] not in (1, None):
            raise ValueError(f"{self._label}: expects one text per sample (shape () or (1,)), got {shape[1:]}")
        if self.output_mode == "int":
            return jax.ShapeDtypeStruct((shape[0], self.output_sequence_length), jnp.int32)
        if not self._vocab and not self.pad_to_max_tokens:
            raise ValueError(
                f"{self._label}: output_mode={self.output_mode!r} needs the vocabulary (adapt or "
                "vocabulary=) before the layer is called on a model input: its size is the output width"
            )
        return jax.ShapeDtypeStruct((shape[0], self._depth()), jnp.float32)

    def _host_call(self, inputs):
        rows = self._token_lists(inputs)
        cache = self.__dict__.get("_index_cache")
        if cache is None or cache[0] is not self._vocab:
            cache = (self._vocab, {t: i + self._token_start() for i, t in enumerate(self._vocab)})
            self.__dict__["_index_cache"] = cache
        get, oov = cache[1].get, self._oov_start()
        lengths = np.asarray([len(r) for r in rows], np.int64)
        flat = np.asarray([get(t, oov) for r in rows for t in r], np.int32)
        width = (
            self.output_sequence_length
            if self.output_mode == "int" and self.output_sequence_length
            else int(lengths.max(initial=0))
        )
        if self.output_mode != "int":
            width = max(width, 1)
        ids = np.zeros((len(rows), width), np.int32)  # 0: padding ("" in int mode)
        if self.output_mode != "int":
            ids[:] = -1  # encodes to nothing
        row_of = np.repeat(np.arange(len(rows)), lengths)
        col_of = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        keep = col_of < width
        ids[row_of[keep], col_of[keep]] = flat[keep]
        return self._encode(jnp.asarray(ids))
