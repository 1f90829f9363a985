"""Variables, and the scope that binds arrays to them for the duration of a pure call.

A `Variable` is declared once (`layer.add_weight`): name, shape, dtype, initializer,
regularizer, constraint, trainable. Everything else derives from that declaration: its init
key (from its path), its penalty, its constraint, its place in Keras's weight order and in the
`{"params", "state"}` pytree.

Between calls a variable holds its latest value (`.value`, `.numpy()`, `.assign()`). Inside
`layer.apply(variables, ...)` a `VariableScope` binds the given arrays (possibly tracers) to the
variables, so the same layer code reads the arrays it was handed and the call stays pure; an
`assign` inside the scope is recorded there and returned as new state, never written back.
This is what Keras 3's JAX backend does with its `StatelessScope`.
"""

from __future__ import annotations

import contextlib
import threading
import zlib

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["StatelessScope", "Variable", "VariableScope", "call_scope", "current_scope", "path_key"]


def path_key(key, path: str):
    """The init key of the variable at `path` (relative to what is being initialised): adding a
    weight elsewhere changes no other weight's initial value, and no two weights share a key."""
    return jax.random.fold_in(key, zlib.crc32(path.encode()) & 0x7FFFFFFF)


class Variable:
    """A named, shaped, typed array slot owned by a layer (Keras's `keras.Variable`).

    Args:
        initializer: an initializer (`callable(key, shape, dtype)`, a jnet/Keras initializer
            name or object) or an initial array.
        shape: the variable's shape (taken from the array when `initializer` is one).
        dtype: its dtype (default float32).
        trainable: whether the optimizer updates it.
        name: its name within the owning layer (`kernel`, `bias`, ...).
        regularizer, constraint: optional; their penalty joins the loss, and the constraint
            is applied after each optimizer step.

    Reading `.value` outside any scope gives the current array (created from the initializer on
    first read); inside `layer.apply` it gives the array bound there.
    """

    def __init__(
        self,
        initializer,
        shape=None,
        dtype=None,
        trainable=True,
        name=None,
        regularizer=None,
        constraint=None,
        owner=None,
    ):
        from jnet import constraints, initializers, regularizers

        self._value = None
        if _is_array_like(initializer):
            value = initializer if _is_key(initializer) else jnp.asarray(initializer, dtype=dtype)
            shape = value.shape if shape is None else tuple(shape)
            if tuple(value.shape) != tuple(shape):
                raise ValueError(f"Variable {name!r}: initial value has shape {value.shape}, expected {tuple(shape)}")
            self._value = value
            dtype = value.dtype
            initializer = None
        elif initializer is not None:
            initializer = initializers.get(initializer)
        if shape is None:
            raise ValueError(f"Variable {name!r}: shape is required with an initializer")
        self.shape = _check_shape(shape, name)
        self.dtype = dtype if _is_key(dtype) else jnp.dtype(dtype or "float32")
        self.initializer = initializer
        self.trainable = bool(trainable)
        self.name = name or "variable"
        self.regularizer = regularizers.get(regularizer)
        self.constraint = constraints.get(constraint)
        self._owner = owner

    # ------------------------------------------------------------------ identity

    @property
    def path(self) -> str:
        owner = self._owner
        return f"{owner.name}/{self.name}" if owner is not None else self.name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def spec(self) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(self.shape, self.dtype)

    def __repr__(self):
        return f"<Variable path={self.path!r} shape={self.shape} dtype={self.dtype.name} trainable={self.trainable}>"

    # ------------------------------------------------------------------ values

    def initial_value(self, key):
        """A fresh value from the initializer (pure: usable under `jax.jit`)."""
        if self.initializer is None:
            if self._value is None:
                raise ValueError(f"Variable {self.path!r} has neither a value nor an initializer")
            return self._value if _is_key(self.dtype) else jnp.asarray(self._value, self.dtype)
        return jnp.asarray(self.initializer(key, self.shape, self.dtype), self.dtype)

    @property
    def initialized(self) -> bool:
        return self._value is not None

    @property
    def value(self):
        """The array bound by the innermost scope that binds this variable, else the stored one."""
        for scope in reversed(_stack()):
            found = scope.lookup(self)
            if found is not None:
                return found
        if self._value is None:
            scope = current_scope()
            if scope is not None and scope.abstract:
                return jnp.zeros(self.shape, self.dtype)  # shape tracing only: no values exist yet
            from jnet.core.initial import initial_values
            from jnet.utils import rng as jrng

            self._value = concrete(lambda: initial_values(jrng.next_key(), [(self.path, self)])[0])
        return self._value

    def assign(self, value):
        """Set the value (recorded in the current scope inside `apply`, so the call stays pure)."""
        value = _unwrap(value)
        value = value if _is_key(value) else jnp.asarray(value)
        if tuple(value.shape) != self.shape:
            raise ValueError(
                f"Variable {self.path!r}: cannot assign a value of shape {tuple(value.shape)} "
                f"to a variable of shape {self.shape}"
            )
        if not _is_key(value):
            value = value.astype(self.dtype)
        scope = current_scope()
        if scope is not None and (
            scope.binds(self) or scope.abstract or scope.stateless or isinstance(value, jax.core.Tracer)
        ):
            scope.record(self, value)
        else:
            self._value = value
        return self

    def assign_add(self, delta):
        return self.assign(self.value + _unwrap(delta))

    def assign_sub(self, delta):
        return self.assign(self.value - _unwrap(delta))

    def numpy(self) -> np.ndarray:
        return np.asarray(self.value)

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self.value)
        return a.astype(dtype) if dtype is not None else a

    def __jax_array__(self):
        return self.value

    # Arithmetic reads the value, as Keras variables do (`inputs @ self.w + self.b`).
    def __add__(self, o):
        return self.value + _unwrap(o)

    def __radd__(self, o):
        return _unwrap(o) + self.value

    def __sub__(self, o):
        return self.value - _unwrap(o)

    def __rsub__(self, o):
        return _unwrap(o) - self.value

    def __mul__(self, o):
        return self.value * _unwrap(o)

    def __rmul__(self, o):
        return _unwrap(o) * self.value

    def __truediv__(self, o):
        return self.value / _unwrap(o)

    def __rtruediv__(self, o):
        return _unwrap(o) / self.value

    def __floordiv__(self, o):
        return self.value // _unwrap(o)

    def __rfloordiv__(self, o):
        return _unwrap(o) // self.value

    def __mod__(self, o):
        return self.value % _unwrap(o)

    def __pow__(self, o):
        return self.value ** _unwrap(o)

    def __rpow__(self, o):
        return _unwrap(o) ** self.value

    def __matmul__(self, o):
        return self.value @ _unwrap(o)

    def __rmatmul__(self, o):
        return _unwrap(o) @ self.value

    def __neg__(self):
        return -self.value

    def __pos__(self):
        return self.value

    def __abs__(self):
        return abs(self.value)

    def __getitem__(self, idx):
        return self.value[idx]

    def __lt__(self, o):
        return self.value < _unwrap(o)

    def __le__(self, o):
        return self.value <= _unwrap(o)

    def __gt__(self, o):
        return self.value > _unwrap(o)

    def __ge__(self, o):
        return self.value >= _unwrap(o)

    def __len__(self):
        return self.shape[0]

    @property
    def T(self):  # noqa: N802 - numpy's name
        return self.value.T

    def astype(self, dtype):
        return self.value.astype(dtype)

    __hash__ = object.__hash__


