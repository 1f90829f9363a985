"""Image augmentation layers: random transformations applied only while training, drawn from
the call's `rng` key (the training step's key in `fit`), so they compile into the step; the
identity (or, for RandomCrop, a centred resize) at inference.

Images are `(batch, height, width, channels)` or one `(height, width, channels)` image, in the
layer's compute dtype (float32 by default). Each image of a batch draws its own parameters.
As in Keras, calling a layer directly on arrays (`layer(images)`) augments (`training`
defaults to True there); models pass `training=False` in `predict` and `evaluate`.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jnet import random as jrandom
from jnet.core.symbolic import is_symbolic
from jnet.core.variables import current_scope
from jnet.layers.preprocessing._common import NumericLayer
from jnet.layers.preprocessing.image import check_image_layer, standardize_format
from jnet.ops import image as image_ops

__all__ = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomCrop", "RandomTranslation", "RandomContrast",
           "RandomBrightness"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest", "mirror")
_INTERPOLATIONS = ("bilinear", "nearest")


def symmetric_range(layer, name, value, bound=None, low=None):
    """Keras's factor argument: `f` means `(-f, f)`, a pair is `(lower, upper)`; checked to lie
    within `[-bound, bound]` (or `[low, bound]`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        pair = (-abs(float(value)), abs(float(value)))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        pair = (float(value[0]), float(value[1]))
    else:
        raise ValueError(f"{layer._label}: {name} must be a number or a pair (lower, upper), got {value!r}")
    if pair[0] > pair[1]:
        raise ValueError(f"{layer._label}: {name} has lower bound {pair[0]} above upper bound {pair[1]}")
    if bound is not None and (pair[0] < (-bound if low is None else low) or pair[1] > bound):
        lo = -bound if low is None else low
        raise ValueError(f"{layer._label}: {name} must lie in [{lo}, {bound}], got {value!r}")
    return pair


def check_choice(layer, name, allowed):
    if getattr(layer, name) not in allowed:
        raise ValueError(f"{layer._label}: {name} must be one of {list(allowed)}, got {getattr(layer, name)!r}")


class BaseAugmentation(NumericLayer):
    """Shared plumbing (not exported): training switch, the key, batching, channels-first.
    A subclass defines `augment(images, key)` on a channels-last `(batch, h, w, c)` batch."""

    def check_inputs(self, spec, *rest):
        check_image_layer(self, spec)

    def _check_seed(self):
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"{self._label}: seed must be an int or None, got {self.seed!r}")
        standardize_format(self)

    def __call__(self, *args, **kwargs):
        # Keras: called directly on arrays, an augmentation layer augments.
        symbolic = any(is_symbolic(a) for a in jax.tree_util.tree_leaves(args, is_leaf=is_symbolic))
        if "training" not in kwargs and current_scope() is None and not symbolic:
            kwargs["training"] = True
            if kwargs.get("rng") is None and self.seed is not None:
                gen = self.__dict__.setdefault("_eager_seeds", jrandom.SeedGenerator(self.seed))
                kwargs["rng"] = gen.next()
        return super().__call__(*args, **kwargs)

    def _key(self, rng):
        if rng is None:
            raise ValueError(f"{self._label}: training=True needs a random key: "
                             "apply(variables, x, training=True, rng=jax.random.key(...))")
        return rng if self.seed is None else jax.random.fold_in(rng, self.seed)

    def inference(self, images):
        return images

    def call(self, images, training=False, rng=None):
        x = images.astype(self.compute_dtype)
        first = self.data_format == "channels_first"
        if first:
            x = jnp.moveaxis(x, -3, -1)
        single = x.ndim == 3
        if single:
            x = x[None]
        x = self.augment(x, self._key(rng)) if training else self.inference(x)
        if single:
            x = x[0]
        return jnp.moveaxis(x, -1, -3) if first else x


def _per_image(key, n, lo, hi):
    return jax.random.uniform(key, (n,), jnp.float32, lo, hi)


