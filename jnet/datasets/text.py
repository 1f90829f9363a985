"""A simple word tokenizer (and `pad_sequences`, re-exported from `jnet.utils`), enough to feed text to `Embedding` layers.

Id 0 is padding (so `Embedding(mask_zero=True)` masks it) and id 1 stands for any word out of
the vocabulary; real words get ids 2, 3, ... by decreasing frequency (ties alphabetical, so the
same texts always give the same vocabulary).
"""

import collections
import json
import re

from jnet.utils.sequence import pad_sequences  # noqa: F401 - one implementation, re-exported here

PAD_ID = 0
OOV_ID = 1
_WORD = re.compile(r"[a-z0-9]+(?:['_.][a-z0-9]+)*")


def split_words(text: str) -> list[str]:
    """Lower-case `text` and split it into words (letters/digits; `don't`, `v1.2`, `snake_case` kept whole)."""
    return _WORD.findall(text.lower())


class Tokenizer:
    """Word-level tokenizer with a vocabulary built from data.

    Args:
        num_words: size of the id space, padding and OOV ids included (the `input_dim` to give
            `Embedding`); the `num_words - 2` most frequent words get their own id. `None` keeps
            every word seen.
        min_count: words seen fewer times than this map to the OOV id.

    Example:
    ```python
    tok = Tokenizer(num_words=1000).fit(["App crashes on start", "Typo in docs"])
    ids = tok.texts_to_sequences(["app crashes"])      # [[2, 3]]
    x = pad_sequences(ids, maxlen=8, padding="post")  # shape (1, 8), zeros after the words
    ```
    """

    def __init__(self, num_words=None, min_count=1):
        if num_words is not None and (not isinstance(num_words, int) or num_words < 3):
            raise ValueError(
                f"Tokenizer: num_words must be an int >= 3 (padding, OOV and a word) or None, got {num_words!r}"
            )
        if min_count < 1:
            raise ValueError(f"Tokenizer: min_count must be >= 1, got {min_count!r}")
        self.num_words = num_words
        self.min_count = min_count
        self.word_index: dict[str, int] = {}

    def fit(self, texts):
        """Build the vocabulary from an iterable of strings; returns self."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.fit: pass a list of texts, not one string")
        counts = collections.Counter()
        for text in texts:
            counts.update(split_words(text))
        words = sorted((w for w, c in counts.items() if c >= self.min_count), key=lambda w: (-counts[w], w))
        if self.num_words is not None:
            words = words[: self.num_words - 2]
        self.word_index = {w: i + 2 for i, w in enumerate(words)}
        return self

    fit_on_texts = fit  # the old Keras name

    @property
    def vocabulary_size(self) -> int:
        """Number of ids in use (padding and OOV included): a valid `Embedding` input_dim."""
        return len(self.word_index) + 2

    def texts_to_sequences(self, texts) -> list[list[int]]:
        """Map each text to its list of word ids (unknown words -> 1)."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.texts_to_sequences: pass a list of texts, not one string")
        return [[self.word_index.get(w, OOV_ID) for w in split_words(t)] for t in texts]

    def sequences_to_texts(self, sequences) -> list[str]:
        """Inverse mapping (padding dropped, OOV shown as `<oov>`)."""
        inv = {i: w for w, i in self.word_index.items()}
        return [" ".join(inv.get(int(i), "<oov>") for i in seq if int(i) != PAD_ID) for seq in sequences]

    def get_config(self) -> dict:
        return {"num_words": self.num_words, "min_count": self.min_count, "word_index": self.word_index}

    @classmethod
    def from_config(cls, config):
        tok = cls(num_words=config["num_words"], min_count=config.get("min_count", 1))
        tok.word_index = dict(config["word_index"])
        return tok

    def to_json(self) -> str:
        return json.dumps(self.get_config())

    @classmethod
    def from_json(cls, text: str):
        return cls.from_config(json.loads(text))
