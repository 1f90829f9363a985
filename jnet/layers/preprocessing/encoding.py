"""Categorical encodings of integer features: CategoryEncoding (one-hot / multi-hot / counts),
Hashing (into a fixed number of bins), IntegerLookup (a learned vocabulary of integers). All
run inside the compiled step; IntegerLookup's vocabulary is fixed when the step is traced."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.preprocessing._common import (
    NumericLayer,
    SparseOutput,
    check_output_mode,
    encode_categorical,
    encoded_shape,
    refuse_sparse,
)
from jnet.layers.preprocessing._lookup import IndexLookup, string_hash

__all__ = ["CategoryEncoding", "Hashing", "HashedCrossing", "IntegerLookup"]


def _check_integers(layer, spec, what="integer"):
    dtype = np.dtype(spec.dtype)
    if dtype.kind not in "iub":
        raise ValueError(f"{layer._label}: expects {what} inputs, got dtype {dtype}")


class CategoryEncoding(SparseOutput, NumericLayer):
    """Encodes integer ids in `[0, num_tokens)` as one-hot, multi-hot or count vectors.

    Args:
        num_tokens: the number of ids (the output's last axis).
        output_mode: `"multi_hot"` (default: which ids occur in each sample), `"one_hot"` (a
            vector per id; a trailing axis of size 1 is replaced) or `"count"` (how often).
        sparse: return a `jax.experimental.sparse.BCOO` (as Keras on JAX), equal to the dense
            output once densified. In a graph model the layer's node computes the dense
            encoding (see `SparseOutput`), so the next layer gets Keras's values.

    Call arguments:
        inputs: integer ids, `(batch,)` or `(batch, n)`.
        count_weights: optional weights of the same shape, summed instead of counting 1
            (`output_mode="count"` only).

    Ids outside `[0, num_tokens)` encode as zeros: XLA cannot raise inside a compiled step
    (Keras raises on TensorFlow only).
    """

    num_tokens: Any = None
    output_mode: str = "multi_hot"
    sparse: bool = False

    def check_config(self):
        check_output_mode(self, ("one_hot", "multi_hot", "count"))
        if (
            self.num_tokens is None
            or isinstance(self.num_tokens, bool)
            or not isinstance(self.num_tokens, int)
            or self.num_tokens < 1
        ):
            raise ValueError(f"{self._label}: num_tokens must be a positive int, got {self.num_tokens!r}")

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"{self._label}: count_weights needs output_mode='count', got {self.output_mode!r}")
        ids = inputs.astype(jnp.int32)
        dtype = self.compute_dtype
        if count_weights is not None:
            count_weights = jnp.asarray(count_weights).astype(dtype)
        return encode_categorical(ids, self.output_mode, self.num_tokens, dtype, count_weights, sparse=self._sparse_now)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)


def _fmix32(h):
    """MurmurHash3's 32-bit finalizer: every input bit affects every output bit."""
    h = h ^ (h >> 16)
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


class Hashing(SparseOutput, NumericLayer):
    """Hashes integer (or, eagerly, string) features into `num_bins` bins.

    jnet's hash differs from Keras's (TensorFlow's FarmHash64 of the value's decimal string,
    which needs 64-bit integers and TensorFlow): integers are mixed with MurmurHash3's 32-bit
    finalizer, strings first take the CRC-32 of their UTF-8 bytes; with `salt` the salt is
    xor-ed in before each of two mixing rounds. Bins are stable across runs and machines, and
    spread uniformly, but are not Keras's bin numbers.

    Args:
        num_bins: the number of bins, including the mask bin when `mask_value` is set.
        mask_value: a value that always goes to bin 0 (other values to bins 1 ... num_bins-1).
        salt: an int or a pair of ints changing the hash.
        output_mode: `"int"` (default), `"one_hot"`, `"multi_hot"` or `"count"`.
        sparse: return a `jax.experimental.sparse.BCOO` (not with `"int"`); in a graph model
            the node computes the dense encoding (see `SparseOutput`).

    Strings cannot enter a compiled step: string inputs are hashed on the host, eagerly
    (`layer(np.array(["a", "b"]))`).
    """

    num_bins: Any = None
    mask_value: Any = None
    salt: Any = None
    output_mode: str = "int"
    sparse: bool = False

    def check_config(self):
        check_output_mode(self)
        if (
            self.num_bins is None
            or isinstance(self.num_bins, bool)
            or not isinstance(self.num_bins, int)
            or self.num_bins < 1
            or (self.mask_value is not None and self.num_bins < 2)
        ):
            raise ValueError(
                f"{self._label}: num_bins must be a positive int (at least 2 with mask_value), got {self.num_bins!r}"
            )
        if self.salt is not None:
            salt = (
                [self.salt, self.salt] if isinstance(self.salt, int) and not isinstance(self.salt, bool) else self.salt
            )
            if not (isinstance(salt, (list, tuple)) and len(salt) == 2 and all(isinstance(s, int) for s in salt)):
                raise ValueError(f"{self._label}: salt must be an int or a pair of ints, got {self.salt!r}")
            self.salt = list(salt)
        self.check_sparse_config()

    def _salts(self):
        s = self.salt or [0, 0]
        return np.uint32(s[0] & 0xFFFFFFFF), np.uint32(s[1] & 0xFFFFFFFF)

    _string_inputs = True  # on a string model input it runs on the host (jnet.layers.preprocessing.host)

    def __call__(self, *args, **kwargs):
        if args and _is_string_array(args[0]):
            return self._call_strings(np.asarray(args[0]))
        return super().__call__(*args, **kwargs)

    def _bins(self, h):
        s0, s1 = self._salts()
        h = _fmix32(_fmix32(h ^ s0) ^ s1)
        if self.mask_value is None:
            return (h % np.uint32(self.num_bins)).astype(np.int32)
        return (h % np.uint32(self.num_bins - 1)).astype(np.int32) + 1

    def _call_strings(self, x):
        with np.errstate(over="ignore"):
            bins = self._bins(string_hash(x))
        if self.mask_value is not None:
            bins = np.where(x == str(self.mask_value), 0, bins)
        return encode_categorical(
            jnp.asarray(bins), self.output_mode, self.num_bins, self._out_dtype(), sparse=self._sparse_now
        )

    def _out_dtype(self):
        return jnp.int32 if self.output_mode == "int" else self.compute_dtype

    def check_inputs(self, spec, *rest):
        _check_integers(self, spec, "integer or string")

    def call(self, inputs):
        _check_integers(self, inputs, "integer or string")
        x = inputs.astype(jnp.int32)
        bins = self._bins(jax.lax.bitcast_convert_type(x, jnp.uint32))
        if self.mask_value is not None:
            bins = jnp.where(x == self.mask_value, 0, bins)
        return encode_categorical(bins, self.output_mode, self.num_bins, self._out_dtype(), sparse=self._sparse_now)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_bins)


