"""GroupedQueryAttention (Ainslie et al., 2023): attention in which groups of query heads
share one key/value head, Keras 3's `keras.layers.GroupQueryAttention`."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jnet import initializers, regularizers
from jnet.layers.attention import _attention_dropout, causal_mask
from jnet.layers.base import Layer
from jnet.layers.einsum_dense import EinsumDense

__all__ = ["GroupQueryAttention", "GroupedQueryAttention"]


def _masked_out(dtype):
    """The score given to masked positions (Keras's Softmax mask value)."""
    return -1e9 if jnp.finfo(dtype).bits >= 32 else -0.7 * float(jnp.finfo(dtype).max)


class GroupedQueryAttention(Layer):
    """Grouped-query attention: `num_query_heads` query heads, `num_key_value_heads` key and
    value heads, each shared by `num_query_heads // num_key_value_heads` query heads.

    Args:
        head_dim: size of each attention head.
        num_query_heads: number of query heads.
        num_key_value_heads: number of key/value heads; must divide `num_query_heads`.
        dropout: dropout rate on the attention weights (training; needs an `rng`).
        use_bias: whether the projections have biases.
        sliding_window: optional int: each query attends only to keys less than this many
            positions away (combine with `use_causal_mask` for causal sliding windows).
        flash_attention: accepted for Keras compatibility (jnet lets XLA pick the kernel);
            must be None or False.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        kernel_constraint, bias_constraint: for the projections.
        use_gate: if True, the attention output is multiplied by `sigmoid(gate(query))` before
            the output projection (a `gate` projection is added).
        seed: optional int folded into the dropout key.

    Call arguments:
        query `(batch, Tq, dim)`, value `(batch, Tv, dim)`, key (default: value),
        query_mask / value_mask / key_mask `(batch, T)`, attention_mask `(batch, Tq, Tv)`
        (True = may attend), return_attention_scores, use_causal_mask, training.

    Masked positions get weight 0 (a fully masked query row outputs the output projection's
    bias), as Keras's explicit-softmax path does.

    Output: `(batch, Tq, dim)`; with `return_attention_scores` also the weights
    `(batch, num_query_heads, Tq, Tv)`.

    Sublayers (Keras's weight order): `query`, `key`, (`gate`), `value`, `attention_output`,
    each an `EinsumDense`.

    Example:
    ```python
    gqa = jnet.layers.GroupQueryAttention(head_dim=8, num_query_heads=4, num_key_value_heads=2)
    y = gqa(x, x, use_causal_mask=True)
    ```
    """

    head_dim: int
    num_query_heads: int
    num_key_value_heads: int
    dropout: float = 0.0
    use_bias: bool = True
    sliding_window: Any = None
    flash_attention: Any = None
    kernel_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None
    use_gate: bool = False
    seed: Any = None

    supports_masking = True

    def check_config(self):
        for name in ("head_dim", "num_query_heads", "num_key_value_heads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{self._label}: {name} must be a positive int, got {v!r}")
        if self.num_query_heads % self.num_key_value_heads:
            raise ValueError(
                f"{self._label}: num_query_heads ({self.num_query_heads}) must be divisible by "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if not 0 <= float(self.dropout) < 1:
            raise ValueError(f"{self._label}: dropout must be in [0, 1), got {self.dropout!r}")
        if self.sliding_window is not None and (
            isinstance(self.sliding_window, bool)
            or not isinstance(self.sliding_window, int)
            or self.sliding_window <= 0
        ):
            raise ValueError(
                f"{self._label}: sliding_window must be a positive int or None, got {self.sliding_window!r}"
            )
        if self.flash_attention:
            raise ValueError(
                f"{self._label}: flash_attention is not available in jnet (XLA picks the attention "
                "kernel); pass None or False"
            )
        initializers.get(self.kernel_initializer)
        initializers.get(self.bias_initializer)
        regularizers.get(self.kernel_regularizer)
        regularizers.get(self.bias_regularizer)

    def _dense(self, equation, heads, bias_axes, name, activation=None):
        return EinsumDense(
            equation,
            output_shape=(None, heads, self.head_dim),
            bias_axes=bias_axes if self.use_bias else None,
            activation=activation,
            name=name,
            **self._common(),
        )

    def _common(self):
        return dict(
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype,
        )

    def check_inputs(self, query, value, key=None, *rest):
        key = value if key is None else key
        for name, spec in (("query", query), ("value", value), ("key", key)):
            if len(spec.shape) != 3 or spec.shape[-1] is None:
                raise ValueError(
                    f"{self._label}: {name} must be (batch, steps, features) with known features, "
                    f"got shape {tuple(spec.shape)}"
                )
        if tuple(value.shape[1:-1]) != tuple(key.shape[1:-1]):
            raise ValueError(
                f"{self._label}: key and value must have the same steps, got {tuple(key.shape)} "
                f"and {tuple(value.shape)}"
            )

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self.feature_dim = query_shape[-1]
        self.query_dense = self._dense("bqm,muh->bquh", self.num_query_heads, "uh", "query")
        self.query_dense.build(tuple(query_shape))
        self.key_dense = self._dense("bkm,mvh->bkvh", self.num_key_value_heads, "vh", "key")
        self.key_dense.build(tuple(key_shape))
        self.gate_dense = None
        if self.use_gate:
            self.gate_dense = self._dense("bqm,muh->bquh", self.num_query_heads, "uh", "gate", "sigmoid")
            self.gate_dense.build(tuple(query_shape))
        self.value_dense = self._dense("bkm,mvh->bkvh", self.num_key_value_heads, "vh", "value")
        self.value_dense.build(tuple(value_shape))
        self.output_dense = EinsumDense(
            "bquh,uhm->bqm",
            output_shape=(None, self.feature_dim),
            bias_axes="m" if self.use_bias else None,
            name="attention_output",
            **self._common(),
        )
        self.output_dense.build((None, None, self.num_query_heads, self.head_dim))

    def _attention_mask(self, tq, tv, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        full = None
        if query_mask is not None:
            full = jnp.asarray(query_mask).astype(bool)[:, :, None]
        for m in (value_mask, key_mask):
            if m is not None:
                m = jnp.asarray(m).astype(bool)[:, None, :]
                full = m if full is None else full & m
        if use_causal_mask:
            full = causal_mask(tq, tv) if full is None else full & causal_mask(tq, tv)
        if self.sliding_window is not None:
            band = jnp.abs(jnp.arange(tq)[:, None] - jnp.arange(tv)[None, :]) < self.sliding_window
            full = band[None] if full is None else full & band[None]
        if attention_mask is not None:
            am = jnp.asarray(attention_mask).astype(bool)
            if am.ndim == 2:
                am = am[None]
            full = am if full is None else full & am
        return full

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        use_causal_mask=False,
        training=False,
        rng=None,
        mask=None,
    ):
        key = value if key is None else key
        if query_mask is None:
            query_mask = mask
        full = self._attention_mask(
            query.shape[1], value.shape[1], query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        gate = self.gate_dense(query) if self.gate_dense is not None else None
        q = self.query_dense(query)
        k = jnp.repeat(self.key_dense(key), self.num_query_heads // self.num_key_value_heads, axis=2)
        v = jnp.repeat(self.value_dense(value), self.num_query_heads // self.num_key_value_heads, axis=2)
        q = q * jnp.asarray(1.0 / math.sqrt(self.head_dim), q.dtype)
        scores = jnp.einsum("bquh,bkuh->buqk", q, k)
        if full is not None:
            scores = jnp.where(full[:, None], scores, jnp.asarray(_masked_out(scores.dtype), scores.dtype))
        weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(scores.dtype)
        if full is not None:
            # Keras's masked softmax zeroes masked positions, so a fully masked (padded) query
            # row attends to nothing rather than uniformly.
            weights = jnp.where(full[:, None], weights, jnp.zeros((), weights.dtype))
        if training and self.dropout > 0 and rng is not None and self.seed is not None:
            rng = jax.random.fold_in(rng, self.seed)
        dropped = _attention_dropout(self, weights, self.dropout, training, rng)
        out = jnp.einsum("buqk,bkuh->bquh", dropped, v)
        if gate is not None:
            out = out * gate
        y = self.output_dense(out)
        return (y, weights) if return_attention_scores else y


GroupQueryAttention = GroupedQueryAttention
