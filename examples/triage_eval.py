"""Validation the issue-triage example can be trusted on: the split, the scores, and a baseline.

- `split`: a stratified split of the shuffled issues (every department in both parts, in
  proportion) or the newest fraction (`how="newest"`, by `created_at`): how a triage model is
  used, on issues filed after the ones it learned from.
- `accuracy`, `macro_f1`: department scores (macro-F1 weighs a small department like a big one).
- `baseline`: TF-IDF on title + body (words and word pairs) plus the tags, into a logistic
  regression: scikit-learn's when it is installed, else the same on jnet (one `Dense` softmax
  layer with L2). Run on the same split as the model, in the same run.
"""

import collections
import math

import numpy as np

import jnet
from jnet.datasets.text import split_words

MIN_ISSUES = 10  # below this, no split says anything


def check_count(n, fraction=0.2):
    """A one-line ValueError when `n` issues are too few to split."""
    if n < MIN_ISSUES:
        raise ValueError(
            f"{n} issue{'s' * (n != 1)} to learn from: at least {MIN_ISSUES} are needed to hold "
            f"{fraction:.0%} out for validation"
        )


def split(dept_ids, fraction=0.2, how="stratified", times=None, seed=0):
    """Indices `(train, val)` of a validation split.

    Args:
        dept_ids: int array (n,), the department of each issue.
        fraction: the share held out for validation.
        how: `"stratified"` (shuffled; each department with 2+ issues puts at least one, and
            about `fraction` of its issues, into validation) or `"newest"` (the latest
            `fraction` by `times`).
        times: POSIX seconds per issue (needed for `"newest"`).
        seed: shuffling seed.

    Raises:
        ValueError: a one-line reason when the issues are too few to split.
    """
    dept_ids = np.asarray(dept_ids)
    n = len(dept_ids)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must be in (0, 1), got {fraction}")
    check_count(n, fraction)
    if how == "newest":
        if times is None:
            raise ValueError("--split newest needs a created_at time on every issue")
        order = np.argsort(np.asarray(times, np.float64), kind="stable")
        n_val = max(1, int(round(fraction * n)))
        train, val = order[: n - n_val], order[n - n_val :]
    elif how == "stratified":
        rng = np.random.default_rng(seed)
        train, val = [], []
        for c in np.unique(dept_ids):
            idx = rng.permutation(np.flatnonzero(dept_ids == c))
            k = min(max(int(round(fraction * len(idx))), 1), len(idx) - 1)
            val.extend(idx[:k])
            train.extend(idx[k:])
        train, val = rng.permutation(np.asarray(train, np.int64)), np.sort(np.asarray(val, np.int64))
    else:
        raise ValueError(f"split: how must be 'stratified' or 'newest', got {how!r}")
    if len(np.unique(dept_ids[train])) < 2:
        raise ValueError(
            f"the {len(train)} training issues of the split hold only one department; at least 2 are needed"
        )
    return train, val


def accuracy(y_true, y_pred):
    """Share of issues whose predicted department is right."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def macro_f1(y_true, y_pred):
    """Mean F1 over the departments present in `y_true` or `y_pred` (scikit-learn's `average="macro"`)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    scores = []
    for c in np.union1d(y_true, y_pred):
        tp = np.sum((y_true == c) & (y_pred == c))
        fp = np.sum((y_true != c) & (y_pred == c))
        fn = np.sum((y_true == c) & (y_pred != c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def _texts(records):
    return [r["title"] + " . " + r["body"] for r in records]


def _grams(text):
    words = split_words(text)
    return words + [a + " " + b for a, b in zip(words, words[1:])]


class _Tfidf:
    """TF-IDF as scikit-learn's `TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)`."""

    def __init__(self, texts, max_features=5000):
        df = collections.Counter(g for t in texts for g in set(_grams(t)))
        kept = sorted((g for g, c in df.items() if c >= 2), key=lambda g: (-df[g], g))[:max_features]
        self.index = {g: i for i, g in enumerate(kept)}
        n = len(texts)
        self.idf = np.asarray([math.log((1 + n) / (1 + df[g])) + 1 for g in kept], np.float32)

    def transform(self, texts):
        out = np.zeros((len(texts), len(self.index)), np.float32)
        for i, t in enumerate(texts):
            for g, c in collections.Counter(_grams(t)).items():
                j = self.index.get(g)
                if j is not None:
                    out[i, j] = 1.0 + math.log(c)
        out *= self.idf
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _sklearn_baseline(train, val, tags_train, tags_val, y_train):
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(tokenizer=_grams, lowercase=False, token_pattern=None, min_df=2, sublinear_tf=True)
    x_train = sparse.hstack([vec.fit_transform(_texts(train)), sparse.csr_matrix(tags_train)]).tocsr()
    x_val = sparse.hstack([vec.transform(_texts(val)), sparse.csr_matrix(tags_val)]).tocsr()
    # newton-cg: the same optimum as the default lbfgs, in a few steps on TF-IDF (seconds fewer here).
    clf = LogisticRegression(C=10.0, solver="newton-cg", max_iter=1000).fit(x_train, y_train)
    return clf.predict(x_val), "TF-IDF + logistic regression, scikit-learn"


def _jnet_baseline(train, val, tags_train, tags_val, y_train, num_classes, seed):
    tfidf = _Tfidf(_texts(train))
    x_train = np.concatenate([tfidf.transform(_texts(train)), tags_train], axis=1)
    x_val = np.concatenate([tfidf.transform(_texts(val)), tags_val], axis=1)
    jnet.utils.set_random_seed(seed)
    # L2 of 1 / (C n) per weight: the same penalty as scikit-learn's C=10 on n issues.
    clf = jnet.Sequential(
        [
            jnet.Input((x_train.shape[1],)),
            jnet.layers.Dense(num_classes, kernel_regularizer=jnet.regularizers.L2(0.5 / (10.0 * len(x_train)))),
        ]
    )
    clf.compile(optimizer=jnet.optimizers.Adam(0.05), loss=jnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    clf.fit(x_train, y_train, epochs=60, batch_size=len(x_train), verbose=0)
    return clf.predict(x_val, verbose=0).argmax(-1), "TF-IDF + logistic regression on jnet (no scikit-learn)"


def baseline(train, val, tags_train, tags_val, y_train, num_classes, seed=0, use_sklearn=True):
    """Department predictions for `val` from TF-IDF + logistic regression trained on `train`.

    Args:
        train, val: the issue records of each part (`title` and `body` are read).
        tags_train, tags_val: their tag inputs (float arrays), appended to the TF-IDF features.
        y_train: the training department ids.
        num_classes: number of departments.
        seed: seed of the jnet fallback.
        use_sklearn: try scikit-learn first (the fallback is used when it is not installed).

    Returns:
        `(predicted department ids for val, a name for the baseline)`.
    """
    if use_sklearn:
        try:
            return _sklearn_baseline(train, val, tags_train, tags_val, y_train)
        except ImportError:
            pass
    return _jnet_baseline(train, val, tags_train, tags_val, y_train, num_classes, seed)