class HashedCrossing(NumericLayer):
    """Crosses categorical features: each tuple of values (one per input, at the same
    position) is hashed into one of `num_bins` bins.

    jnet's hash differs from Keras's (TensorFlow's FarmHash-based `cross_hashed`): each
    feature is hashed as in `Hashing` (MurmurHash3's finalizer; strings CRC-32 first) and the
    hashes are chained with a multiply-xor-mix step, so the crossing is order-sensitive.

    Args:
        num_bins: the number of bins.
        output_mode: `"int"` (default) or `"one_hot"`.
        sparse: must be False (Keras allows True only on the TensorFlow backend).

    Call arguments:
        inputs: a tuple or list of at least two arrays of one shape, integers (in a compiled
            step or eagerly) or strings (eagerly, hashed on the host).

    Example:
    ```python
    cross = jnet.layers.HashedCrossing(num_bins=16)
    cross((np.array([1, 2, 1]), np.array([7, 7, 8])))   # three bins in [0, 16)
    ```
    """

    num_bins: Any = None
    output_mode: str = "int"
    sparse: bool = False

    def check_config(self):
        check_output_mode(self, ("int", "one_hot"))
        if (
            self.num_bins is None
            or isinstance(self.num_bins, bool)
            or not isinstance(self.num_bins, int)
            or self.num_bins < 1
        ):
            raise ValueError(f"{self._label}: num_bins must be a positive int, got {self.num_bins!r}")
        refuse_sparse(self)

    def _check_parts(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"{self._label}: expects a tuple of at least two inputs, got {type(inputs).__name__}")
        shapes = {tuple(np.shape(x)) for x in inputs}
        if len(shapes) > 1:
            raise ValueError(f"{self._label}: all inputs must have one shape, got {sorted(shapes)}")

    def __call__(self, inputs, *args, **kwargs):
        self._check_parts(inputs)
        if any(_is_string_array(x) or (isinstance(x, np.ndarray) and x.dtype.kind in "USO") for x in inputs):
            parts = [
                string_hash(np.asarray(x).astype(str))
                if np.asarray(x).dtype.kind in "USO"
                else np.asarray(x).astype(np.int64).astype(np.uint32)
                for x in inputs
            ]
            with np.errstate(over="ignore"):
                bins = self._cross(parts)
            return encode_categorical(jnp.asarray(bins), self.output_mode, self.num_bins, self._out_dtype())
        return super().__call__(tuple(inputs), *args, **kwargs)

    def check_inputs(self, spec, *rest):
        for s in jax.tree_util.tree_leaves(spec):
            _check_integers(self, s, "integer or string")

    def _cross(self, parts):
        h = _fmix32(parts[0])
        for p in parts[1:]:
            h = _fmix32(h * np.uint32(0x9E3779B1) ^ _fmix32(p))
        return (h % np.uint32(self.num_bins)).astype(np.int32)

    def _out_dtype(self):
        return jnp.int32 if self.output_mode == "int" else self.compute_dtype

    def call(self, inputs):
        parts = []
        for x in inputs:
            _check_integers(self, x, "integer or string")
            parts.append(jax.lax.bitcast_convert_type(x.astype(jnp.int32), jnp.uint32))
        return encode_categorical(self._cross(parts), self.output_mode, self.num_bins, self._out_dtype())


