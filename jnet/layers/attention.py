"""Attention layers: MultiHeadAttention, Attention (Luong), AdditiveAttention (Bahdanau).

Parameter names and shapes are Keras 3's, so weights copy over: MultiHeadAttention holds
`query`, `key`, `value`, `attention_output` sub-dicts, each with `kernel` / `bias` in Keras's
EinsumDense shapes (query kernel `(dim, num_heads, key_dim)`, output kernel
`(num_heads, value_dim, out_dim)`).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jnet import initializers, regularizers
from jnet.layers.base import Layer, expand_to
from jnet.layers.rnn_cells import dropout_mask

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]


def _attention_dropout(layer, weights, rate, training, rng):
    if not (training and rate > 0):
        return weights
    if rng is None:
        raise ValueError(f"{layer._label}: dropout in training needs an rng (apply(..., training=True, rng=key))")
    return weights * dropout_mask(rng, rate, weights.shape, weights.dtype)


def causal_mask(tq: int, tv: int):
    """(1, Tq, Tv) bool: query i may attend to keys j <= i (Keras's lower triangle)."""
    return jnp.tril(jnp.ones((tq, tv), bool))[None]


class _Projection(Layer):
    """The weights of one of MultiHeadAttention's projections (Keras's EinsumDense sublayers
    `query`, `key`, `value`, `attention_output`): declared by the attention layer's build."""


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017), Keras 3 arguments and weight layout.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (default `key_dim`).
        dropout: dropout rate on the attention probabilities (training; needs `rng`).
        use_bias: whether the projections have biases.
        output_shape: the last axes of the output (default: the query's last axis).
        attention_axes: axes attention runs over (default: all axes between batch and
            features). The other axes between them are independent, like the batch: for
            input (batch, rows, cols, dim) and `attention_axes=2` each row attends within
            itself. `attention_mask` then has shape (batch, <other axes>, <query attention
            axes>, <key attention axes>), scores (batch, <other axes>, num_heads, ...), as in
            Keras; `use_causal_mask` orders the attention positions row-major.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as Dense.

    Call: `apply(variables, query, value, key=None, attention_mask=None,
    return_attention_scores=False, use_causal_mask=False, query_mask=None, value_mask=None,
    key_mask=None)`. `attention_mask` is bool (batch, Tq, Tv), True = may attend. A mask on
    `query` (from Embedding(mask_zero=True)) arrives as `mask` and masks query rows; in
    self-attention (`mha(x, x)`) it masks the keys too, as Keras.

    Output: (batch, Tq, out_dim); with `return_attention_scores`, also the softmax weights
    (batch, num_heads, Tq, Tv), zero at masked positions.

    Note: rows whose every key is masked (padded query positions) attend uniformly, as Keras's
    default (fused) path does.

    Example:
    ```python
    mha = jnet.layers.MultiHeadAttention(num_heads=2, key_dim=8)
    y = mha(x, x, use_causal_mask=True)
    ```
    """

    num_heads: int
    key_dim: int
    value_dim: Any = None
    dropout: float = 0.0
    use_bias: bool = True
    output_shape: Any = None
    attention_axes: Any = None
    kernel_initializer: Any = "glorot_uniform"
    bias_initializer: Any = "zeros"
    kernel_regularizer: Any = None
    bias_regularizer: Any = None
    kernel_constraint: Any = None
    bias_constraint: Any = None

    supports_masking = True
    weight_order = ("query", "key", "value", "attention_output")

    def check_config(self):
        for name in ("num_heads", "key_dim"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{self._label}: {name} must be a positive integer, got {v!r}")
        if self.value_dim is not None and (not isinstance(self.value_dim, int) or self.value_dim <= 0):
            raise ValueError(f"{self._label}: value_dim must be a positive integer or None, got {self.value_dim!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"{self._label}: dropout must be in [0, 1), got {self.dropout!r}")
        if isinstance(self.output_shape, int):
            self.output_shape = (self.output_shape,)
        if self.output_shape is not None:
            self.output_shape = tuple(int(d) for d in self.output_shape)
        if isinstance(self.attention_axes, int):
            self.attention_axes = (self.attention_axes,)
        if self.attention_axes is not None:
            self.attention_axes = tuple(int(a) for a in self.attention_axes)
        initializers.get(self.kernel_initializer)
        initializers.get(self.bias_initializer)
        regularizers.get(self.kernel_regularizer)
        regularizers.get(self.bias_regularizer)

    @property
    def _value_dim(self):
        return self.value_dim or self.key_dim

    def _axes(self, rank):
        """`(attention axes, other axes)` as sorted positive axis numbers."""
        inner = range(1, rank - 1)
        if self.attention_axes is None:
            return tuple(inner), ()
        axes = tuple(sorted({a % rank for a in self.attention_axes}))
        if not all(a in inner for a in axes):
            raise ValueError(
                f"{self._label}: attention_axes must be axes between batch and features ({tuple(inner)} for "
                f"rank-{rank} inputs), got {self.attention_axes}"
            )
        return axes, tuple(a for a in inner if a not in axes)

    def check_inputs(self, query, value, key=None, **_):
        key = value if key is None else key
        for name, s in (("query", query), ("value", value), ("key", key)):
            if len(s.shape) < 3 or s.shape[-1] is None:
                raise ValueError(
                    f"{self._label}: {name} must have shape (batch, ..., features) with rank >= 3 and a known "
                    f"last axis, got {s.shape}"
                )
        if tuple(value.shape[1:-1]) != tuple(key.shape[1:-1]):
            raise ValueError(
                f"{self._label}: value and key must agree on all but the last axis, got {value.shape} and {key.shape}"
            )
        if len(query.shape) != len(value.shape):
            raise ValueError(
                f"{self._label}: query and value must have the same rank, got {query.shape} and {value.shape}"
            )
        _, other = self._axes(len(query.shape))
        if any(query.shape[a] != value.shape[a] for a in other):
            raise ValueError(
                f"{self._label}: query and value must agree on the axes outside attention_axes {other}, got "
                f"{query.shape} and {value.shape}"
            )

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        n = self.num_heads
        out_shape = tuple(self.output_shape or (query_shape[-1],))
        # Keras's EinsumDense sublayers and names: query, key, value, attention_output.
        self._query_dense = self._projection("query", (query_shape[-1], n, self.key_dim), (n, self.key_dim))
        self._key_dense = self._projection("key", (key_shape[-1], n, self.key_dim), (n, self.key_dim))
        self._value_dense = self._projection("value", (value_shape[-1], n, self._value_dim), (n, self._value_dim))
        self._output_dense = self._projection("attention_output", (n, self._value_dim) + out_shape, out_shape)

    def _projection(self, name, kernel_shape, bias_shape):
        proj = _Projection(name=name, dtype=self.dtype)
        proj._name_fixed = True
        proj.kernel = proj.add_weight(
            kernel_shape,
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            proj.bias = proj.add_weight(
                bias_shape,
                self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        proj.built = True
        return proj

    def _params(self):
        return {
            p.name: p._own_values() for p in (self._query_dense, self._key_dense, self._value_dense, self._output_dense)
        }

    def _project(self, p, x, name):
        """(batch, T, dim) @ (dim, N, H) -> (batch, T, N, H)."""
        if x.shape[-1] != p["kernel"].shape[0]:
            raise ValueError(
                f"{self._label}: {name} has last axis {x.shape[-1]} but the layer was built for {p['kernel'].shape[0]}"
            )
        dtype = self.compute_dtype
        y = jnp.einsum("btd,dnh->btnh", x.astype(dtype), p["kernel"].astype(dtype))
        if "bias" in p:
            y = y + expand_to(p["bias"].astype(dtype), 4)
        return y

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        return_attention_scores=False,
        use_causal_mask=False,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        training=False,
        rng=None,
        mask=None,
    ):
        key = value if key is None else key
        if query_mask is None:
            query_mask = mask
        params = self._params()
        axes, other = self._axes(query.ndim)
        if other:
            return self._call_over_axes(
                axes,
                other,
                params,
                query,
                value,
                key,
                attention_mask,
                return_attention_scores,
                use_causal_mask,
                query_mask,
                value_mask,
                key_mask,
                training,
                rng,
            )
        return self._attend(
            params,
            query,
            value,
            key,
            attention_mask,
            return_attention_scores,
            use_causal_mask,
            query_mask,
            value_mask,
            key_mask,
            training,
            rng,
        )

    def _call_over_axes(
        self,
        axes,
        other,
        params,
        query,
        value,
        key,
        attention_mask,
        return_attention_scores,
        use_causal_mask,
        query_mask,
        value_mask,
        key_mask,
        training,
        rng,
    ):
        """Non-default `attention_axes`: the other axes join the batch, attention runs over the
        rest, and the result goes back to the input's axis order."""
        batch, rank = query.shape[0], query.ndim
        perm = (0,) + other + axes
        outer = (batch,) + tuple(query.shape[a] for a in other)
        q_attn = tuple(query.shape[a] for a in axes)
        v_attn = tuple(value.shape[a] for a in axes)

        def fold(x, mask_like=False):  # (batch, ..., [dim]) -> (batch * other, attention axes, [dim])
            if x is None:
                return None
            if mask_like and x.ndim != rank - 1:
                raise ValueError(
                    f"{self._label}: a mask must have shape {query.shape[:-1]}-like (batch and the "
                    f"axes between batch and features), got {tuple(x.shape)}"
                )
            x = jnp.transpose(x, perm + (() if mask_like else (rank - 1,)))
            return jnp.reshape(x, (-1,) + tuple(x.shape[len(outer) :]))

        if attention_mask is not None:
            full = outer + q_attn + v_attn
            try:
                attention_mask = jnp.broadcast_to(attention_mask, full)
            except ValueError:
                raise ValueError(
                    f"{self._label}: attention_mask must have shape {full} (batch, the axes outside "
                    f"attention_axes, query then key attention axes), got {tuple(attention_mask.shape)}"
                ) from None
            attention_mask = jnp.reshape(attention_mask, (-1,) + q_attn + v_attn)
        out = self._attend(
            params,
            fold(query),
            fold(value),
            fold(key),
            attention_mask,
            return_attention_scores,
            use_causal_mask,
            fold(query_mask, True),
            fold(value_mask, True),
            fold(key_mask, True),
            training,
            rng,
        )
        y, scores = out if return_attention_scores else (out, None)
        n_out = y.ndim - 1 - len(axes)
        y = jnp.reshape(y, outer + tuple(y.shape[1:]))
        inverse = tuple(perm.index(a) for a in range(rank - 1))
        y = jnp.transpose(y, inverse + tuple(range(rank - 1, rank - 1 + n_out)))
        if not return_attention_scores:
            return y
        return y, jnp.reshape(scores, outer + tuple(scores.shape[1:]))

    def _attend(
        self,
        params,
        query,
        value,
        key,
        attention_mask,
        return_attention_scores,
        use_causal_mask,
        query_mask,
        value_mask,
        key_mask,
        training,
        rng,
    ):
        """Attention over every axis between batch and features."""
        batch = query.shape[0]
        q_axes, v_axes = tuple(query.shape[1:-1]), tuple(value.shape[1:-1])
        tq, tv = math.prod(q_axes), math.prod(v_axes)

        # Attention runs over all axes between batch and features: flatten them.
        def flat(x):
            return jnp.reshape(x, (batch, -1, x.shape[-1]))

        def flat_mask(m, axes, name):
            if m is None:
                return None
            if tuple(m.shape) != (batch,) + axes:
                raise ValueError(f"{self._label}: {name} must have shape {(batch,) + axes}, got {tuple(m.shape)}")
            return jnp.reshape(m.astype(bool), (batch, -1))

        q = self._project(params["query"], flat(query), "query")
        k = self._project(params["key"], flat(key), "key")
        v = self._project(params["value"], flat(value), "value")

        # Keras's auto mask: query rows, value/key columns, causal triangle, explicit mask.
        full = None
        qm = flat_mask(query_mask, q_axes, "the query mask")
        if qm is not None:
            full = qm[:, :, None]
        for m, name in ((value_mask, "value_mask"), (key_mask, "key_mask")):
            m = flat_mask(m, v_axes, name)
            if m is not None:
                full = m[:, None, :] if full is None else full & m[:, None, :]
        if use_causal_mask:
            c = causal_mask(tq, tv)
            full = c if full is None else full & c
        if attention_mask is not None:
            am = attention_mask.astype(bool)
            if am.ndim == 3 and len(q_axes) == 1:
                # Keras adds the mask to the scores, so it broadcasts: a (batch, 1, S) padding
                # mask covers every query row.
                try:
                    am = jnp.broadcast_to(am, (am.shape[0], tq, tv))
                except ValueError:
                    raise ValueError(
                        f"{self._label}: attention_mask must have shape (batch, {tq}, {tv}) or broadcast to it, "
                        f"got {tuple(am.shape)}"
                    ) from None
            am = jnp.reshape(am, (am.shape[0], tq, tv))
            full = am if full is None else full & am

        q = q * jnp.asarray(1.0 / math.sqrt(self.key_dim), q.dtype)
        scores = jnp.einsum("btnh,bsnh->bnts", q, k)
        if full is not None:
            m4 = full[:, None]
            scores = jnp.where(m4, scores, jnp.asarray(-0.7 * jnp.finfo(scores.dtype).max, scores.dtype))
        weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(scores.dtype)
        dropped = _attention_dropout(self, weights, self.dropout, training, rng)
        out = jnp.einsum("bnts,bsnh->btnh", dropped, v)
        p = params["attention_output"]
        dtype = self.compute_dtype
        kern = p["kernel"].astype(dtype)
        y = jnp.einsum("btnh,nh...->bt...", out, kern)
        if "bias" in p:
            y = y + expand_to(p["bias"].astype(dtype), y.ndim)
        y = jnp.reshape(y, (batch,) + q_axes + tuple(kern.shape[2:]))
        if return_attention_scores:
            if full is not None:
                weights = jnp.where(full[:, None], weights, 0.0)
            return y, jnp.reshape(weights, (batch, self.num_heads) + q_axes + v_axes)
        return y


def _split_inputs(layer, inputs, mask):
    if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
        raise ValueError(
            f"{layer._label}: inputs must be a list [query, value] or [query, value, key], got "
            f"{type(inputs).__name__}{'' if not isinstance(inputs, (list, tuple)) else f' of length {len(inputs)}'}"
        )
    q, v = inputs[0], inputs[1]
    k = inputs[2] if len(inputs) > 2 else v
    q_mask = v_mask = None
    if mask is not None:
        if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            raise ValueError(f"{layer._label}: mask must be a list [query_mask, value_mask], got {mask!r}")
        q_mask, v_mask = mask[0], mask[1]
    for name, m, x in (("query_mask", q_mask, q), ("value_mask", v_mask, v)):
        if m is not None and tuple(m.shape) != tuple(x.shape[:-1]):
            raise ValueError(f"{layer._label}: {name} must have shape {tuple(x.shape[:-1])}, got {tuple(m.shape)}")
    return q, v, k, q_mask, v_mask


class _DenseAttention(Layer):
    """What Attention and AdditiveAttention share: inputs, masks, softmax, output."""

    supports_masking = True

    def check_config(self):
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"{self._label}: dropout must be in [0, 1), got {self.dropout!r}")

    def check_inputs(self, inputs, **_):
        q, v, k, _, _ = _split_inputs(self, inputs, None)
        for name, s in (("query", q), ("value", v), ("key", k)):
            if len(s.shape) < 3:
                raise ValueError(f"{self._label}: {name} must have shape (batch, T, dim), got {s.shape}")

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)) or mask[0] is None:
            return None
        return mask[0]

    def call(self, inputs, training=False, rng=None, mask=None, return_attention_scores=False, use_causal_mask=False):
        q, v, k, q_mask, v_mask = _split_inputs(self, inputs, mask)
        dtype = self.compute_dtype
        q, v, k = q.astype(dtype), v.astype(dtype), k.astype(dtype)
        scores = self._scores(self._own_values(), q, k)
        score_mask = None if v_mask is None else v_mask.astype(bool)[..., None, :]
        if use_causal_mask:
            c = causal_mask(scores.shape[-2], scores.shape[-1])
            score_mask = c if score_mask is None else score_mask & c
        if score_mask is not None:
            # Keras subtracts a large number (not replaces), keep it for parity.
            big = 65504.0 if scores.dtype == jnp.float16 else 1.0e9
            scores = jnp.where(score_mask, scores, scores - big)
        weights = jax.nn.softmax(scores, axis=-1)
        dropped = _attention_dropout(self, weights, self.dropout, training, rng)
        out = jnp.einsum("...ts,...sd->...td", dropped, v)
        if q_mask is not None:
            out = jnp.where(q_mask.astype(bool)[..., None], out, 0.0)
        if return_attention_scores:
            return out, weights
        return out


