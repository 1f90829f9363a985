"""The pieces that let an issue-triage model take raw issues and carry its own labels.

- `text_layers` learns, from the training issues, the string layers at the front of the model:
  one `TextVectorization` vocabulary shared by the title and body layers, and a multi-hot
  `StringLookup` over the tag names. Their vocabularies live in their configs, so the saved
  model holds them.
- `LabelNames` is an identity layer on the department head whose config holds the department
  names: the saved model says what its classes are called.
- `raw_inputs` turns issue records into the model's raw inputs (strings, tags padded with "").

So one saved file triages an issue: `model.predict(raw_inputs([{"title": ..., "body": ...}]))`
and `department_names(model)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jnet.layers.core import Identity
from jnet.layers.preprocessing.text import StringLookup, TextVectorization
from jnet.serialization import register_serializable

__all__ = ["LabelNames", "text_layers", "raw_inputs", "department_names"]


@register_serializable(package="jnet")
class LabelNames(Identity):
    """Returns its input unchanged and records the names of the classes along its last axis, so
    a saved classifier knows what its outputs mean (`model.get_layer(name).names`).

    Args:
        names: the class names, in class-id order (distinct strings).

    Example:
    ```python
    logits = jnet.layers.Dense(3)(x)
    out = LabelNames(["bugs", "features", "support"], name="department")(logits)
    ```
    """

    names: Any = None

    def check_config(self):
        names = self.names
        if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{self._label}: names must be a non-empty list of strings, got {names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"{self._label}: names must be distinct, got {list(names)}")
        self.names = list(names)


def text_layers(records, num_words, title_len, body_len, tags=None):
    """The string layers of a triage model, learned from the training `records`.

    Args:
        records: training issues (dicts with "title" and "body" strings).
        num_words: vocabulary size, padding (0) and unknown word (1) included.
        title_len, body_len: words kept per title and body (padded after the words with 0).
        tags: the tag names (an `IssueLabels.tags` list); None or empty: no tag input.

    Returns:
        `(title_vectorizer, body_vectorizer, tag_lookup or None)`. The two vectorizers share one
        vocabulary, adapted on titles and bodies together; the tag lookup maps a row of tag
        names (padded with "") to a multi-hot vector whose column 0 counts unknown tags.
    """
    texts = [r["title"] for r in records] + [r["body"] for r in records]
    title_vec = TextVectorization(max_tokens=num_words, output_sequence_length=title_len, name="title_words")
    title_vec.adapt(np.asarray(texts, dtype=object))
    body_vec = TextVectorization(
        max_tokens=num_words, output_sequence_length=body_len, vocabulary=title_vec.get_vocabulary(), name="body_words"
    )
    tag_lookup = None
    if tags:
        tag_lookup = StringLookup(vocabulary=list(tags), mask_token="", output_mode="multi_hot", name="tag_bits")
    return title_vec, body_vec, tag_lookup


def raw_inputs(records, with_tags=True) -> dict:
    """Issue records -> the raw inputs of a triage model: `{"title": (n,) str, "body": (n,) str,
    "tags": (n, k) str}`, each issue's tag names padded with "" to the longest list."""
    x = {
        "title": np.asarray([r["title"] for r in records], dtype=object),
        "body": np.asarray([r["body"] for r in records], dtype=object),
    }
    if with_tags:
        width = max([len(r.get("tags") or ()) for r in records] + [1])
        tags = np.full((len(records), width), "", dtype=object)
        for i, r in enumerate(records):
            for j, t in enumerate(r.get("tags") or ()):
                tags[i, j] = t
        x["tags"] = tags
    return x


def department_names(model, layer="department") -> list:
    """The class names a saved triage model carries (its `LabelNames` layer)."""
    try:
        found = model.get_layer(layer)
    except ValueError:
        found = None
    if not isinstance(found, LabelNames):
        raise ValueError(
            f"{model.name}: no LabelNames layer {layer!r}; this model does not carry its department "
            "names (was it saved by examples/issue_triage.py?)"
        )
    return list(found.names)
