"""Core layers: Dense, Activation, Identity, Lambda, Embedding, Masking."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import jax.numpy as jnp
from jax.experimental import sparse as jsparse

from jnet import activations, constraints, initializers, regularizers
from jnet.layers.base import Layer, expand_to, serialize_value
from jnet.layers.quantization import QuantizableMixin, check_lora_args, quantized_contraction

__all__ = ["Dense", "Activation", "Identity", "Lambda", "Embedding", "Masking"]


def cast_floats(x, dtype):
    """`x` in the layer's compute dtype if it is floating (Keras autocasts float inputs only)."""
    return x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != dtype else x


class Dense(QuantizableMixin, Layer):
    """Densely connected layer: `activation(inputs @ kernel + bias)`.

    Args:
        units: positive int, width of the output.
        activation: a Keras activation name or a callable (`None`: linear).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializer names or objects.
        kernel_regularizer, bias_regularizer: regularizers whose penalty joins the loss.
        lora_rank, lora_alpha: enable LoRA when the layer is built (`enable_lora`).
        quantization_config: the `jnet.quantizers.Int8QuantizationConfig` of a quantized
            layer (`quantize`).

    Input shape:
        `(batch, ..., input_dim)`; dense, or a `jax.experimental.sparse.BCOO` (e.g. from
        `CategoryEncoding(sparse=True)`), multiplied sparsely as Keras does on JAX.

    Output shape:
        `(batch, ..., units)`, dense.

    Params:
        `kernel` of shape `(input_dim, units)` and `bias` of shape `(units,)`, as in Keras.

    Example:
    ```python
    layer = jnet.layers.Dense(32, activation="relu")
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 784), jnp.float32))
    y, _ = layer.apply(variables, jnp.ones((8, 784)))   # (8, 32)
    ```
    """

    units: int
    activation: Any = None
    use_bias: bool = True
    kernel_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None
    lora_rank: Any = None
    lora_alpha: Any = None
    quantization_config: Any = None

    supports_masking = True  # Keras: a mask passes through Dense unchanged

    def check_config(self):
        if not isinstance(self.units, (int,)) or isinstance(self.units, bool) or self.units <= 0:
            raise ValueError(f"{self._label}: units must be a positive integer, got {self.units!r}")
        check_lora_args(self)
        activations.get(self.activation)
        initializers.get(self.kernel_initializer)
        initializers.get(self.bias_initializer)
        regularizers.get(self.kernel_regularizer)
        regularizers.get(self.bias_regularizer)

    def check_inputs(self, spec):
        if len(spec.shape) < 1 or spec.shape[-1] is None:
            raise ValueError(f"{self._label}: the last input axis must be known, got shape {spec.shape}")

    def build(self, input_shape):
        if self.quantization_mode:
            self.quantized_build((input_shape[-1], self.units), self.quantization_mode, self.quantization_config)
        else:
            self.kernel = self.add_weight(
                (input_shape[-1], self.units),
                self.kernel_initializer,
                name="kernel",
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                (self.units,),
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
        kernel = self._lora_weight(self.kernel.value)
        if x.shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"{self._label}: expected last axis {kernel.shape[0]}, got {x.shape[-1]} (input shape {x.shape})"
            )
        dtype = self.compute_dtype
        if isinstance(x, jsparse.JAXSparse):
            y = _sparse_matmul(x, kernel.astype(dtype), dtype)
        else:
            y = jnp.matmul(x.astype(dtype), kernel.astype(dtype))
        if self.use_bias:
            y = y + expand_to(self.bias.value.astype(dtype), y.ndim)
        return activations.get(self.activation)(y)

    def _int8_call(self, x):
        dtype = self.compute_dtype
        if isinstance(x, jsparse.JAXSparse):
            x = x.todense()
        x = x.astype(dtype)
        quantizer = self.inputs_quantizer

        def forward(x, kernel, scale):
            if quantizer is None:  # weight-only: float inputs times the int8 kernel
                y = jnp.matmul(x, kernel.astype(dtype))
                return y.astype(dtype) / expand_to(scale, y.ndim)
            xq, x_scale = quantizer(x, axis=-1)
            y = jnp.matmul(xq, kernel, preferred_element_type=jnp.int32).astype(dtype)
            return y / (expand_to(scale, x_scale.ndim) * x_scale)

        def backward(g, kernel, scale):
            return jnp.matmul(g, (kernel.astype(dtype) / expand_to(scale, 2)).T)

        y = quantized_contraction(forward, backward, x, self.kernel.value, self.kernel_scale.value)
        if self.lora_enabled:
            lora = jnp.matmul(jnp.matmul(x, self.lora_kernel_a.value), self.lora_kernel_b.value)
            y = (y + self._lora_scale() * lora).astype(dtype)
        if self.use_bias:
            y = y + expand_to(self.bias.value.astype(dtype), y.ndim)
        return activations.get(self.activation)(y)


