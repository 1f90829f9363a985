"""The word-id post-processing shared by `imdb` and `reuters` (Keras's exact rules)."""

from __future__ import annotations


def shift_ids(seqs, start_char, index_from):
    """Prepend `start_char` (when not None) and add `index_from` to every id."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in s] for s in seqs]
    if index_from:
        return [[w + index_from for w in s] for s in seqs]
    return [list(s) for s in seqs]


def drop_long(maxlen, seqs, labels):
    """Keep only sequences shorter than `maxlen` (strictly, as Keras)."""
    kept = [(s, y) for s, y in zip(seqs, labels) if len(s) < maxlen]
    return [s for s, _ in kept], [y for _, y in kept]


def limit_vocabulary(seqs, num_words, skip_top, oov_char):
    """Ids outside `[skip_top, num_words)` become `oov_char` (or are dropped when it is None);
    `num_words` None/0 keeps every id."""
    if not num_words:
        num_words = max(max(s) for s in seqs if len(s)) if any(len(s) for s in seqs) else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in seqs]
    return [[w for w in s if skip_top <= w < num_words] for s in seqs]
