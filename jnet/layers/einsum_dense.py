"""EinsumDense: a dense layer whose contraction is any einsum equation (Keras's
`keras.layers.EinsumDense`, the projection inside multi-head attention)."""

from __future__ import annotations

import re
from typing import Any

import jax
import jax.numpy as jnp

from jnet import activations, initializers, regularizers
from jnet.layers.base import Layer
from jnet.layers.quantization import QuantizableMixin, check_lora_args, quantized_contraction

__all__ = ["EinsumDense"]


def parse_equation(label, equation):
    """`(input_spec, kernel_spec, output_spec, left_elided)` of `"ab,bc->ac"`, `"...b,bc->...c"`
    or `"ab...,bc->ac..."` (Keras's three forms)."""
    eq = equation.replace("...", "0")
    left = False
    m = re.fullmatch(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", eq)
    if m is None:
        m = re.fullmatch(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", eq)
        left = m is not None
    if m is None:
        m = re.fullmatch(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", eq)
    if m is None:
        raise ValueError(
            f"{label}: invalid equation {equation!r}; expected the form 'ab,bc->ac', "
            "'...b,bc->...c' or 'ab...,bc->ac...'"
        )
    return (*m.groups(), left)


def analyze_equation(label, equation, bias_axes, input_shape, output_shape):
    """`(kernel_shape, bias_shape, full_output_shape, input_axes, output_axes)` for `equation`
    on inputs shaped `input_shape`."""
    ins, ws, outs, left = parse_equation(label, equation)
    eq = equation.replace("...", "0")
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(ins)
    if elided < 0 or (elided and "0" not in eq):
        raise ValueError(f"{label}: equation {equation!r} expects an input of rank {len(ins)}, got shape {input_shape}")
    out_shape = [input_shape[0], *output_shape]
    if elided and left:
        for i in range(1, elided):
            out_shape.insert(1, input_shape[i])
    elif elided:
        out_shape.extend(input_shape[len(input_shape) - elided :])
    if left:
        in_map = {d: i + elided - len(input_shape) for i, d in enumerate(ins)}
        out_map = {d: i + elided for i, d in enumerate(outs)}
    else:
        in_map = {d: i for i, d in enumerate(ins)}
        out_map = {d: i for i, d in enumerate(outs)}
    if len(out_shape) != len(outs) + elided:
        raise ValueError(
            f"{label}: output_shape {tuple(output_shape)} does not fit the output spec '{outs}' "
            f"(it lists the output's axes after the batch axis, {len(outs) - 1} of them here)"
        )
    for d in ins:
        if d in out_map:
            o, i = out_shape[out_map[d]], input_shape[in_map[d]]
            if o is not None and i is not None and o != i:
                raise ValueError(f"{label}: the input and output_shape disagree on axis '{d}': {i} != {o}")
    for d in outs:
        if d not in ins and d not in ws:
            raise ValueError(
                f"{label}: output axis '{d}' is in neither the input spec '{ins}' nor the weight spec '{ws}'"
            )
    kernel_shape, in_axes, out_axes = [], [], []
    for i, d in enumerate(ws):
        if d in out_map:
            kernel_shape.append(out_shape[out_map[d]])
            out_axes.append(i)
        elif d in in_map:
            kernel_shape.append(input_shape[in_map[d]])
            in_axes.append(i)
        else:
            raise ValueError(
                f"{label}: weight axis '{d}' is in neither the input spec '{ins}' nor the output spec '{outs}'"
            )
    if any(d is None for d in kernel_shape):
        raise ValueError(
            f"{label}: the kernel's shape {tuple(kernel_shape)} needs known sizes; give output_shape "
            f"in full and an input with known sizes on the contracted axes (input shape {input_shape})"
        )
    bias_shape = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in outs:
                raise ValueError(f"{label}: bias axis '{c}' is not in the output spec '{outs}'")
        sizes = {c: out_shape[i + (elided if left else 0)] for i, c in enumerate(outs)}
        first = min(outs.find(c) for c in bias_axes)
        bias_shape = [sizes[c] if c in bias_axes else 1 for c in outs[first:]]
        if not left:
            bias_shape += [1] * elided
    return kernel_shape, bias_shape, out_shape, in_axes, out_axes


class EinsumDense(QuantizableMixin, Layer):
    """A dense layer written as an einsum: `activation(einsum(equation, inputs, kernel) + bias)`.

    Args:
        equation: `"<input>,<kernel>-><output>"`, e.g. `"ab,bc->ac"` (a Dense layer),
            `"abc,cd->abd"` (Dense on the last axis of a sequence), `"...b,bc->...c"`.
        output_shape: the output's shape without the batch axis (and without elided axes); an
            int for a 1D output. `None` entries take the input's size.
        activation: activation name or callable (default linear).
        bias_axes: letters of the output spec that get a bias (default none).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        kernel_constraint, bias_constraint: as for `Dense`. A variance-scaling kernel
        initializer (the default Glorot uniform) counts fans over the kernel's input and
        output axes, as Keras does.
        lora_rank, lora_alpha: enable LoRA when the layer is built (`enable_lora`;
            `lora_kernel_a` has the kernel's shape with its last axis replaced by the rank).
        quantization_config: the `jnet.quantizers.Int8QuantizationConfig` of a quantized
            layer (`quantize`: the kernel's scale is laid out like the output, with size 1 on
            the axes the kernel does not reach, as Keras stores it; equations with `...` cannot
            be quantized, as in Keras).

    Example:
    ```python
    layer = jnet.layers.EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")
    y = layer(np.ones((2, 5, 16), "float32"))   # (2, 5, 4, 8)
    ```
    """

    equation: str
    output_shape: Any
    activation: Any = None
    bias_axes: Any = None
    kernel_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None
    lora_rank: Any = None
    lora_alpha: Any = None
    quantization_config: Any = None

    _quantizable_class = "EinsumDense"

    def check_config(self):
        if not isinstance(self.equation, str):
            raise ValueError(f"{self._label}: equation must be a string, got {self.equation!r}")
        parse_equation(self._label, self.equation)
        if isinstance(self.output_shape, int) and not isinstance(self.output_shape, bool):
            self.output_shape = (self.output_shape,)
        if not isinstance(self.output_shape, (list, tuple)) or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in self.output_shape
        ):
            raise ValueError(
                f"{self._label}: output_shape must be an int or a tuple of positive ints/None, "
                f"got {self.output_shape!r}"
            )
        self.output_shape = tuple(self.output_shape)
        if self.bias_axes is not None and not isinstance(self.bias_axes, str):
            raise ValueError(
                f"{self._label}: bias_axes must be a string of output letters or None, got {self.bias_axes!r}"
            )
        check_lora_args(self)
        activations.get(self.activation)
        initializers.get(self.kernel_initializer)
        initializers.get(self.bias_initializer)
        regularizers.get(self.kernel_regularizer)
        regularizers.get(self.bias_regularizer)

    def _analyze(self, shape):
        return analyze_equation(self._label, self.equation, self.bias_axes, shape, self.output_shape)

    def check_inputs(self, spec):
        self._analyze(spec.shape)

    def build(self, input_shape):
        kernel_shape, bias_shape, _, in_axes, out_axes = self._analyze(input_shape)
        if self.quantization_mode:
            self.quantized_build(tuple(kernel_shape), self.quantization_mode, self.quantization_config)
        else:
            self.kernel = self.add_weight(
                tuple(kernel_shape),
                _fan_aware(self.kernel_initializer, in_axes, out_axes),
                name="kernel",
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
        self.bias = None
        if bias_shape is not None:
            self.bias = self.add_weight(
                tuple(bias_shape),
                self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        if self.lora_rank:
            self._add_lora(self.lora_rank, self.lora_alpha)

    def call(self, x):
        if self.quantization_mode:
            return self.quantized_call(x)
        dtype = self.compute_dtype
        kernel = self._lora_weight(self.kernel.value)
        y = jnp.einsum(self.equation, x.astype(dtype), kernel.astype(dtype))
        return self._finish(y)

    def _finish(self, y):
        dtype = self.compute_dtype
        if self.bias is not None:
            b = self.bias.value.astype(dtype)
            y = y + jnp.reshape(b, (1,) * (y.ndim - b.ndim) + b.shape)
        return activations.get(self.activation)(y)

    # ---- int8: the kernel is quantized over its contracted axes (those not in the output), the
    # inputs over theirs; both scales are laid out like the output so they divide it directly.

    def _specs(self):
        ins, ws, outs, _ = parse_equation(self._label, self.equation)
        if "..." in self.equation:
            raise ValueError(
                f"{self._label}: an equation with '...' ({self.equation!r}) cannot be quantized (nor can it in Keras)"
            )
        return ins, ws, outs

    def _scale_shape(self, kernel_shape) -> tuple:
        _, ws, outs = self._specs()
        sizes = dict(zip(ws, kernel_shape))
        return tuple(sizes[c] if c in sizes else 1 for c in outs)

    def _quantize_main(self, value, quantizer=None):
        from jnet import quantizers

        _, ws, outs = self._specs()
        reduced = tuple(i for i, c in enumerate(ws) if c not in outs)
        quantizer = quantizer or quantizers.AbsMaxQuantizer(axis=reduced)
        values, scale = quantizer(value, to_numpy=True)
        return values, _relayout(scale, ws, outs)

    def _dequantized(self):
        _, ws, outs = self._specs()
        scale = _relayout(self.kernel_scale.value, outs, ws)
        return self.kernel.value.astype(jnp.float32) / scale

    def _int8_call(self, x):
        ins, ws, outs = self._specs()
        dtype = self.compute_dtype
        x = x.astype(dtype)
        quantizer = self.inputs_quantizer
        reduced = tuple(i for i, c in enumerate(ins) if c not in outs)

        def forward(x, kernel, scale):
            if quantizer is None:  # weight-only
                return jnp.einsum(self.equation, x, kernel.astype(dtype)).astype(dtype) / scale
            xq, x_scale = quantizer(x, axis=reduced)
            y = jnp.einsum(self.equation, xq, kernel, preferred_element_type=jnp.int32).astype(dtype)
            return y / (_relayout(x_scale, ins, outs) * scale)

        def backward(g, kernel, scale):
            float_kernel = kernel.astype(dtype) / _relayout(scale, outs, ws)
            _, pullback = jax.vjp(lambda v: jnp.einsum(self.equation, v, float_kernel), jnp.zeros(x.shape, dtype))
            return pullback(g)[0]

        y = quantized_contraction(forward, backward, x, self.kernel.value, self.kernel_scale.value)
        if self.lora_enabled:
            lora = jnp.matmul(jnp.einsum(self.equation, x, self.lora_kernel_a.value), self.lora_kernel_b.value)
            y = (y + self._lora_scale() * lora).astype(dtype)
        return self._finish(y)


def _relayout(a, src: str, dst: str):
    """`a`, whose axes are the letters `src` (size 1 on letters absent from `dst`), laid out over
    `dst`: those axes dropped, the rest in `dst`'s order, size 1 for letters `src` lacks."""
    drop = tuple(i for i, c in enumerate(src) if c not in dst)
    a = jnp.squeeze(a, axis=drop) if drop else a
    kept = [c for c in src if c in dst]
    order = [c for c in dst if c in kept]
    a = jnp.transpose(a, [kept.index(c) for c in order])
    sizes = dict(zip(order, a.shape))
    return jnp.reshape(a, tuple(sizes.get(c, 1) for c in dst))


def _fan_aware(identifier, in_axes, out_axes):
    """A variance-scaling initializer with its fans counted over the kernel's input and output
    axes (Keras sets `input_axes` / `output_axes` the same way); other initializers as given."""
    init = initializers.get(identifier)
    if not isinstance(init, initializers.VarianceScaling) or not in_axes or not out_axes:
        return identifier
    dist = "untruncated_normal" if init.distribution == "normal" else init.distribution
    fn = jax.nn.initializers.variance_scaling(
        init.scale, init.mode, dist, in_axis=tuple(in_axes), out_axis=tuple(out_axes), batch_axis=()
    )

    def kernel_init(key, shape, dtype=jnp.float32):
        return fn(initializers._key(key, init.seed), shape, dtype)

    return kernel_init
