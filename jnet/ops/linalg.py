"""`jnet.ops.linalg`: linear algebra (`keras.ops.linalg`) on `jax.numpy.linalg` / `jax.scipy.linalg`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy as jsp

from jnet.ops._utils import to_float, unwrap_tree


def _square(name, x):
    x = to_float(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: `x` must be (a batch of) square matrices; received shape {x.shape}")
    return x


def cholesky(x, upper=False):
    """The Cholesky factor of positive-definite `x` (lower; upper with `upper=True`)."""
    c = jnp.linalg.cholesky(_square("cholesky", x), upper=upper)
    return c


def cholesky_inverse(x, upper=False):
    """The inverse of `A` from its Cholesky factor `x` (lower, or upper with `upper=True`)."""
    x = _square("cholesky_inverse", x)
    eye = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)
    return jsp.linalg.cho_solve((x, not upper), eye)


def det(x):
    """Determinant of (a batch of) square matrices."""
    return jnp.linalg.det(_square("det", x))


def eig(x):
    """`(eigenvalues, eigenvectors)` of a general square matrix (complex; CPU only in JAX)."""
    return jnp.linalg.eig(_square("eig", x))


def eigh(x):
    """`(eigenvalues, eigenvectors)` of a symmetric/Hermitian matrix, ascending."""
    return jnp.linalg.eigh(_square("eigh", x))


def inv(x):
    """Inverse of (a batch of) square matrices."""
    return jnp.linalg.inv(_square("inv", x))


def lu_factor(x):
    """`(lu, pivots)`: the packed LU factorisation with partial pivoting."""
    lu, piv, _ = jax.lax.linalg.lu(to_float(x))
    return lu, piv


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (Keras's name)
    """Vector or matrix norm of `x` (`numpy.linalg.norm` semantics)."""
    axis = tuple(axis) if isinstance(axis, list) else axis
    return jnp.linalg.norm(to_float(x), ord=ord, axis=axis, keepdims=keepdims)


def pinv(x, rcond=None):
    """Moore-Penrose pseudo-inverse."""
    return jnp.linalg.pinv(to_float(x), rtol=rcond)


def qr(x, mode="reduced"):
    """`(q, r)` QR decomposition; `mode` is "reduced" or "complete".

    Raises:
        ValueError: for another `mode`.
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: `mode` must be 'reduced' or 'complete'; received {mode!r}")
    return jnp.linalg.qr(to_float(x), mode=mode)


def solve(a, b):
    """`x` with `a @ x == b`."""
    return jnp.linalg.solve(_square("solve", a), to_float(b))


def solve_triangular(a, b, lower=False):
    """`x` with `a @ x == b` for triangular `a` (lower with `lower=True`)."""
    a, b = _square("solve_triangular", a), to_float(b)
    return jsp.linalg.solve_triangular(a, b, lower=lower)


def svd(x, full_matrices=True, compute_uv=True):
    """Singular value decomposition: `(u, s, vh)`, or `s` alone without `compute_uv`."""
    return jnp.linalg.svd(to_float(x), full_matrices=full_matrices, compute_uv=compute_uv)


def lstsq(a, b, rcond=None):
    """The least-squares solution `x` of `a @ x ~= b`."""
    return jnp.linalg.lstsq(to_float(a), to_float(b), rcond=rcond)[0]


def matrix_rank(x, tol=None):
    """Rank of a matrix by SVD (singular values above `tol`)."""
    return jnp.linalg.matrix_rank(to_float(x), rtol=tol)


def jvp(fun, primals, tangents, has_aux=False):
    """Forward-mode Jacobian-vector product: `(fun(*primals), J @ tangents)` (plus the aux
    output with `has_aux`)."""
    return jax.jvp(fun, tuple(unwrap_tree(tuple(primals))), tuple(unwrap_tree(tuple(tangents))), has_aux=has_aux)
