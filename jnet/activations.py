"""Activation functions by Keras name. `get(name_or_callable)` resolves one."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp

from jnet import serialization as _registry
from jnet.serialization_lib import family_deserialize


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu: `max(x, threshold)` with optional leak and cap."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return jax.nn.relu(x)
    y = jnp.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else jnp.minimum(y, max_value)


def hard_sigmoid(x):
    # Keras 3: relu6(x + 3) / 6
    return jax.nn.relu6(x + 3.0) / 6.0


def hard_silu(x):
    return x * hard_sigmoid(x)


def sparse_plus(x):
    return jnp.where(x <= -1, 0.0, jnp.where(x >= 1, x, (x + 1) ** 2 / 4))


def sparse_sigmoid(x):
    return jnp.clip(0.5 * (x + 1.0), 0.0, 1.0)


def squareplus(x, b=4.0):
    return (x + jnp.sqrt(x * x + b)) / 2


def tanh_shrink(x):
    return x - jnp.tanh(x)


def hard_tanh(x):
    return jnp.clip(x, -1.0, 1.0)


def soft_shrink(x, threshold=0.5):
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, 0.0))


def hard_shrink(x, threshold=0.5):
    return jnp.where(jnp.abs(x) > threshold, x, 0.0)


def threshold(x, threshold=0.0, default_value=0.0):
    return jnp.where(x > threshold, x, default_value)


def _at_least_float32(x):
    # Mixed precision: softmax of half-precision logits runs (and stays) in float32, so
    # probabilities and the loss computed from them keep float32's resolution.
    x = jnp.asarray(x)
    return x.astype(jnp.float32) if x.dtype in (jnp.float16, jnp.bfloat16) else x


def softmax(x, axis=-1):
    return jax.nn.softmax(_at_least_float32(x), axis=axis)


def log_softmax(x, axis=-1):
    return jax.nn.log_softmax(_at_least_float32(x), axis=axis)


def gelu(x, approximate=False):
    # Keras defaults to the exact erf form; jax defaults to the tanh approximation.
    return jax.nn.gelu(x, approximate=approximate)


def leaky_relu(x, negative_slope=0.2):
    return jax.nn.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    return jax.nn.elu(x, alpha)


def mish(x):
    return x * jnp.tanh(jax.nn.softplus(x))


def glu(x, axis=-1):
    return jax.nn.glu(x, axis=axis)


def sparsemax(x, axis=-1):
    z = jnp.moveaxis(x, axis, -1)
    zs = -jnp.sort(-z, axis=-1)
    # k shaped to broadcast explicitly against z (rank promotion is an error in jnet).
    k = jnp.arange(1, z.shape[-1] + 1, dtype=z.dtype).reshape((1,) * (z.ndim - 1) + (-1,))
    cumsum = jnp.cumsum(zs, axis=-1)
    support = (1 + k * zs) > cumsum
    k_z = jnp.sum(support, axis=-1, keepdims=True)
    tau = (jnp.take_along_axis(cumsum, k_z - 1, axis=-1) - 1) / k_z.astype(z.dtype)
    return jnp.moveaxis(jnp.maximum(z - tau, 0.0), -1, axis)


ALL = {
    "linear": linear,
    "relu": relu,
    "relu6": jax.nn.relu6,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "elu": elu,
    "selu": jax.nn.selu,
    "celu": jax.nn.celu,
    "gelu": gelu,
    "softplus": jax.nn.softplus,
    "softsign": jax.nn.soft_sign,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "exponential": jnp.exp,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "leaky_relu": leaky_relu,
    "log_sigmoid": jax.nn.log_sigmoid,
    "mish": mish,
    "glu": glu,
    "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid,
    "sparsemax": sparsemax,
    "squareplus": squareplus,
    "tanh_shrink": tanh_shrink,
    "hard_tanh": hard_tanh,
    "soft_shrink": soft_shrink,
    "hard_shrink": hard_shrink,
    "threshold": threshold,
}
_BY_FUNCTION = {}
for _name, _fn in ALL.items():
    _BY_FUNCTION.setdefault(_fn, _name)


def get(identifier):
    """A callable for `None`, a Keras activation name, a custom function's name (registered or
    in a `custom_object_scope`), a config dict (jnet's or Keras's form), or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier in ALL:
            return ALL[identifier]
        found = _registry.find_custom(identifier)
        if found is None:
            raise _registry.unknown_name_error("activation", identifier, f" Expected one of: {', '.join(sorted(ALL))}.")
        return found() if inspect.isclass(found) else found
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name or a callable, got {identifier!r}")


def serialize(fn):
    """The name an activation function is saved under: its Keras name for built-ins, its
    registered `"package>name"` for functions registered with
    `@jnet.saving.register_keras_serializable()`; None for any other callable (jnet saves
    no code)."""
    if isinstance(fn, str):
        return fn
    try:
        name = _BY_FUNCTION.get(fn)
    except TypeError:  # unhashable callables
        return None
    if name is None and _registry.is_registered(fn):
        return _registry.registered_name(fn)
    return name


def deserialize(config, custom_objects=None):
    """The activation function a name or a config (jnet's, or Keras's
    `{"class_name": "function", "config": "relu", ...}`) stands for."""
    if isinstance(config, str):
        found = _registry.find_custom(config, custom_objects)
        return found if found is not None else get(config)
    obj = family_deserialize(config, "activations", custom_objects)
    if not callable(obj):
        raise TypeError(f"jnet.activations.deserialize: {config!r} is not an activation function")
    return obj


_registry.register_family("activations", {}, ALL)


# Keras exports every activation as a module attribute (`activations.sigmoid`, ...).
globals().update({_name: _fn for _name, _fn in ALL.items() if _name not in globals()})
