"""Merge layers: combine a list of inputs (`Concatenate()([a, b])`), and their functional forms.

A merge layer takes its inputs as one list, as in Keras: `layer.apply(variables, [a, b])`,
`layer([a, b])` on symbolic tensors. Masks arrive as a list too (None for unmasked inputs).
"""

from __future__ import annotations

import jax.numpy as jnp

from jnet.layers.base import Layer
from jnet.layers.core import cast_floats

__all__ = [
    "Concatenate",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Dot",
    "concatenate",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "dot",
]


def _fmt(shape) -> str:
    return str(tuple(shape))


class _Merge(Layer):
    """Shared checks for merge layers: a list of inputs, one batch size."""

    supports_masking = True
    min_inputs = 1
    max_inputs = None

    def _check_list(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{self._label}: a merge layer takes a list of inputs, e.g. layer([a, b]), got {type(inputs).__name__}"
            )
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = f"exactly {self.max_inputs}" if self.max_inputs == self.min_inputs else f"at least {self.min_inputs}"
            raise ValueError(f"{self._label}: expected {want} inputs, got {n}")
        for i, x in enumerate(inputs):
            if len(x.shape) < 1:
                raise ValueError(f"{self._label}: input {i} is a scalar; inputs need a batch axis")
        batches = {x.shape[0] for x in inputs} - {None}
        if len(batches) > 1:
            shapes = ", ".join(_fmt(x.shape) for x in inputs)
            raise ValueError(f"{self._label}: inputs have different batch sizes: {shapes}")

    def _cast(self, inputs):
        return [cast_floats(jnp.asarray(x), self.compute_dtype) for x in inputs]


# --------------------------------------------------------------------------- elementwise


class _ElementwiseMerge(_Merge):
    """Elementwise merges broadcast as Keras does: shapes align on the right, a size-1 axis
    stretches, and a lower-rank input gets unit axes inserted after the batch axis."""

    def check_inputs(self, inputs):
        self._check_list(inputs)
        self._output_shape([x.shape for x in inputs])

    def _output_shape(self, shapes):
        out = list(shapes[0][1:])
        owner = [0] * len(out)  # which input fixed each output axis (for the message)
        for i, shape in enumerate(shapes[1:], start=1):
            rest = list(shape[1:])
            if len(rest) > len(out):
                extra = len(rest) - len(out)
                out, owner = rest[:extra] + out, [i] * extra + owner
            offset = len(out) - len(rest)
            for j, d in enumerate(rest):
                k = offset + j
                cur = out[k]
                if cur is None or d is None:
                    out[k] = cur if d == 1 else (d if cur == 1 else None)
                elif cur == 1:
                    out[k], owner[k] = d, i
                elif d != 1 and d != cur:
                    same_rank = len({len(s) for s in shapes}) == 1
                    axis = k + 1 if same_rank else k - len(out)  # negative: counted from the end
                    raise ValueError(
                        f"{self._label}: input {i} of shape {_fmt(shape)} does not match input "
                        f"{owner[k]} of shape {_fmt(shapes[owner[k]])} on axis {axis} ({d} vs {cur}); "
                        "elementwise merges need equal sizes (or 1) on every axis"
                    )
        return tuple(out)

    def _aligned(self, inputs):
        """Inputs with unit axes inserted after the batch axis up to a common rank, then
        broadcast explicitly (jnet runs under `jax_numpy_rank_promotion="raise"`)."""
        inputs = self._cast(inputs)
        rank = max(x.ndim for x in inputs)
        inputs = [jnp.reshape(x, x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]
        shape = jnp.broadcast_shapes(*(x.shape for x in inputs))
        return [jnp.broadcast_to(x, shape) for x in inputs]

    def call(self, inputs, mask=None):
        self.check_inputs(inputs)
        xs = self._aligned(inputs)
        return self._merge(xs, self._value_masks(xs, mask))

    def _value_masks(self, xs, mask):
        """Per-input masks broadcast to the aligned value shape (None where unmasked)."""
        if mask is None:
            return [None] * len(xs)
        if not isinstance(mask, (list, tuple)) or len(mask) != len(xs):
            raise ValueError(f"{self._label}: expected one mask per input ({len(xs)}), got {mask!r}")
        out = []
        for x, m in zip(xs, mask):
            if m is None:
                out.append(None)
                continue
            m = jnp.asarray(m, bool)
            m = jnp.reshape(m, m.shape + (1,) * (x.ndim - m.ndim))
            out.append(jnp.broadcast_to(m, x.shape))
        return out

    def compute_mask(self, inputs, mask=None):
        # Keras: no output mask unless every input has one; then their union (logical OR).
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"{self._label}: expected one mask per input ({len(inputs)}), got {mask!r}")
        if any(m is None for m in mask):
            return None
        out = jnp.asarray(mask[0], bool)
        for m in mask[1:]:
            out = jnp.logical_or(out, jnp.asarray(m, bool))
        return out


