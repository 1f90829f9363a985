"""TEST-ONLY stand-in for `jnet.metrics` (branch losses-metrics) while it is not merged.

Installed into `sys.modules` only when `jnet.metrics` cannot be imported; implements just the
contract pieces the engine tests use (Metric init/update/result, get with "accuracy"
resolution, mse/mae). Never shipped in `jnet/`.
"""

import sys
import types

import jax.numpy as jnp


class Metric:
    def __init__(self, name):
        self.name = name

    def init(self):
        return {"total": jnp.zeros((), jnp.float32), "count": jnp.zeros((), jnp.float32)}

    def update(self, state, y_true, y_pred, sample_weight=None):
        v = self.values(y_true, y_pred).astype(jnp.float32)
        w = jnp.ones_like(v) if sample_weight is None else jnp.asarray(sample_weight, jnp.float32).reshape(v.shape)
        return {"total": state["total"] + jnp.sum(jnp.where(w != 0, v * w, 0.0)), "count": state["count"] + jnp.sum(w)}

    def result(self, state):
        return state["total"] / jnp.maximum(state["count"], 1e-12)

    def get_config(self):
        return {"name": self.name}


class SparseCategoricalAccuracy(Metric):
    def values(self, t, p):
        t = t.reshape(p.shape[:-1]).astype(jnp.int32)
        return (jnp.argmax(p, -1) == t)


class CategoricalAccuracy(Metric):
    def values(self, t, p):
        return jnp.argmax(p, -1) == jnp.argmax(t, -1)


class BinaryAccuracy(Metric):
    def values(self, t, p):
        return jnp.mean((p.reshape(t.shape) > 0.5) == (t > 0.5), axis=tuple(range(1, t.ndim)) or None)


class MeanSquaredError(Metric):
    def values(self, t, p):
        return jnp.mean(jnp.square(t.reshape(p.shape) - p), axis=-1)


class MeanAbsoluteError(Metric):
    def values(self, t, p):
        return jnp.mean(jnp.abs(t.reshape(p.shape) - p), axis=-1)


def get(identifier, *, y_true_shape=None, y_pred_shape=None, loss=None):
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        lname = getattr(loss, "name", "") or ""
        if (y_pred_shape and y_pred_shape[-1] == 1) or "binary" in lname:
            return BinaryAccuracy(identifier)
        if "sparse" in lname or (y_true_shape is not None and y_pred_shape is not None and
                                 (len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1)):
            return SparseCategoricalAccuracy(identifier)
        return CategoricalAccuracy(identifier)
    table = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
             "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
             "sparse_categorical_accuracy": SparseCategoricalAccuracy,
             "categorical_accuracy": CategoricalAccuracy}
    if identifier not in table:
        raise ValueError(f"Unknown metric {identifier!r}. Valid names: {sorted(table) + ['accuracy']}")
    return table[identifier](identifier)


def serialize(m):
    return {"class_name": type(m).__name__, "config": m.get_config()}


def deserialize(c):
    return globals()[c["class_name"]](**c["config"])


def install():
    try:
        import jnet.metrics  # noqa: F401
    except ImportError:
        mod = types.ModuleType("jnet.metrics")
        mod.__dict__.update({k: v for k, v in globals().items() if not k.startswith("_")})
        sys.modules["jnet.metrics"] = mod
        import jnet

        jnet.metrics = mod


install()
