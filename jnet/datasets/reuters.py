"""Reuters newswires (11,228) as word-id sequences labelled with 46 topics."""

from __future__ import annotations

import json

import numpy as np

from jnet.datasets import word_ids as W
from jnet.datasets.imdb import _objects
from jnet.datasets.keras_files import KERAS_ORIGIN, fetch, load_npz

ORIGIN = KERAS_ORIGIN + "reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_ORIGIN = KERAS_ORIGIN + "reuters_word_index.json"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"

LABEL_NAMES = (
    "cocoa",
    "grain",
    "veg-oil",
    "earn",
    "acq",
    "wheat",
    "copper",
    "housing",
    "money-supply",
    "coffee",
    "sugar",
    "trade",
    "reserves",
    "ship",
    "cotton",
    "carcass",
    "crude",
    "nat-gas",
    "cpi",
    "money-fx",
    "interest",
    "gnp",
    "meal-feed",
    "alum",
    "oilseed",
    "gold",
    "tin",
    "strategic-metal",
    "livestock",
    "retail",
    "ipi",
    "iron-steel",
    "rubber",
    "heat",
    "jobs",
    "lei",
    "bop",
    "zinc",
    "orange",
    "pet-chem",
    "dlr",
    "gas",
    "silver",
    "wpi",
    "hog",
    "lead",
)


def load_data(
    path="reuters.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Loads the Reuters newswire topic dataset, as `keras.datasets.reuters.load_data`.

    Args:
        path: file name in Keras's cache (`~/.keras/datasets`).
        num_words, skip_top, maxlen, seed, start_char, oov_char, index_from: as in
            `jnet.datasets.imdb.load_data`.
        test_split: fraction of the (shuffled) newswires used as the test set.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: object arrays of lists of ints, int topic labels.

    Raises:
        OSError: offline and not cached.
    """
    f = load_npz(fetch("reuters", path, ORIGIN, FILE_HASH))
    xs, labels = f["x"], f["y"]
    rng = np.random.RandomState(seed)
    order = np.arange(len(xs))
    rng.shuffle(order)
    xs, labels = xs[order], labels[order]
    xs = W.shift_ids(xs, start_char, index_from)
    if maxlen:
        xs, labels = W.drop_long(maxlen, xs, labels)
    xs = W.limit_vocabulary(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    return (_objects(xs[:idx]), np.array(labels[:idx])), (_objects(xs[idx:]), np.array(labels[idx:]))


def get_word_index(path="reuters_word_index.json"):
    """The word -> index dict of the Reuters dataset."""
    with open(fetch("reuters", path, WORD_INDEX_ORIGIN, WORD_INDEX_HASH)) as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, indexed by label."""
    return LABEL_NAMES
