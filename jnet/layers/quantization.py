"""int8 quantization of Dense, EinsumDense and Embedding, and their Keras-format saving.

`layer.quantize("int8")` (or `model.quantize("int8")`) replaces the layer's float kernel by an
int8 kernel (`kernel`, frozen) and a float32 `kernel_scale`, computed per output channel by
abs-max (`jnet.quantizers.abs_max_quantize`); the layer's `dtype_policy` becomes
`"int8_from_<previous policy>"`, and from then on its call is `quantized_call`: the inputs are
quantized per row by abs-max too, the contraction runs in int8 with int32 accumulation, and one
division by `inputs_scale * kernel_scale` brings the result back to float. Gradients with
respect to the inputs use the de-quantized kernel (Keras's custom gradient), so a quantized
layer can sit under trainable ones, and LoRA weights on a quantized layer train as usual.

Saving writes Keras's layout (`save_own_variables`): `kernel`, `bias`, `kernel_scale`
(`embeddings`, `embeddings_scale` for Embedding), with the LoRA update merged and re-quantized.

Example:
```python
model.quantize("int8")
model.layers[1].dtype_policy.name     # 'int8_from_float32'
model.layers[1].kernel.dtype          # int8
```
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet import quantizers
from jnet.layers.lora import LoraMixin

__all__ = ["QuantizableMixin", "check_lora_args", "quantized_contraction"]


def check_lora_args(layer) -> None:
    """Check a layer's `lora_rank`, `lora_alpha` and `quantization_config` arguments."""
    rank, alpha = layer.lora_rank, layer.lora_alpha
    if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool) or rank <= 0):
        raise ValueError(f"{layer._label}: lora_rank must be a positive integer or None, got {rank!r}")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))):
        raise ValueError(f"{layer._label}: lora_alpha must be a number or None, got {alpha!r}")
    config = layer.quantization_config
    if config is not None and not isinstance(config, quantizers.QuantizationConfig):
        raise ValueError(
            f"{layer._label}: quantization_config must be a jnet.quantizers.QuantizationConfig or None, got {config!r}"
        )


def quantized_contraction(forward, backward, x, kernel, scale):
    """`forward(x, kernel, scale)` with Keras's gradient for an int8 kernel: the inputs' cotangent
    is `backward(g, kernel, scale)` (the float contraction with the de-quantized kernel); the
    frozen kernel and scale get none."""

    @jax.custom_vjp
    def run(x, kernel, scale):
        return forward(x, kernel, scale)

    def fwd(x, kernel, scale):
        return forward(x, kernel, scale), (kernel, scale)

    def bwd(res, g):
        k, s = res
        return backward(g, k, s), np.zeros(k.shape, jax.dtypes.float0), jnp.zeros_like(s)

    run.defvjp(fwd, bwd)
    return run(x, kernel, scale)


