"""Host-stage speed of `TextVectorization`: `adapt` + vectorise on 100k short texts, against a
plain Python loop doing the same work (lower, strip punctuation, split, count, look up, pad).
Keras's TextVectorization needs TensorFlow; it is timed too when TensorFlow is installed.

Run: `python benchmarks/text_vectorization.py [--n 100000]`.
"""

from __future__ import annotations

import argparse
import collections
import re
import time

import numpy as np

_PUNCT = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


def corpus(n, seed=0):
    rs = np.random.RandomState(seed)
    words = [f"w{i}" for i in range(5000)]
    return [" ".join(rs.choice(words, 8)) + ("!" if i % 3 else ", Crash.") for i in range(n)]


def plain_loop(texts, max_tokens, length):
    counts = collections.Counter()
    for s in texts:
        counts.update(_PUNCT.sub("", s.lower()).split())
    vocab = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(max_tokens - 2))}
    out = np.zeros((len(texts), length), np.int32)
    for i, s in enumerate(texts):
        ids = [vocab.get(w, 1) for w in _PUNCT.sub("", s.lower()).split()][:length]
        out[i, : len(ids)] = ids
    return out


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    texts = corpus(args.n)
    from jnet import layers

    v = layers.TextVectorization(max_tokens=2000, output_sequence_length=16)
    a = timed(lambda: v.adapt(texts))
    b = timed(lambda: v(texts))
    print(f"jnet TextVectorization: adapt {a:.2f}s, vectorise {b:.2f}s")
    print(f"plain Python loop:      both  {timed(lambda: plain_loop(texts, 2000, 16)):.2f}s")
    try:
        import os

        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras
        import tensorflow  # noqa: F401

        k = keras.layers.TextVectorization(max_tokens=2000, output_sequence_length=16)
        a = timed(lambda: k.adapt(texts))
        b = timed(lambda: k(texts))
        print(f"Keras TextVectorization: adapt {a:.2f}s, vectorise {b:.2f}s")
    except ImportError:
        print("Keras TextVectorization: skipped (needs TensorFlow, not installed)")


if __name__ == "__main__":
    main()
