"""Shared pieces of the preprocessing layers: reading `adapt` data, refusing strings in numeric
layers, and the categorical encodings (Keras's `encode_categorical_inputs`, dense or sparse)."""

from __future__ import annotations

import contextlib
import contextvars
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jnet.layers.base import Layer

_OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def _first(batch):
    """The inputs of a batch: `x` of an `(x, y)` or `(x, y, w)` tuple, else the batch itself."""
    if isinstance(batch, tuple) and batch and not hasattr(batch, "shape"):
        return batch[0]
    if isinstance(batch, dict) and "x" in batch:
        return batch["x"]
    return batch


def adapt_batches(layer, data, steps=None, numeric=True):
    """The batches of `adapt(data)` as numpy arrays: an array is one batch; an iterable (list of
    arrays, generator, `PyDataset`, dataset of `(x, y)` pairs) gives one per element.

    Raises:
        ValueError: naming the layer when `data` is empty, or holds strings in a numeric layer.
        TypeError: when `data` is neither an array nor an iterable.
    """
    label = f"{layer._label}.adapt"
    if data is None:
        raise ValueError(f"{label}: data must be an array or an iterable of batches, got None")
    if isinstance(data, (np.ndarray, jax.Array)) or hasattr(data, "__array__") and not isinstance(data, (list, tuple)):
        batches = [np.asarray(data)]
    elif isinstance(data, (list, tuple)) and data and not _is_batch(data[0]):
        batches = [np.asarray(data)]  # a plain nested list of numbers is one batch
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__") and hasattr(data, "num_batches"):
        batches = (_first(data[i]) for i in range(len(data)))  # a PyDataset
    elif hasattr(data, "__iter__"):
        batches = (np.asarray(_first(b)) for b in data)
    else:
        raise TypeError(f"{label}: data must be a numpy array or an iterable of batches, got {type(data).__name__}")
    if steps is not None:
        batches = itertools.islice(batches, int(steps))
    out = []
    for b in batches:
        b = np.asarray(b)
        if numeric and b.dtype.kind in "USO":
            raise ValueError(
                f"{label}: expects numeric data, got an array of dtype {b.dtype} "
                "(strings go to StringLookup or TextVectorization)"
            )
        out.append(b)
    if not out or all(b.size == 0 for b in out):
        raise ValueError(f"{label}: data is empty; adapt needs at least one non-empty batch")
    return out


def _is_batch(x) -> bool:
    return hasattr(x, "shape") or isinstance(x, (list, tuple, dict))


def check_numeric(layer, spec):
    """Refuse string (or object) inputs to a layer that computes on numbers."""
    dtype = np.dtype(spec.dtype) if not hasattr(spec.dtype, "kind") else spec.dtype
    if dtype.kind in "USO":
        raise ValueError(
            f"{layer._label}: expects numeric inputs, got dtype {dtype} "
            "(strings go to StringLookup or TextVectorization)"
        )


def check_output_mode(layer, allowed=_OUTPUT_MODES):
    if layer.output_mode == "binary":  # Keras's old name
        layer.output_mode = "multi_hot"
    if layer.output_mode not in allowed:
        raise ValueError(f"{layer._label}: output_mode must be one of {list(allowed)}, got {layer.output_mode!r}")


def encode_categorical(ids, output_mode, depth, dtype, count_weights=None, sparse=False):
    """Integer ids -> Keras's categorical encodings.

    `one_hot` adds a `depth` axis (a trailing axis of size 1 is replaced); `multi_hot` and
    `count` reduce over axis 1 (axis 0 for a rank-1 input, which is one sample). Ids outside
    `[0, depth)` encode as all zeros (XLA cannot raise on values inside a compiled step).
    With `sparse=True` (not for `int`) the result is a `jax.experimental.sparse.BCOO` equal
    to the dense encoding once densified, as Keras returns on JAX.
    """
    if output_mode == "int":
        return ids.astype(dtype)
    if ids.ndim == 0:
        ids = ids[None]
    if output_mode == "one_hot":
        if ids.ndim > 1 and ids.shape[-1] == 1:
            ids = ids[..., 0]
        if sparse:
            from jnet import ops

            return ops.one_hot(ids, depth, dtype=dtype, sparse=True)
        return jax.nn.one_hot(ids, depth, dtype=dtype)
    if sparse:
        return _sparse_reduced(ids, output_mode, depth, dtype, count_weights)
    axis = 1 if ids.ndim > 1 else 0
    hot = jax.nn.one_hot(ids, depth, dtype=jnp.float32)
    if output_mode == "multi_hot":
        return jnp.max(hot, axis=axis).astype(dtype)
    if count_weights is not None:
        hot = hot * count_weights[..., None].astype(jnp.float32)
        dtype = count_weights.dtype
    return jnp.sum(hot, axis=axis).astype(dtype)