def _transform(layer, images, transforms):
    """Warp each image by its 8-entry projective transform (output pixel -> input pixel)."""
    out = image_ops.affine_transform(images, transforms, interpolation=layer.interpolation,
                                     fill_mode=layer.fill_mode, fill_value=layer.fill_value)
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
        check_choice(self, "fill_mode", _FILL_MODES)
        check_choice(self, "interpolation", _INTERPOLATIONS)
        self._check_seed()

    def augment(self, x, key):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        angle = _per_image(key, n, *self._range) * (2.0 * math.pi)
        cos, sin = jnp.cos(angle), jnp.sin(angle)
        # Output pixel (col, row) reads the input rotated about the centre ((w-1)/2, (h-1)/2).
        x_off = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
        y_off = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
        zero = jnp.zeros_like(cos)
        return _transform(self, x, jnp.stack([cos, -sin, x_off, sin, cos, y_off, zero, zero], axis=1))


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
        self._w = None if self.width_factor is None else symmetric_range(self, "width_factor", self.width_factor,
                                                                          bound=1.0)
        check_choice(self, "fill_mode", _FILL_MODES)
        check_choice(self, "interpolation", _INTERPOLATIONS)
        self._check_seed()

    def augment(self, x, key):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        kh, kw = jax.random.split(key)
        zh = 1.0 + _per_image(kh, n, *self._h)
        zw = zh if self._w is None else 1.0 + _per_image(kw, n, *self._w)
        x_off = (w - 1) / 2.0 * (1.0 - zw)
        y_off = (h - 1) / 2.0 * (1.0 - zh)
        zero = jnp.zeros_like(zh)
        return _transform(self, x, jnp.stack([zw, zero, x_off, zero, zh, y_off, zero, zero], axis=1))


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
        check_choice(self, "fill_mode", _FILL_MODES)
        check_choice(self, "interpolation", _INTERPOLATIONS)
        self._check_seed()

    def augment(self, x, key):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        kh, kw = jax.random.split(key)
        dy = _per_image(kh, n, *self._h) * h
        dx = _per_image(kw, n, *self._w) * w
        one, zero = jnp.ones_like(dx), jnp.zeros_like(dx)
        return _transform(self, x, jnp.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1))


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


def _value_range(layer):
    vr = layer.value_range
    if not (isinstance(vr, (list, tuple)) and len(vr) == 2 and all(isinstance(v, (int, float)) for v in vr)
            and vr[0] < vr[1]):
        raise ValueError(f"{layer._label}: value_range must be a pair (low, high) with low < high, got {vr!r}")
    layer.value_range = [float(vr[0]), float(vr[1])]


class RandomContrast(BaseAugmentation):
    """Scales each image's contrast by a random factor while training: per channel,
    `(x - mean) * c + mean`, clipped to `value_range`, with `c` in `[1 - lower, 1 + upper]`.

    Args:
        factor: `f` in `[0, 1]` (meaning `c` in `[1 - f, 1 + f]`) or a pair `(lower, upper)`.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    factor: Any = 0.0
    value_range: Any = (0, 255)
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        f = self.factor
        if isinstance(f, (int, float)) and not isinstance(f, bool):
            pair = (float(f), float(f))
        elif isinstance(f, (list, tuple)) and len(f) == 2:
            pair = (float(f[0]), float(f[1]))
        else:
            raise ValueError(f"{self._label}: factor must be a number or a pair, got {f!r}")
        if pair[0] < 0 or pair[1] < 0 or pair[0] > 1:
            raise ValueError(f"{self._label}: factor must be non-negative, with lower <= 1, got {f!r}")
        self._range = (1.0 - pair[0], 1.0 + pair[1])
        _value_range(self)
        self._check_seed()

    def augment(self, x, key):
        c = _per_image(key, x.shape[0], *self._range).reshape(-1, 1, 1, 1).astype(x.dtype)
        mean = jnp.mean(x, axis=(1, 2), keepdims=True)
        return jnp.clip((x - mean) * c + mean, *self.value_range)


class RandomBrightness(BaseAugmentation):
    """Adds a random brightness offset to each image while training: `x + delta`, clipped to
    `value_range`, with `delta = uniform(lower, upper) * (high - low)`.

    Args:
        factor: `f` or `(lower, upper)` in `[-1, 1]`, as fractions of the value range.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    factor: Any = 0.0
    value_range: Any = (0, 255)
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        self._range = symmetric_range(self, "factor", self.factor, bound=1.0)
        _value_range(self)
        self._check_seed()

    def augment(self, x, key):
        span = self.value_range[1] - self.value_range[0]
        delta = (_per_image(key, x.shape[0], *self._range) * span).reshape(-1, 1, 1, 1).astype(x.dtype)
        return jnp.clip(x + delta, *self.value_range)