def _sparse_matmul(x, kernel, dtype):
    """`x @ kernel` for a sparse `x`: a BCOO's last axis is contracted without densifying it
    (the gradient with respect to `kernel` is sparse-times-dense too); other sparse formats
    are made dense first."""
    if not isinstance(x, jsparse.BCOO):
        return jnp.matmul(x.todense().astype(dtype), kernel)
    x = jsparse.BCOO(
        (x.data.astype(dtype), x.indices),
        shape=x.shape,
        indices_sorted=x.indices_sorted,
        unique_indices=x.unique_indices,
    )
    return jsparse.bcoo_dot_general(x, kernel, dimension_numbers=(([x.ndim - 1], [0]), ([], [])))


class Activation(Layer):
    """Applies an activation function to its input.

    Args:
        activation: the name of any Keras activation (`"relu"`, `"gelu"`, `"softmax"`, ...) or a
            callable. A callable saves to config only under a registered activation name.

    Input shape:
        Any.

    Output shape:
        Same as the input.

    Example:
    ```python
    layer = jnet.layers.Activation("relu")
    y, _ = layer.apply(layer.init(key, x), x)
    ```
    """

    activation: Any

    supports_masking = True

    def check_config(self):
        activations.get(self.activation)

    def call(self, x):
        return activations.get(self.activation)(cast_floats(x, self.compute_dtype))


