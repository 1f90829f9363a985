"""Image files <-> arrays with Pillow: `load_img`, `img_to_array`, `array_to_img`, `save_img`.

Arrays are `(height, width, channels)` (`channels_last`, Keras's default) unless
`data_format="channels_first"`.
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings

import numpy as np

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        raise ImportError("jnet.utils image functions need Pillow: pip install pillow") from None
    return Image


def _data_format(data_format, fn):
    data_format = "channels_last" if data_format is None else str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{fn}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def _resample(interpolation):
    Image = _pil()
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"load_img: interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    return getattr(Image.Resampling, interpolation.upper())


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Loads an image file into a PIL image, as `keras.utils.load_img`.

    Args:
        path: file path (str, bytes or `pathlib.Path`) or an `io.BytesIO`.
        color_mode: `"rgb"`, `"rgba"` or `"grayscale"` (16/32-bit grayscale images stay as they are).
        target_size: `(height, width)` to resize to, or `None` for the original size.
        interpolation: resampling for the resize: `"nearest"`, `"bilinear"`, `"bicubic"`,
            `"hamming"`, `"box"` or `"lanczos"`.
        keep_aspect_ratio: crop the centre to the target aspect ratio before resizing, instead
            of stretching.

    Returns:
        A PIL image.

    Example:
    ```python
    img = jnet.utils.load_img("cat.png", target_size=(64, 64))
    x = jnet.utils.img_to_array(img)   # (64, 64, 3) float32
    ```
    """
    Image = _pil()
    if color_mode not in ("rgb", "rgba", "grayscale"):
        raise ValueError(f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}")
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (str, bytes, pathlib.PurePath)):
        with open(os.fspath(path), "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"load_img: path must be a path or an io.BytesIO, got {type(path).__name__}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif img.mode != color_mode.upper():
        img = img.convert(color_mode.upper())
    if target_size is None:
        return img
    if len(target_size) != 2:
        raise ValueError(f"load_img: target_size must be (height, width), got {target_size!r}")
    size = (int(target_size[1]), int(target_size[0]))  # PIL sizes are (width, height)
    if img.size == size:
        return img
    resample = _resample(interpolation)
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_h = min(height, width * size[1] // size[0])
    crop_w = min(width, height * size[0] // size[1])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return img.resize(size, resample, box=(left, top, left + crop_w, top + crop_h))


def img_to_array(img, data_format=None, dtype=None):
    """Converts a PIL image (or anything array-like) to a rank-3 NumPy array.

    Args:
        img: the image.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        dtype: the array dtype (default `"float32"`).

    Returns:
        `(height, width, channels)` (grayscale gets a channel axis of 1), or channels first.
    """
    data_format = _data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if data_format == "channels_first" else x
    if x.ndim == 2:
        return x[None] if data_format == "channels_first" else x[:, :, None]
    raise ValueError(f"img_to_array: expected an image of rank 2 or 3, got shape {x.shape}")


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """Converts a rank-3 array to a PIL image.

    Args:
        x: `(height, width, channels)` array with 1, 3 or 4 channels (channels first with
            `data_format="channels_first"`).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        scale: rescale the values to [0, 255] (min -> 0, max -> 255) first; else they are cast
            to uint8 as they are.
        dtype: dtype for the arithmetic (default `"float32"`).

    Returns:
        A PIL image: mode `"L"` (or `"I"` for 1-channel values above 255), `"RGB"` or `"RGBA"`.
    """
    data_format = _data_format(data_format, "array_to_img")
    Image = _pil()
    x = np.array(x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected one image of rank 3, got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: images need 1, 3 or 4 channels, got {channels} (shape {x.shape})")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Saves a rank-3 array as an image file.

    Args:
        path: file path or a file object.
        x: the image array (see `array_to_img`).
        data_format: `"channels_last"` (default) or `"channels_first"`.
        file_format: e.g. `"png"`, `"jpeg"`; `None` takes it from the file name's extension.
        scale: rescale values to [0, 255] first (see `array_to_img`).
        **kwargs: passed to `PIL.Image.save` (e.g. `quality=95`).
    """
    if file_format is None and isinstance(path, (str, pathlib.PurePath)):
        file_format = pathlib.Path(path).suffix[1:].lower() or None
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("save_img: JPEG cannot store an alpha channel; saving as RGB", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
