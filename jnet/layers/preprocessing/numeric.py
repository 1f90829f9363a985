"""Numeric feature preprocessing: Normalization (adapted mean and variance), Rescaling, and
Discretization (bucketising by boundaries, adapted from quantiles)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import deserialize_value
from jnet.layers.preprocessing._common import (
    NumericLayer,
    SparseOutput,
    adapt_batches,
    check_numeric,
    check_output_mode,
    encode_categorical,
    encoded_shape,
)

__all__ = ["Normalization", "Rescaling", "Discretization"]

_EPSILON = 1e-7  # Keras's backend.epsilon(): the floor on the standard deviation


class Normalization(NumericLayer):
    """Shifts and scales inputs to mean 0 and variance 1 per feature:
    `(x - mean) / sqrt(variance)` (or the inverse with `invert=True`).

    The statistics come from `mean` and `variance`, or from `adapt(data)`, which stores them as
    non-trainable weights (`mean`, `variance`, `count`), so they are saved and loaded with the
    model.

    Args:
        axis: the axis (int or list of ints) that keeps separate statistics, e.g. `-1` for
            per-feature statistics; every other axis is reduced. `None` means one scalar mean
            and variance.
        mean, variance: fixed statistics (both or neither), broadcast to the kept axes.
        invert: apply the inverse transformation, `mean + x * sqrt(variance)`.

    Example:
    ```python
    norm = jnet.layers.Normalization()
    norm.adapt(x_train)                  # an array, or an iterable of batches
    model = jnet.Sequential([jnet.Input((4,)), norm, jnet.layers.Dense(1)])
    ```
    """

    axis: Any = -1
    mean: Any = None
    variance: Any = None
    invert: bool = False

    supports_masking = True

    def check_config(self):
        axes = () if self.axis is None else (self.axis if isinstance(self.axis, (list, tuple)) else (self.axis,))
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ValueError(f"{self._label}: axis must be an int, a list of ints or None, got {self.axis!r}")
        if isinstance(self.axis, tuple):
            self.axis = list(self.axis)
        self._axes = tuple(axes)
        if (self.mean is None) != (self.variance is None):
            raise ValueError(
                f"{self._label}: pass both mean and variance, or neither "
                f"(got mean={self.mean!r}, variance={self.variance!r})"
            )
        if self.mean is not None:
            if np.shape(self.mean) != np.shape(self.variance):
                raise ValueError(
                    f"{self._label}: mean and variance must have the same shape, got "
                    f"{np.shape(self.mean)} and {np.shape(self.variance)}"
                )
            if np.ndim(self.mean) > len(self._axes):
                raise ValueError(
                    f"{self._label}: mean has rank {np.ndim(self.mean)}, more than the "
                    f"{len(self._axes)} kept axes of axis={self.axis!r}"
                )
            self.mean = np.asarray(self.mean, np.float64).tolist()  # JSON config
            self.variance = np.asarray(self.variance, np.float64).tolist()

    def check_inputs(self, spec):
        check_numeric(self, spec)

    def _layout(self, shape):
        ndim = len(shape)
        if any(not -ndim <= a < ndim for a in self._axes):
            raise ValueError(f"{self._label}: axis {self.axis!r} is out of range for inputs of rank {ndim}")
        keep = tuple(sorted(a % ndim for a in self._axes))
        for a in keep:
            if shape[a] is None:
                raise ValueError(f"{self._label}: kept axis {a} must have a known size, got input shape {tuple(shape)}")
        reduce = tuple(a for a in range(ndim) if a not in keep)
        broadcast = tuple(shape[a] if a in keep else 1 for a in range(ndim))
        return keep, reduce, broadcast

    def build(self, input_shape):
        self._keep, self._reduce, self._broadcast = self._layout(tuple(input_shape))
        stat_shape = tuple(input_shape[a] for a in self._keep)
        if self.mean is None:
            self.adapt_mean = self.add_weight(stat_shape, "zeros", name="mean", trainable=False)
            self.adapt_variance = self.add_weight(stat_shape, "ones", name="variance", trainable=False)
            self.count = self.add_weight((), "zeros", dtype="int32", name="count", trainable=False)
        else:
            self._fixed = tuple(self._fixed_stat(np.asarray(v, np.float32)) for v in (self.mean, self.variance))

    def _fixed_stat(self, value):
        """A given mean/variance reshaped so its trailing axes line up with the kept axes."""
        if value.ndim:
            shape = [1] * len(self._broadcast)
            for a, d in zip(self._keep[len(self._keep) - value.ndim :], value.shape):
                shape[a] = d
            value = value.reshape(shape)
        return np.broadcast_to(value, self._broadcast)

    def adapt(self, data, steps=None):
        """Compute the mean and variance of `data` (an array, or an iterable of batches) over
        every axis but `axis`, and store them in the layer's weights.

        Raises:
            ValueError: when `data` is empty or holds strings, when the layer has fixed
                `mean`/`variance`, or when a batch's kept axes differ from the layer's.
        """
        if self.mean is not None:
            raise ValueError(f"{self._label}.adapt: the layer was given fixed mean and variance")
        batches = adapt_batches(self, data, steps)
        first = batches[0].shape
        if not self.built:
            shape = tuple(d if a in self._layout(first)[0] else None for a, d in enumerate(first))
            self._maybe_build([jax.ShapeDtypeStruct(shape, jnp.float32)], {})
        count, mean, m2 = 0, 0.0, 0.0
        for b in batches:
            if b.ndim != len(self._broadcast) or any(b.shape[a] != self._broadcast[a] for a in self._keep):
                raise ValueError(
                    f"{self._label}.adapt: a batch of shape {b.shape} does not fit the layer's kept "
                    f"axes {self._keep} (sizes {[self._broadcast[a] for a in self._keep]})"
                )
            b = b.astype(np.float64)
            n = math.prod(b.shape[a] for a in self._reduce) if self._reduce else 1
            if n == 0:
                continue
            b_mean = b.mean(axis=self._reduce) if self._reduce else b
            b_m2 = ((b - b_mean.reshape(self._broadcast)) ** 2).sum(axis=self._reduce) if self._reduce else 0.0 * b
            # Chan et al.'s pairwise combination: exact for any split into batches.
            total = count + n
            delta = b_mean - mean
            mean = mean + delta * (n / total)
            m2 = m2 + b_m2 + delta**2 * (count * n / total)
            count = total
        self.adapt_mean.assign(np.asarray(mean, np.float32))
        self.adapt_variance.assign(np.asarray(m2 / count, np.float32))
        self.count.assign(np.asarray(count, np.int32))

    def call(self, x):
        x = x.astype(self.compute_dtype)
        if self.mean is None:
            mean = jnp.reshape(self.adapt_mean.value, self._broadcast)
            variance = jnp.reshape(self.adapt_variance.value, self._broadcast)
        else:
            mean, variance = (jnp.asarray(v) for v in self._fixed)
        mean, variance = mean.astype(x.dtype), variance.astype(x.dtype)
        std = jnp.maximum(jnp.sqrt(variance), jnp.asarray(_EPSILON, x.dtype))
        return mean + x * std if self.invert else (x - mean) / std


class Rescaling(NumericLayer):
    """Multiplies inputs by `scale` and adds `offset`: `x * scale + offset`, e.g.
    `Rescaling(1 / 255)` maps `[0, 255]` pixels to `[0, 1]`, `Rescaling(1 / 127.5, offset=-1)`
    to `[-1, 1]`.

    Args:
        scale: a float, or a per-channel list (broadcast against the last axis).
        offset: a float, or a per-channel list.
    """

    scale: Any = 1.0
    offset: Any = 0.0

    supports_masking = True

    def check_config(self):
        for name in ("scale", "offset"):
            value = getattr(self, name)
            try:
                arr = np.asarray(value, np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{self._label}: {name} must be a number or a list of numbers, got {value!r}"
                ) from None
            if arr.ndim > 1:
                raise ValueError(f"{self._label}: {name} must be a number or a 1-D list, got shape {arr.shape}")
            if isinstance(value, (tuple, np.ndarray)):
                setattr(self, name, arr.tolist())

    def check_inputs(self, spec):
        check_numeric(self, spec)

    def call(self, x):
        x = x.astype(self.compute_dtype)

        def along_channels(v):
            v = jnp.asarray(v, x.dtype)
            return jnp.reshape(v, (1,) * (x.ndim - v.ndim) + v.shape) if v.ndim else v

        return x * along_channels(self.scale) + along_channels(self.offset)


class Discretization(SparseOutput, NumericLayer):
    """Buckets continuous values by boundaries: with `bin_boundaries=[0., 1., 2.]` the bins
    are `(-inf, 0)`, `[0, 1)`, `[1, 2)`, `[2, inf)`, numbered 0 to 3.

    Args:
        bin_boundaries: sorted boundaries; or leave `None` and give `num_bins` to learn them
            with `adapt`.
        num_bins: the number of bins `adapt` computes (approximate quantiles).
        epsilon: the error tolerance of the quantile summary `adapt` keeps (Keras's algorithm,
            so the same data gives the same boundaries).
        output_mode: `"int"` (bin index), `"one_hot"`, `"multi_hot"` or `"count"`.
        sparse: return a `jax.experimental.sparse.BCOO` (not with `"int"`), as Keras on JAX; in a
            graph model the node computes the dense encoding (see `SparseOutput`).

    The boundaries live in the config (as in Keras), so they are saved with the model.
    """

    bin_boundaries: Any = None
    num_bins: Any = None
    epsilon: float = 0.01
    output_mode: str = "int"
    sparse: bool = False

    def check_config(self):
        check_output_mode(self)
        self.check_sparse_config()
        if self.num_bins is not None and (not isinstance(self.num_bins, int) or self.num_bins < 1):
            raise ValueError(f"{self._label}: num_bins must be a positive int, got {self.num_bins!r}")
        if self.bin_boundaries is not None:
            if self.num_bins is not None and not self.__dict__.get("_from_config"):
                raise ValueError(f"{self._label}: pass bin_boundaries or num_bins, not both")
            b = np.asarray(self.bin_boundaries, np.float64)
            if b.ndim != 1 or np.any(np.diff(b) < 0):
                raise ValueError(
                    f"{self._label}: bin_boundaries must be a sorted 1-D list, got {self.bin_boundaries!r}"
                )
            self.bin_boundaries = b.tolist()
        elif self.num_bins is None:
            raise ValueError(f"{self._label}: pass bin_boundaries, or num_bins and then call adapt()")
        if not 0 < float(self.epsilon) < 1:
            raise ValueError(f"{self._label}: epsilon must be in (0, 1), got {self.epsilon!r}")

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = {k: deserialize_value(v, custom_objects) for k, v in config.items()}
        boundaries = config.pop("bin_boundaries", None)
        layer = cls(**config) if config.get("num_bins") is not None else cls(bin_boundaries=boundaries, **config)
        layer.bin_boundaries = boundaries  # an adapted layer keeps both
        return layer

    def check_inputs(self, spec):
        check_numeric(self, spec)

    def get_config(self):
        # Keras's Discretization takes no `trainable` argument, so its config has none.
        config = super().get_config()
        config.pop("trainable", None)
        return config

    @property
    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def adapt(self, data, steps=None):
        """Set `bin_boundaries` to approximate `num_bins` quantiles of `data` (an array or an
        iterable of batches)."""
        if self.num_bins is None:
            raise ValueError(f"{self._label}.adapt: the layer was built with bin_boundaries; pass num_bins to adapt")
        summary = np.zeros((2, 0), np.float32)
        for b in adapt_batches(self, data, steps):
            summary = _merge(_summarize(b.astype(np.float32), self.epsilon), summary, self.epsilon)
        self.bin_boundaries = _compress(summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def call(self, x):
        if self.bin_boundaries is None:
            raise ValueError(f"{self._label}: no bin boundaries yet: pass bin_boundaries or call adapt() first")
        ids = jnp.searchsorted(jnp.asarray(self.bin_boundaries, jnp.float32), x.astype(jnp.float32), side="right")
        out_dtype = jnp.int32 if self.output_mode == "int" else self.compute_dtype
        return encode_categorical(
            ids.astype(jnp.int32), self.output_mode, self._depth, out_dtype, sparse=self._sparse_now
        )

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self._depth)


# Keras's streaming quantile summary: a 2 x n array of (value, weight) columns kept sorted by
# value; each batch is thinned to about 1/epsilon points, merged, and re-interpolated on an
# even grid of cumulative weight. Reproduced so `adapt` gives Keras's boundaries.


def _summarize(values, epsilon):
    values = np.sort(values.reshape(-1))
    step = max(values.size / (1.0 / epsilon), 1.0)
    picked = values[int(step - 1) :: int(step)]
    return np.stack([picked, np.full_like(picked, step)])


def _merge(a, b, epsilon):
    both = np.concatenate([a, b], axis=1)
    return _compress(both[:, np.argsort(both[0])], epsilon)


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    grid = np.arange(0.0, 1.0, epsilon) + epsilon
    cum = np.cumsum(summary[1])
    where = cum / cum[-1]
    values = np.interp(grid, where, summary[0])
    cum_at = np.interp(grid, where, cum)
    weights = np.diff(cum_at, prepend=0.0)
    return np.stack([values, weights]).astype(np.float32)
