"""Global settings, as in `keras.config`: float type, fuzz factor, image layout, logging.

```python
import jnet
jnet.config.set_floatx("bfloat16")
jnet.config.floatx()  # "bfloat16"
```
"""

from __future__ import annotations

from jnet import dtypes as _dtypes

_state = {
    "floatx": "float32",
    "epsilon": 1e-7,
    "image_data_format": "channels_last",
    "interactive_logging": True,
    "flash_attention": None,
}

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def backend():
    """The name of the backend: always `"jax"`."""
    return "jax"


def set_backend(backend):
    """Accepts only `"jax"`, the one backend jnet runs on.

    Raises:
        ValueError: for any other backend name.
    """
    if backend != "jax":
        raise ValueError(f"set_backend: jnet runs on JAX only; received backend={backend!r}")


def floatx():
    """The default float type as a string, e.g. `"float32"`."""
    return _state["floatx"]


def set_floatx(value):
    """Set the default float type (`"float16"`, `"bfloat16"`, `"float32"` or `"float64"`).

    Example:
    >>> jnet.config.set_floatx("float16")
    """
    value = str(value)
    if value not in _FLOATS:
        raise ValueError(f"set_floatx: unknown `value` {value!r}; expected one of {_FLOATS}")
    _state["floatx"] = value


def epsilon():
    """The fuzz factor used to avoid division by zero (default `1e-7`)."""
    return _state["epsilon"]


def set_epsilon(value):
    """Set the fuzz factor returned by `epsilon()`."""
    _state["epsilon"] = float(value)


def image_data_format():
    """`"channels_last"` (default) or `"channels_first"`: the layout of image tensors."""
    return _state["image_data_format"]


def set_image_data_format(data_format):
    """Set the image layout: `"channels_last"` or `"channels_first"`."""
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(
            "set_image_data_format: `data_format` must be 'channels_first' or 'channels_last'; "
            f"received {data_format!r}"
        )
    _state["image_data_format"] = value


def standardize_data_format(data_format):
    """`data_format`, or the global image layout when it is None; validated."""
    if data_format is None:
        return image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(f"`data_format` must be 'channels_first' or 'channels_last'; received {data_format!r}")
    return value


def dtype_policy():
    """The global dtype policy name (see `jnet.mixed_precision`)."""
    return _dtypes.global_policy()


def set_dtype_policy(policy):
    """Set the global dtype policy, e.g. `"mixed_bfloat16"`."""
    if hasattr(policy, "name"):
        policy = policy.name
    _dtypes.set_global_policy(policy)


def enable_interactive_logging():
    """Progress bars and messages go to stdout (the default)."""
    _state["interactive_logging"] = True


def disable_interactive_logging():
    """Turn interactive logging off (messages go through Python `logging`)."""
    _state["interactive_logging"] = False


def is_interactive_logging_enabled():
    """Whether interactive logging is on."""
    return _state["interactive_logging"]


def enable_flash_attention():
    """Let `ops.dot_product_attention` use a fused (cuDNN) kernel when it can."""
    _state["flash_attention"] = True


def disable_flash_attention():
    """Make `ops.dot_product_attention` use the plain XLA implementation."""
    _state["flash_attention"] = False


def is_flash_attention_enabled():
    """`True`/`False` when set explicitly, else `None` (let the op choose)."""
    return _state["flash_attention"]


def is_nnx_enabled():
    """Keras's Flax-NNX integration flag: jnet does not use NNX, so always `False`."""
    return False
