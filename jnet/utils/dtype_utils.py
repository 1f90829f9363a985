"""`standardize_dtype`: any dtype spelling -> Keras's dtype name."""

from __future__ import annotations

ALLOWED_DTYPES = (
    "float16",
    "float32",
    "float64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "bfloat16",
    "bool",
    "string",
    "float8_e4m3fn",
    "float8_e5m2",
    "complex64",
    "complex128",
)

# Python types, as Keras maps them on the JAX backend.
_PYTHON = {bool: "bool", int: "int32", "int": "int32", float: "float32", str: "string", complex: "complex64"}


def standardize_dtype(dtype):
    """The dtype's Keras name (`"float32"`, `"int32"`, `"bfloat16"`...).

    Args:
        dtype: a name, a NumPy or JAX dtype or scalar type, a Python type, or `None` (float32).

    Returns:
        The dtype name as a string.
    """
    if dtype is None:
        return "float32"
    try:
        dtype = _PYTHON.get(dtype, dtype)
    except TypeError:  # unhashable
        pass
    if hasattr(dtype, "name"):
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):
        dtype = dtype.__name__
    elif "jax.numpy" in str(dtype):
        dtype = str(dtype).split(".")[-1]
    if dtype not in ALLOWED_DTYPES:
        raise ValueError(f"standardize_dtype: invalid dtype {dtype!r}; expected one of {ALLOWED_DTYPES}")
    return dtype