def _sparse_reduced(ids, output_mode, depth, dtype, count_weights):
    """The `multi_hot` / `count` encoding as a BCOO: the sparse one-hot summed over the sample
    axis. Out-of-range ids are stored zeros, so the number of stored entries (`ids.size`) is
    static and the result is jittable."""
    from jax.experimental import sparse as jsparse

    from jnet import ops

    axis = 1 if ids.ndim > 1 else 0
    hot = ops.one_hot(ids, depth, dtype=jnp.float32, sparse=True)
    if count_weights is not None:
        hot = jsparse.BCOO((hot.data * count_weights.reshape(-1).astype(jnp.float32), hot.indices), shape=hot.shape)
        dtype = count_weights.dtype
    summed = jsparse.bcoo_sum_duplicates(jsparse.bcoo_reduce_sum(hot, axes=(axis,)), nse=ids.size)
    data = summed.data > 0 if output_mode == "multi_hot" else summed.data
    return jsparse.BCOO(
        (data.astype(dtype), summed.indices),
        shape=summed.shape,
        indices_sorted=summed.indices_sorted,
        unique_indices=summed.unique_indices,
    )


def is_sparse(x) -> bool:
    """Whether `x` is a `jax.experimental.sparse` array (BCOO)."""
    from jax.experimental import sparse as jsparse

    return isinstance(x, jsparse.JAXSparse)


def densify(tree):
    """`tree` with every sparse array made dense."""
    return jax.tree_util.tree_map(lambda x: x.todense() if is_sparse(x) else x, tree, is_leaf=is_sparse)


_DENSE_OUTPUTS = contextvars.ContextVar("jnet_dense_outputs", default=False)


@contextlib.contextmanager
def dense_outputs():
    """Within this block, layers built with `sparse=True` compute dense outputs (the graph
    models' nodes, their shape inference, and the host stage of string models)."""
    token = _DENSE_OUTPUTS.set(True)
    try:
        yield
    finally:
        _DENSE_OUTPUTS.reset(token)


class SparseOutput:
    """Mixin of the layers taking Keras's `sparse=True` on JAX (CategoryEncoding, Hashing,
    Discretization): a direct call, `apply` or `stateless_call` returns a BCOO; as a node of a
    graph model (functional or Sequential) the layer computes its dense encoding instead, since
    jnet's graphs carry dense tensors. That is the densify at the edge into the next layer,
    so the next layer (e.g. Dense) sees exactly Keras's values. Layers called one after another
    in a subclassed model's `call` pass the BCOO on (Dense multiplies it sparsely)."""

    def check_sparse_config(self):
        if self.sparse and self.output_mode == "int":
            raise ValueError(
                f"{self._label}: sparse=True needs output_mode 'one_hot', 'multi_hot' or 'count', got output_mode='int'"
            )

    @property
    def _sparse_now(self) -> bool:
        return bool(self.sparse) and not _DENSE_OUTPUTS.get()

    def output_spec(self, *input_specs, **kwargs):
        with dense_outputs():
            return super().output_spec(*input_specs, **kwargs)

    def _call_with_mask(self, args, kwargs, mask, training=False, rng=None):
        with dense_outputs():
            return super()._call_with_mask(args, kwargs, mask, training, rng)


def refuse_sparse(layer):
    """Keras allows `sparse=True` on these layers only on the TensorFlow backend; on JAX it
    refuses, and so does jnet."""
    if layer.sparse:
        raise ValueError(
            f"{layer._label}: sparse=True is not supported: Keras allows it only on the TensorFlow "
            "backend (on JAX it refuses); pass sparse=False"
        )


def encoded_shape(shape, output_mode, depth):
    """The output shape of `encode_categorical` for an input of `shape`."""
    shape = tuple(shape)
    if output_mode == "int":
        return shape
    if not shape:
        return (depth,)
    if output_mode == "one_hot":
        return (shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape) + (depth,)
    return ((shape[0],) + shape[2:] if len(shape) > 1 else ()) + (depth,)


def _is_strings(x) -> bool:
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO"
    if isinstance(x, str):
        return True
    if isinstance(x, (list, tuple)) and x:
        return _is_strings(x[0])
    return False


class NumericLayer(Layer):
    """Base of the preprocessing layers that compute on numbers: strings passed to them fail
    with an error naming the layer (rather than deep inside JAX)."""

    def __call__(self, *args, **kwargs):
        if args and _is_strings(args[0]):
            raise ValueError(
                f"{self._label}: expects numeric inputs, got strings (strings go to StringLookup or TextVectorization)"
            )
        return super().__call__(*args, **kwargs)

    def check_inputs(self, spec, *rest):
        check_numeric(self, spec)
