"""scikit-learn's 8×8 handwritten digits (1,797 images, bundled with scikit-learn: no download)."""

import numpy as np


def load_data(test_split=0.2, seed=113):
    """Load scikit-learn's digits split into train and test, Keras-style.

    Args:
        test_split: fraction of the 1,797 images held out for the test set.
        seed: seed of the shuffle before splitting (deterministic).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 8, 8)` with values 0..16 and
        uint8 labels `(n,)` in 0..9.
    """
    if not 0.0 < test_split < 1.0:
        raise ValueError(f"digits.load_data: test_split must be in (0, 1), got {test_split}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits.load_data needs scikit-learn: `pip install scikit-learn`") from None
    d = load_digits()
    x = d.images.astype(np.uint8)
    y = d.target.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = int(round(len(x) * test_split))
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])
