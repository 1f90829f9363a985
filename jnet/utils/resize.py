"""Resizing one image array on the host with NumPy, as `tf.image.resize` does (half-pixel
centres, no antialiasing), so `image_dataset_from_directory` gives Keras's pixels without
TensorFlow and without compiling anything per image size."""

from __future__ import annotations

import numpy as np

INTERPOLATIONS = ("bilinear", "nearest", "bicubic")


def _cubic(x, a=-0.5):
    x = np.abs(x)
    return np.where(
        x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1, np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0)
    )


def _weights(n_in, n_out, interpolation):
    """`(n_out, n_in)` matrix mapping input rows to output rows."""
    scale = n_in / n_out
    centres = (np.arange(n_out) + 0.5) * scale - 0.5  # output pixel centres in input coordinates
    if interpolation == "nearest":
        src = np.minimum(np.floor((np.arange(n_out) + 0.5) * scale).astype(np.int64), n_in - 1)
        w = np.zeros((n_out, n_in))
        w[np.arange(n_out), src] = 1.0
        return w
    dist = centres[:, None] - np.arange(n_in)[None, :]
    w = np.maximum(0.0, 1.0 - np.abs(dist)) if interpolation == "bilinear" else _cubic(dist)
    # Taps outside the image are dropped and the rest renormalised (edge pixels repeat).
    return w / w.sum(axis=1, keepdims=True)


def resize_image(img, size, interpolation="bilinear"):
    """`(h, w, c)` float array -> `(size[0], size[1], c)` float32."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    h, w = img.shape[:2]
    if (h, w) == tuple(size):
        return img.astype("float32")
    wh = _weights(h, size[0], interpolation)
    ww = _weights(w, size[1], interpolation)
    out = np.einsum("oh,hwc->owc", wh, img.astype(np.float64))
    out = np.einsum("pw,owc->opc", ww, out)
    return out.astype("float32")


def crop_to_aspect(img, size):
    """The largest centred crop of `img` with the aspect ratio of `size` (Keras's smart_resize)."""
    h, w = img.shape[:2]
    th, tw = size
    ch = max(min(h, int(float(w * th) / tw)), 1)
    cw = max(min(w, int(float(h * tw) / th)), 1)
    top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
    return img[top : top + ch, left : left + cw]


def pad_to_aspect(img, size):
    """`img` centred in zeros to the aspect ratio of `size` (Keras's pad_to_aspect_ratio)."""
    h, w = img.shape[:2]
    th, tw = size
    ph = max(h, int(round(w * th / tw)))
    pw = max(w, int(round(h * tw / th)))
    out = np.zeros((ph, pw) + img.shape[2:], img.dtype)
    top, left = (ph - h) // 2, (pw - w) // 2
    out[top : top + h, left : left + w] = img
    return out
