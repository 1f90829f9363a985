"""The plumbing every augmentation layer shares: the training switch and key, batching and
channels-first handling (`BaseAugmentation`), the argument readers (Keras's factor ranges,
`value_range`, choices), and the per-image random draws the layers are made of.

Images are `(batch, height, width, channels)` or one `(height, width, channels)` image, in the
layer's compute dtype (float32 by default). Each image of a batch draws its own parameters.
As in Keras, calling a layer directly on arrays (`layer(images)`) augments (`training`
defaults to True there); models pass `training=False` in `predict` and `evaluate`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet import random as jrandom
from jnet.core.symbolic import is_symbolic
from jnet.core.variables import current_scope
from jnet.layers.preprocessing._common import NumericLayer
from jnet.layers.preprocessing.image import check_image_layer, standardize_format

__all__ = []

FILL_MODES = ("reflect", "wrap", "constant", "nearest", "mirror")
INTERPOLATIONS = ("bilinear", "nearest")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def symmetric_range(layer, name, value, bound=None, low=None):
    """Keras's factor argument: `f` means `(-f, f)`, a pair is `(lower, upper)`; checked to lie
    within `[-bound, bound]` (or `[low, bound]`)."""
    if _is_number(value):
        pair = (-abs(float(value)), abs(float(value)))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(v) for v in value):
        pair = (float(value[0]), float(value[1]))
    else:
        raise ValueError(f"{layer._label}: {name} must be a number or a pair (lower, upper), got {value!r}")
    if pair[0] > pair[1]:
        raise ValueError(f"{layer._label}: {name} has lower bound {pair[0]} above upper bound {pair[1]}")
    if bound is not None and (pair[0] < (-bound if low is None else low) or pair[1] > bound):
        lo = -bound if low is None else low
        raise ValueError(f"{layer._label}: {name} must lie in [{lo}, {bound}], got {value!r}")
    return pair


def factor_range(layer, name, value, low=0.0, high=1.0):
    """Keras's `_set_factor` with bounds `[low, high]`: `f` means `(max(-f, low), f)`, a pair is
    sorted; every number must lie in the bounds."""

    def ok(v):
        return _is_number(v) and low <= v <= high

    if ok(value):
        return (max(-abs(float(value)), low), abs(float(value)))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(ok(v) for v in value):
        return tuple(sorted(float(v) for v in value))
    raise ValueError(
        f"{layer._label}: {name} must be a number or a pair of numbers in [{low:g}, {high:g}], got {value!r}"
    )


def check_choice(layer, name, allowed):
    if getattr(layer, name) not in allowed:
        raise ValueError(f"{layer._label}: {name} must be one of {list(allowed)}, got {getattr(layer, name)!r}")


def check_value_range(layer):
    vr = layer.value_range
    if not (isinstance(vr, (list, tuple)) and len(vr) == 2 and all(_is_number(v) for v in vr) and vr[0] < vr[1]):
        raise ValueError(f"{layer._label}: value_range must be a pair (low, high) with low < high, got {vr!r}")
    layer.value_range = [float(vr[0]), float(vr[1])]


def check_warp(layer, fill_modes=FILL_MODES):
    """The arguments of the layers that resample images: fill_mode, interpolation, seed."""
    if hasattr(layer, "fill_mode"):
        check_choice(layer, "fill_mode", fill_modes)
    check_choice(layer, "interpolation", INTERPOLATIONS)
    if not _is_number(layer.fill_value):
        raise ValueError(f"{layer._label}: fill_value must be a number, got {layer.fill_value!r}")
    layer._check_seed()


def per_image(key, n, lo, hi):
    """One uniform draw in `[lo, hi)` per image: shape `(n,)`, float32."""
    return jax.random.uniform(key, (n,), jnp.float32, lo, hi)


def image_factor(key, x, lo, hi):
    """One uniform draw per image of the batch `x`, shaped `(n, 1, 1, 1)` to broadcast over it."""
    return per_image(key, x.shape[0], lo, hi).reshape(-1, 1, 1, 1).astype(x.dtype)


def image_coin(key, n, probability_range):
    """Keras's per-image "apply it?" draw: true with a probability itself drawn uniformly in
    `probability_range`; shape `(n, 1, 1, 1)`."""
    kp, kt = jax.random.split(key)
    return (jax.random.uniform(kt, (n,)) < per_image(kp, n, *probability_range)).reshape(-1, 1, 1, 1)


def to_255(x, value_range):
    lo, hi = value_range
    return x if (lo, hi) == (0.0, 255.0) else (x - lo) / (hi - lo) * 255.0


def from_255(x, value_range):
    lo, hi = value_range
    return x if (lo, hi) == (0.0, 255.0) else x / 255.0 * (hi - lo) + lo


def direct_call_trains(args, kwargs) -> bool:
    """Keras: a preprocessing layer called directly on arrays, with no `training` given and
    outside a model's call, runs in training mode (augments)."""
    symbolic = any(is_symbolic(a) for a in jax.tree_util.tree_leaves(args, is_leaf=is_symbolic))
    return "training" not in kwargs and current_scope() is None and not symbolic


class BaseAugmentation(NumericLayer):
    """Shared plumbing (not exported): training switch, the key, batching, channels-first.
    A subclass defines `augment(images, key)` on a channels-last `(batch, h, w, c)` batch."""

    def check_inputs(self, spec, *rest):
        check_image_layer(self, spec)

    def _check_seed(self):
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"{self._label}: seed must be an int or None, got {self.seed!r}")
        standardize_format(self)

    def __call__(self, *args, **kwargs):
        if direct_call_trains(args, kwargs):
            kwargs["training"] = True
            if kwargs.get("rng") is None and self.seed is not None:
                gen = self.__dict__.setdefault("_eager_seeds", jrandom.SeedGenerator(self.seed))
                kwargs["rng"] = gen.next()
        return super().__call__(*args, **kwargs)

    def _key(self, rng):
        if rng is None:
            raise ValueError(
                f"{self._label}: training=True needs a random key: "
                "apply(variables, x, training=True, rng=jax.random.key(...))"
            )
        return rng if self.seed is None else jax.random.fold_in(rng, self.seed)

    def inference(self, images):
        return images

    def _to_batch(self, images):
        """Channels-last `(batch, h, w, c)` in the compute dtype, and how to undo it."""
        x = images.astype(self.compute_dtype)
        first = self.data_format == "channels_first"
        if first:
            x = jnp.moveaxis(x, -3, -1)
        single = x.ndim == 3
        if single:
            x = x[None]

        def back(y):
            y = y[0] if single else y
            return jnp.moveaxis(y, -1, -3) if first else y

        return x, back

    def call(self, images, training=False, rng=None):
        x, back = self._to_batch(images)
        return back(self.augment(x, self._key(rng)) if training else self.inference(x))


class ValueRangeAugmentation(BaseAugmentation):
    """Base (not exported) of the layers with a `factor` drawn per image and a `value_range`.
    `read_factor` turns the argument into the `(lower, upper)` range kept in `self._range`."""

    factor: Any = 0.0
    value_range: Any = (0, 255)

    def read_factor(self, value):
        return factor_range(self, "factor", value)

    def check_config(self):
        self._range = self.read_factor(self.factor)
        check_value_range(self)
        self._check_seed()
