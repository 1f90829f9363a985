"""Colour layers: the random ones (training only, drawn from the call's key: RandomGrayscale,
RandomInvert, RandomColorDegeneration, RandomPosterization) share `augment`'s plumbing
(identity at inference); AutoContrast is deterministic and always applies, as in Keras."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.preprocessing._common import NumericLayer
from jnet.layers.preprocessing.augment_base import (
    BaseAugmentation,
    ValueRangeAugmentation,
    check_value_range,
    factor_range,
    from_255,
    image_coin,
    image_factor,
    per_image,
    to_255,
)
from jnet.layers.preprocessing.image import check_image_layer, standardize_format
from jnet.ops import image as image_ops

__all__ = [
    "RandomGrayscale",
    "RandomInvert",
    "RandomColorDegeneration",
    "RandomPosterization",
    "AutoContrast",
    "RandomSaturation",
    "RandomHue",
    "RandomSharpness",
    "RandomColorJitter",
]

_LUMA = (0.2989, 0.5870, 0.1140)  # Keras's rgb_to_grayscale weights


def _gray(x):
    """Luma of channels-last RGB images, broadcast back to the input's channels."""
    if x.shape[-1] != 3:
        raise ValueError(f"expects RGB images (3 channels), got shape {x.shape}")
    luma = jnp.tensordot(x, jnp.asarray(_LUMA, x.dtype), axes=([3], [0]))[..., None]
    return jnp.broadcast_to(luma, x.shape)


class RandomGrayscale(BaseAugmentation):
    """Turns each image to grayscale (kept in 3 channels) with probability `factor` while
    training.

    Args:
        factor: the probability, in [0, 1] (default 0.5).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.
    """

    factor: float = 0.5
    data_format: Any = None
    seed: Any = None

    def check_config(self):
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or not 0 <= self.factor <= 1:
            raise ValueError(f"{self._label}: factor must be a number in [0, 1], got {self.factor!r}")
        self._check_seed()

    def augment(self, x, key):
        apply = (jax.random.uniform(key, (x.shape[0],)) < self.factor).reshape(-1, 1, 1, 1)
        try:
            return jnp.where(apply, _gray(x), x)
        except ValueError as err:
            raise ValueError(f"{self._label}: {err}") from None


class RandomInvert(ValueRangeAugmentation):
    """Inverts each image (`high - x`) with a probability drawn in `factor`'s range while
    training.

    Args:
        factor: `f` (probability up to `f`) or a pair `(lower, upper)` in [0, 1]; default 1.0.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    factor: Any = 1.0
    seed: Any = None
    data_format: Any = None

    def augment(self, x, key):
        apply = image_coin(key, x.shape[0], self._range)
        return jnp.where(apply, self.value_range[1] - x, x)


class RandomColorDegeneration(ValueRangeAugmentation):
    """Blends each image towards its grayscale version by a random amount while training:
    `x + f * (gray(x) - x)`, clipped to `value_range`, `f` drawn in `factor`'s range.

    Args:
        factor: `f` (meaning `(-f, f)`, as Keras reads it) or a pair `(lower, upper)` in
            [-1, 1]; negative amounts push colours away from gray.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    factor: Any = 0.0
    seed: Any = None
    data_format: Any = None

    def read_factor(self, value):
        return factor_range(self, "factor", value, low=-1.0)

    def augment(self, x, key):
        f = image_factor(key, x, *self._range)
        try:
            gray = _gray(x)
        except ValueError as err:
            raise ValueError(f"{self._label}: {err}") from None
        return jnp.clip(x + f * (gray - x), *self.value_range)


class RandomPosterization(ValueRangeAugmentation):
    """Reduces each image to a random number of bits per channel while training (values
    mapped to 0-255, truncated to their top `bits` bits, mapped back).

    Args:
        factor: the most bits kept, in [1, 8]; or a pair `(lower, upper)`: bits drawn in
            `[lower, upper)` (equal bounds: exactly that many).
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.
    """

    factor: Any = 8
    data_format: Any = None
    seed: Any = None

    def read_factor(self, f):
        def bits(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool) and 1 <= v <= 8

        if bits(f):
            return (1, int(f))
        if isinstance(f, (list, tuple)) and len(f) == 2 and all(bits(v) for v in f):
            return tuple(sorted(int(v) for v in f))
        raise ValueError(f"{self._label}: factor must be a number of bits or a pair of them in [1, 8], got {f!r}")

    def augment(self, x, key):
        n = x.shape[0]
        lo, hi = self._range
        bits = jnp.full((n,), lo, jnp.int32) if lo == hi else jax.random.randint(key, (n,), lo, hi)
        shift = (8 - bits).astype(jnp.uint8).reshape(-1, 1, 1, 1)
        pixels = to_255(x, self.value_range).astype(jnp.uint8)
        kept = jnp.left_shift(jnp.right_shift(pixels, shift), shift)
        return from_255(kept.astype(x.dtype), self.value_range)


