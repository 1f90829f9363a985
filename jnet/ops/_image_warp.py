"""Warps of `keras.ops.image`: perspective (from point pairs) and elastic (random) transforms."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet import config
from jnet.ops._utils import tensor, to_float


def _homography(start, end):
    """The 8 projective coefficients mapping each output point `end[i]` to the input point
    `start[i]` (`x_in = (a0 x + a1 y + a2) / (a6 x + a7 y + 1)`, likewise `y_in` with a3..a5)."""
    xe, ye, xs, ys = end[:, 0], end[:, 1], start[:, 0], start[:, 1]
    zero, one = jnp.zeros_like(xe), jnp.ones_like(xe)
    rows_x = jnp.stack([xe, ye, one, zero, zero, zero, -xe * xs, -ye * xs], axis=-1)
    rows_y = jnp.stack([zero, zero, zero, xe, ye, one, -xe * ys, -ye * ys], axis=-1)
    a = jnp.concatenate([rows_x, rows_y], axis=0)
    b = jnp.concatenate([xs, ys], axis=0)
    return jnp.linalg.solve(a, b)


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0, data_format=None):
    """Warp `images` so that the four `start_points` `(x, y)` move to `end_points`.

    Args:
        images: `(batch, h, w, c)` or `(h, w, c)` (or channels first).
        start_points: `(4, 2)` or `(batch, 4, 2)` source corners.
        end_points: Same shape: where those corners go.
        interpolation: "nearest" or "bilinear".
        fill_value: Value outside the source image.
        data_format: "channels_last" or "channels_first".

    Raises:
        ValueError: when the points are not `(..., 4, 2)` or differ in shape.
    """
    from jnet.ops.image import affine_transform

    start, end = to_float(start_points).astype("float32"), to_float(end_points).astype("float32")
    if start.shape[-2:] != (4, 2) or start.ndim not in (2, 3) or start.shape != end.shape:
        raise ValueError(
            "perspective_transform: `start_points` and `end_points` must both have shape (4, 2) or (batch, 4, 2); "
            f"received {start.shape} and {end.shape}"
        )
    if start.ndim == 2:
        start, end = start[None], end[None]
    transforms = jax.vmap(_homography)(start, end)
    return affine_transform(images, transforms, interpolation, "constant", fill_value, data_format)


def elastic_transform(
    images,
    alpha=20.0,
    sigma=5.0,
    interpolation="bilinear",
    fill_mode="reflect",
    fill_value=0.0,
    seed=None,
    data_format=None,
):
    """Elastic deformation: each pixel samples the input at an offset drawn from normal noise
    (scaled by `sigma`), smoothed by a Gaussian of `sigma` and scaled by `alpha`; one field per
    image, independent for x and y. `seed` follows `jnet.random` (int, SeedGenerator or None)."""
    from jnet.ops._image_filters import gaussian_blur
    from jnet.ops.image import map_coordinates
    from jnet.random import draw_seed

    orders = {"nearest": 0, "bilinear": 1}
    if interpolation not in orders:
        raise ValueError(
            f"elastic_transform: `interpolation` must be 'nearest' or 'bilinear'; received {interpolation!r}"
        )
    x = to_float(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"elastic_transform: `images` must have rank 3 or 4; received shape {x.shape}")
    first = config.standardize_data_format(data_format) == "channels_first"
    squeeze = x.ndim == 3
    if squeeze:
        x = x[None]
    if first:
        x = jnp.moveaxis(x, 1, -1)
    n, h, w, _ = x.shape
    size = int(6 * sigma) | 1  # odd kernel covering +-3 sigma
    noise = jax.random.normal(draw_seed(seed), (n, h, w, 2), x.dtype) * sigma
    field = gaussian_blur(noise, (size, size), (sigma, sigma), "channels_last") * alpha
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=x.dtype), jnp.arange(w, dtype=x.dtype), indexing="ij")

    def one(img, f):
        coords = [yy + f[..., 1], xx + f[..., 0]]
        return jax.vmap(
            lambda c: map_coordinates(c, coords, orders[interpolation], fill_mode, fill_value), in_axes=-1, out_axes=-1
        )(img)

    out = jax.vmap(one)(x, field).astype(
        tensor(images).dtype if jnp.issubdtype(tensor(images).dtype, jnp.floating) else x.dtype
    )
    if first:
        out = jnp.moveaxis(out, -1, 1)
    return out[0] if squeeze else out
