"""Colour-space conversions, filters and image metrics of `keras.ops.image`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet import config
from jnet.ops._utils import tensor


def _float_images(name, images):
    images = tensor(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"{name}: `images` must have rank 3 or 4; received shape {images.shape}")
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise ValueError(f"{name}: `images` must be a float tensor; received dtype {images.dtype}")
    return images


def _channel_axis(data_format):
    return -1 if config.standardize_data_format(data_format) == "channels_last" else -3


def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] to HSV (hue in [0, 1)), per pixel.

    Example:
    >>> jnet.ops.image.rgb_to_hsv(jnet.ops.ones((2, 2, 3)))
    """
    x = _float_images("rgb_to_hsv", images)
    axis = _channel_axis(data_format)
    x = jnp.where(jnp.abs(x) < jnp.finfo(x.dtype).eps, 0.0, x).astype(x.dtype)
    r, g, b = (jnp.take(x, i, axis=axis) for i in range(3))
    value = jnp.maximum(jnp.maximum(r, g), b)
    spread = value - jnp.minimum(jnp.minimum(r, g), b)
    saturation = jnp.where(value > 0, spread / jnp.where(value > 0, value, 1.0), 0.0)
    norm = 1.0 / (6.0 * jnp.where(spread > 0, spread, 1.0))
    hue = jnp.where(value == g, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0)
    hue = jnp.where(value == r, norm * (g - b), hue)
    hue = jnp.where(spread > 0, hue, 0.0) + (hue < 0.0).astype(hue.dtype)  # wrap negative hues
    return jnp.stack([hue, saturation, value], axis=axis).astype(x.dtype)


def hsv_to_rgb(images, data_format=None):
    """HSV (all channels in [0, 1]) to RGB, per pixel."""
    x = _float_images("hsv_to_rgb", images)
    axis = _channel_axis(data_format)
    h, s, v = (jnp.take(x, i, axis=axis) for i in range(3))
    dh = jnp.mod(h, 1.0) * 6.0
    parts = [
        jnp.clip(jnp.abs(dh - 3.0) - 1.0, 0.0, 1.0),
        jnp.clip(2.0 - jnp.abs(dh - 2.0), 0.0, 1.0),
        jnp.clip(2.0 - jnp.abs(dh - 4.0), 0.0, 1.0),
    ]
    return jnp.stack([v * (1.0 - s + s * d) for d in parts], axis=axis).astype(x.dtype)


def _gauss1d(size, sigma, dtype):
    x = jnp.arange(size, dtype=dtype) - (size - 1) / 2.0
    k = jnp.exp(-0.5 * jnp.square(x / sigma))
    return k / jnp.sum(k)


def _per_channel(images, kernel, padding):
    """Convolve each channel of NHWC `images` with the 2-D `kernel`."""
    c = images.shape[-1]
    k = jnp.tile(kernel[:, :, None, None], (1, 1, 1, c))
    return jax.lax.conv_general_dilated(
        images, k, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c
    )


def _nhwc(name, images, data_format):
    x = _float_images(name, images)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[None]
    first = config.standardize_data_format(data_format) == "channels_first"
    if first:
        x = jnp.moveaxis(x, 1, -1)
    return x, squeeze, first


def _restore(x, squeeze, first):
    if first:
        x = jnp.moveaxis(x, -1, 1)
    return x[0] if squeeze else x


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Blur each channel with a Gaussian kernel (zero padding, same size). As in Keras,
    `kernel_size` and `sigma` are given as (width, height)."""
    x, squeeze, first = _nhwc("gaussian_blur", images, data_format)
    kw, kh = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sw, sh = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma
    kernel = jnp.outer(_gauss1d(kh, sh, x.dtype), _gauss1d(kw, sw, x.dtype))
    return _restore(_per_channel(x, kernel, "SAME"), squeeze, first)


def sobel_edges(images, data_format=None):
    """Sobel gradients per channel: `(..., channels, 2)` holding (dy, dx), zero padding."""
    x, squeeze, first = _nhwc("sobel_edges", images, data_format)
    sx = jnp.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], x.dtype)
    dy, dx = _per_channel(x, sx.T, "SAME"), _per_channel(x, sx, "SAME")
    if first:
        dy, dx = jnp.moveaxis(dy, -1, 1), jnp.moveaxis(dx, -1, 1)
    out = jnp.stack([dy, dx], axis=-1)
    return out[0] if squeeze else out


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """Structural similarity of two images (Gaussian window, "valid" borders), averaged over
    pixels and channels: one value per image.

    Raises:
        ValueError: when the images differ in shape.
    """
    x, squeeze, _ = _nhwc("ssim", image1, data_format)
    y, _, _ = _nhwc("ssim", image2, data_format)
    if x.shape != y.shape:
        raise ValueError(f"ssim: `image1` and `image2` differ in shape: {x.shape} vs {y.shape}")
    g = _gauss1d(filter_size, filter_sigma, x.dtype)
    kernel = jnp.outer(g, g)

    def blur(v):
        return _per_channel(v, kernel, "VALID")

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    ssim_map = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    out = jnp.mean(ssim_map, axis=(1, 2, 3))
    return out[0] if squeeze else out


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Patches of `size = (pd, ph, pw)` of volumes `(batch, d, h, w, c)` as channels:
    `(batch, ..., pd * ph * pw * c)`."""
    from jnet.ops._nn_conv import conv

    v = tensor(volumes)
    size = (size,) * 3 if isinstance(size, int) else tuple(size)
    if len(size) != 3:
        raise ValueError(f"extract_patches_3d: `size` must be an int or 3 ints; received {size}")
    strides = size if strides is None else strides
    channels_last = config.standardize_data_format(data_format) == "channels_last"
    unbatched = v.ndim == 4
    if unbatched:
        v = v[None]
    c = v.shape[-1] if channels_last else v.shape[1]
    n = size[0] * size[1] * size[2] * c
    kernel = jnp.eye(n, dtype=v.dtype).reshape(*size, c, n)
    out = conv(v, kernel, strides, padding, data_format, dilation_rate)
    return out[0] if unbatched else out
