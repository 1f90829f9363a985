"""Audio layers: `STFTSpectrogram` (a trainable STFT as a strided convolution) and
`MelSpectrogram` (a fixed log-mel front end), with Keras 3's arguments and numerics."""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet import config as _config
from jnet import initializers
from jnet.layers.base import Layer
from jnet.ops import math as _math

__all__ = ["MelSpectrogram", "STFTSpectrogram"]

_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


def _float_input(layer, dtype):
    if jnp.dtype(dtype) not in (jnp.float16, jnp.float32, jnp.float64):
        raise TypeError(f"{layer._label}: expected float16, float32 or float64 inputs, got {jnp.dtype(dtype)}")


class STFTSpectrogram(Layer):
    """Spectrogram of multi-channel signals by a short-time Fourier transform, computed as a
    strided 1D convolution whose kernels (`initializers.STFT`) are trainable.

    Args:
        mode: what to return: `"log"` (log magnitude, default), `"magnitude"`, `"psd"` (power
            spectral density), `"real"`, `"imag"`, `"angle"` (phase), or `"stft"` (real and
            imaginary parts concatenated along the frequencies).
        frame_length: samples per frame (the window's length), default 256.
        frame_step: samples between frames; default `frame_length // 2`.
        fft_length: FFT size (>= frame_length); default the next power of two of
            `frame_length`. The output has `fft_length // 2 + 1` frequencies per channel.
        window: a `scipy.signal.windows` name, the window's values, or None.
        periodic: use the periodic form of a named window (default False).
        scaling: `"density"` (default), `"spectrum"` or None: how the window is normalised.
        padding: `"valid"` (default) or `"same"`, as a convolution's.
        expand_dims: keep channels and frequencies on separate axes.
        data_format: `"channels_last"` (inputs `(batch, time, channels)`) or
            `"channels_first"`; default `jnet.config.image_data_format()`.

    Output shape: channels_last `(batch, frames, channels * freqs)`, or with `expand_dims`
    `(batch, frames, freqs, channels)`; channels_first `(batch, channels * freqs, frames)` or
    `(batch, channels, frames, freqs)`.

    Example:
    ```python
    x = jnet.Input((16000, 1))
    spec = jnet.layers.STFTSpectrogram(frame_length=400, frame_step=160, fft_length=512)(x)
    ```
    """

    mode: str = "log"
    frame_length: int = 256
    frame_step: Any = None
    fft_length: Any = None
    window: Any = "hann"
    periodic: bool = False
    scaling: Any = "density"
    padding: str = "valid"
    expand_dims: bool = False
    data_format: Any = None

    def check_config(self):
        label = self._label
        if isinstance(self.frame_length, bool) or not isinstance(self.frame_length, int) or self.frame_length < 1:
            raise ValueError(f"{label}: frame_length must be a positive int, got {self.frame_length!r}")
        if self.frame_step is not None and not 1 <= self.frame_step <= self.frame_length:
            raise ValueError(
                f"{label}: frame_step must be a positive integer not greater than frame_length "
                f"({self.frame_length}), got {self.frame_step!r}"
            )
        if self.fft_length is not None and self.fft_length < self.frame_length:
            raise ValueError(
                f"{label}: fft_length must be at least frame_length ({self.frame_length}), got {self.fft_length!r}"
            )
        if self.fft_length is not None and (self.fft_length & -self.fft_length) != self.fft_length:
            warnings.warn(
                f"{label}: fft_length is recommended to be a power of two, got {self.fft_length}", stacklevel=2
            )
        if self.mode not in _MODES:
            raise ValueError(f"{label}: mode must be one of {', '.join(_MODES)}; got {self.mode!r}")
        if self.scaling is not None and self.scaling not in ("density", "spectrum"):
            raise ValueError(f"{label}: scaling must be None, 'density' or 'spectrum', got {self.scaling!r}")
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{label}: padding must be 'valid' or 'same', got {self.padding!r}")
        if isinstance(self.window, str):
            initializers.stft_window(self.window, 1, False, label)
        if isinstance(self.window, (tuple, np.ndarray)):
            self.window = np.asarray(self.window).tolist()
        if self.data_format is None:
            self.data_format = _config.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{label}: data_format must be 'channels_last' or 'channels_first', got {self.data_format!r}"
            )

    @property
    def _step(self) -> int:
        return self.frame_step or self.frame_length // 2

    @property
    def _fft(self) -> int:
        return self.fft_length or 2 ** int(math.ceil(math.log2(self.frame_length)))

    def check_inputs(self, spec):
        if len(spec.shape) != 3:
            raise ValueError(
                f"{self._label}: expected a 3D input (batch, time, channels) or (batch, channels, time), "
                f"got shape {tuple(spec.shape)}"
            )
        _float_input(self, spec.dtype)

    def build(self, input_shape):
        shape = (self.frame_length, 1, self._fft // 2 + 1)
        self.real_kernel = self.imag_kernel = None
        if self.mode != "imag":
            self.real_kernel = self.add_weight(
                shape, initializers.STFT("real", self.window, self.scaling, self.periodic), name="real_kernel"
            )
        if self.mode != "real":
            self.imag_kernel = self.add_weight(
                shape, initializers.STFT("imag", self.window, self.scaling, self.periodic), name="imag_kernel"
            )

    def _conv(self, signals, kernel):
        """(batch, channels, time) -> (batch, channels, frames, freqs)."""
        b, c, t = signals.shape
        x = signals.reshape(b * c, t, 1)
        out = jax.lax.conv_general_dilated(
            x,
            kernel.value.astype(x.dtype),
            window_strides=(self._step,),
            padding=self.padding.upper(),
            dimension_numbers=("NWC", "WIO", "NWC"),
        )
        return out.reshape(b, c, out.shape[1], out.shape[2])

    def _arrange(self, z):
        """(batch, channels, frames, freqs) -> the output layout."""
        b, c, n, f = z.shape
        if self.data_format == "channels_last":
            if self.expand_dims:
                return jnp.transpose(z, (0, 2, 3, 1))
            return jnp.transpose(z, (0, 2, 1, 3)).reshape(b, n, c * f)
        if self.expand_dims:
            return z
        return jnp.transpose(z, (0, 1, 3, 2)).reshape(b, c * f, n)

    def call(self, inputs):
        _float_input(self, inputs.dtype)
        signals = jnp.transpose(inputs, (0, 2, 1)) if self.data_format == "channels_last" else inputs
        real = self._conv(signals, self.real_kernel) if self.mode != "imag" else None
        imag = self._conv(signals, self.imag_kernel) if self.mode != "real" else None
        if self.mode == "real":
            return self._arrange(real)
        if self.mode == "imag":
            return self._arrange(imag)
        if self.mode == "angle":
            return self._arrange(jnp.arctan2(imag, real))
        if self.mode == "stft":
            return self._arrange(jnp.concatenate([real, imag], axis=-1))
        power = jnp.square(real) + jnp.square(imag)
        if self.mode == "psd":
            # one-sided spectrum: the bins between DC and Nyquist count twice
            return self._arrange(power + jnp.pad(power[..., 1:-1], [(0, 0), (0, 0), (0, 0), (1, 1)]))
        eps = _config.epsilon()
        magnitude = self._arrange(jnp.sqrt(jnp.maximum(power, eps)))
        if self.mode == "magnitude":
            return magnitude
        return jnp.log(jnp.maximum(magnitude, eps))


_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _hertz_to_mel(hz):
    return _MEL_HIGH_FREQUENCY_Q * jnp.log(1.0 + hz / _MEL_BREAK_FREQUENCY_HERTZ)


def linear_to_mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate, lower_edge_hertz, upper_edge_hertz):
    """`(num_spectrogram_bins, num_mel_bins)` triangular filters (HTK mel scale, peaks of 1)
    mapping a linear spectrum over `[0, sampling_rate / 2]` to mel bands between the edges."""
    dtype = jnp.float32
    nyquist = jnp.asarray(sampling_rate, dtype) / 2.0
    linear = jnp.linspace(jnp.asarray(0.0, dtype), nyquist, num_spectrogram_bins)[1:]
    bins_mel = _hertz_to_mel(linear)[:, None]
    edges = jnp.linspace(
        _hertz_to_mel(jnp.asarray(lower_edge_hertz, dtype)),
        _hertz_to_mel(jnp.asarray(upper_edge_hertz, dtype)),
        num_mel_bins + 2,
    )
    lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = jnp.maximum(0.0, jnp.minimum(lower_slopes, upper_slopes))
    return jnp.pad(weights, [(1, 0), (0, 0)])  # the DC bin maps to no band