def _is_key(x) -> bool:
    """A typed PRNG key array or dtype (Flax NNX keeps its rng streams as variables)."""
    dtype = getattr(x, "dtype", x)
    try:
        return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    except TypeError:
        return False


def _unwrap(x):
    return x.value if isinstance(x, Variable) else x


def _is_array_like(x) -> bool:
    return isinstance(x, (np.ndarray, jax.Array, list, tuple, float, int, np.generic)) and not isinstance(x, bool)


def _check_shape(shape, name):
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"Variable {name!r}: shape must be a tuple of non-negative ints, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"Variable {name!r}: shape must be a tuple of non-negative ints, got {shape!r}")
    return shape


# --------------------------------------------------------------------------- scopes

_local = threading.local()


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def current_scope():
    stack = _stack()
    return stack[-1] if stack else None


class VariableScope:
    """Arrays bound to variables for one call, plus that call's context.

    Args:
        bindings: `{id(variable): array}`.
        training: the call's training flag, inherited by nested layer calls that do not pass one.
        rng: a key for layers that draw randomness (dropout); nested calls fold in a counter.
        abstract: shape tracing only (`jax.eval_shape`): unbound, uninitialised variables read
            as zeros instead of being initialised.
    """

    def __init__(self, bindings=None, training=None, rng=None, abstract=False):
        self._bindings = dict(bindings or {})
        self._variables = {}
        self.assigned = {}
        self.training = training
        self.rng = rng
        self.abstract = abstract
        self.losses = []
        self._draws = 0
        self.stateless = False

    def binds(self, variable) -> bool:
        return id(variable) in self._bindings

    def lookup(self, variable):
        return self._bindings.get(id(variable))

    def record(self, variable, value):
        self._bindings[id(variable)] = value
        self._variables[id(variable)] = variable
        self.assigned[id(variable)] = value

    def next_rng(self):
        """A fresh key for one random draw inside this call (None when the call has no rng)."""
        if self.rng is None:
            return None
        self._draws += 1
        return jax.random.fold_in(self.rng, self._draws)

    def __enter__(self):
        _stack().append(self)
        return self

    def __exit__(self, *exc):
        _stack().pop()
        return False