class Attention(_DenseAttention):
    """Dot-product (Luong-style) attention over `[query, value]` or `[query, value, key]`.

    Args:
        use_scale: learn a scalar `scale` multiplying the scores.
        score_mode: "dot" (`query . key`) or "concat" (`sum(tanh(query + key))`, weighted by a
            learned scalar `concat_score_weight`).
        dropout: dropout rate on the attention weights (training; needs `rng`).

    Call: `apply(variables, [query, value(, key)], mask=[query_mask, value_mask],
    return_attention_scores=False, use_causal_mask=False)`. Shapes: query (batch, Tq, dim),
    value/key (batch, Tv, dim) -> (batch, Tq, dim) (+ scores (batch, Tq, Tv)).
    Masked value positions get no weight; masked query rows output zeros; the output mask is
    the query mask.

    Example:
    ```python
    context = jnet.layers.Attention()([query, value])
    ```
    """

    use_scale: bool = False
    score_mode: str = "dot"
    dropout: float = 0.0

    def check_config(self):
        super().check_config()
        if self.score_mode not in ("dot", "concat"):
            raise ValueError(f"{self._label}: score_mode must be 'dot' or 'concat', got {self.score_mode!r}")

    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")

    def _scores(self, params, q, k):
        if self.score_mode == "dot":
            s = jnp.einsum("...td,...sd->...ts", q, k)
            return s * params["scale"].astype(s.dtype) if self.use_scale else s
        summed = q[..., :, None, :] + k[..., None, :, :]
        if self.use_scale:
            summed = params["scale"].astype(q.dtype) * summed
        return params["concat_score_weight"].astype(q.dtype) * jnp.sum(jnp.tanh(summed), axis=-1)


class AdditiveAttention(_DenseAttention):
    """Additive (Bahdanau-style) attention: scores `sum(scale * tanh(query + key))`.

    Args:
        use_scale: default True: a learned `scale` vector of shape (dim,) (glorot_uniform).
        dropout: dropout rate on the attention weights.

    Call and masks as `Attention`.

    Example:
    ```python
    context = jnet.layers.AdditiveAttention()([query, value])
    ```
    """

    use_scale: bool = True
    dropout: float = 0.0

    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight((input_shape[0][-1],), "glorot_uniform", name="scale")

    def _scores(self, params, q, k):
        t = jnp.tanh(q[..., :, None, :] + k[..., None, :, :])
        if self.use_scale:
            t = expand_to(params["scale"].astype(q.dtype), t.ndim) * t
        return jnp.sum(t, axis=-1)
