"""Weight initializers by Keras name and class. Each is `init(key, shape, dtype) -> array`.

Keras's defaults and formulas are kept (RandomNormal stddev 0.05, variance scaling with the
truncated-normal correction), so a jnet model starts from the same distribution as Keras.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet.serialization import _REGISTRY, ConfigObject, register_family
from jnet.serialization_lib import family_deserialize, family_get, family_serialize
from jnet.utils import rng as jrng


class Initializer(ConfigObject, family=True):
    """Base of the initializers: a dataclass per subclass, registered by name."""


class Zeros(Initializer):
    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.zeros(shape, dtype)


class Ones(Initializer):
    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.ones(shape, dtype)


class Constant(Initializer):
    value: float = 0.0

    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.full(shape, self.value, dtype)


class RandomNormal(Initializer):
    mean: float = 0.0
    stddev: float = 0.05
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        return self.mean + self.stddev * jax.random.normal(_key(key, self.seed), shape, dtype)


class RandomUniform(Initializer):
    minval: float = -0.05
    maxval: float = 0.05
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        return jax.random.uniform(_key(key, self.seed), shape, dtype, self.minval, self.maxval)


class TruncatedNormal(Initializer):
    mean: float = 0.0
    stddev: float = 0.05
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        return self.mean + self.stddev * jax.random.truncated_normal(_key(key, self.seed), -2.0, 2.0, shape, dtype)


class VarianceScaling(Initializer):
    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"
    seed: int | None = None

    def __post_init__(self):
        if self.scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {self.scale}")
        if self.mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {self.mode!r}")
        if self.distribution not in ("truncated_normal", "untruncated_normal", "normal", "uniform"):
            raise ValueError(
                "VarianceScaling: distribution must be truncated_normal, untruncated_normal or uniform, "
                f"got {self.distribution!r}"
            )

    def __call__(self, key, shape, dtype=jnp.float32):
        dist = "untruncated_normal" if self.distribution == "normal" else self.distribution
        # Keras and jax compute fans the same way: receptive field * in/out channels (HWIO).
        init = jax.nn.initializers.variance_scaling(self.scale, self.mode, dist)
        if len(shape) < 2:
            init = jax.nn.initializers.variance_scaling(self.scale, self.mode, dist, in_axis=0, out_axis=0)
        return init(_key(key, self.seed), shape, dtype)


def _scaled(name, scale, mode, distribution):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    cls = type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config})
    cls.__module__ = __name__
    return cls


GlorotUniform = _scaled("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaled("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaled("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaled("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaled("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaled("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    gain: float = 1.0
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        return jax.nn.initializers.orthogonal(self.gain)(_key(key, self.seed), shape, dtype)


class Identity(Initializer):
    gain: float = 1.0

    def __call__(self, key, shape, dtype=jnp.float32):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2D shape, got {shape}")
        return self.gain * jnp.eye(*shape, dtype=dtype)


class STFT(Initializer):
    """Kernels of a convolution that computes a short-time Fourier transform (Keras's `STFT`,
    used by `jnet.layers.STFTSpectrogram`).

    For a shape `(frame_length, 1, fft_length // 2 + 1)` the kernel holds `cos` (`side="real"`)
    or `sin` (`side="imag"`) of `-2 pi t f / fft_length`, times the window over `t`, divided by
    the window's L2 (`scaling="density"`) or L1 (`"spectrum"`) norm.

    Args:
        side: `"real"` or `"imag"`: which part of the transform the kernel computes.
        window: a `scipy.signal.windows` name (`"hann"`, `"hamming"`, ...), the window's values
            (a list of `frame_length` floats), or None for no window.
        scaling: `"density"`, `"spectrum"` or None (no normalisation).
        periodic: use the periodic form of a named window (default False: symmetric).

    Example:
    ```python
    kernel = jnet.initializers.STFT("imag", "hann")(None, (64, 1, 33))
    ```
    """

    side: str = "real"
    window: object = "hann"
    scaling: object = "density"
    periodic: bool = False

    def __post_init__(self):
        if self.side not in ("real", "imag"):
            raise ValueError(f"STFT initializer: side must be 'real' or 'imag', got {self.side!r}")
        if self.scaling is not None and self.scaling not in ("density", "spectrum"):
            raise ValueError(f"STFT initializer: scaling must be None, 'density' or 'spectrum', got {self.scaling!r}")
        if isinstance(self.window, str):
            stft_window(self.window, 1, False, "STFT initializer")

    def __call__(self, key, shape, dtype=jnp.float32):
        if len(shape) != 3:
            raise ValueError(f"STFT initializer: shape must be (frame_length, 1, fft_bins), got {tuple(shape)}")
        frame_length, _, bins = shape
        time = jnp.arange(frame_length, dtype=dtype).reshape(frame_length, 1, 1)
        freq = jnp.arange(bins, dtype=dtype).reshape(1, 1, bins) / ((bins - 1) * 2)
        args = (-2 * time) * freq * jnp.asarray(jnp.pi, dtype)
        kernel = jnp.cos(args) if self.side == "real" else jnp.sin(args)
        if self.window is not None:
            win = self.window
            if isinstance(win, str):
                win = stft_window(win, frame_length, self.periodic, "STFT initializer")
            win = jnp.asarray(win, dtype)
            if win.ndim != 1 or win.shape[0] != frame_length:
                raise ValueError(
                    f"STFT initializer: the window must have shape ({frame_length},) (frame_length), "
                    f"got {tuple(win.shape)}"
                )
            win = win.reshape(frame_length, 1, 1)
            scale = 1.0
            if self.scaling == "density":
                scale = jnp.sqrt(jnp.sum(jnp.square(win)))
            elif self.scaling == "spectrum":
                scale = jnp.sum(jnp.abs(win))
            kernel = kernel * win / scale
        return kernel.astype(dtype)


def stft_window(name, length, periodic, label):
    """The values of the `scipy.signal.windows` window `name` (periodic or symmetric)."""
    import numpy as np
    import scipy.signal

    try:
        return np.asarray(scipy.signal.get_window(name, length, fftbins=periodic))
    except ValueError as err:
        raise ValueError(f"{label}: unknown window {name!r} ({err})") from None


def _key(key, seed):
    # A fixed seed makes the initializer ignore the model's key, as Keras does.
    return key if seed is None else jrng.make_key(seed)


ALL = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
    "identity": Identity,
    "stft": STFT,
}
# Keras's short aliases (`Embedding(embeddings_initializer="uniform")` is Keras's default).
ALL.update({"normal": RandomNormal, "uniform": RandomUniform, "one": Ones, "zero": Zeros})
_CLASSES = {cls.__name__: cls for cls in ALL.values()}
# The registry is shared with layers, and the `Identity` layer owns that name there; this one
# is registered as Keras's alias "IdentityInitializer" (`initializers.get` knows both names).
_CLASSES["IdentityInitializer"] = Identity
Identity._registered_name = "IdentityInitializer"
_REGISTRY["IdentityInitializer"] = Identity
if _REGISTRY.get("Identity") is Identity:
    del _REGISTRY["Identity"]

# Keras's lowercase aliases (`initializers.glorot_uniform` is the class `GlorotUniform`).
globals().update({_name: _cls for _name, _cls in ALL.items() if _name not in globals()})
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
STFTInitializer = STFT


def _by_name(name):
    cls = ALL.get(name) or _CLASSES.get(name)
    return None if cls is None else cls()


def get(identifier):
    """An initializer from a Keras name, a class name, a custom object's name (registered or in a
    `custom_object_scope`), a config dict (jnet's or Keras's form), a class, or a callable;
    None stays None."""
    return family_get(identifier, "initializers", _by_name, ALL)


def serialize(initializer):
    """The config of `initializer` in Keras 3's form (`jnet.saving.serialize_keras_object`)."""
    return family_serialize(initializer)


def deserialize(config, custom_objects=None):
    """An initializer from `serialize`'s output, a Keras 3 config, or a name."""
    return family_deserialize(config, "initializers", custom_objects, by_name=get)


register_family("initializers", _CLASSES)
