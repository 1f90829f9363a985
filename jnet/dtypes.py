"""Dtype policies: which dtype a layer stores its params in and which it computes in.

A layer's `dtype` argument is either a plain dtype (`"float32"`, `"bfloat16"`: params and
compute both in it) or a policy name (`"mixed_bfloat16"`, `"mixed_float16"`: params in
float32, compute in the half type). `None` follows the global policy, float32 by default;
`jnet.mixed_precision.set_global_policy` changes it.
"""

from __future__ import annotations

import jax.numpy as jnp

_MIXED = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
_global_policy = "float32"
# Keras's quantized policies "<mode>_from_<source>": variables and compute follow the source.
_QUANTIZED = ("int8",)


def set_global_policy(policy: str) -> None:
    global _global_policy
    _check(policy)
    _global_policy = policy


def global_policy() -> str:
    return _global_policy


def quantization_mode(policy):
    """`"int8"` for a quantized policy name (`"int8_from_float32"`, Keras's form), else None."""
    if isinstance(policy, str) and "_from_" in policy:
        mode = policy.split("_from_", 1)[0]
        if mode in _QUANTIZED:
            return mode
    return None


def _source(policy: str) -> str:
    """The policy a quantized policy name was made from; other names unchanged."""
    return policy.split("_from_", 1)[1] if quantization_mode(policy) else policy


def _check(policy):
    if quantization_mode(policy):
        policy = _source(policy)
    if policy in _MIXED:
        return
    try:
        jnp.dtype(policy)
    except TypeError as err:
        raise ValueError(f"Unknown dtype policy {policy!r}: expected a dtype name or one of {sorted(_MIXED)}") from err


def _resolve(policy):
    policy = _global_policy if policy is None else policy
    if hasattr(policy, "compute_dtype") and hasattr(policy, "name"):  # a DTypePolicy
        policy = policy.name
    if not isinstance(policy, str):
        policy = jnp.dtype(policy).name
    _check(policy)
    return policy


def variable_dtype(policy=None):
    """The dtype params are stored in."""
    policy = _source(_resolve(policy))
    return jnp.dtype("float32") if policy in _MIXED else jnp.dtype(policy)


def compute_dtype(policy=None):
    """The dtype the forward pass runs in."""
    policy = _source(_resolve(policy))
    return jnp.dtype(_MIXED.get(policy, policy))