class Identity(Layer):
    """Returns its input unchanged (a placeholder layer). Masks pass through.

    Input shape:
        Any (also a list or dict of arrays).

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def call(self, x):
        return x


# --------------------------------------------------------------------------- Lambda


def _function_ref(fn, where: str):
    """Config form of a function: a registered activation name, or `{"__function__":
    "module:qualname"}` for a module-level function. Lambdas and nested functions cannot be
    saved: jnet never pickles or marshals code."""
    name = activations.serialize(fn)
    if name is not None:
        return name
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<lambda>" in qualname or "<locals>" in qualname:
        raise TypeError(
            f"{where}: {fn!r} cannot be saved as config: it is a lambda or a nested function. "
            "Use a module-level function (saved by its qualified name and loaded only with "
            "safe_mode=False) or a registered activation name."
        )
    return {"__function__": f"{module}:{qualname}"}


def _resolve_function(ref, where: str, custom_objects=None, safe_mode=True):
    """Inverse of `_function_ref`. Importing a function by name runs code, so it needs
    `safe_mode=False` unless `custom_objects` supplies the function itself."""
    if ref is None or callable(ref):
        return ref
    if isinstance(ref, str):
        return activations.get(ref)
    if isinstance(ref, dict) and set(ref) == {"__function__"}:
        module, _, qualname = ref["__function__"].partition(":")
        short = qualname.rsplit(".", 1)[-1]
        if custom_objects:
            for key in (f"{module}:{qualname}", qualname, short):
                if key in custom_objects:
                    return custom_objects[key]
        if safe_mode:
            raise ValueError(
                f"{where}: loading the function {ref['__function__']!r} means importing and running "
                "code, which safe_mode forbids. If you trust this config, load it with "
                "safe_mode=False, or pass the function in custom_objects."
            )
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    raise ValueError(f"{where}: expected a function reference, got {ref!r}")


def _takes(fn, arg: str) -> bool:
    try:
        return arg in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins and jitted functions may have no signature
        return False


class Lambda(Layer):
    """Wraps an arbitrary function of the input as a layer.

    Args:
        function: the function, called as `function(inputs, **arguments)`; it also receives
            `mask=` and `training=` when its signature names them.
        output_shape: optional expected output shape without the batch axis (a tuple, `None`
            for unknown axes), or a function of the full input shape. jnet infers the real
            shape with `jax.eval_shape`; when given, a mismatch is an error.
        mask: optional function `mask(inputs, input_mask) -> output_mask`; without it the
            layer drops masks.
        arguments: optional dict of keyword arguments for `function`.

    Saving: the config records a function as its activation name, or as its qualified name
    `module:qualname`. Lambdas and nested functions cannot be saved (jnet never pickles code).
    Loading a function by name imports it, so `from_config`/`load_model` refuse it unless
    `safe_mode=False` (or the function is given in `custom_objects`).

    Example:
    ```python
    mean_over_time = jnet.layers.Lambda(lambda x: jnp.mean(x, axis=1))
    ```
    """

    function: Any
    output_shape: Any = None
    mask: Any = None
    arguments: Any = None

    supports_masking = True  # the output mask is whatever `compute_mask` says

    def check_config(self):
        if isinstance(self.function, str):
            self.function = activations.get(self.function)
        if not callable(self.function):
            raise TypeError(f"{self._label}: function must be callable, got {self.function!r}")
        if self.mask is not None and not callable(self.mask):
            raise TypeError(f"{self._label}: mask must be None or a function (inputs, mask) -> mask, got {self.mask!r}")
        if self.arguments is not None and not isinstance(self.arguments, dict):
            raise TypeError(f"{self._label}: arguments must be a dict, got {self.arguments!r}")
        if self.output_shape is not None and not callable(self.output_shape):
            if not isinstance(self.output_shape, (tuple, list)):
                raise TypeError(f"{self._label}: output_shape must be a tuple or a function, got {self.output_shape!r}")
            self.output_shape = tuple(None if d is None else int(d) for d in self.output_shape)

    def call(self, inputs, mask=None, training=False):
        kwargs = dict(self.arguments or {})
        if _takes(self.function, "mask"):
            kwargs["mask"] = mask
        if _takes(self.function, "training"):
            kwargs["training"] = training
        outputs = self.function(inputs, **kwargs)
        if self.output_shape is not None and hasattr(outputs, "shape"):
            self._check_output_shape(inputs, outputs)
        return outputs

    def _check_output_shape(self, inputs, outputs):
        got = tuple(outputs.shape)
        if callable(self.output_shape):
            in_shape = jax_shape_tree(inputs)
            expected = tuple(self.output_shape(in_shape))
        else:
            expected = (got[0] if got else None,) + tuple(self.output_shape)
        ok = len(expected) == len(got) and all(e is None or e == g for e, g in zip(expected, got))
        if not ok:
            raise ValueError(f"{self._label}: output_shape says {expected} but the function returned shape {got}")

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if self.mask is not None else None

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
        }
        config["function"] = _function_ref(self.function, f"{self._label}.function")
        if callable(self.output_shape):
            config["output_shape"] = _function_ref(self.output_shape, f"{self._label}.output_shape")
        else:
            config["output_shape"] = None if self.output_shape is None else list(self.output_shape)
        config["mask"] = None if self.mask is None else _function_ref(self.mask, f"{self._label}.mask")
        config["arguments"] = serialize_value(self.arguments, f"{self._label}.arguments")
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = dict(config)
        where = f"Lambda '{config.get('name') or 'lambda'}'"
        for key in ("function", "mask"):
            config[key] = _resolve_function(config.get(key), f"{where}.{key}", custom_objects, safe_mode)
        if isinstance(config.get("output_shape"), dict):
            config["output_shape"] = _resolve_function(
                config["output_shape"], f"{where}.output_shape", custom_objects, safe_mode
            )
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)


def jax_shape_tree(x):
    if hasattr(x, "shape"):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return [jax_shape_tree(v) for v in x]
    if isinstance(x, dict):
        return {k: jax_shape_tree(v) for k, v in x.items()}
    return x


# --------------------------------------------------------------------------- Embedding


class Embedding(QuantizableMixin, Layer):
    """Turns non-negative integer ids into dense vectors: `embeddings[ids]`.

    Args:
        input_dim: vocabulary size (largest id + 1), a positive int.
        output_dim: size of each vector, a positive int.
        embeddings_initializer: default `"uniform"` (Keras: `RandomUniform(-0.05, 0.05)`).
        embeddings_regularizer: optional regularizer whose penalty joins the loss.
        mask_zero: whether id 0 is padding: the layer then emits the mask `ids != 0` for
            the layers after it (and `input_dim` should be vocabulary size + 1).
        lora_rank, lora_alpha: enable LoRA when the layer is built (`enable_lora`; the LoRA
            weights are `lora_embeddings_a` / `lora_embeddings_b`).
        quantization_config: the `jnet.quantizers.Int8QuantizationConfig` of a quantized
            layer (`quantize`: int8 `embeddings` with one scale per row, `embeddings_scale`).

    Input shape:
        `(batch, ...)` of integer ids. Float ids are cast to int32, as Keras does (so a
        default float `jnet.Input` works); other dtypes are an error.

    Output shape:
        `(batch, ..., output_dim)`.

    Params:
        `embeddings` of shape `(input_dim, output_dim)`.

    Unlike Keras (which wraps negative ids and, on JAX, returns NaN for ids >= input_dim),
    every id outside `[0, input_dim)` gives a row of NaN, so bad ids cannot pass silently.

    Example:
    ```python
    tokens = jnet.Input(shape=(None,), dtype="int32")
    vectors = jnet.layers.Embedding(10000, 64, mask_zero=True)(tokens)   # (None, None, 64)
    ```
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
        input_shape=None,
    ):
        # Own __init__: Keras's `input_dim` here is the vocabulary size, not the base
        # Layer's `input_shape=(input_dim,)` shorthand.
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = mask_zero
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.quantization_config = quantization_config
        self.name = name
        self.trainable = trainable
        # A policy object (Keras's config form) is kept by name, so configs stay JSON.
        self.dtype = dtype.name if hasattr(dtype, "compute_dtype") and hasattr(dtype, "name") else dtype
        self.input_shape = None if input_shape is None else tuple(None if d is None else int(d) for d in input_shape)
        self.activity_regularizer = None
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"Embedding: name must be a non-empty string, got {name!r}")
        self._init_tracking()
        self._auto_named = name is None
        self.name = name or "embedding"
        self.check_config()

    @property
    def supports_masking(self):
        return bool(self.mask_zero)

    def check_config(self):
        for arg in ("input_dim", "output_dim"):
            value = getattr(self, arg)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{self._label}: {arg} must be a positive integer, got {value!r}")
        initializers.get(self.embeddings_initializer)
        regularizers.get(self.embeddings_regularizer)
        constraints.get(self.embeddings_constraint)
        check_lora_args(self)

    def check_inputs(self, spec):
        dtype = jnp.dtype(spec.dtype)
        if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)):
            raise ValueError(f"{self._label}: expected integer token ids, got dtype {dtype.name} (shape {spec.shape})")

    _lora_target = "embeddings"
    _lora_names = ("lora_embeddings_a", "lora_embeddings_b")
    _lora_regularizer = "embeddings_regularizer"
    _lora_constraint = "embeddings_constraint"
    _int8_axis = -1  # one scale per row (Keras: input_dim is usually the larger axis)
    _serialization_names = {None: ("embeddings",), "int8": ("embeddings", "embeddings_scale")}
    _quantizable_class = "Embedding"

    def build(self, input_shape):
        if self.quantization_mode:
            self.quantized_build((self.input_dim, self.output_dim), self.quantization_mode, self.quantization_config)
        else:
            self.embeddings = self.add_weight(
                (self.input_dim, self.output_dim),
                self.embeddings_initializer,
                name="embeddings",
                regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint,
            )
        if self.lora_rank:
            self._add_lora(self.lora_rank, self.lora_alpha)

    def _ids(self, ids):
        self.check_inputs(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            ids = ids.astype(jnp.int32)
        # Negative ids would wrap around; send them past the end, where `take` fills NaN.
        return jnp.where(ids < 0, self.input_dim, ids)

    def _lora_rows(self, ids, out):
        """`out` plus the LoRA update's rows for `ids` (the rows of `a @ b`, without forming it)."""
        if not self.lora_enabled:
            return out
        rows = jnp.take(self.lora_embeddings_a.value, ids, axis=0, mode="fill", fill_value=jnp.nan)
        return (out + self._lora_scale() * jnp.matmul(rows, self.lora_embeddings_b.value)).astype(self.compute_dtype)

    def call(self, ids):
        if self.quantization_mode:
            return self.quantized_call(ids)
        ids = self._ids(ids)
        out = jnp.take(self.embeddings.value, ids, axis=0, mode="fill", fill_value=jnp.nan)
        return self._lora_rows(ids, out.astype(self.compute_dtype))

    def _int8_call(self, ids):
        ids = self._ids(ids)
        # An out-of-range id reads a NaN scale, so its row is NaN as in the float layer.
        scale = jnp.take(self.embeddings_scale.value, ids, axis=0, mode="fill", fill_value=jnp.nan)
        rows = jnp.take(self.embeddings.value, ids, axis=0, mode="fill", fill_value=0)
        out = rows.astype(self.compute_dtype) / jnp.expand_dims(scale, -1)
        return self._lora_rows(ids, out)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return jnp.not_equal(inputs, 0)

    def get_config(self):
        config = {
            k: getattr(self, k)
            for k in (
                "name",
                "trainable",
                "dtype",
                "input_dim",
                "output_dim",
                "embeddings_initializer",
                "embeddings_regularizer",
                "embeddings_constraint",
                "mask_zero",
                "quantization_config",
            )
        }
        if self.lora_rank:
            config.update(lora_rank=self.lora_rank, lora_alpha=self.lora_alpha)
        config["input_shape"] = self.input_shape
        return {k: serialize_value(v, f"{self._label}.{k}") for k, v in config.items()}

    def __repr__(self):
        return f"Embedding(input_dim={self.input_dim}, output_dim={self.output_dim}, mask_zero={self.mask_zero}, name={self.name!r})"


class Masking(Layer):
    """Masks time steps whose features all equal `mask_value`.

    A step is kept when any feature differs from `mask_value`; the output mask (for the layers
    after it) is `any(x != mask_value, axis=-1)`, and masked steps are zeroed in the output, as
    in Keras.

    Args:
        mask_value: the padding value (default 0.0).

    Input shape:
        `(batch, timesteps, features)` (any rank >= 2).

    Output shape:
        Same as the input.
    """

    mask_value: float = 0.0

    supports_masking = True

    def check_inputs(self, spec):
        if len(spec.shape) < 2:
            raise ValueError(
                f"{self._label}: expected an input of rank >= 2 (batch, ..., features), got shape {spec.shape}"
            )

    def call(self, x):
        x = cast_floats(x, self.compute_dtype)
        keep = jnp.any(jnp.not_equal(x, self.mask_value), axis=-1, keepdims=True)
        return jnp.where(keep, x, jnp.zeros((), x.dtype))

    def compute_mask(self, inputs, mask=None):
        return jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1)
