"""Warping augmentations beyond rotation, zoom and translation: RandomShear, RandomPerspective
and RandomElasticTransform. Random while training (each image its own draw), the identity at
inference."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.preprocessing.augment import warp
from jnet.layers.preprocessing.augment_base import (
    BaseAugmentation,
    _is_number,
    check_value_range,
    check_warp,
    factor_range,
    image_coin,
    per_image,
)
from jnet.layers.preprocessing.augment_pixel import gaussian_blur
from jnet.ops import image as image_ops

__all__ = ["RandomShear", "RandomPerspective", "RandomElasticTransform"]


def _shear_range(layer, name, value):
    """RandomShear's factors: `f` in [0, 1] means `(-f, f)`; a pair is sorted. Pairs may reach
    down to -1 so that Keras's saved configs (which store `(-f, f)`) load."""
    if _is_number(value):
        upper = factor_range(layer, name, value)[1]
        return (-upper, upper)
    return factor_range(layer, name, value, low=-1.0)


class RandomShear(BaseAugmentation):
    """Shears each image along x and y by random amounts while training. The output pixel
    `(x, y)` reads the input at `(x + sx * y, y + sy * x)`, with `sx` drawn in `x_factor`'s range,
    `sy` in `y_factor`'s and one random sign for both.

    Args:
        x_factor: `f` in [0, 1] (meaning `(-f, f)`) or a pair `(lower, upper)`: the shear along x,
            as a fraction of the image per row (default 0).
        y_factor: the same along y (default 0).
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_mode: `"reflect"` (default), `"wrap"`, `"constant"` or `"nearest"`.
        fill_value: the value outside the image with `fill_mode="constant"`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: optional int folded into the key.

    Example:
    ```python
    shear = jnet.layers.RandomShear(x_factor=0.2, y_factor=0.2, fill_mode="constant")
    ```
    """

    x_factor: Any = 0.0
    y_factor: Any = 0.0
    interpolation: str = "bilinear"
    fill_mode: str = "reflect"
    fill_value: float = 0.0
    data_format: Any = None
    seed: Any = None

    def check_config(self):
        self._x = _shear_range(self, "x_factor", self.x_factor)
        self._y = _shear_range(self, "y_factor", self.y_factor)
        check_warp(self, fill_modes=("reflect", "wrap", "constant", "nearest"))

    def augment(self, x, key):
        ks, kx, ky = jax.random.split(key, 3)
        n = x.shape[0]
        sign = jnp.where(jax.random.uniform(ks, (n,)) > 0.5, -1.0, 1.0)
        sx, sy = per_image(kx, n, *self._x) * sign, per_image(ky, n, *self._y) * sign
        one, zero = jnp.ones_like(sx), jnp.zeros_like(sx)
        return warp(self, x, jnp.stack([one, sx, zero, sy, one, zero, zero, zero], axis=1))


def homography(start_points, end_points):
    """The 8-entry projective transforms `(n, 8)` that send each output point of `end_points`
    `(n, 4, 2)` (x, y) to the input point of `start_points`, by solving the 8x8 systems."""
    sx, sy = start_points[..., 0], start_points[..., 1]
    ex, ey = end_points[..., 0], end_points[..., 1]
    zero, one = jnp.zeros_like(ex), jnp.ones_like(ex)
    x_rows = jnp.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
    y_rows = jnp.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    a = jnp.concatenate([x_rows, y_rows], axis=1)
    b = jnp.concatenate([sx, sy], axis=-1)[..., None]
    return jnp.linalg.solve(a, b)[..., 0]


def perspective_warp(images, start_points, end_points, interpolation="bilinear", fill_value=0.0):
    """Warp `(n, h, w, c)` images so that each `start_points` corner lands on `end_points`
    (Keras's `perspective_transform`), filling outside with `fill_value`."""
    transforms = homography(start_points.astype(jnp.float32), end_points.astype(jnp.float32))
    out = image_ops.affine_transform(
        images, transforms, interpolation=interpolation, fill_mode="constant", fill_value=fill_value
    )
    return out.astype(images.dtype)