class AutoContrast(NumericLayer):
    """Stretches each image's channels to the full `value_range` (per image and channel:
    the minimum maps to `low`, the maximum to `high`). Deterministic; applied in training and
    at inference alike, as in Keras. A constant channel is left unchanged.

    Args:
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    value_range: Any = (0, 255)
    data_format: Any = None

    def check_config(self):
        check_value_range(self)
        standardize_format(self)

    def check_inputs(self, spec, *rest):
        check_image_layer(self, spec)

    def call(self, images):
        x = images.astype(self.compute_dtype)
        axes = (-2, -1) if self.data_format == "channels_first" else (-3, -2)
        y = to_255(x, self.value_range)
        low = jnp.min(y, axis=axes, keepdims=True)
        high = jnp.max(y, axis=axes, keepdims=True)
        span = high - low
        safe = jnp.where(span > 0, span, 1.0)
        stretched = jnp.clip((y - low) * (255.0 / safe), 0.0, 255.0)
        return jnp.where(span > 0, from_255(stretched, self.value_range), x)


def _rgb_only(layer, x):
    if x.shape[-1] != 3:
        raise ValueError(f"{layer._label}: expects RGB images (3 channels), got shape {x.shape}")


class RandomSaturation(ValueRangeAugmentation):
    """Scales each image's saturation by a random amount while training (in HSV space):
    with `f` drawn in `factor`'s range, saturation is multiplied by `f / (1 - f)`, so 0.5 keeps
    it, 0 removes it (gray) and 1 saturates fully. Saturation is clipped to [0, 1] (Keras
    clips it to `value_range`, producing out-of-range colours for `f > 0.5`).

    Args:
        factor: `f` (meaning `(-f, f)`, as Keras reads it) or a pair `(lower, upper)` in [-1, 1].
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.
    """

    factor: Any = 0.5
    data_format: Any = None
    seed: Any = None

    def read_factor(self, value):
        return factor_range(self, "factor", value, low=-1.0)

    def augment(self, x, key):
        _rgb_only(self, x)
        f = per_image(key, x.shape[0], *self._range)
        scale = (f / (1.0 - f + 1e-7)).astype(x.dtype).reshape(-1, 1, 1)
        hsv = image_ops.rgb_to_hsv(x)
        # Saturation lives in [0, 1]. Keras clips it to value_range instead, which lets it pass 1
        # and pushes RGB values out of range; jnet keeps colours valid.
        s = jnp.clip(hsv[..., 1] * scale, 0.0, 1.0)
        return image_ops.hsv_to_rgb(jnp.stack([hsv[..., 0], s, hsv[..., 2]], axis=-1))


class RandomHue(ValueRangeAugmentation):
    """Shifts each image's hue by a random amount while training: by up to `factor / 2` of
    the colour wheel, in a random direction.

    Args:
        factor: `f` (meaning `(0, f)`) or a pair `(lower, upper)` in [0, 1].
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.
    """

    factor: Any = 0.0
    data_format: Any = None
    seed: Any = None

    def augment(self, x, key):
        _rgb_only(self, x)
        kd, kf = jax.random.split(key)
        n = x.shape[0]
        sign = jnp.where(jax.random.uniform(kd, (n,)) > 0.5, -1.0, 1.0)
        shift = (sign * per_image(kf, n, *self._range) * 0.5).astype(x.dtype).reshape(-1, 1, 1)
        lo, hi = self.value_range
        hsv = image_ops.rgb_to_hsv((x - lo) / (hi - lo))
        h = hsv[..., 0] + shift
        h = jnp.where(h > 1.0, h - 1.0, jnp.where(h < 0.0, h + 1.0, h))
        rgb = jnp.clip(image_ops.hsv_to_rgb(jnp.stack([h, hsv[..., 1], hsv[..., 2]], axis=-1)), 0.0, 1.0)
        return rgb * (hi - lo) + lo


class RandomSharpness(ValueRangeAugmentation):
    """Sharpens or blurs each image by a random amount while training: blends the image with a
    3x3 smoothed copy, `x + (1 - 2f) * (smooth - x)`, `f` drawn in `factor`'s range (0.5 keeps
    the image, 0 blurs, 1 sharpens), clipped to `value_range`.

    Args:
        factor: `f` (meaning `(0, f)`) or a pair `(lower, upper)` in [0, 1].
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.
    """

    factor: Any = 0.0
    data_format: Any = None
    seed: Any = None

    def augment(self, x, key):
        f = image_factor(key, x, *self._range) * 2.0
        a, b = 1.0 / 13.0, 5.0 / 13.0  # PIL's SMOOTH kernel, as Keras uses
        kernel = jnp.asarray([[a, a, a], [a, b, a], [a, a, a]], x.dtype)
        c = x.shape[-1]
        smooth = jax.lax.conv_general_dilated(
            x,
            jnp.tile(kernel[:, :, None, None], (1, 1, 1, c)),
            (1, 1),
            "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=c,
        )
        return jnp.clip(x + (1.0 - f) * (smooth - x), *self.value_range)


class RandomColorJitter(BaseAugmentation):
    """Random brightness, contrast, saturation and hue changes, in that order, while training
    (each only when its factor is given; factors as in `RandomBrightness`, `RandomContrast`,
    `RandomSaturation`, `RandomHue`).

    Args:
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        brightness_factor, contrast_factor, saturation_factor, hue_factor: optional factors.
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.
    """

    value_range: Any = (0, 255)
    brightness_factor: Any = None
    contrast_factor: Any = None
    saturation_factor: Any = None
    hue_factor: Any = None
    seed: Any = None
    data_format: Any = None

    _untracked = ("_steps",)

    def check_config(self):
        from jnet.layers.preprocessing.augment import RandomBrightness, RandomContrast

        check_value_range(self)
        self._check_seed()
        steps = []
        for cls, name in (
            (RandomBrightness, "brightness_factor"),
            (RandomContrast, "contrast_factor"),
            (RandomSaturation, "saturation_factor"),
            (RandomHue, "hue_factor"),
        ):
            factor = getattr(self, name)
            if factor is not None:
                try:
                    steps.append(cls(factor=factor, value_range=self.value_range))
                except ValueError as err:
                    raise ValueError(f"{self._label}: {name}: {str(err).split(': ', 1)[-1]}") from None
        self.__dict__["_steps"] = steps

    def augment(self, x, key):
        for step, k in zip(self._steps, jax.random.split(key, 4)):
            x = step.augment(x, k)
        return x
