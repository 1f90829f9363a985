"""Augmentations that mix the images of a batch: MixUp and CutMix. Each image is mixed with
another of the batch (a random permutation) while training; the identity at inference.

Called on images alone they mix the images; called on a dict `{"images": ..., "labels": ...}`
(as in Keras, e.g. in a data pipeline before `fit`) they return the dict with the labels mixed
in the same proportions. Inside a model only the images reach the layer.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.preprocessing.augment_base import BaseAugmentation, _is_number, factor_range
from jnet.layers.preprocessing.augment_pixel import box_mask
from jnet.layers.preprocessing.image import check_image_layer

__all__ = ["MixUp", "CutMix"]


class _Mixing(BaseAugmentation):
    """Images or an `{"images", "labels"}` dict in and out; a subclass's `mix(x, key)` returns
    the mixed channels-last batch, the permutation and each image's own share `(n,)`."""

    def check_inputs(self, spec, *rest):
        if isinstance(spec, dict):
            extra = set(spec) - {"images", "labels"}
            if "images" not in spec or extra:
                raise ValueError(
                    f"{self._label}: a dict input needs the key 'images' and may have 'labels', got keys {sorted(spec)}"
                )
            spec = spec["images"]
        check_image_layer(self, spec)

    def call(self, inputs, training=False, rng=None):
        data = inputs if isinstance(inputs, dict) else {"images": inputs}
        x, back = self._to_batch(data["images"])
        out = dict(data, images=back(x))
        if training and x.shape[0] > 1:
            mixed, perm, share = self.mix(x, self._key(rng))
            out["images"] = back(mixed)
            if "labels" in data:
                y = jnp.asarray(data["labels"]).astype(self.compute_dtype)
                if y.ndim == 0 or y.shape[0] != x.shape[0]:
                    raise ValueError(
                        f"{self._label}: labels must have one row per image ({x.shape[0]}), got shape {y.shape}"
                    )
                w = share.reshape((-1,) + (1,) * (y.ndim - 1)).astype(y.dtype)
                out["labels"] = w * y + (1.0 - w) * y[perm]
        return out if isinstance(inputs, dict) else out["images"]


class MixUp(_Mixing):
    """MixUp (Zhang et al., 2017): while training, each image becomes `w * x + (1 - w) * x'`
    with `x'` another image of the batch and `w ~ Beta(alpha, alpha)` drawn per image; labels
    passed in a dict are mixed alike.

    Args:
        alpha: the Beta distribution's parameter, > 0 (default 0.2); smaller mixes less.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.

    Example:
    ```python
    mix = jnet.layers.MixUp(alpha=0.2)
    batch = mix({"images": images, "labels": one_hot_labels})
    ```
    """

    alpha: float = 0.2
    data_format: Any = None
    seed: Any = None

    def check_config(self):
        if not _is_number(self.alpha) or self.alpha <= 0:
            raise ValueError(f"{self._label}: alpha must be a positive number, got {self.alpha!r}")
        self._check_seed()

    def mix(self, x, key):
        kp, kw = jax.random.split(key)
        n = x.shape[0]
        perm = jax.random.permutation(kp, n)
        w = jax.random.beta(kw, self.alpha, self.alpha, (n,)).astype(x.dtype)
        wb = w.reshape(-1, 1, 1, 1)
        return wb * x + (1.0 - wb) * x[perm], perm, w


class CutMix(_Mixing):
    """CutMix (Yun et al., 2019): while training, a random rectangle of each image is replaced
    by the same rectangle of another image of the batch; its area follows `1 - w` with
    `w ~ Beta(a, a)`, `a` drawn in `factor`'s range. Labels passed in a dict are mixed by the
    pasted area's share.

    Args:
        factor: `f` (meaning `a` in `(0, f)`) or a pair `(lower, upper)` in [0, 1] (default 1.0).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    ```python
    cutmix = jnet.layers.CutMix()
    batch = cutmix({"images": images, "labels": one_hot_labels})
    ```
    """

    factor: Any = 1.0
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        self._range = factor_range(self, "factor", self.factor)
        self._check_seed()

    def mix(self, x, key):
        ka, kw, kx, ky, kp = jax.random.split(key, 5)
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        a = jax.random.uniform(ka, (), jnp.float32, *self._range) + 1e-6
        ratio = jnp.sqrt(1.0 - jax.random.beta(kw, a, a, (n,)))
        mask = box_mask(kx, ky, h, w, ratio, ratio)
        perm = jax.random.permutation(kp, n)
        # The labels' share is the pasted pixels' share (Keras uses the box's continuous area).
        pasted = jnp.mean(mask.astype(jnp.float32), axis=(1, 2, 3))
        return jnp.where(mask, x[perm], x), perm, 1.0 - pasted