class RandomPerspective(BaseAugmentation):
    """Distorts the perspective of each image, with a random probability, while training: the
    image corners `p` move to `p + p * u` (so the top-left corner stays, as in Keras), `u`
    uniform in `[-scale / 2, scale / 2]` per corner and axis; outside is `fill_value`.

    Args:
        factor: the probability of distorting an image: `f` (a probability drawn in `(0, f)`)
            or a pair `(lower, upper)` in [0, 1] (default 1.0).
        scale: how far corners move, in [0, 1] (default 1.0).
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_value: the value outside the image (default 0).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    ```python
    perspective = jnet.layers.RandomPerspective(factor=0.5, scale=0.2)
    ```
    """

    factor: Any = 1.0
    scale: float = 1.0
    interpolation: str = "bilinear"
    fill_value: float = 0.0
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        self._range = factor_range(self, "factor", self.factor)
        if not _is_number(self.scale) or not 0 <= self.scale <= 1:
            raise ValueError(f"{self._label}: scale must be a number in [0, 1], got {self.scale!r}")
        check_warp(self)

    def augment(self, x, key):
        kc, kp = jax.random.split(key)
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        corners = jnp.asarray([[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]], jnp.float32)
        start = jnp.broadcast_to(corners, (n, 4, 2))
        shift = jax.random.uniform(kp, (n, 4, 2), jnp.float32, -0.5 * self.scale, 0.5 * self.scale)
        out = perspective_warp(x, start, start + start * shift, self.interpolation, self.fill_value)
        return jnp.where(image_coin(kc, n, self._range), out, x)


class RandomElasticTransform(BaseAugmentation):
    """Elastic deformation of each image, with a random probability, while training: every
    pixel reads the input displaced by smooth random noise (Gaussian noise blurred by a
    Gaussian of standard deviation `sigma`, times `alpha`), with `alpha = 0.1 * d * max(h, w)`
    and `sigma = 0.05 * d * min(h, w)`, `d` drawn in `scale`'s range; clipped to `value_range`.

    Args:
        factor: the probability of deforming an image: `f` (a probability drawn in `(0, f)`)
            or a pair `(lower, upper)` in [0, 1] (default 1.0).
        scale: the distortion's strength `d`: `s` (meaning `(0, s)`) or a pair in [0, 1]
            (default 1.0).
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_mode: `"reflect"` (default), `"wrap"`, `"constant"`, `"nearest"` or `"mirror"`.
        fill_value: the value outside the image with `fill_mode="constant"`.
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Keras draws `d` once per batch, and the x and y noise from one seed (so every pixel moves
    along the diagonal); jnet draws `d` per image and independent x and y noise. The blur
    kernel is sized for the largest `sigma` so the step compiles once.

    Example:
    ```python
    elastic = jnet.layers.RandomElasticTransform(factor=0.5, scale=0.5)
    ```
    """

    factor: Any = 1.0
    scale: Any = 1.0
    interpolation: str = "bilinear"
    fill_mode: str = "reflect"
    fill_value: float = 0.0
    value_range: Any = (0, 255)
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        self._range = factor_range(self, "factor", self.factor)
        self._scale = factor_range(self, "scale", self.scale)
        check_value_range(self)
        check_warp(self)

    def augment(self, x, key):
        kc, kd, kx, ky = jax.random.split(key, 4)
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        d = per_image(kd, n, *self._scale)
        alpha = (0.1 * max(h, w) * d).reshape(-1, 1, 1)
        sigma = jnp.maximum(0.05 * min(h, w) * d, 1e-3)
        size = int(6 * 0.05 * min(h, w) * self._scale[1]) | 1
        noise = jnp.stack([jax.random.normal(kx, (n, h, w)), jax.random.normal(ky, (n, h, w))], axis=-1)
        noise = noise * sigma.reshape(-1, 1, 1, 1)
        smooth = gaussian_blur(noise, (size, size), jnp.stack([sigma, sigma], axis=1))
        rows, cols = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
        src_x = cols[None] + alpha * smooth[..., 0]
        src_y = rows[None] + alpha * smooth[..., 1]
        order = 1 if self.interpolation == "bilinear" else 0

        def one(img, sy, sx):
            def channel(ch):
                return image_ops.map_coordinates(ch, [sy, sx], order, self.fill_mode, self.fill_value)

            return jax.vmap(channel, in_axes=-1, out_axes=-1)(img)

        out = jax.vmap(one)(x, src_y, src_x).astype(x.dtype)
        out = jnp.where(image_coin(kc, n, self._range), out, x)
        return jnp.clip(out, *self.value_range)