def _is_string_array(x) -> bool:
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO"
    return isinstance(x, (list, tuple)) and bool(x) and (isinstance(x[0], str) or _is_string_array(x[0]))


class IntegerLookup(IndexLookup):
    """Maps integer features to contiguous indices through a vocabulary (or back, with
    `invert=True`), optionally encoded as one-hot / multi-hot / count / TF-IDF vectors.

    Args:
        max_tokens: the most indices in all (special tokens included); `None`: no limit.
        num_oov_indices: slots for out-of-vocabulary values (several: by `value % n`, as in
            Keras); 0 makes an unknown value an error (eagerly; -1 inside a compiled step).
        mask_token: a value meaning "masked": index 0 in `int` mode, dropped otherwise.
        oov_token: what `invert=True` returns for unknown indices (default -1).
        vocabulary: a list of ints or a file with one per line; or learn it with `adapt`.
        vocabulary_dtype: kept for Keras compatibility; jnet computes in int32.
        idf_weights: the IDF weight of each vocabulary term, for `output_mode="tf_idf"`.
        invert: map indices back to values.
        output_mode: `"int"`, `"one_hot"`, `"multi_hot"`, `"count"` or `"tf_idf"`.
        sparse: must be False (Keras allows True only on the TensorFlow backend).
        pad_to_max_tokens: encoded outputs get `max_tokens` columns whatever the vocabulary.

    The vocabulary (and IDF weights) live in the config, so they are saved with the model.

    Example:
    ```python
    lookup = jnet.layers.IntegerLookup()
    lookup.adapt(np.array([12, 36, 1138, 42, 42]))
    lookup(np.array([42, 1138, 7]))       # [1, 3, 0]... (42 is most frequent)
    ```
    """

    max_tokens: Any = None
    num_oov_indices: int = 1
    mask_token: Any = None
    oov_token: Any = -1
    vocabulary: Any = None
    vocabulary_dtype: str = "int64"
    idf_weights: Any = None
    invert: bool = False
    output_mode: str = "int"
    sparse: bool = False
    pad_to_max_tokens: bool = False

    def check_config(self):
        if self.mask_token is not None and not isinstance(self.mask_token, int):
            raise ValueError(f"{self._label}: mask_token must be an int or None, got {self.mask_token!r}")
        if not isinstance(self.oov_token, int):
            raise ValueError(f"{self._label}: oov_token must be an int, got {self.oov_token!r}")
        self._check_lookup_config()

    def _as_tokens(self, values) -> list:
        arr = np.asarray(values)
        if arr.dtype.kind in "US":  # read from a vocabulary file
            try:
                arr = np.asarray([int(v) for v in arr.reshape(-1)], np.int64)
            except ValueError:
                raise ValueError(f"{self._label}: vocabulary must be integers, got {arr[:5].tolist()}") from None
        if arr.dtype.kind not in "iub" and arr.size:
            if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise ValueError(f"{self._label}: vocabulary must be integers, got dtype {arr.dtype}")
        return [int(v) for v in arr.reshape(-1)]

    def _adapt_array(self, batch):
        if batch.dtype.kind not in "iub":
            raise ValueError(f"{self._label}.adapt: expects integer data, got dtype {batch.dtype}")
        return batch

    def __call__(self, *args, **kwargs):
        if args and _is_string_array(args[0]):
            raise ValueError(f"{self._label}: expects integer inputs, got strings (use StringLookup)")
        return super().__call__(*args, **kwargs)

    def check_inputs(self, spec, *rest):
        _check_integers(self, spec)

    def call(self, inputs):
        _check_integers(self, inputs)
        self._need_vocabulary()
        x = inputs.astype(jnp.int32)
        if self.invert:
            table = jnp.asarray(np.asarray(self.get_vocabulary(), np.int64).astype(np.int32))
            if self.mask_token is not None:
                table = table.at[0].set(self.mask_token)
            inside = (x >= 0) & (x < table.shape[0])
            return jnp.where(inside, table[jnp.clip(x, 0, table.shape[0] - 1)], self.oov_token)
        keys = np.asarray(self._vocab, np.int64).astype(np.int32)
        ids = self._indices(x, jnp, keys, lambda v: jnp.mod(v, self.num_oov_indices))
        return self._encode(ids)
