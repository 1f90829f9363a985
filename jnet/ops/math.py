"""`jnet.ops.math`: special functions, FFTs, segment reductions and top-k (`keras.ops.math`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy as jsp

from jnet.ops._utils import tensor, to_float


def erf(x):
    """The error function."""
    return jax.lax.erf(to_float(x))


def erfc(x):
    """The complementary error function `1 - erf(x)`."""
    return jax.lax.erfc(to_float(x))


def erfinv(x):
    """The inverse error function."""
    return jax.lax.erf_inv(to_float(x))


def rsqrt(x):
    """`1 / sqrt(x)`."""
    return jax.lax.rsqrt(to_float(x))


def logsumexp(x, axis=None, keepdims=False):
    """`log(sum(exp(x)))` along `axis`, computed stably."""
    return jsp.special.logsumexp(to_float(x), axis=axis, keepdims=keepdims)


def logdet(x):
    """`log(det(x))` of (batches of) Hermitian positive-definite matrices."""
    return jnp.linalg.slogdet(to_float(x))[1]


def top_k(x, k, sorted=True):  # noqa: A002  (Keras's name)
    """`(values, indices)` of the `k` largest entries along the last axis (descending).

    Example:
    >>> jnet.ops.top_k(jnet.ops.array([1.0, 3.0, 2.0]), 2)  # ([3, 2], [1, 2])
    """
    return jax.lax.top_k(tensor(x), k)


def in_top_k(targets, predictions, k):
    """Whether each `targets[i]` is among the `k` largest `predictions[i]` (ties count as in)."""
    targets, predictions = tensor(targets).astype("int32"), to_float(predictions)
    target_score = jnp.take_along_axis(predictions, targets[:, None], axis=-1)
    above = jnp.sum(predictions > target_score, axis=-1)
    return (above < k) & jnp.isfinite(target_score[:, 0])


def _segment(name, fn, data, segment_ids, num_segments, sorted):  # noqa: A002
    data, ids = tensor(data), tensor(segment_ids).astype("int32")
    if num_segments is None:
        num_segments = int(jnp.max(ids)) + 1  # needs concrete ids (not under jit)
    return fn(data, ids, num_segments=num_segments, indices_are_sorted=sorted)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Sum of `data` rows per segment id; give `num_segments` to use under `jit`.

    Example:
    >>> jnet.ops.segment_sum(jnet.ops.array([1, 2, 3]), jnet.ops.array([0, 0, 1]))  # [3, 3]
    """
    return _segment("segment_sum", jax.ops.segment_sum, data, segment_ids, num_segments, sorted)


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Maximum of `data` rows per segment id (empty segments give the dtype's lowest value)."""
    return _segment("segment_max", jax.ops.segment_max, data, segment_ids, num_segments, sorted)


def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Minimum of `data` rows per segment id."""
    return _segment("segment_min", jax.ops.segment_min, data, segment_ids, num_segments, sorted)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Product of `data` rows per segment id."""
    return _segment("segment_prod", jax.ops.segment_prod, data, segment_ids, num_segments, sorted)


def _complex_pair(name, x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{name}: `x` must be a tuple (real, imag); received {type(x).__name__}")
    real, imag = to_float(x[0]), to_float(x[1])
    if real.shape != imag.shape:
        raise ValueError(f"{name}: real and imaginary parts differ in shape: {real.shape} vs {imag.shape}")
    return jax.lax.complex(real, imag)


def fft(x):
    """FFT over the last axis of the complex tensor given as `x = (real, imag)`; returns
    `(real, imag)`."""
    y = jnp.fft.fft(_complex_pair("fft", x))
    return jnp.real(y), jnp.imag(y)


def fft2(x):
    """2-D FFT over the last two axes of `x = (real, imag)`; returns `(real, imag)`."""
    y = jnp.fft.fft2(_complex_pair("fft2", x))
    return jnp.real(y), jnp.imag(y)


def ifft2(x):
    """Inverse 2-D FFT over the last two axes of `x = (real, imag)`; returns `(real, imag)`."""
    y = jnp.fft.ifft2(_complex_pair("ifft2", x))
    return jnp.real(y), jnp.imag(y)


def rfft(x, fft_length=None):
    """FFT of the real `x` over its last axis: `(real, imag)` of the `fft_length // 2 + 1` terms."""
    y = jnp.fft.rfft(to_float(x), n=fft_length, axis=-1)
    return jnp.real(y), jnp.imag(y)


def irfft(x, fft_length=None):
    """Inverse of `rfft`: the real signal from `x = (real, imag)`."""
    return jnp.fft.irfft(_complex_pair("irfft", x), n=fft_length, axis=-1)


def view_as_complex(x):
    """The complex tensor whose real/imaginary parts are the last axis (length 2) of `x`."""
    x = to_float(x)
    if x.shape[-1] != 2:
        raise ValueError(f"view_as_complex: the last axis of `x` must have length 2; received {x.shape}")
    return jax.lax.complex(x[..., 0], x[..., 1])


def view_as_real(x):
    """The real tensor `(..., 2)` holding the real and imaginary parts of the complex `x`."""
    x = tensor(x)
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of length `sequence_length` taken every `sequence_stride` along the last axis:
    `(..., num_frames, sequence_length)`."""
    x = tensor(x)
    n = 1 + (x.shape[-1] - sequence_length) // sequence_stride
    idx = jnp.arange(n)[:, None] * sequence_stride + jnp.arange(sequence_length)[None, :]
    return x[..., idx]


def _window(window, length, dtype):
    if window is None:
        return None
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f"stft: `window` must be 'hann', 'hamming', a tensor or None; received {window!r}")
        # periodic windows (scipy's get_window default): cos over n / length
        phase = 2 * jnp.pi * jnp.arange(length, dtype=dtype) / length
        a = 0.5 if window == "hann" else 0.54
        return (a - (1 - a) * jnp.cos(phase)).astype(dtype)
    return tensor(window).astype(dtype)


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform over the last axis of the real `x`; returns `(real, imag)`
    of shape `(..., num_frames, fft_length // 2 + 1)`."""
    x = to_float(x)
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(fft_length // 2, fft_length // 2)]
        x = jnp.pad(x, pad, mode="reflect")
    # frames span fft_length samples; the window (ones when None) covers the centred
    # sequence_length of them and zeroes the rest
    w = _window(window, sequence_length, x.dtype)
    w = jnp.ones((sequence_length,), x.dtype) if w is None else w
    left = (fft_length - sequence_length) // 2
    w = jnp.pad(w, (left, fft_length - sequence_length - left))
    frames = extract_sequences(x, fft_length, sequence_stride)
    frames = frames * w.reshape((1,) * (frames.ndim - 1) + w.shape)
    return rfft(frames, fft_length)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """Inverse of `stft` by overlap-add with window-square normalisation."""
    frames = irfft(x, fft_length)
    dtype = frames.dtype
    left = (fft_length - sequence_length) // 2
    frames = frames[..., left : left + sequence_length]
    w = _window(window, sequence_length, dtype)
    if w is None:
        w = jnp.ones((sequence_length,), dtype)
    frames = frames * w.reshape((1,) * (frames.ndim - 1) + w.shape)
    n = frames.shape[-2]
    total = sequence_length + sequence_stride * (n - 1)
    idx = (jnp.arange(n)[:, None] * sequence_stride + jnp.arange(sequence_length)[None, :]).ravel()
    flat = frames.reshape(frames.shape[:-2] + (-1,))
    out = jnp.zeros(frames.shape[:-2] + (total,), dtype).at[..., idx].add(flat)
    norm = jnp.zeros((total,), dtype).at[idx].add(jnp.tile(jnp.square(w), n))
    norm = jnp.where(norm > 1e-10, norm, 1.0)
    out = out / norm.reshape((1,) * (out.ndim - 1) + norm.shape)
    start = fft_length // 2 if center else 0
    end = total - (fft_length // 2 if center else 0) if length is None else start + length
    return out[..., start:end]


def cdist(x, y):
    """Euclidean distances between the rows of `x` `(..., m, d)` and `y` `(..., n, d)`."""
    x, y = to_float(x), to_float(y)
    return jnp.sqrt(jnp.sum(jnp.square(x[..., :, None, :] - y[..., None, :, :]), axis=-1))