class MelSpectrogram(Layer):
    """Mel spectrogram of raw audio (no weights): a centred STFT, its magnitude to the power
    `mag_exp`, triangular mel filters, and (by default) decibels.

    Args:
        fft_length: FFT size (default 2048).
        sequence_stride: samples between frames (default 512).
        sequence_length: the window's length (default `fft_length`).
        window: `"hann"` (default), `"hamming"`, or None.
        sampling_rate: the audio's sample rate in Hz (default 16000).
        num_mel_bins: mel bands (default 128).
        min_freq, max_freq: the bands' frequency range in Hz (defaults 20 and
            `sampling_rate / 2`).
        power_to_db: convert to decibels (default True), clipped to `top_db` below the
            maximum of the whole batch (as Keras).
        top_db: the decibel range kept (default 80).
        mag_exp: exponent of the magnitude (2: power spectrogram).
        min_power: floor of the power before the logarithm (1e-10).
        ref_power: the power of 0 dB (1.0).

    Input shape: `(batch, samples)` or `(samples,)`. Output: `(batch, num_mel_bins, frames)`
    (or `(num_mel_bins, frames)`), with `frames = 1 + samples // sequence_stride`.

    Example:
    ```python
    mel = jnet.layers.MelSpectrogram(num_mel_bins=64, sampling_rate=16000)(waveforms)
    ```
    """

    fft_length: int = 2048
    sequence_stride: int = 512
    sequence_length: Any = None
    window: Any = "hann"
    sampling_rate: int = 16000
    num_mel_bins: int = 128
    min_freq: float = 20.0
    max_freq: Any = None
    power_to_db: bool = True
    top_db: float = 80.0
    mag_exp: float = 2.0
    min_power: float = 1e-10
    ref_power: float = 1.0

    def check_config(self):
        label = self._label
        for name in ("fft_length", "sequence_stride", "num_mel_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label}: {name} must be a positive int, got {value!r}")
        self.sequence_length = self.sequence_length or self.fft_length
        if self.fft_length < self.sequence_length:
            raise ValueError(
                f"{label}: fft_length ({self.fft_length}) must be at least sequence_length ({self.sequence_length})"
            )
        if self.window is not None and isinstance(self.window, str) and self.window not in ("hann", "hamming"):
            raise ValueError(f"{label}: window must be 'hann', 'hamming' or None, got {self.window!r}")
        self.max_freq = self.max_freq or int(self.sampling_rate / 2)

    def check_inputs(self, spec):
        if len(spec.shape) not in (1, 2):
            raise ValueError(f"{self._label}: expected audio of shape (batch, samples) or (samples,), got {spec.shape}")

    def call(self, inputs):
        dtype = self.compute_dtype if jnp.dtype(self.compute_dtype) in (jnp.float32, jnp.float64) else jnp.float32
        x = jnp.asarray(inputs).astype(dtype)
        real, imag = _math.stft(x, self.sequence_length, self.sequence_stride, self.fft_length, self.window, True)
        spec = jnp.power(jnp.sqrt(jnp.square(real) + jnp.square(imag)), self.mag_exp)
        matrix = linear_to_mel_weight_matrix(
            self.num_mel_bins, spec.shape[-1], self.sampling_rate, self.min_freq, self.max_freq
        )
        out = jnp.tensordot(spec, matrix.astype(spec.dtype), axes=1)
        if self.power_to_db:
            log_spec = 10.0 * jnp.log10(jnp.maximum(out, self.min_power))
            log_spec -= 10.0 * jnp.log10(jnp.maximum(jnp.abs(jnp.asarray(self.ref_power, dtype)), self.min_power))
            out = jnp.maximum(log_spec, jnp.max(log_spec) - self.top_db)
        return jnp.swapaxes(out, -1, -2).astype(self.compute_dtype)
