"""LoRA (low-rank adaptation) on Dense, EinsumDense and Embedding, as Keras 3 has it.

`layer.enable_lora(rank)` freezes the layer's kernel (`embeddings` for Embedding) and adds two
trainable float32 weights, `lora_kernel_a` (the kernel's shape with its last axis replaced by
`rank`) and `lora_kernel_b` (`(rank, last axis)`), so the layer computes with

    kernel + (lora_alpha / rank) * lora_kernel_a @ lora_kernel_b

`lora_kernel_b` starts at zero, so enabling LoRA changes no output until training moves it; only
`rank * (fan_in + fan_out)` numbers per layer are trained. Saving writes the merged kernel under
the kernel's own name (Keras's `save_own_variables`), so a saved file loads into a model without
LoRA, and loading into a LoRA-enabled layer resets its LoRA weights to zero.

Example:
```python
model = jnet.Sequential([jnet.Input((16,)), jnet.layers.Dense(32), jnet.layers.Dense(4)])
for layer in model.layers:
    layer.enable_lora(4)          # kernels frozen; LoRA weights and biases train
model.compile("sgd", "mse")       # compile after enabling LoRA, as in Keras
```
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["LoraMixin"]


class LoraMixin:
    """`enable_lora` and the LoRA-merged weight for a layer with one main weight.

    A layer using it names its main weight's attribute (`_lora_target`: `"kernel"`), the LoRA
    weights' names (`_lora_names`), and the config arguments whose regularizer / constraint
    apply (`_lora_regularizer`, `_lora_constraint`).
    """

    _lora_target = "kernel"
    _lora_names = ("lora_kernel_a", "lora_kernel_b")
    _lora_regularizer = "kernel_regularizer"
    _lora_constraint = "kernel_constraint"

    @property
    def lora_enabled(self) -> bool:
        """Whether `enable_lora` was called (Keras's attribute)."""
        return bool(self.__dict__.get("_lora_enabled", False))

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Freeze the main weight and train a rank-`rank` update to it instead.

        Args:
            rank: positive int, the rank of the update `lora_kernel_a @ lora_kernel_b`.
            lora_alpha: scale of the update is `lora_alpha / rank` (default `rank`: scale 1).
            a_initializer: initializer of `lora_kernel_a` (default He uniform).
            b_initializer: initializer of `lora_kernel_b` (default zeros, so the layer's outputs
                do not change until it trains).

        Raises:
            ValueError: the layer is not built, LoRA is already enabled, the rank is not a
                positive int, or the layer has a constraint on its main weight.
        """
        where = f"{self._label}.enable_lora"
        if getattr(self, self._lora_constraint, None) is not None:
            raise ValueError(
                f"{where}: LoRA is incompatible with {self._lora_constraint}; remove the "
                f"`{self._lora_constraint}` argument to enable LoRA on this layer"
            )
        if not self.built:
            raise ValueError(f"{where}: cannot enable LoRA on a layer that isn't built yet")
        if self.lora_enabled:
            raise ValueError(f"{where}: LoRA is already enabled; it can be enabled only once per layer")
        self._add_lora(rank, lora_alpha, a_initializer, b_initializer)

    def _add_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Create the LoRA weights (also from `build` when the config has `lora_rank`)."""
        where = f"{self._label}.enable_lora"
        if not isinstance(rank, int) or isinstance(rank, bool) or rank <= 0:
            raise ValueError(f"{where}: rank must be a positive integer, got {rank!r}")
        if lora_alpha is not None and (isinstance(lora_alpha, bool) or not isinstance(lora_alpha, (int, float))):
            raise ValueError(f"{where}: lora_alpha must be a number or None, got {lora_alpha!r}")
        base = getattr(self, self._lora_target)
        regularizer = getattr(self, self._lora_regularizer, None)
        name_a, name_b = self._lora_names
        # float32 whatever the layer's policy: small updates would underflow in half precision.
        a = self.add_weight(
            tuple(base.shape[:-1]) + (rank,), a_initializer, dtype="float32", regularizer=regularizer, name=name_a
        )
        b = self.add_weight(
            (rank, base.shape[-1]), b_initializer, dtype="float32", regularizer=regularizer, name=name_b
        )
        object.__setattr__(self, name_a, a)
        object.__setattr__(self, name_b, b)
        base.trainable = False
        self.__dict__["_lora_enabled"] = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def _lora_scale(self) -> float:
        return self.lora_alpha / self.lora_rank

    def lora_delta(self):
        """`(lora_alpha / rank) * lora_kernel_a @ lora_kernel_b`: the update LoRA adds to the
        main weight (float32)."""
        name_a, name_b = self._lora_names
        return self._lora_scale() * jnp.matmul(getattr(self, name_a).value, getattr(self, name_b).value)

    def _lora_weight(self, value):
        """The main weight as the layer computes with it: `value`, plus the LoRA update when
        enabled (in the compute dtype, as Keras)."""
        if not self.lora_enabled:
            return value
        return (value + self.lora_delta()).astype(self.compute_dtype)

    def get_config(self) -> dict:
        # Keras lists lora_rank / lora_alpha only when LoRA is on.
        config = super().get_config()
        if not config.get("lora_rank"):
            config.pop("lora_rank", None)
            config.pop("lora_alpha", None)
        return config

    @property
    def weights(self) -> list:
        """Keras's order: a float layer's main weight keeps its place (first) after LoRA froze it;
        a quantized layer's int8 weight was created frozen and follows the trainable ones."""
        if self.lora_enabled and not self.quantization_mode:
            return list(self._own_variables())
        return super().weights