class QuantizableMixin(LoraMixin):
    """`quantize("int8")`, the quantized call, and Keras's `save_own_variables` /
    `load_own_variables` for a layer with one main weight (`_lora_target`).

    A layer using it says along which axis its main weight is quantized (`_int8_axis`: the
    reduced one; the scale has one entry per remaining index), which names it saves in which
    order per mode (`_serialization_names`), and writes `_int8_call(inputs)`.
    """

    _int8_axis = 0
    _serialization_names = {None: ("kernel", "bias"), "int8": ("kernel", "bias", "kernel_scale")}
    _quantizable_class = "Dense"

    @property
    def _scale_name(self) -> str:
        return f"{self._lora_target}_scale"

    # ------------------------------------------------------------------ quantize

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the layer's weights (Keras's `layer.quantize`).

        Args:
            mode: `"int8"` (optional when `config` is given).
            type_check: refuse subclasses (whose call may not match the quantized one), as Keras.
            config: a `jnet.quantizers.Int8QuantizationConfig` (custom weight or input
                quantizer; `activation_quantizer=None` keeps the inputs in float).

        Raises:
            ValueError: the layer is not built, is already quantized, the mode is unknown, or
                the layer computes in float16.
            NotImplementedError: a subclass with `type_check=True` (Keras's contract: `Model.quantize`
                skips such layers with a warning).
        """
        where = f"{self._label}.quantize"
        mode, config = quantizers.resolve_config(mode, config, where)
        if not self.built:
            raise ValueError(f"{where}: cannot quantize a layer that isn't built yet")
        if self.quantization_mode is not None:
            raise ValueError(f"{where}: the layer is already quantized (dtype_policy={self.dtype_policy.name!r})")
        if self.compute_dtype == jnp.float16:
            raise ValueError(
                f"{where}: int8 quantization does not work well with compute dtype float16; use "
                "another dtype policy (e.g. 'mixed_bfloat16') before quantizing"
            )
        if type_check and (
            type(self).__name__ != self._quantizable_class or not type(self).__module__.startswith("jnet.")
        ):
            raise NotImplementedError(f"Layer {type(self).__name__} does not have a `quantize` method implemented.")
        old = getattr(self, self._lora_target)
        quantizer = quantizers.QuantizationConfig.weight_quantizer_or_default(config, None)  # None: the layer's own
        values, scale = self._quantize_main(np.asarray(old.value), quantizer)
        source = self.dtype_policy.name
        self.__dict__["_own_vars"] = [v for v in self._own_vars if v is not old]
        self.quantization_config = config
        self.quantized_build(tuple(old.shape), mode, config)
        getattr(self, self._lora_target).assign(values)
        getattr(self, self._scale_name).assign(scale)
        self.dtype = quantizers.QuantizedDTypePolicy(mode, source).name

    def quantized_build(self, kernel_shape, mode, config=None):
        """Create the int8 weights (Keras's `quantized_build`): the frozen int8 main weight and
        its float32 scale, plus the input quantizer the call uses."""
        if mode != "int8":
            raise ValueError(f"{self._label}.quantized_build: unsupported quantization mode {mode!r}")
        self.inputs_quantizer = quantizers.QuantizationConfig.activation_quantizer_or_default(
            config, quantizers.AbsMaxQuantizer()
        )
        main = self.add_weight(tuple(kernel_shape), "zeros", dtype="int8", trainable=False, name=self._lora_target)
        scale = self.add_weight(
            self._scale_shape(tuple(kernel_shape)), "ones", dtype="float32", trainable=False, name=self._scale_name
        )
        object.__setattr__(self, self._lora_target, main)
        object.__setattr__(self, self._scale_name, scale)
        self.__dict__["_is_quantized"] = True

    def quantized_call(self, *args, **kwargs):
        """The call of a quantized layer (Keras's `quantized_call`)."""
        if self.quantization_mode != "int8":
            raise ValueError(f"{self._label}: unsupported quantization mode {self.quantization_mode!r}")
        return self._int8_call(*args, **kwargs)

    # The scale's layout; EinsumDense overrides these three to lay it out like its output.

    def _scale_shape(self, kernel_shape) -> tuple:
        return tuple(d for i, d in enumerate(kernel_shape) if i != self._int8_axis % len(kernel_shape))

    def _quantize_main(self, value, quantizer=None):
        """`(int8 values, stored scale)` of a float main weight."""
        quantizer = quantizer or quantizers.AbsMaxQuantizer(axis=self._int8_axis)
        values, scale = quantizer(value, to_numpy=True)
        return values, jnp.squeeze(scale, axis=self._int8_axis)

    def _dequantized(self):
        """The int8 main weight as float: `values / scale` (scale broadcast over the reduced axis)."""
        values = getattr(self, self._lora_target).value
        scale = jnp.expand_dims(getattr(self, self._scale_name).value, self._int8_axis)
        return values.astype(jnp.float32) / scale

    # ------------------------------------------------------------------ saving (Keras's layout)

    @property
    def variable_serialization_spec(self) -> dict:
        """`{mode: [variable names in the order saved]}` (Keras's property)."""
        return {mode: list(names) for mode, names in self._serialization_names.items()}

    def _saved_values(self) -> dict:
        """`{name: array}` overriding the stored values when saving: the LoRA-merged main weight
        (re-quantized, with its new scale, for an int8 layer)."""
        if not self.lora_enabled:
            return {}
        main = getattr(self, self._lora_target)
        if self.quantization_mode is None:
            return {self._lora_target: (main.value + self.lora_delta()).astype(main.dtype)}
        values, scale = self._quantize_main(np.asarray(self._dequantized() + self.lora_delta()))
        return {self._lora_target: values, self._scale_name: scale}

    def _saved_names(self) -> list:
        mode = self.quantization_mode
        if mode not in self._serialization_names:
            raise ValueError(f"{self._label}: unsupported quantization mode {mode!r}")
        return [n for n in self._serialization_names[mode] if getattr(self, n, None) is not None]

    # jnet's weights-file reader: the variables in the order save_own_variables writes them,
    # read path by path (mismatches listed one by one) unless LoRA needs load_own_variables.

    def _saved_variables(self) -> list:
        """The variables in the order `save_own_variables` writes them, then any a subclass
        added (Keras would drop those; jnet keeps them after the ones Keras reads)."""
        listed = [getattr(self, name) for name in self._saved_names()]
        skip = {id(v) for v in listed} | {id(getattr(self, n, None)) for n in self._lora_names}
        extra = [v for v in self._own_variables() if id(v) not in skip]
        return listed + [v for v in extra if v.trainable] + [v for v in extra if not v.trainable]

    @property
    def _loads_own_variables(self) -> bool:
        # A subclass's own load_own_variables always runs; ours only when LoRA must be reset.
        return self.lora_enabled or type(self).load_own_variables is not QuantizableMixin.load_own_variables

    def save_own_variables(self, store):
        """Write the layer's weights into `store` (`"0"`, `"1"`, ...) in Keras's order, LoRA merged."""
        if not self.built:
            return
        override = self._saved_values()
        for i, var in enumerate(self._saved_variables()):
            store[str(i)] = override.get(var.name, var)

    def load_own_variables(self, store):
        """Read the weights `save_own_variables` wrote; LoRA weights restart at zero (the saved
        main weight has the update merged in)."""
        if not self.built:
            return
        own = self._saved_variables()
        if not self.lora_enabled and len(store.keys()) != len(own):
            raise ValueError(
                f"{self._label}.load_own_variables: the layer has {len(own)} variable(s) "
                f"({[v.name for v in own]}), the file lists {len(store.keys())}"
            )
        for i, var in enumerate(own):
            var.assign(store[str(i)])
        if self.lora_enabled:
            for name in self._lora_names:
                var = getattr(self, name)
                var.assign(jnp.zeros(var.shape, var.dtype))
