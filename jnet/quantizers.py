"""Keras 3's int8 quantization scheme: abs-max quantizers, the int8 config and the quantized
dtype policy (`keras.quantizers`, `keras.dtype_policies.QuantizedDTypePolicy`).

`abs_max_quantize(x, axis)` scales `x` so that its largest magnitude along `axis` maps to 127
and rounds: `q = round(x * scale)`, `x ≈ q / scale`. A layer quantized with
`layer.quantize("int8")` stores its kernel as such an int8 array with one float32 scale per
output channel (`kernel_scale`), and quantizes its inputs per row the same way in the call, so
the matmul runs on int8 values and one division de-scales the result.

Example:
```python
q, scale = jnet.quantizers.abs_max_quantize(np.array([[0.5, -1.0]], "float32"), axis=-1)
# q = [[64, -127]] (int8), scale = [[127.0]]
```
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jnet import dtypes as _dtypes
from jnet import serialization as _registration
from jnet.mixed_precision import DTypePolicy

__all__ = [
    "AbsMaxQuantizer",
    "Int8QuantizationConfig",
    "QuantizationConfig",
    "QuantizedDTypePolicy",
    "Quantizer",
    "abs_max_quantize",
]

EPSILON = 1e-7  # Keras's `backend.epsilon()`: keeps an all-zero channel's scale finite


def abs_max_quantize(inputs, axis, value_range=(-127, 127), dtype="int8", epsilon=EPSILON, to_numpy=False):
    """Quantize `inputs` by the absolute maximum along `axis` (Keras's `abs_max_quantize`).

    Args:
        inputs: a float array.
        axis: the axis (or tuple of axes) reduced to find each slice's largest magnitude.
        value_range: `(low, high)` of the quantized values.
        dtype: dtype of the quantized array.
        epsilon: added to the maximum so an all-zero slice does not divide by zero.
        to_numpy: compute on the host with numpy (as Keras does for weights, so a quantized
            kernel is bit-identical to Keras's).

    Returns:
        `(quantized, scale)`; `scale` keeps the reduced axes (size 1) and the input's dtype,
        and `quantized / scale` approximates `inputs`.
    """
    if to_numpy:
        x = np.asarray(inputs)
        ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
        scale = np.divide(value_range[1], np.add(np.max(np.abs(x), axis=ax, keepdims=True), epsilon))
        out = np.clip(np.round(np.multiply(x, scale)), value_range[0], value_range[1]).astype(dtype)
        return jnp.asarray(out), jnp.asarray(scale, x.dtype)
    x = jnp.asarray(inputs)
    ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    scale = (value_range[1] / (jnp.max(jnp.abs(x), axis=ax, keepdims=True) + epsilon)).astype(x.dtype)
    out = jnp.clip(jnp.round(x * scale), value_range[0], value_range[1]).astype(dtype)
    return out, scale


class Quantizer:
    """Base class of quantizers: `quantizer(x) -> (quantized, scale)`."""

    def __init__(self, output_dtype="int8"):
        self.output_dtype = output_dtype

    def get_config(self) -> dict:
        return {"output_dtype": self.output_dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class AbsMaxQuantizer(Quantizer):
    """Abs-max quantizer (Keras's `keras.quantizers.AbsMaxQuantizer`).

    Args:
        axis: default axis (int or tuple) to reduce over; `None`: the call's `axis`, else -1.
        value_range: `(low, high)` of the quantized values; within `[-128, 127]` for int8.
        epsilon: added to the maximum before dividing.
        output_dtype: dtype of the quantized values.
    """

    def __init__(self, axis=None, value_range=(-127, 127), epsilon=EPSILON, output_dtype="int8"):
        super().__init__(output_dtype=output_dtype)
        self.axis = None if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        value_range = tuple(value_range)
        if len(value_range) != 2 or value_range[0] >= value_range[1]:
            raise ValueError(f"AbsMaxQuantizer: value_range must be (low, high) with low < high, got {value_range}")
        if output_dtype == "int8" and (value_range[0] < -128 or value_range[1] > 127):
            raise ValueError(
                "AbsMaxQuantizer: output_dtype='int8' needs value_range within [-128, 127], "
                f"got value_range={value_range}"
            )
        self.value_range = value_range
        self.epsilon = epsilon

    def __call__(self, x, axis=None, to_numpy=False):
        axis = self.axis if axis is None else axis
        axis = -1 if axis is None else axis
        return abs_max_quantize(x, axis, self.value_range, self.output_dtype, self.epsilon, to_numpy)

    def get_config(self) -> dict:
        config = {"value_range": list(self.value_range), "epsilon": self.epsilon, "output_dtype": self.output_dtype}
        if self.axis is not None:
            config["axis"] = list(self.axis)
        return config


class QuantizationConfig:
    """Base class of quantization configs (Keras's `keras.quantizers.QuantizationConfig`).

    Args:
        weight_quantizer: quantizes the weights in `quantize()` (None: the layer's default).
        activation_quantizer: quantizes the inputs in the call (None: weight-only).
    """

    mode: str | None = None

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        self.weight_quantizer = weight_quantizer
        self.activation_quantizer = activation_quantizer

    def get_config(self) -> dict:
        from jnet.serialization_lib import serialize_keras_object

        return {
            "weight_quantizer": _keras_module(serialize_keras_object(self.weight_quantizer)),
            "activation_quantizer": _keras_module(serialize_keras_object(self.activation_quantizer)),
        }

    @classmethod
    def from_config(cls, config):
        from jnet.serialization_lib import deserialize_keras_object

        return cls(
            weight_quantizer=deserialize_keras_object(config.get("weight_quantizer")),
            activation_quantizer=deserialize_keras_object(config.get("activation_quantizer")),
        )

    @staticmethod
    def weight_quantizer_or_default(config, default):
        if config is not None and config.weight_quantizer is not None:
            return config.weight_quantizer
        return default

    @staticmethod
    def activation_quantizer_or_default(config, default):
        return default if config is None else config.activation_quantizer


class Int8QuantizationConfig(QuantizationConfig):
    """The int8 scheme's settings (Keras's `keras.quantizers.Int8QuantizationConfig`).

    Args:
        weight_quantizer: an int8 quantizer for the kernel (None: per-output-channel abs-max).
        activation_quantizer: quantizer of the inputs; `"default"`: abs-max over the last axis;
            None: weight-only quantization (the inputs stay float).

    Example:
    ```python
    config = jnet.quantizers.Int8QuantizationConfig(activation_quantizer=None)
    model.quantize(config=config)   # int8 weights, float inputs
    ```
    """

    mode = "int8"

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        if weight_quantizer is not None and getattr(weight_quantizer, "output_dtype", None) != "int8":
            raise ValueError(
                "Int8QuantizationConfig: weight_quantizer must have output_dtype='int8', got "
                f"{getattr(weight_quantizer, 'output_dtype', None)!r}"
            )


def _keras_module(entry):
    """jnet's serialized quantizer under Keras's module name, so Keras reads the config."""
    if isinstance(entry, dict) and str(entry.get("module", "")).startswith("jnet"):
        entry = {**entry, "module": "keras.quantizers"}
    return entry


QUANTIZATION_MODES = ("int8",)


def resolve_config(mode, config, where):
    """`(mode, config)` of a `quantize(mode, config=)` call, checked (Keras's rules: the config
    gives the mode when `mode` is omitted, and they must agree when both are given)."""
    if config is not None:
        if not isinstance(config, QuantizationConfig):
            raise ValueError(f"{where}: config must be a jnet.quantizers.QuantizationConfig, got {config!r}")
        if mode is not None and mode != config.mode:
            raise ValueError(f"{where}: mode={mode!r} does not match config's mode {config.mode!r}")
        mode = config.mode
    if mode not in QUANTIZATION_MODES:
        raise ValueError(
            f"{where}: invalid quantization mode {mode!r}; jnet supports {list(QUANTIZATION_MODES)} "
            "(Keras also has int4, float8, gptq and awq)"
        )
    return mode, config if config is not None else Int8QuantizationConfig()


class QuantizedDTypePolicy(DTypePolicy):
    """The dtype policy of a quantized layer (Keras's `QuantizedDTypePolicy`): named
    `"<mode>_from_<source>"`; variables and compute follow the source policy, and the layer
    runs its quantized call.

    Args:
        mode: the quantization mode (`"int8"`).
        source_name: the policy the layer had before quantization (default: the global one).
    """

    def __init__(self, mode, source_name=None):
        if mode not in QUANTIZATION_MODES:
            raise ValueError(f"QuantizedDTypePolicy: mode must be one of {list(QUANTIZATION_MODES)}, got {mode!r}")
        source = DTypePolicy(source_name or _dtypes.global_policy()).name
        super().__init__(f"{mode}_from_{source}")
        self._mode = mode
        self._source_name = source

    @property
    def quantization_mode(self) -> str:
        return self._mode

    @property
    def source_name(self) -> str:
        return self._source_name

    def get_config(self) -> dict:
        return {"mode": self._mode, "source_name": self._source_name}

    def __repr__(self):
        return f'<QuantizedDTypePolicy "{self.name}">'


def policy_of(name) -> DTypePolicy:
    """The policy object of a layer's `dtype` (a name or a policy)."""
    if isinstance(name, DTypePolicy):
        return name
    name = _dtypes._resolve(name)
    mode = _dtypes.quantization_mode(name)
    if mode is not None:
        return QuantizedDTypePolicy(mode, name.split("_from_", 1)[1])
    return DTypePolicy(name)


_registration.register_family(
    "quantizers",
    {"AbsMaxQuantizer": AbsMaxQuantizer, "Int8QuantizationConfig": Int8QuantizationConfig},
    {"abs_max_quantize": abs_max_quantize},
)
_registration.register_family(
    "dtype_policies",
    {"QuantizedDTypePolicy": QuantizedDTypePolicy, "DTypePolicy": DTypePolicy, "FloatDTypePolicy": DTypePolicy},
)