class Add(_ElementwiseMerge):
    """Elementwise sum of a list of inputs of the same shape.

    Input shape:
        A list of arrays, e.g. `[(batch, d), (batch, d)]`.

    Output shape:
        The common shape.

    Example:
    ```python
    y = jnet.layers.Add()([a, b])      # or jnet.layers.add([a, b])
    ```
    """

    def _merge(self, xs, masks):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(_ElementwiseMerge):
    """`inputs[0] - inputs[1]` (exactly two inputs of the same shape)."""

    min_inputs = 2
    max_inputs = 2

    def _merge(self, xs, masks):
        return xs[0] - xs[1]


class Average(_ElementwiseMerge):
    """Elementwise mean of a list of inputs of the same shape."""

    def _merge(self, xs, masks):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / len(xs)


class Multiply(_ElementwiseMerge):
    """Elementwise product of a list of inputs of the same shape.

    With masks, masked entries count as 1 in the product and, when every input is masked,
    entries outside the union of the masks are 0 (Keras's rule)."""

    def _merge(self, xs, masks):
        all_masked = all(m is not None for m in masks)
        out, union = None, None
        for x, m in zip(xs, masks):
            if m is not None:
                x = jnp.where(m, x, jnp.ones((), x.dtype))
                if all_masked:
                    union = m if union is None else jnp.logical_or(union, m)
            out = x if out is None else out * x
        if all_masked:
            out = jnp.where(union, out, jnp.zeros((), out.dtype))
        return out


class _MaskedPairwise(_ElementwiseMerge):
    """Maximum/Minimum: where one input is masked the other's value is used (Keras's rule)."""

    def _merge(self, xs, masks):
        out, out_mask = None, None
        for x, m in zip(xs, masks):
            if out is None:
                out, out_mask = x, m
                continue
            if m is not None:
                x = jnp.where(m, x, out)
            if out_mask is not None:
                out = jnp.where(out_mask, out, x)
            out_mask = jnp.logical_or(out_mask, m) if (m is not None and out_mask is not None) else None
            out = self._op(out, x)
        return out


class Maximum(_MaskedPairwise):
    """Elementwise maximum of a list of inputs of the same shape."""

    _op = staticmethod(jnp.maximum)


class Minimum(_MaskedPairwise):
    """Elementwise minimum of a list of inputs of the same shape."""

    _op = staticmethod(jnp.minimum)


# --------------------------------------------------------------------------- Concatenate


