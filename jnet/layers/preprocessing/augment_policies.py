"""Augmentation policies built from the single layers: RandAugment and AugMix. While training
each image draws its own operations (all candidate operations run on the batch and each image
keeps its pick, so the step stays one compiled program); the identity at inference."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnet.layers.preprocessing.augment import RandomBrightness, RandomContrast, RandomRotation, RandomTranslation
from jnet.layers.preprocessing.augment_base import (
    INTERPOLATIONS,
    BaseAugmentation,
    _is_number,
    check_choice,
    check_value_range,
    factor_range,
)
from jnet.layers.preprocessing.augment_color import (
    AutoContrast,
    RandomColorDegeneration,
    RandomPosterization,
    RandomSharpness,
)
from jnet.layers.preprocessing.augment_geometric import RandomShear
from jnet.layers.preprocessing.augment_pixel import Equalization, Solarization

__all__ = ["RandAugment", "AugMix"]

_GEOMETRIC = ("random_shear", "random_translation", "random_rotation")
_COLOR = ("random_brightness", "random_color_degeneration", "random_contrast", "random_sharpness")
_OTHER = ("random_posterization", "solarization", "auto_contrast", "equalization")


def _check_count(layer, name, low):
    v = getattr(layer, name)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{layer._label}: {name} must be an int >= {low}, got {v!r}")


class _Policy(BaseAugmentation):
    """Builds Keras's operation layers from `factor`, `value_range` and `interpolation`."""

    _untracked = ("_ops",)

    def _build_ops(self, names):
        self._range = factor_range(self, "factor", self.factor)
        check_value_range(self)
        check_choice(self, "interpolation", INTERPOLATIONS)
        self._check_seed()
        f, vr, interp = list(self._range), self.value_range, self.interpolation
        make = {
            "random_shear": lambda: RandomShear(x_factor=f, y_factor=f, interpolation=interp),
            "random_translation": lambda: RandomTranslation(f, f, interpolation=interp),
            "random_rotation": lambda: RandomRotation(f, interpolation=interp),
            "random_brightness": lambda: RandomBrightness(f, value_range=vr),
            "random_color_degeneration": lambda: RandomColorDegeneration(f, value_range=vr),
            "random_contrast": lambda: RandomContrast(f, value_range=vr),
            "random_sharpness": lambda: RandomSharpness(f, value_range=vr),
            "random_posterization": lambda: RandomPosterization(max(1, int(8 * f[1])), value_range=vr),
            "solarization": lambda: Solarization(addition_factor=f, threshold_factor=f, value_range=vr),
            "auto_contrast": lambda: AutoContrast(value_range=vr, data_format="channels_last"),
            "equalization": lambda: Equalization(value_range=vr, data_format="channels_last"),
        }
        self.__dict__["_ops"] = [make[name]() for name in names]

    def _candidates(self, x, key):
        """Every operation applied to the batch `x`: a list of `(n, h, w, c)` batches."""
        keys = jax.random.split(key, len(self._ops))
        return [
            op.augment(x, k) if isinstance(op, BaseAugmentation) else op.call(x).astype(x.dtype)
            for op, k in zip(self._ops, keys)
        ]

    def _apply_one(self, x, key, skip=False):
        """Each image through one operation of its own draw (or none, with `skip`)."""
        kc, kd = jax.random.split(key)
        choice = jax.random.randint(kc, (x.shape[0], 1, 1, 1), 0, len(self._ops) + int(skip))
        out = x
        for i, y in enumerate(self._candidates(x, kd)):
            out = jnp.where(choice == i, y, out)
        return out


class RandAugment(_Policy):
    """RandAugment (Cubuk et al., 2019): while training, each image goes through `num_ops`
    operations drawn uniformly from shear, translation, rotation, brightness, colour
    degeneration, contrast, sharpness, posterization, solarization, auto-contrast and
    equalization, all of strength `factor`.

    Args:
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        num_ops: how many operations each image goes through (default 2).
        factor: the strength, `f` (meaning `(0, f)`) or a pair in [0, 1] (default 0.5).
        interpolation: `"bilinear"` (default) or `"nearest"`, for the geometric operations.
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Keras draws the operations once per batch; jnet draws them per image. Expects RGB images
    (colour degeneration needs 3 channels).

    Example:
    ```python
    augment = jnet.layers.RandAugment(value_range=(0, 1), num_ops=2, factor=0.3)
    ```
    """

    value_range: Any = (0, 255)
    num_ops: int = 2
    factor: Any = 0.5
    interpolation: str = "bilinear"
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        _check_count(self, "num_ops", 0)
        self._build_ops(_GEOMETRIC + _COLOR + _OTHER)

    def augment(self, x, key):
        for k in jax.random.split(key, self.num_ops):
            x = self._apply_one(x, k)
        return x


class AugMix(_Policy):
    """AugMix (Hendrycks et al., 2019): while training, each image is augmented along
    `num_chains` chains of up to `chain_depth` random operations (each step may also do
    nothing); the chains are mixed with Dirichlet(`alpha`) weights and the result mixed with
    the original image by a Beta(`alpha`, `alpha`) weight, then clipped to `value_range`.

    Args:
        value_range: the images' `(low, high)` range (default `(0, 255)`).
        num_chains: the number of chains (default 3).
        chain_depth: the most operations per chain (default 3).
        factor: the operations' strength, `f` (meaning `(0, f)`) or a pair in [0, 1]
            (default 0.3).
        alpha: the Dirichlet and Beta parameter, > 0 (default 1.0).
        all_ops: also use brightness, colour degeneration, contrast and sharpness (default
            True); otherwise shear, translation, rotation, posterization, solarization,
            auto-contrast and equalization only.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: optional int folded into the key.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Keras draws the chains' operations on the host once per call (the same for the whole
    batch) and the mixing weights per batch; jnet draws all of them per image, inside the step.

    Example:
    ```python
    augment = jnet.layers.AugMix(value_range=(0, 1))
    ```
    """

    value_range: Any = (0, 255)
    num_chains: int = 3
    chain_depth: int = 3
    factor: Any = 0.3
    alpha: float = 1.0
    all_ops: bool = True
    interpolation: str = "bilinear"
    seed: Any = None
    data_format: Any = None

    def check_config(self):
        _check_count(self, "num_chains", 1)
        _check_count(self, "chain_depth", 1)
        if not _is_number(self.alpha) or self.alpha <= 0:
            raise ValueError(f"{self._label}: alpha must be a positive number, got {self.alpha!r}")
        if not isinstance(self.all_ops, bool):
            raise ValueError(f"{self._label}: all_ops must be True or False, got {self.all_ops!r}")
        self._build_ops(_GEOMETRIC + _OTHER + (_COLOR if self.all_ops else ()))

    def augment(self, x, key):
        kw, km, kc = jax.random.split(key, 3)
        n = x.shape[0]
        weights = jax.random.dirichlet(kw, jnp.full((self.num_chains,), self.alpha), (n,)).astype(x.dtype)
        mixed = jnp.zeros_like(x)
        for c, k in enumerate(jax.random.split(kc, self.num_chains)):
            chain = x
            for kd in jax.random.split(k, self.chain_depth):
                chain = self._apply_one(chain, kd, skip=True)
            mixed = mixed + weights[:, c].reshape(-1, 1, 1, 1) * chain
        m = jax.random.beta(km, self.alpha, self.alpha, (n,)).astype(x.dtype).reshape(-1, 1, 1, 1)
        return jnp.clip(m * x + (1.0 - m) * mixed, *self.value_range)