class StatelessScope(VariableScope):
    """Keras's `keras.StatelessScope`: inside it, variables read the values of `state_mapping`
    (`[(variable, value), ...]`) and assignments are recorded here, never written to the
    variables; read them with `get_current_value(variable)`.

    Example:
    ```python
    with jnet.StatelessScope(state_mapping=[(layer.kernel, new_kernel)]) as scope:
        y = layer(x)
    ```
    """

    def __init__(self, state_mapping=None, collect_losses=False, initialize_variables=True):
        pairs = list(state_mapping or [])
        super().__init__({id(v): _unwrap(a) for v, a in pairs})
        self._variables.update({id(v): v for v, _ in pairs})
        self.stateless = True

    def get_current_value(self, variable):
        return self.lookup(variable)


@contextlib.contextmanager
def call_scope(bindings=None, training=None, rng=None, abstract=False):
    """The scope of one outer call: variables bound to `bindings`, and, when the call has a key,
    `jnet.random.SeedGenerator`s drawing from it (so `keras.random.dropout(x, seed=self.seed)`
    in a user's layer differs per training step and repeats across runs)."""
    with VariableScope(bindings, training=training, rng=rng, abstract=abstract) as scope:
        if rng is None:
            yield scope
        else:
            from jnet import random as jrandom

            with jrandom.rng_scope(rng):
                yield scope


def concrete(thunk):
    """`thunk()` as concrete arrays even when called while a function is being traced (a
    variable first read inside a user's `jax.jit`): initial values are constants, never tracers.
    Outside a trace this is the plain compiled call (`ensure_compile_time_eval` would run the
    initializers op by op, several times slower)."""
    with no_scope():
        if not _tracing():
            return thunk()
        with jax.ensure_compile_time_eval():
            return thunk()


def _tracing() -> bool:
    """Whether a JAX transformation is tracing right now (a probe op comes out a tracer)."""
    return isinstance(jnp.zeros(()) + 0, jax.core.Tracer)


@contextlib.contextmanager
def no_scope():
    """Run without any active scope (eager materialisation inside a traced build)."""
    saved = _stack()[:]
    _stack().clear()
    try:
        yield
    finally:
        _stack().extend(saved)
