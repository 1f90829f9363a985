"""The vocabulary machinery shared by IntegerLookup and StringLookup (Keras's IndexLookup):
special tokens, `adapt` by frequency, `set_vocabulary` / `get_vocabulary`, TF-IDF weights, and
the token -> index mapping written once for numpy (strings, on the host) and jax.numpy
(integers, inside the compiled step).

Index layout, as in Keras: `[mask]` (only with a `mask_token` and `output_mode="int"`), then
`num_oov_indices` out-of-vocabulary slots, then the vocabulary, most frequent first.
"""

from __future__ import annotations

import collections
import os
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import Layer
from jnet.layers.preprocessing._common import adapt_batches, check_output_mode, encode_categorical, refuse_sparse

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def string_hash(tokens: np.ndarray) -> np.ndarray:
    """A stable 32-bit hash of each string (CRC-32 of its UTF-8 bytes), as uint32. jnet uses it
    where Keras uses TensorFlow's FarmHash64, so hashed bins differ from Keras's."""
    uniq, inverse = np.unique(tokens.reshape(-1), return_inverse=True)
    hashes = np.fromiter((zlib.crc32(str(t).encode("utf-8")) for t in uniq), np.uint32, len(uniq))
    return hashes[inverse].reshape(tokens.shape)


class IndexLookup(Layer):
    """Common base of the lookup layers (not exported): subclasses declare the config fields
    (`max_tokens`, `num_oov_indices`, `mask_token`, `oov_token`, `vocabulary`, `idf_weights`,
    `invert`, `output_mode`, `sparse`, `pad_to_max_tokens`) and the token type."""

    _token_name = "token"

    # ------------------------------------------------------------------ configuration

    def _check_lookup_config(self):
        check_output_mode(self, _MODES)
        refuse_sparse(self)
        if self.max_tokens is not None and (not isinstance(self.max_tokens, int) or self.max_tokens <= 1):
            raise ValueError(f"{self._label}: max_tokens must be None or an int > 1, got {self.max_tokens!r}")
        if not isinstance(self.num_oov_indices, int) or self.num_oov_indices < 0:
            raise ValueError(f"{self._label}: num_oov_indices must be an int >= 0, got {self.num_oov_indices!r}")
        if self.invert and self.output_mode != "int":
            raise ValueError(f"{self._label}: invert=True needs output_mode='int', got {self.output_mode!r}")
        if self.pad_to_max_tokens and self.max_tokens is None:
            raise ValueError(f"{self._label}: pad_to_max_tokens=True needs max_tokens")
        self.__dict__["_vocab"] = []
        self.__dict__["_idf"] = None
        if self.vocabulary is not None:
            vocabulary, self.vocabulary = self.vocabulary, None
            self.set_vocabulary(vocabulary, self.idf_weights)
        elif self.idf_weights is not None:
            raise ValueError(f"{self._label}: idf_weights needs a vocabulary")

    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def _as_tokens(self, values) -> list:
        """Tokens as plain Python values (ints or strs), so the config stays JSON."""
        raise TypeError(f"{self._label}: no token type")

    def vocabulary_size(self) -> int:
        """The number of indices: special tokens plus the vocabulary (0 before any vocabulary)."""
        return self._token_start() + len(self._vocab) if self._vocab else 0

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The vocabulary in index order; with `include_special_tokens`, a token's position is
        its index (mask and OOV slots included)."""
        if not include_special_tokens:
            return list(self._vocab)
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        return special + list(self._vocab) if self._vocab else []

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary (a list, an array, or a text file with one token per line)
        and, for `output_mode="tf_idf"`, its IDF weights (one per vocabulary term)."""
        if isinstance(vocabulary, (str, os.PathLike)):
            path = os.fspath(vocabulary)
            if not os.path.exists(path):
                raise ValueError(f"{self._label}: vocabulary file {path!r} does not exist")
            with open(path, encoding=getattr(self, "encoding", "utf-8")) as f:
                vocabulary = [line.rstrip("\n").rstrip("\r") for line in f]
            vocabulary = [t for t in vocabulary if t != ""] if vocabulary and vocabulary[-1] == "" else vocabulary
        tokens = self._as_tokens(vocabulary)
        if not tokens:
            raise ValueError(f"{self._label}: vocabulary is empty")
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        if special and tokens[: len(special)] == special:
            tokens = tokens[len(special) :]
        repeated = sorted({t for t, n in collections.Counter(tokens).items() if n > 1}, key=str)
        if repeated:
            raise ValueError(f"{self._label}: vocabulary has repeated terms {repeated[:10]}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                f"{self._label}: vocabulary holds the mask token {self.mask_token!r}; leave it out "
                f"or put the special tokens first, in this order: {special}"
            )
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(
                f"{self._label}: vocabulary holds the OOV token {self.oov_token!r}; leave it out "
                f"or put the special tokens first, in this order: {special}"
            )
        if self.max_tokens is not None and self._token_start() + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{self._label}: a vocabulary of {self._token_start() + len(tokens)} indices is more "
                f"than max_tokens={self.max_tokens}"
            )
        idf = None
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{self._label}: output_mode='tf_idf' with a vocabulary needs idf_weights")
            idf = np.asarray(idf_weights, np.float64).reshape(-1)
            if len(idf) == len(tokens) + len(special) and len(idf) != len(tokens):
                idf = idf[len(special) :]
            if len(idf) != len(tokens):
                raise ValueError(
                    f"{self._label}: idf_weights has {len(idf)} entries for {len(tokens)} vocabulary terms"
                )
        self.__dict__["_vocab"] = tokens
        self.__dict__["_idf"] = idf
        # The learned vocabulary lives in the config, so a saved model carries it.
        self.vocabulary = list(tokens)
        self.idf_weights = None if idf is None else idf.tolist()

    def adapt(self, data, steps=None):
        """Learn the vocabulary from `data` (an array or an iterable of batches): tokens by
        descending frequency (ties: the larger token first, as Keras orders them), at most
        `max_tokens` indices in all; with `tf_idf`, the IDF weights too."""
        counts = collections.Counter()
        doc_counts = collections.Counter()
        num_docs = 0
        for batch in adapt_batches(self, data, steps, numeric=False):
            batch = self._adapt_array(batch)
            if batch.ndim == 0:
                batch = batch[None]
            if batch.ndim == 1:
                batch = batch[None]  # one document (Keras's rule)
            uniq, inverse, n = np.unique(batch.reshape(-1), return_inverse=True, return_counts=True)
            counts.update(dict(zip(self._as_tokens(uniq), n.tolist())))
            if self.output_mode == "tf_idf":
                rows = np.repeat(np.arange(batch.shape[0]), int(np.prod(batch.shape[1:])))
                pairs = np.unique(rows * len(uniq) + inverse.reshape(-1))
                per_doc = np.bincount(pairs % len(uniq), minlength=len(uniq))
                doc_counts.update(dict(zip(self._as_tokens(uniq), per_doc.tolist())))
                num_docs += batch.shape[0]
        self._set_from_counts(counts, doc_counts, num_docs)

    def _set_from_counts(self, counts, doc_counts, num_docs):
        """The vocabulary (and IDF weights) from token counts, as `adapt` learns it."""
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[: max(self.max_tokens - self._token_start(), 0)]
        tokens = [t for t, _ in ranked]
        idf = None
        if self.output_mode == "tf_idf":
            idf = np.log(1.0 + num_docs / (1.0 + np.asarray([doc_counts[t] for t in tokens], np.float64)))
        if not tokens:
            raise ValueError(f"{self._label}.adapt: data holds no token besides the mask and OOV tokens")
        self.__dict__["_vocab"] = []
        self.vocabulary = self.idf_weights = None
        self.set_vocabulary(tokens, idf)

    def _adapt_array(self, batch):
        return batch

    # ------------------------------------------------------------------ lookups

    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def _need_vocabulary(self):
        if not self._vocab:
            raise ValueError(f"{self._label}: no vocabulary yet: pass vocabulary= or call adapt() first")

    def _indices(self, x, xp, keys, hash_fn):
        """Token -> index for the array `x` with numpy or jax.numpy (`xp`). `keys` are the
        vocabulary tokens as an array; `hash_fn(x)` gives a non-negative int per token for
        spreading OOV tokens over several OOV slots."""
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        position_index = (order + self._token_start()).astype(np.int32)
        pos = xp.clip(xp.searchsorted(xp.asarray(sorted_keys), x), 0, len(sorted_keys) - 1)
        found = xp.asarray(sorted_keys)[pos] == x
        if self.num_oov_indices == 0:
            default = xp.full(x.shape, -1, dtype=np.int32)
        elif self.num_oov_indices == 1:
            default = xp.full(x.shape, self._oov_start(), dtype=np.int32)
        else:
            default = (hash_fn(x) % self.num_oov_indices + self._oov_start()).astype(np.int32)
        out = xp.where(found, xp.asarray(position_index)[pos], default)
        if self.mask_token is not None:
            out = xp.where(x == self.mask_token, 0 if self.output_mode == "int" else -1, out)
        if self.num_oov_indices == 0 and not isinstance(out, jax.core.Tracer):
            missing = np.asarray(out) == -1
            if self.mask_token is not None and self.output_mode != "int":
                missing &= np.asarray(x) != self.mask_token
            if missing.any():
                raise ValueError(
                    f"{self._label}: with num_oov_indices=0 every input must be in the vocabulary; "
                    f"found {np.asarray(x)[missing][:5].tolist()}"
                )
        return out.astype(np.int32)

    def _encode(self, ids):
        """Indices (a jax array) -> the layer's `output_mode`."""
        if self.output_mode == "int":
            return ids
        out = encode_categorical(
            ids, "count" if self.output_mode == "tf_idf" else self.output_mode, self._depth(), jnp.float32
        )
        if self.output_mode == "tf_idf":
            idf = np.asarray(self._idf, np.float32)
            full = np.concatenate([np.full(self._token_start(), idf.mean(), np.float32), idf])
            full = np.pad(full, (0, self._depth() - len(full)))
            out = out * jnp.reshape(jnp.asarray(full), (1,) * (out.ndim - 1) + full.shape)
        return out

    def compute_output_shape(self, input_shape):
        from jnet.layers.preprocessing._common import encoded_shape

        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        return encoded_shape(input_shape, mode, self._depth())
