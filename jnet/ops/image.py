"""`jnet.ops.image`: image ops of `keras.ops.image` on `jax.image` / `jax.scipy.ndimage`.
Images are `(batch, height, width, channels)` (or `(h, w, c)`), channels first per `data_format`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet import config
from jnet.ops._image_filters import extract_patches_3d, gaussian_blur, hsv_to_rgb, rgb_to_hsv, sobel_edges, ssim  # noqa: F401  (part of this namespace)
from jnet.ops._image_warp import elastic_transform, perspective_transform  # noqa: F401
from jnet.ops._utils import tensor, to_float

_RESIZE = {
    "nearest": "nearest",
    "bilinear": "linear",
    "bicubic": "cubic",
    "lanczos3": "lanczos3",
    "lanczos5": "lanczos5",
}


def _to_last(name, images, data_format):
    images = tensor(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"{name}: `images` must have rank 3 or 4; received shape {images.shape}")
    first = config.standardize_data_format(data_format) == "channels_first"
    if first:
        images = jnp.moveaxis(images, -3, -1)
    return images, first


def _back(images, first):
    return jnp.moveaxis(images, -1, -3) if first else images


def resize(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_mode="constant",
    fill_value=0.0,
    data_format=None,
):
    """Resize `images` to `size = (height, width)`.

    Args:
        images: `(batch, h, w, c)` or `(h, w, c)` (or channels first).
        size: `(height, width)`.
        interpolation: "nearest", "bilinear", "bicubic", "lanczos3" or "lanczos5".
        antialias: Smooth when downsampling.
        crop_to_aspect_ratio: First crop the centre to the target aspect ratio.
        pad_to_aspect_ratio: First pad both sides with `fill_value` to the target aspect ratio.
        fill_mode: Only "constant".
        fill_value: Padding value.
        data_format: "channels_last" or "channels_first".

    Raises:
        ValueError: for an unknown interpolation or fill mode, both aspect-ratio options, or a
            `size` that is not two ints.
    """
    if interpolation not in _RESIZE:
        raise ValueError(f"resize: unknown `interpolation` {interpolation!r}; expected one of {sorted(_RESIZE)}")
    if fill_mode != "constant":
        raise ValueError(f"resize: `fill_mode` must be 'constant'; received {fill_mode!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("resize: give only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio`")
    if len(size) != 2:
        raise ValueError(f"resize: `size` must be (height, width); received {size}")
    x, first = _to_last("resize", images, data_format)
    th, tw = size
    h, w = x.shape[-3], x.shape[-2]
    if crop_to_aspect_ratio:
        ch = max(min(h, int(w * th / tw)), 1)
        cw = max(min(w, int(h * tw / th)), 1)
        top, left = (h - ch) // 2, (w - cw) // 2
        x = x[..., top : top + ch, left : left + cw, :]
    elif pad_to_aspect_ratio:
        # the same margin on both sides, as Keras does
        top = (max(h, int(w * th / tw)) - h) // 2
        left = (max(w, int(h * tw / th)) - w) // 2
        widths = [(0, 0)] * (x.ndim - 3) + [(top, top), (left, left), (0, 0)]
        x = jnp.pad(x, widths, constant_values=jnp.asarray(fill_value).astype(x.dtype))
    shape = x.shape[:-3] + (th, tw, x.shape[-1])
    out = jax.image.resize(to_float(x), shape, method=_RESIZE[interpolation], antialias=antialias)
    return _back(out.astype(x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else out, first)


def rgb_to_grayscale(images, data_format=None):
    """Luma `0.2989 R + 0.587 G + 0.114 B`, keeping a channel axis of length 1."""
    x, first = _to_last("rgb_to_grayscale", images, data_format)
    x = to_float(x)
    w = jnp.array([0.2989, 0.587, 0.114], x.dtype)
    return _back(jnp.tensordot(x, w, axes=([-1], [0]))[..., None], first)


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Patches of `size = (ph, pw)` as channels: `(batch, rows, cols, ph * pw * channels)`.

    Raises:
        ValueError: for strides other than 1 together with a dilation rate other than 1.
    """
    x, first = _to_last("extract_patches", images, data_format)
    size = (size, size) if isinstance(size, int) else tuple(size)
    strides = size if strides is None else ((strides,) * 2 if isinstance(strides, int) else tuple(strides))
    dil = (dilation_rate,) * 2 if isinstance(dilation_rate, int) else tuple(dilation_rate)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[None]
    c = x.shape[-1]
    # identity kernel: each output channel copies one (row, col, channel) of the window
    kernel = jnp.eye(size[0] * size[1] * c, dtype=x.dtype).reshape(size[0], size[1], c, -1)
    out = jax.lax.conv_general_dilated(
        x, kernel, strides, padding.upper(), rhs_dilation=dil, dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    if squeeze:
        out = out[0]
    return _back(out, first)


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Values of `inputs` at fractional `coordinates` (one array per axis) by spline interpolation
    of `order` 0 or 1 (`jax.scipy.ndimage.map_coordinates`)."""
    modes = {"constant": "constant", "nearest": "nearest", "wrap": "wrap", "mirror": "mirror", "reflect": "reflect"}
    if fill_mode not in modes:
        raise ValueError(f"map_coordinates: unknown `fill_mode` {fill_mode!r}; expected one of {sorted(modes)}")
    coords = [to_float(c) for c in coordinates]
    return jax.scipy.ndimage.map_coordinates(to_float(inputs), coords, order, mode=modes[fill_mode], cval=fill_value)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0, data_format=None):
    """Apply projective transforms `[a0, a1, a2, b0, b1, b2, c0, c1]` (one per image): the output
    pixel `(x, y)` takes the input at `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`,
    `k = c0 x + c1 y + 1`.

    Args:
        images: `(batch, h, w, c)` or `(h, w, c)`.
        transform: `(8,)` or `(batch, 8)`.
        interpolation: "nearest" or "bilinear".
        fill_mode: "constant", "nearest", "wrap", "mirror" or "reflect".
        fill_value: Fill for "constant".
        data_format: "channels_last" or "channels_first".
    """
    orders = {"nearest": 0, "bilinear": 1}
    if interpolation not in orders:
        raise ValueError(
            f"affine_transform: `interpolation` must be 'nearest' or 'bilinear'; received {interpolation!r}"
        )
    x, first = _to_last("affine_transform", images, data_format)
    t = to_float(transform)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[None]
    if t.ndim == 1:
        t = t[None]
    if t.shape[-1] != 8:
        raise ValueError(f"affine_transform: `transform` must have 8 entries per image; received shape {t.shape}")
    t = jnp.broadcast_to(t, (x.shape[0], 8))
    h, w = x.shape[1], x.shape[2]
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=t.dtype), jnp.arange(w, dtype=t.dtype), indexing="ij")

    def one(img, tr):
        k = tr[6] * xx + tr[7] * yy + 1.0
        src_x = (tr[0] * xx + tr[1] * yy + tr[2]) / k
        src_y = (tr[3] * xx + tr[4] * yy + tr[5]) / k

        def chan(c):
            return map_coordinates(c, [src_y, src_x], orders[interpolation], fill_mode, fill_value)

        return jax.vmap(chan, in_axes=-1, out_axes=-1)(img)

    out = jax.vmap(one)(to_float(x), t)
    if squeeze:
        out = out[0]
    return _back(out, first)


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    """Resample `images` with a scale and translation per spatial dim (`jax.image.scale_and_translate`)."""
    return jax.image.scale_and_translate(
        to_float(images), output_shape, spatial_dims, to_float(scale), to_float(translation), method, antialias
    )


def crop_images(
    images,
    top_cropping=None,
    left_cropping=None,
    bottom_cropping=None,
    right_cropping=None,
    target_height=None,
    target_width=None,
    data_format=None,
):
    """Crop `images` by the given margins, or to `target_height`/`target_width` from the top-left
    margins (give at most two of the three per dimension)."""
    x, first = _to_last("crop_images", images, data_format)
    h, w = x.shape[-3], x.shape[-2]
    top, bottom, th = _margins("crop_images", h, top_cropping, bottom_cropping, target_height, "height")
    left, right, tw = _margins("crop_images", w, left_cropping, right_cropping, target_width, "width")
    return _back(x[..., top : top + th, left : left + tw, :], first)


def pad_images(
    images,
    top_padding=None,
    left_padding=None,
    bottom_padding=None,
    right_padding=None,
    target_height=None,
    target_width=None,
    data_format=None,
):
    """Zero-pad `images` by the given margins, or to `target_height`/`target_width`."""
    x, first = _to_last("pad_images", images, data_format)
    h, w = x.shape[-3], x.shape[-2]
    top, bottom, _ = _margins("pad_images", h, top_padding, bottom_padding, target_height, "height", pad=True)
    left, right, _ = _margins("pad_images", w, left_padding, right_padding, target_width, "width", pad=True)
    widths = [(0, 0)] * (x.ndim - 3) + [(top, bottom), (left, right), (0, 0)]
    return _back(jnp.pad(x, widths), first)


def _margins(name, size, a, b, target, what, pad=False):
    given = [v is not None for v in (a, b, target)]
    if sum(given) != 2:
        raise ValueError(f"{name}: give exactly two of the two margins and the target {what}")
    sign = 1 if pad else -1
    if target is None:
        return a, b, size + sign * (a + b)
    if a is None:
        a = sign * (target - size) - b
    else:
        b = sign * (target - size) - a
    if a < 0 or b < 0:
        raise ValueError(f"{name}: target {what} {target} does not fit an image {what} of {size}")
    return a, b, target
