"""Geometric and basic augmentation layers: RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomCrop, RandomContrast, RandomBrightness. Random transformations applied
only while training, drawn from the call's `rng` key (the training step's key in `fit`), so they
compile into the step; the identity (or, for RandomCrop, a centred resize) at inference. The
shared plumbing is in `augment_base`.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.preprocessing.augment_base import (
    BaseAugmentation,
    ValueRangeAugmentation,
    _is_number,
    check_choice,
    check_warp,
    image_factor,
    per_image,
    symmetric_range,
)
from jnet.ops import image as image_ops

__all__ = [
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomCrop",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
]


def warp(layer, images, transforms):
    """Warp each image by its 8-entry projective transform (output pixel -> input pixel)."""
    out = image_ops.affine_transform(
        images, transforms, interpolation=layer.interpolation, fill_mode=layer.fill_mode, fill_value=layer.fill_value
    )
    return out.astype(images.dtype)


class RandomFlip(BaseAugmentation):
    """Flips each image left-right and/or up-down, each with probability 1/2, while training.

    Args:
        mode: `"horizontal"`, `"vertical"` or `"horizontal_and_vertical"` (default).
        seed: optional int folded into the key (reproducible draws).
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    mode: str = "horizontal_and_vertical"
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        check_choice(self, "mode", ("horizontal", "vertical", "horizontal_and_vertical"))
        self._check_seed()

    def augment(self, x, key):
        kh, kv = jax.random.split(key)
        n = x.shape[0]
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            flip = jax.random.bernoulli(kh, 0.5, (n, 1, 1, 1))
            x = jnp.where(flip, x[:, :, ::-1, :], x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            flip = jax.random.bernoulli(kv, 0.5, (n, 1, 1, 1))
            x = jnp.where(flip, x[:, ::-1, :, :], x)
        return x


class RandomRotation(BaseAugmentation):
    """Rotates each image by a random angle about its centre while training.

    Args:
        factor: a fraction of a full turn: `f` draws angles in `[-f * 2pi, f * 2pi]`, a pair
            `(lower, upper)` in `[lower * 2pi, upper * 2pi]` (positive: counter-clockwise).
        fill_mode: how points outside the image are filled: `"reflect"` (default),
            `"wrap"`, `"constant"`, `"nearest"` or `"mirror"`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: optional int folded into the key.
        fill_value: the value outside the image with `fill_mode="constant"`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    factor: Any = 0.0
    fill_mode: str = "reflect"
    interpolation: str = "bilinear"
    seed: Any = None
    fill_value: float = 0.0
    data_format: Any = None

    def check_config(self):
        self._range = symmetric_range(self, "factor", self.factor)
        check_warp(self)

    def augment(self, x, key):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        angle = per_image(key, n, *self._range) * (2.0 * math.pi)
        cos, sin = jnp.cos(angle), jnp.sin(angle)
        # Output pixel (col, row) reads the input rotated about the centre ((w-1)/2, (h-1)/2).
        x_off = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
        y_off = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
        zero = jnp.zeros_like(cos)
        return warp(self, x, jnp.stack([cos, -sin, x_off, sin, cos, y_off, zero, zero], axis=1))


class RandomZoom(BaseAugmentation):
    """Zooms each image in or out by a random factor while training.

    Args:
        height_factor: `f` or `(lower, upper)`, fractions in `[-1, 1]`: the source window's
            height is `1 + uniform(lower, upper)` times the image's (positive: zoom out,
            negative: zoom in).
        width_factor: the same for the width; `None` (default) keeps the aspect ratio (one
            zoom for both axes).
        fill_mode, interpolation, seed, fill_value, data_format: as in `RandomRotation`.
    """

    height_factor: Any = 0.0
    width_factor: Any = None
    fill_mode: str = "reflect"
    interpolation: str = "bilinear"
    seed: Any = None
    fill_value: float = 0.0
    data_format: Any = None

    def check_config(self):
        self._h = symmetric_range(self, "height_factor", self.height_factor, bound=1.0)
        self._w = (
            None if self.width_factor is None else symmetric_range(self, "width_factor", self.width_factor, bound=1.0)
        )
        check_warp(self)

    def augment(self, x, key):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        kh, kw = jax.random.split(key)
        zh = 1.0 + per_image(kh, n, *self._h)
        zw = zh if self._w is None else 1.0 + per_image(kw, n, *self._w)
        x_off = (w - 1) / 2.0 * (1.0 - zw)
        y_off = (h - 1) / 2.0 * (1.0 - zh)
        zero = jnp.zeros_like(zh)
        return warp(self, x, jnp.stack([zw, zero, x_off, zero, zh, y_off, zero, zero], axis=1))


class RandomTranslation(BaseAugmentation):
    """Shifts each image by a random offset while training.

    Args:
        height_factor: `f` or `(lower, upper)`, fractions of the height in `[-1, 1]`
            (positive: down).
        width_factor: the same for the width (positive: right).
        fill_mode, interpolation, seed, fill_value, data_format: as in `RandomRotation`.
    """

    height_factor: Any = 0.0
    width_factor: Any = 0.0
    fill_mode: str = "reflect"
    interpolation: str = "bilinear"
    seed: Any = None
    fill_value: float = 0.0
    data_format: Any = None

    def check_config(self):
        self._h = symmetric_range(self, "height_factor", self.height_factor, bound=1.0)
        self._w = symmetric_range(self, "width_factor", self.width_factor, bound=1.0)
        check_warp(self)

    def augment(self, x, key):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        kh, kw = jax.random.split(key)
        dy = per_image(kh, n, *self._h) * h
        dx = per_image(kw, n, *self._w) * w
        one, zero = jnp.ones_like(dx), jnp.zeros_like(dx)
        return warp(self, x, jnp.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1))


class RandomCrop(BaseAugmentation):
    """Crops a random `(height, width)` window of each image while training; at inference
    (and for images smaller than the target) resizes the largest centred window of the target
    aspect ratio to `(height, width)`, as Keras does.

    Args:
        height, width: the output size.
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    height: int = 0
    width: int = 0
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        for name in ("height", "width"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{self._label}: {name} must be a positive int, got {v!r}")
        self._check_seed()

    def inference(self, x):
        return image_ops.resize(x, (self.height, self.width), crop_to_aspect_ratio=True).astype(x.dtype)

    def augment(self, x, key):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        if h < self.height or w < self.width:
            return self.inference(x)
        kh, kw = jax.random.split(key)
        tops = jax.random.randint(kh, (n,), 0, h - self.height + 1)
        lefts = jax.random.randint(kw, (n,), 0, w - self.width + 1)

        def crop(img, top, left):
            return jax.lax.dynamic_slice(img, (top, left, 0), (self.height, self.width, img.shape[-1]))

        return jax.vmap(crop)(x, tops, lefts)


class RandomContrast(ValueRangeAugmentation):
    """Scales each image's contrast by a random factor while training: per channel,
    `(x - mean) * c + mean`, clipped to `value_range`, with `c` in `[1 - lower, 1 + upper]`.

    Args:
        factor: `f` in `[0, 1]` (meaning `c` in `[1 - f, 1 + f]`) or a pair `(lower, upper)`.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    seed: Any = None
    data_format: Any = None

    def read_factor(self, f):
        if _is_number(f):
            pair = (float(f), float(f))
        elif isinstance(f, (list, tuple)) and len(f) == 2 and all(_is_number(v) for v in f):
            pair = (float(f[0]), float(f[1]))
        else:
            raise ValueError(f"{self._label}: factor must be a number or a pair, got {f!r}")
        if pair[0] < 0 or pair[1] < 0 or pair[0] > 1:
            raise ValueError(f"{self._label}: factor must be non-negative, with lower <= 1, got {f!r}")
        return (1.0 - pair[0], 1.0 + pair[1])

    def augment(self, x, key):
        c = image_factor(key, x, *self._range)
        mean = jnp.mean(x, axis=(1, 2), keepdims=True)
        return jnp.clip((x - mean) * c + mean, *self.value_range)


class RandomBrightness(ValueRangeAugmentation):
    """Adds a random brightness offset to each image while training: `x + delta`, clipped to
    `value_range`, with `delta = uniform(lower, upper) * (high - low)`.

    Args:
        factor: `f` or `(lower, upper)` in `[-1, 1]`, as fractions of the value range.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    seed: Any = None
    data_format: Any = None

    def read_factor(self, f):
        return symmetric_range(self, "factor", f, bound=1.0)

    def augment(self, x, key):
        span = self.value_range[1] - self.value_range[0]
        return jnp.clip(x + image_factor(key, x, *self._range) * span, *self.value_range)