class Concatenate(_Merge):
    """Concatenates a list of inputs along `axis`.

    Args:
        axis: the concatenation axis (default -1). Every other axis must match.

    Input shape:
        A list of arrays of the same rank, e.g. `[(batch, 3), (batch, 5)]`.

    Output shape:
        The common shape with the sizes along `axis` summed, e.g. `(batch, 8)`.

    Masks: inputs without a mask count as fully valid; the masks are concatenated along
    `axis` and reduced over the last axis (Keras's rule).

    Example:
    ```python
    x = jnet.layers.concatenate([title_features, body_features, tags])
    ```
    """

    axis: int = -1

    def check_config(self):
        if not isinstance(self.axis, int) or isinstance(self.axis, bool):
            raise ValueError(f"{self._label}: axis must be an int, got {self.axis!r}")

    def check_inputs(self, inputs):
        self._check_list(inputs)
        shapes = [tuple(x.shape) for x in inputs]
        rank = len(shapes[0])
        for i, s in enumerate(shapes):
            if len(s) != rank:
                raise ValueError(
                    f"{self._label}: input {i} has rank {len(s)} (shape {_fmt(s)}) but input 0 has rank "
                    f"{rank} (shape {_fmt(shapes[0])}); concatenated inputs need the same rank"
                )
        if not -rank <= self.axis < rank:
            raise ValueError(f"{self._label}: axis {self.axis} is out of range for inputs of rank {rank}")
        axis = self.axis % rank
        for i, s in enumerate(shapes[1:], start=1):
            for k in range(rank):
                if k == axis or k == 0:
                    continue
                if s[k] is not None and shapes[0][k] is not None and s[k] != shapes[0][k]:
                    raise ValueError(
                        f"{self._label}: input {i} of shape {_fmt(s)} does not match input 0 of shape "
                        f"{_fmt(shapes[0])} on axis {k} ({s[k]} vs {shapes[0][k]}); inputs must match on every "
                        f"axis except the concatenation axis {self.axis}"
                    )

    def call(self, inputs):
        self.check_inputs(inputs)
        return jnp.concatenate(self._cast(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"{self._label}: expected one mask per input ({len(inputs)}), got {mask!r}")
        if all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            if m is None:
                full.append(jnp.ones(x.shape, bool))
                continue
            m = jnp.asarray(m, bool)
            if m.ndim < x.ndim:
                m = jnp.broadcast_to(jnp.reshape(m, m.shape + (1,) * (x.ndim - m.ndim)), x.shape)
            full.append(m)
        return jnp.any(jnp.concatenate(full, axis=self.axis), axis=-1)


# --------------------------------------------------------------------------- Dot


class Dot(_Merge):
    """Dot product of two inputs along the given axes, per sample (Keras `batch_dot`).

    Args:
        axes: an int, or a pair `(axis_of_x, axis_of_y)`; axis 0 (the batch) is not allowed.
        normalize: whether to L2-normalise both inputs along the dot axes first, so the
            result is the cosine similarity.

    Input shape:
        Two arrays `x` (batch, ...) and `y` (batch, ...) whose sizes along the axes match.

    Output shape:
        `x`'s remaining axes followed by `y`'s remaining axes, e.g. `(batch, n, m)` for
        `axes=(2, 2)` on `(batch, n, d)` and `(batch, m, d)`; `(batch, 1)` when nothing remains.

    Masks are dropped, as in Keras.
    """

    axes: object
    normalize: bool = False

    supports_masking = False
    min_inputs = 2
    max_inputs = 2

    def check_config(self):
        axes = self.axes
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"{self._label}: axes must be an int or a pair of ints, got {axes!r}")
            self.axes = tuple(axes)
        elif not isinstance(axes, int) or isinstance(axes, bool):
            raise ValueError(f"{self._label}: axes must be an int or a pair of ints, got {axes!r}")

    def _axes(self, shapes):
        pair = self.axes if isinstance(self.axes, tuple) else (self.axes, self.axes)
        axes = []
        for i, (a, s) in enumerate(zip(pair, shapes)):
            if not -len(s) <= a < len(s):
                raise ValueError(f"{self._label}: axis {a} is out of range for input {i} of shape {_fmt(s)}")
            a = a % len(s)
            if a == 0:
                raise ValueError(f"{self._label}: cannot take the dot product over the batch axis 0 (axes={self.axes})")
            axes.append(a)
        return axes

    def check_inputs(self, inputs):
        self._check_list(inputs)
        shapes = [tuple(x.shape) for x in inputs]
        for i, s in enumerate(shapes):
            if len(s) < 2:
                raise ValueError(f"{self._label}: input {i} needs rank >= 2 (batch, ...), got shape {_fmt(s)}")
        a0, a1 = self._axes(shapes)
        d0, d1 = shapes[0][a0], shapes[1][a1]
        if d0 is not None and d1 is not None and d0 != d1:
            raise ValueError(
                f"{self._label}: input 0 axis {a0} has size {d0} but input 1 axis {a1} has size {d1} "
                f"(shapes {_fmt(shapes[0])} and {_fmt(shapes[1])})"
            )

    def call(self, inputs):
        self.check_inputs(inputs)
        x, y = self._cast(inputs)
        a0, a1 = self._axes([x.shape, y.shape])
        if self.normalize:
            x, y = _l2_normalize(x, a0), _l2_normalize(y, a1)
        x = jnp.moveaxis(x, a0, -1)  # (batch, *xs, k)
        y = jnp.moveaxis(y, a1, 1)  # (batch, k, *ys)
        xs, ys = x.shape[1:-1], y.shape[2:]
        b, k = x.shape[0], x.shape[-1]
        flat = jnp.matmul(jnp.reshape(x, (b, -1, k)), jnp.reshape(y, (b, k, -1)))
        out = jnp.reshape(flat, (b,) + xs + ys)
        return out if out.ndim > 1 else out[:, None]


def _l2_normalize(x, axis, epsilon=1e-7):
    # Keras: x * min(rsqrt(sum(x^2)), 1/epsilon), so an all-zero vector stays zero.
    square_sum = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x * jnp.minimum(jnp.reciprocal(jnp.sqrt(square_sum)), 1.0 / epsilon)


# --------------------------------------------------------------------------- functional forms


def concatenate(inputs, axis=-1, **kwargs):
    """`Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """`Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """`Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """`Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """`Maximum(**kwargs)(inputs)`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """`Minimum(**kwargs)(inputs)`."""
    return Minimum(**kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """`Dot(axes=axes, **kwargs)(inputs)`."""
    return Dot(axes=axes, **kwargs)(inputs)
