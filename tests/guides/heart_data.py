"""Synthetic stand-in for the Cleveland heart-disease CSV of the keras-io structured-data
examples: the same 13 feature columns with the same kinds of values (ints, floats, the `thal`
strings) and a `target` that depends on a few of them, as a dict of numpy columns (the
examples' dataframe, without pandas)."""

import numpy as np

COLUMNS = [
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
]


def heart_columns(n=96, seed=1337):
    """`(features, target)`: a dict of the 13 columns (int64, float64 and str arrays) and 0/1."""
    rng = np.random.default_rng(seed)
    cols = {
        "age": rng.integers(29, 78, n),
        "sex": rng.integers(0, 2, n),
        "cp": rng.integers(0, 5, n),
        "trestbps": rng.integers(94, 200, n),
        "chol": rng.integers(126, 565, n),
        "fbs": rng.integers(0, 2, n),
        "restecg": rng.integers(0, 3, n),
        "thalach": rng.integers(71, 203, n),
        "exang": rng.integers(0, 2, n),
        "oldpeak": np.round(rng.uniform(0.0, 6.2, n), 1),
        "slope": rng.integers(1, 4, n),
        "ca": rng.integers(0, 4, n),
        "thal": rng.choice(["normal", "fixed", "reversible"], n, p=[0.55, 0.1, 0.35]),
    }
    score = (
        1.5 * cols["exang"]
        + 0.8 * cols["ca"]
        + 0.6 * cols["oldpeak"]
        + 1.2 * (cols["thal"] == "reversible")
        - 0.02 * (cols["thalach"] - 150)
        + 0.4 * cols["sex"]
        - 2.0
    )
    target = (score + rng.normal(0, 0.5, n) > 0).astype("int64")
    return cols, target


def split(cols, target, frac=0.2, seed=1337):
    """The examples' `dataframe.sample(frac=0.2)` validation split: `(train, val)` pairs."""
    n = len(target)
    val = np.random.default_rng(seed).permutation(n)[: int(round(n * frac))]
    keep = np.setdiff1d(np.arange(n), val)
    return ({k: v[keep] for k, v in cols.items()}, target[keep]), ({k: v[val] for k, v in cols.items()}, target[val])
