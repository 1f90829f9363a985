"""Element-wise numpy ops (`ops.sin`, `ops.add`, ...): thin wrappers over `jax.numpy`.

Transcendental ops turn integer inputs into `floatx()` (Keras's rule; `jnp.ceil` on an int
array would return ints). Python scalars stay weakly typed, so `ops.add(x, 1.0)` keeps x's
float dtype.
"""

from __future__ import annotations

import jax.numpy as jnp

from jnet.ops._utils import tensor, to_float, unwrap


def _arg(x):
    x = unwrap(x)
    if isinstance(x, (bool, int, float, complex)):
        return x
    return tensor(x)


def _unary(name, jfn, to_floatx):
    def op(x):
        return jfn(to_float(x) if to_floatx else tensor(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"""Element-wise `{name}` (as `numpy.{jfn.__name__}`).

    Args:
        x: Input tensor{'; integers are computed in `floatx()`' if to_floatx else ''}.

    Returns:
        A tensor of the same shape as `x`.

    Example:
    >>> jnet.ops.{name}(jnet.ops.array([0.5, 1.0]))
    """
    return op


def _binary(name, jfn, to_floatx, params=("x1", "x2")):
    a, b = params

    def op(x1, x2):
        x1, x2 = _arg(x1), _arg(x2)
        if to_floatx:
            x1 = to_float(x1) if not isinstance(x1, (int, float)) else float(x1)
            x2 = to_float(x2) if not isinstance(x2, (int, float)) else float(x2)
            if isinstance(x1, float) and isinstance(x2, float):
                x1 = to_float(x1)
        return jfn(x1, x2)

    op.__name__ = op.__qualname__ = name
    if params != ("x1", "x2"):  # Keras names the bitwise ops' arguments x and y
        src = f"def {name}({a}, {b}):\n    return _op({a}, {b})\n"
        scope = {"_op": op, "__name__": __name__}
        exec(src, scope)  # noqa: S102  a wrapper with Keras's argument names, built once
        op = scope[name]
    op.__doc__ = f"""Element-wise `{name}` of two tensors, broadcast together (as `numpy.{jfn.__name__}`).

    Args:
        {a}: First input tensor.
        {b}: Second input tensor.

    Returns:
        A tensor of the broadcast shape.

    Example:
    >>> jnet.ops.{name}(jnet.ops.array([1.0, 2.0]), jnet.ops.array([3.0, 4.0]))
    """
    return op


_FLOAT_UNARY = [
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctanh",
    "cos",
    "cosh",
    "sin",
    "sinh",
    "tan",
    "tanh",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log10",
    "log1p",
    "log2",
    "sqrt",
    "ceil",
    "floor",
    "i0",
    "sinc",
    "angle",
]
_PLAIN_UNARY = [
    "abs",
    "absolute",
    "fabs",
    "cbrt",
    "conj",
    "conjugate",
    "imag",
    "real",
    "negative",
    "sign",
    "signbit",
    "square",
    "reciprocal",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "isreal",
    "logical_not",
    "deg2rad",
    "rad2deg",
]
_FLOAT_BINARY = ["arctan2", "logaddexp", "logaddexp2"]
_PLAIN_BINARY = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "floor_divide",
    "maximum",
    "minimum",
    "mod",
    "fmod",
    "power",
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "heaviside",
    "hypot",
    "gcd",
    "lcm",
    "nextafter",
    "fmax",
    "fmin",
]
_XY_BINARY = {
    "bitwise_and": jnp.bitwise_and,
    "bitwise_or": jnp.bitwise_or,
    "bitwise_xor": jnp.bitwise_xor,
    "left_shift": jnp.left_shift,
    "right_shift": jnp.right_shift,
    "bitwise_left_shift": jnp.left_shift,
    "bitwise_right_shift": jnp.right_shift,
}

for _n in _FLOAT_UNARY:
    globals()[_n] = _unary(_n, getattr(jnp, _n), True)
for _n in _PLAIN_UNARY:
    globals()[_n] = _unary(_n, getattr(jnp, _n), False)
for _n in _FLOAT_BINARY:
    globals()[_n] = _binary(_n, getattr(jnp, _n), True)
for _n in _PLAIN_BINARY:
    globals()[_n] = _binary(_n, getattr(jnp, _n), False)
for _n, _f in _XY_BINARY.items():
    globals()[_n] = _binary(_n, _f, False, params=("x", "y"))


def bitwise_invert(x):
    """Bitwise NOT of an integer or boolean tensor (`~x`).

    Example:
    >>> jnet.ops.bitwise_invert(jnet.ops.array([0, 1], dtype="int8"))  # [-1, -2]
    """
    return jnp.invert(tensor(x))


bitwise_not = bitwise_invert


def trunc(x):
    """Round toward zero; integer and boolean inputs are returned unchanged."""
    x = tensor(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    return jnp.trunc(x)


def round(x, decimals=0):  # noqa: A001  (Keras's name)
    """Round to `decimals` decimal places (half to even); negative `decimals` round integers
    to tens, hundreds, ... as well.

    Example:
    >>> jnet.ops.round(jnet.ops.array([1.25, 15]), decimals=-1)
    """
    x = tensor(x)
    if decimals < 0 and jnp.issubdtype(x.dtype, jnp.integer):
        # jnp.round refuses negative decimals for ints: scale, round half to even, scale back
        f = 10.0**decimals
        return (jnp.round(x.astype("float32") * f) / f).astype(x.dtype)
    return jnp.round(x, decimals=decimals)


def ldexp(x1, x2):
    """`x1 * 2**x2`; `x2` must be an integer tensor.

    Raises:
        TypeError: when `x2` is not of an integer dtype.
    """
    x1, x2 = to_float(x1), tensor(x2)
    if not jnp.issubdtype(x2.dtype, jnp.integer):
        raise TypeError(f"ldexp: `x2` must be an integer tensor; received dtype {x2.dtype}")
    return jnp.ldexp(x1, x2)


def divide_no_nan(x1, x2):
    """`x1 / x2`, with 0 wherever `x2 == 0` (instead of inf or nan).

    Example:
    >>> jnet.ops.divide_no_nan(jnet.ops.array([1.0, 2.0]), jnet.ops.array([0.0, 4.0]))  # [0, 0.5]
    """
    x1, x2 = _arg(x1), _arg(x2)
    safe = jnp.where(jnp.equal(x2, 0), 1, x2)
    return jnp.where(jnp.equal(x2, 0), 0, jnp.true_divide(x1, safe))


def clip(x, x_min, x_max):
    """Limit the values of `x` to `[x_min, x_max]`; boolean inputs are clipped as int32."""
    x = tensor(x)
    if x.dtype == jnp.bool_:
        x = x.astype("int32")
    return jnp.clip(x, _arg(x_min), _arg(x_max))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with `nan`, +inf with `posinf` and -inf with `neginf` (default: the dtype's
    largest / smallest finite values)."""
    return jnp.nan_to_num(tensor(x), nan=nan, posinf=posinf, neginf=neginf)


def where(condition, x1=None, x2=None):
    """Elements of `x1` where `condition` holds, else of `x2`; with neither given, the indices
    where `condition` is true (a tuple of index arrays, not jittable).

    Raises:
        ValueError: when only one of `x1` and `x2` is given.
    """
    condition = tensor(condition)
    if (x1 is None) != (x2 is None):
        raise ValueError("where: give both `x1` and `x2`, or neither")
    if x1 is None:
        return jnp.nonzero(condition)
    return jnp.where(condition, _arg(x1), _arg(x2))


del _n, _f
