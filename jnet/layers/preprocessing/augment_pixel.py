"""Pixel-value augmentations: Solarization, RandomGaussianBlur and RandomErasing (random, while
training; identity at inference), and Equalization (deterministic histogram equalization,
in training only, as Keras's code does)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.preprocessing._common import NumericLayer
from jnet.layers.preprocessing.augment_base import (
    BaseAugmentation,
    _is_number,
    check_value_range,
    direct_call_trains,
    factor_range,
    from_255,
    image_coin,
    per_image,
    to_255,
)
from jnet.layers.preprocessing.image import check_image_layer, standardize_format

__all__ = ["Solarization", "Equalization", "RandomGaussianBlur", "RandomErasing"]


class Solarization(BaseAugmentation):
    """Solarizes each image while training: on the 0-255 scale, `x + addition` (clipped to
    [0, 255]) is kept below `threshold` and inverted (`255 - x`) at or above it.

    Args:
        addition_factor: `f` (meaning `(0, f)`) or a pair `(lower, upper)` in [0, 1]: each image
            adds `uniform(lower, upper) * 255` before solarizing (default 0).
        threshold_factor: the same for the threshold, as a fraction of 255 (default 0: every
            pixel is inverted).
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Keras draws the addition in `[lower, upper * 255]` and both values from one seed (so they
    are correlated); jnet draws them independently, each scaled as documented.

    Example:
    ```python
    solarize = jnet.layers.Solarization(threshold_factor=(0.5, 0.5))
    ```
    """

    addition_factor: Any = 0.0
    threshold_factor: Any = 0.0
    value_range: Any = (0, 255)
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        self._add = factor_range(self, "addition_factor", self.addition_factor)
        self._threshold = factor_range(self, "threshold_factor", self.threshold_factor)
        check_value_range(self)
        self._check_seed()

    def augment(self, x, key):
        ka, kt = jax.random.split(key)
        n = x.shape[0]
        add = (per_image(ka, n, *self._add) * 255.0).reshape(-1, 1, 1, 1).astype(x.dtype)
        threshold = (per_image(kt, n, *self._threshold) * 255.0).reshape(-1, 1, 1, 1).astype(x.dtype)
        y = jnp.clip(to_255(x, self.value_range) + add, 0.0, 255.0)
        return from_255(jnp.where(y < threshold, y, 255.0 - y), self.value_range)


def _equalize(y, bins):
    """Histogram-equalize one channel `y` (values on the 0-255 scale, any shape) with `bins` bins;
    also whether the channel has a single bin (then it is left as it is)."""
    idx = jnp.clip((y * ((bins - 1) / 255.0)).astype(jnp.int32), 0, bins - 1).reshape(-1)
    hist = jnp.bincount(idx, length=bins)
    cdf = jnp.cumsum(hist)
    cdf_min = cdf[jnp.argmax(cdf > 0)]
    denom = cdf[-1] - cdf_min
    lut = jnp.clip(jnp.round((cdf - cdf_min) * 255.0 / jnp.where(denom == 0, 1, denom)), 0, 255)
    return lut[idx].reshape(y.shape).astype(y.dtype), jnp.count_nonzero(hist) <= 1


class Equalization(NumericLayer):
    """Histogram equalization of each image's channels: each channel's values are remapped
    through its cumulative histogram, spreading the most frequent intensities over the whole
    `value_range`. Deterministic; as in Keras's code (its docstring says otherwise), applied only
    while training: identity in `predict`/`evaluate`, while a direct call `layer(images)`
    equalizes (`training` defaults to True there). A channel with a single value is unchanged.

    Keras equalizes each channel over the whole batch at once; jnet equalizes each image on
    its own, so an image's result does not depend on its batch (equal for a single image).

    Args:
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        bins: the number of histogram bins (default 256).
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    ```python
    equalize = jnet.layers.Equalization(value_range=(0, 1))
    ```
    """

    value_range: Any = (0, 255)
    bins: int = 256
    data_format: Any = None

    def check_config(self):
        check_value_range(self)
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 2:
            raise ValueError(f"{self._label}: bins must be an int >= 2, got {self.bins!r}")
        standardize_format(self)

    def check_inputs(self, spec, *rest):
        check_image_layer(self, spec)

    def __call__(self, *args, **kwargs):
        if direct_call_trains(args, kwargs):
            kwargs["training"] = True
        return super().__call__(*args, **kwargs)

    def call(self, images, training=False):
        if not training:
            return images
        x = images.astype(self.compute_dtype)
        first = self.data_format == "channels_first"
        x = jnp.moveaxis(x, -3, -1) if first else x
        single = x.ndim == 3
        y = to_255(x[None] if single else x, self.value_range)
        per_channel = jnp.moveaxis(y, -1, 1)  # (n, c, h, w): one histogram per image and channel
        eq, flat = jax.vmap(jax.vmap(lambda ch: _equalize(ch, self.bins)))(per_channel)
        out = from_255(jnp.moveaxis(eq, 1, -1), self.value_range)
        out = jnp.where(flat[:, None, None, :], x[None] if single else x, out)
        out = out[0] if single else out
        return jnp.moveaxis(out, -1, -3) if first else out


def _gaussian_kernels(size, sigma):
    """Normalised 1-D Gaussian kernels of odd `size`, one per row of `sigma` `(n,)`: `(n, size)`."""
    t = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2.0
    k = jnp.exp(-0.5 * (t[None, :] / sigma[:, None]) ** 2)
    return k / jnp.sum(k, axis=1, keepdims=True)


def gaussian_blur(x, kernel_size, sigma):
    """Blur each image of `x` `(n, h, w, c)` with its own Gaussian: `kernel_size` `(kx, ky)`
    (odd), `sigma` `(n, 2)` as (x, y) standard deviations; zero padding ("same" size)."""
    kx = _gaussian_kernels(kernel_size[0], sigma[:, 0])
    ky = _gaussian_kernels(kernel_size[1], sigma[:, 1])
    c = x.shape[-1]

    def one(img, kxi, kyi):
        kernel = jnp.outer(kyi, kxi).astype(img.dtype)  # (height, width)
        kernel = jnp.broadcast_to(kernel[:, :, None, None], kernel.shape + (1, c))
        return jax.lax.conv_general_dilated(
            img[None], kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c
        )[0]

    return jax.vmap(one)(x, kx, ky)


class RandomGaussianBlur(BaseAugmentation):
    """Blurs each image with a random Gaussian, with a random probability, while training.

    Args:
        factor: the probability of blurring an image: `f` (meaning a probability drawn in
            `(0, f)`) or a pair `(lower, upper)` in [0, 1] (default 1.0).
        kernel_size: the kernel's size, an odd int, or a pair of odd ints (width, height)
            (default 3).
        sigma: the standard deviation: `s` (meaning drawn in `(0, s)`) or a pair
            `(lower, upper)` of non-negative numbers; drawn per image and axis (default 1.0).
        value_range: the images' `(low, high)` range; the output is clipped to it.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.

    Keras draws one sigma pair per batch and limits a single-number sigma to [0, 1]; jnet
    draws per image and takes any non-negative sigma.

    Example:
    ```python
    blur = jnet.layers.RandomGaussianBlur(factor=0.5, kernel_size=5, sigma=(0.5, 2.0))
    ```
    """

    factor: Any = 1.0
    kernel_size: Any = 3
    sigma: Any = 1.0
    value_range: Any = (0, 255)
    data_format: Any = None
    seed: Any = None

    def check_config(self):
        self._range = factor_range(self, "factor", self.factor)
        check_value_range(self)
        self._check_seed()
        ks = self.kernel_size
        pair = tuple(ks) if isinstance(ks, (list, tuple)) else (ks, ks)
        if len(pair) != 2 or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 and k % 2 for k in pair):
            raise ValueError(f"{self._label}: kernel_size must be an odd positive int or a pair of them, got {ks!r}")
        self._ksize = pair
        self._sigma = factor_range(self, "sigma", self.sigma, high=float("inf"))

    def augment(self, x, key):
        kc, ks = jax.random.split(key)
        n = x.shape[0]
        sigma = jax.random.uniform(ks, (n, 2), jnp.float32, *self._sigma) + 1e-6
        blurred = gaussian_blur(x, self._ksize, sigma)
        return jnp.clip(jnp.where(image_coin(kc, n, self._range), blurred, x), *self.value_range)


class RandomErasing(BaseAugmentation):
    """Erases a random rectangle of each image, with a random probability, while training
    (Zhong et al., 2017).

    Args:
        factor: the probability of erasing: `f` (a probability drawn in `(0, f)`) or a pair
            `(lower, upper)` in [0, 1] (default 1.0).
        scale: `(lower, upper)` in [0, 1]: the rectangle's width and height are
            `sqrt(uniform(lower, upper))` of the image's (default `(0.02, 0.33)`).
        fill_value: the erased pixels' value: a number, one per channel (a list), or `None`
            (default) for Gaussian noise `normal() * high`; clipped to `value_range`.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    ```python
    erase = jnet.layers.RandomErasing(factor=0.5, fill_value=0.0)
    ```
    """

    factor: Any = 1.0
    scale: Any = (0.02, 0.33)
    fill_value: Any = None
    value_range: Any = (0, 255)
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        self._range = factor_range(self, "factor", self.factor)
        check_value_range(self)
        self._check_seed()
        self._scale = factor_range(self, "scale", self.scale)
        fv = self.fill_value
        if not (
            fv is None or _is_number(fv) or isinstance(fv, (list, tuple)) and fv and all(_is_number(v) for v in fv)
        ):
            raise ValueError(
                f"{self._label}: fill_value must be None, a number or a list of numbers (one per channel), got {fv!r}"
            )
        if isinstance(fv, tuple):
            self.fill_value = list(fv)

    def augment(self, x, key):
        n, h, w, c = x.shape
        kw, kx, ky, kc, kf = jax.random.split(key, 5)
        size = jnp.sqrt(jax.random.uniform(kw, (n, 2), jnp.float32, *self._scale))
        mask = box_mask(kx, ky, h, w, size[:, 0], size[:, 1])
        if self.fill_value is None:
            fill = jax.random.normal(kf, x.shape, x.dtype) * self.value_range[1]
        else:
            values = jnp.asarray(self.fill_value, x.dtype)
            if values.ndim and values.shape[0] != c:
                raise ValueError(f"{self._label}: fill_value has {values.shape[0]} values for {c} channels")
            fill = jnp.broadcast_to(values.reshape((1, 1, 1, -1)) if values.ndim else values, x.shape)
        fill = jnp.clip(fill, *self.value_range)
        return jnp.where(mask & image_coin(kc, n, self._range), fill, x)


def box_mask(kx, ky, h, w, width_ratio, height_ratio):
    """A random rectangle per image, `width_ratio * w` by `height_ratio * h` (each `(n,)`), at a
    uniform position inside the image: a boolean `(n, h, w, 1)` mask (Keras's crop bounds)."""
    n = width_ratio.shape[0]

    def bounds(k, length, ratio):
        extent = ratio * length
        start = jax.random.uniform(k, (n,), jnp.float32) * (length - extent)
        return start.reshape(-1, 1, 1, 1), (start + extent).reshape(-1, 1, 1, 1)

    x0, x1 = bounds(kx, w, width_ratio)
    y0, y1 = bounds(ky, h, height_ratio)
    cols = jnp.arange(w, dtype=jnp.float32).reshape(1, 1, w, 1)
    rows = jnp.arange(h, dtype=jnp.float32).reshape(1, h, 1, 1)
    return (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
