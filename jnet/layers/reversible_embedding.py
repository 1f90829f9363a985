"""`ReversibleEmbedding`: an `Embedding` that also maps vectors back to logits over the
vocabulary (`reverse=True`), with the embedding matrix tied or a separate one."""

from __future__ import annotations

import jax.numpy as jnp

from jnet.layers.core import Embedding

__all__ = ["ReversibleEmbedding"]


class ReversibleEmbedding(Embedding):
    """An embedding layer that can also project back to the vocabulary, as language models do
    for their output logits.

    Called with `reverse=False` (default) it is an `Embedding`: ids -> vectors. Called with
    `reverse=True` on vectors of size `output_dim` it returns logits of size `input_dim`:
    `inputs @ embeddings.T` when `tie_weights` (default), else `inputs @ reverse_embeddings`
    with a separate `(output_dim, input_dim)` weight.

    Args:
        input_dim, output_dim, embeddings_initializer, embeddings_regularizer,
        embeddings_constraint, mask_zero: as `Embedding`.
        tie_weights: reuse the embedding matrix for the reverse projection (default True).
        reverse_dtype: compute the reverse projection in this dtype (e.g. `"float32"` under a
            mixed-precision policy); None: the inputs' and weights' own dtypes.
        logit_soft_cap: if set, the logits become `tanh(logits / cap) * cap`.

    With `mask_zero`, the forward call's output carries the mask `ids != 0`; the reverse
    call's output carries none.

    Example:
    ```python
    embed = jnet.layers.ReversibleEmbedding(vocab, 64)
    hidden = embed(token_ids)                 # (batch, seq, 64)
    logits = embed(hidden, reverse=True)      # (batch, seq, vocab)
    ```
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        tie_weights=True,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        reverse_dtype=None,
        logit_soft_cap=None,
        *,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        name=None,
        trainable=True,
        dtype=None,
        input_shape=None,
    ):
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = None if reverse_dtype is None else jnp.dtype(reverse_dtype).name
        self.logit_soft_cap = logit_soft_cap
        super().__init__(
            input_dim,
            output_dim,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            mask_zero=mask_zero,
            lora_rank=lora_rank,
            lora_alpha=lora_alpha,
            quantization_config=quantization_config,
            name=name,
            trainable=trainable,
            dtype=dtype,
            input_shape=input_shape,
        )
        if self.name == "embedding" and self._auto_named:
            self.name = "reversible_embedding"

    def check_config(self):
        super().check_config()
        cap = self.logit_soft_cap
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float)) or cap <= 0):
            raise ValueError(f"{self._label}: logit_soft_cap must be a positive number or None, got {cap!r}")

    def build(self, input_shape=None):
        super().build(input_shape)
        self.reverse_embeddings = None
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                (self.output_dim, self.input_dim), self.embeddings_initializer, name="reverse_embeddings"
            )

    def check_inputs(self, spec):
        # Reverse calls take float vectors; both directions accept int or float inputs.
        dtype = jnp.dtype(spec.dtype)
        if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)):
            raise ValueError(f"{self._label}: expected integer ids or float vectors, got dtype {dtype.name}")

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(
                f"{self._label}: a reverse call needs inputs whose last axis is output_dim "
                f"({self.output_dim}), got shape {tuple(inputs.shape)}"
            )
        kernel = self.embeddings.value.T if self.tie_weights else self.reverse_embeddings.value
        if self.reverse_dtype is not None:
            inputs, kernel = inputs.astype(self.reverse_dtype), kernel.astype(self.reverse_dtype)
        else:
            inputs, kernel = inputs.astype(self.compute_dtype), kernel.astype(self.compute_dtype)
        logits = jnp.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            logits = jnp.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits

    def _call_with_mask(self, args, kwargs, mask, training=False, rng=None):
        outputs, out_mask = super()._call_with_mask(args, kwargs, mask, training, rng)
        return outputs, (None if kwargs.get("reverse") else out_mask)

    def compute_mask(self, inputs, mask=None):
        # Float vectors of size output_dim are a reverse call's inputs: their logits carry no
        # mask (the symbolic mask pass does not see the `reverse` keyword).
        if (
            inputs is not None
            and jnp.issubdtype(inputs.dtype, jnp.floating)
            and inputs.shape[-1:] == (self.output_dim,)
        ):
            return None
        return super().compute_mask(inputs, mask)

    def get_config(self):
        return {
            **super().get_config(),
            "tie_weights": self.tie_weights,
            "reverse_dtype": self.reverse_dtype,
            "logit_soft_cap": self.logit_soft_cap,
        }

    def __repr__(self):
        return (
            f"ReversibleEmbedding(input_dim={self.input_dim}, output_dim={self.output_dim}, "
            f"tie_weights={self.tie_weights}, name={self.name!r})"
        )
