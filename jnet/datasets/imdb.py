"""IMDB movie reviews (25,000 train, 25,000 test) as word-id sequences with sentiment labels."""

from __future__ import annotations

import json

import numpy as np

from jnet.datasets import word_ids as W
from jnet.datasets.keras_files import KERAS_ORIGIN, fetch, load_npz

ORIGIN = KERAS_ORIGIN + "imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_ORIGIN = KERAS_ORIGIN + "imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(
    path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2, index_from=3, **kwargs
):
    """Loads the IMDB dataset, as `keras.datasets.imdb.load_data`.

    Reviews are lists of word ids (id `i + index_from` is the `i`-th most frequent word). Reads
    `~/.keras/datasets/<path>` (Keras's cache) or downloads it through `jnet.utils.get_file`.

    Args:
        path: file name in the cache.
        num_words: keep the `num_words` most frequent ids; others become `oov_char`.
        skip_top: ids below this (the most frequent words) also become `oov_char`.
        maxlen: drop reviews with `maxlen` or more ids (after adding `start_char`).
        seed: seed of the shuffle applied to each split.
        start_char: id put at the start of every review (`None`: none).
        oov_char: id for the words cut by `num_words`/`skip_top` (`None`: drop them).
        index_from: added to every word id.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: object arrays of lists of ints, int labels (0/1).

    Raises:
        OSError: offline and not cached.
    """
    if kwargs:
        raise TypeError(f"imdb.load_data: unexpected keyword arguments {sorted(kwargs)}")
    f = load_npz(fetch("imdb", path, ORIGIN, FILE_HASH))
    rng = np.random.RandomState(seed)
    x_train, labels_train, x_test, labels_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    order = np.arange(len(x_train))
    rng.shuffle(order)
    x_train, labels_train = x_train[order], labels_train[order]
    order = np.arange(len(x_test))
    rng.shuffle(order)
    x_test, labels_test = x_test[order], labels_test[order]
    x_train = W.shift_ids(x_train, start_char, index_from)
    x_test = W.shift_ids(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = W.drop_long(maxlen, x_train, labels_train)
        x_test, labels_test = W.drop_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; increase maxlen")
    xs = W.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    n = len(x_train)
    return (_objects(xs[:n]), labels[:n]), (_objects(xs[n:]), labels[n:])


def _objects(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


def get_word_index(path="imdb_word_index.json"):
    """The word -> index dict of the IMDB dataset (index 1 is the most frequent word; add
    `index_from` to match `load_data`'s ids)."""
    with open(fetch("imdb", path, WORD_INDEX_ORIGIN, WORD_INDEX_HASH)) as f:
        return json.load(f)
