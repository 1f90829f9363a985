"""Helpers shared by the convolution and pooling layers: argument normalisation (Keras's
`kernel_size=3` -> `(3, 3)`), data formats, lax dimension numbers and input checks.

Private: the public names live in `convolution.py` and `pooling.py`.
"""

from __future__ import annotations

import math
import numbers

DATA_FORMATS = ("channels_last", "channels_first")
_SPATIAL_LETTERS = "DHW"  # lax names spatial axes by letter; rank r uses the last r of these
_LAYOUT_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def normalize_tuple(value, rank: int, arg: str, label: str, allow_zero: bool = False) -> tuple:
    """`3` -> `(3,) * rank`; a sequence is checked for length and sign."""
    if isinstance(value, bool):
        raise ValueError(f"{label}: {arg} must be an int or a tuple of {rank} ints, got {value!r}")
    if isinstance(value, numbers.Integral):
        value = (value,) * rank
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"{label}: {arg} must be an int or a tuple of {rank} ints, got {value!r}") from None
    if len(items) != rank or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{label}: {arg} must be an int or a tuple of {rank} ints, got {value!r}")
    items = tuple(int(v) for v in items)  # numpy ints become plain ints (JSON-ready config)
    low = 0 if allow_zero else 1
    if any(v < low for v in items):
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{label}: every entry of {arg} must be {sign}, got {items}")
    return items


def normalize_padding(value, label: str, allowed=("valid", "same")) -> str:
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ValueError(f"{label}: padding must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return padding


def normalize_data_format(value, label: str) -> str:
    # Keras resolves None from `image_data_format()`, "channels_last" unless configured.
    data_format = "channels_last" if value is None else value
    if data_format not in DATA_FORMATS:
        raise ValueError(f"{label}: data_format must be 'channels_last' or 'channels_first', got {value!r}")
    return data_format


def spatial_letters(rank: int) -> str:
    return _SPATIAL_LETTERS[len(_SPATIAL_LETTERS) - rank :]


def conv_dimension_numbers(rank: int, data_format: str) -> tuple:
    """lax dimension numbers: data NHWC or NCHW, kernel always HWIO (Keras's layout)."""
    sp = spatial_letters(rank)
    data = "N" + sp + "C" if data_format == "channels_last" else "NC" + sp
    return (data, sp + "IO", data)


def channel_axis(data_format: str) -> int:
    return -1 if data_format == "channels_last" else 1


def spatial_axes(rank: int, data_format: str) -> tuple:
    return tuple(range(1, rank + 1)) if data_format == "channels_last" else tuple(range(2, rank + 2))


def layout(rank: int, data_format: str) -> str:
    names = _LAYOUT_NAMES[rank]
    parts = ("batch",) + names + ("channels",) if data_format == "channels_last" else ("batch", "channels") + names
    return "(" + ", ".join(parts) + ")"


def check_spatial_input(label: str, spec, rank: int, data_format: str, need_channels: bool = True) -> None:
    """Rank and (optionally) a known channel axis, with an error naming the layer."""
    shape = tuple(spec.shape)
    if len(shape) != rank + 2:
        raise ValueError(
            f"{label}: expected input of rank {rank + 2} {layout(rank, data_format)}, "
            f"got rank {len(shape)} with shape {shape}"
        )
    if need_channels and shape[channel_axis(data_format)] is None:
        raise ValueError(f"{label}: the channel axis must be known, got input shape {shape}")


def check_windows_fit(label: str, spec, rank: int, data_format: str, windows, what: str) -> None:
    """With 'valid' padding a window longer than the input leaves no output: say so at build
    time instead of producing a zero-sized array."""
    sizes = [spec.shape[a] for a in spatial_axes(rank, data_format)]
    for axis_name, n, w in zip(_LAYOUT_NAMES[rank], sizes, windows):
        if n is not None and n < w:
            raise ValueError(
                f"{label}: with padding='valid' the {what} ({w} along {axis_name}) is larger than "
                f"the input ({n}); the output would be empty. Input shape {tuple(spec.shape)}; use "
                "padding='same' or a smaller window."
            )


def effective_size(kernel: int, dilation: int) -> int:
    """Span of a dilated kernel."""
    return (kernel - 1) * dilation + 1


def transpose_padding(kernel, stride, dilation, padding, output_padding):
    """(before, after) padding for `lax.conv_transpose` giving Keras's output length.

    `lax.conv_transpose` with padding (lo, hi) produces `(n - 1) * s + lo + hi - k + 2`
    elements (k the dilated kernel). Keras's lengths are:
      valid: `(n - 1) * s + k + output_padding`, output_padding defaulting to max(k, s) - k;
      same:  `n * s` by default, else `(n - 1) * s + k % 2 + output_padding`,
    with the padding placed before the input first, but never more than k - 1 of it."""
    k = effective_size(kernel, dilation)
    if padding == "valid":
        extra = max(k, stride) - k if output_padding is None else output_padding
        return (k - 1, k - 1 + extra)
    total = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    before = min((total + 1) // 2, k - 1)
    return (before, total - before)


def bias_shape(rank: int, data_format: str, channels: int) -> tuple:
    """Bias broadcast shape, explicit because jnet runs with rank promotion disabled."""
    if data_format == "channels_last":
        return (1,) * (rank + 1) + (channels,)
    return (1, channels) + (1,) * rank


def window_counts(sizes, windows, strides, padding: str):
    """Per-axis counts of real (non-padding) elements in each 'same'-padded window.

    'same' pads `max((out - 1) * stride + window - size, 0)` in total, the smaller half before
    (lax's and TensorFlow's rule). The count of a window is the product of its per-axis counts,
    so Keras's average pooling (which excludes padding) needs only these small vectors."""
    counts = []
    for n, w, s in zip(sizes, windows, strides):
        if padding == "valid":
            out = (n - w) // s + 1
            counts.append([w] * out)
            continue
        out = math.ceil(n / s)
        before = max((out - 1) * s + w - n, 0) // 2
        axis = []
        for i in range(out):
            start = i * s - before
            axis.append(min(start + w, n) - max(start, 0))
        counts.append(axis)
    return counts
