"""Intersection-over-union metrics over a streamed confusion matrix: IoU, MeanIoU, BinaryIoU,
OneHotIoU, OneHotMeanIoU (Keras 3 semantics; the matrix is float, so fractional sample
weights count as given — Keras's default integer matrix truncates them)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnet.losses.reduction import EPSILON
from jnet.metrics.base import Metric


def _check_int(owner, name, value, low=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner}: {name} must be an int >= {low}, got {value!r}")


class IoU(Metric):
    """Intersection over union `tp / (tp + fp + fn)` per class, averaged over
    `target_class_ids`; classes absent from both labels and predictions are left out of the
    average.

    Args:
        num_classes: the number of classes (the confusion matrix is `num_classes` square).
        target_class_ids: the classes whose IoU is averaged.
        ignore_class: a label to leave out (e.g. a void class such as 255).
        sparse_y_true, sparse_y_pred: whether labels / predictions are class ids (default) or
            scores whose argmax over `axis` is the class.
        axis: the class axis for non-sparse inputs (default -1).

    Example:
    ```python
    m = jnet.metrics.IoU(num_classes=2, target_class_ids=[0])
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    m.result()            # 0.3333
    ```
    """

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        _check_int(owner, "num_classes", num_classes, 1)
        ids = list(target_class_ids)
        if not ids or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_classes for i in ids):
            raise ValueError(
                f"{owner}: target_class_ids must be class ids in [0, {num_classes}), got {target_class_ids!r}"
            )
        self.num_classes, self.target_class_ids = num_classes, ids
        self.ignore_class, self.axis = ignore_class, axis
        self.sparse_y_true, self.sparse_y_pred = sparse_y_true, sparse_y_pred

    def init(self):
        return {"total_cm": jnp.zeros((self.num_classes, self.num_classes), self.dtype)}

    def _labels(self, y_true, y_pred):
        y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
        if not self.sparse_y_true:
            y_true = jnp.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = jnp.argmax(y_pred, axis=self.axis)
        return y_true, y_pred

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true, y_pred = self._labels(y_true, y_pred)
        y_true = jnp.reshape(y_true, (-1,)).astype(jnp.int32)
        y_pred = jnp.reshape(y_pred, (-1,)).astype(jnp.int32)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__}: y_true and y_pred hold {y_true.shape[0]} and {y_pred.shape[0]} "
                "labels; they must match"
            )
        if sample_weight is None:
            w = jnp.ones(y_true.shape, self.dtype)
        else:
            w = jnp.reshape(jnp.asarray(sample_weight, self.dtype), (-1,))
            count = y_true.shape[0]
            if w.shape[0] not in (1, count):
                if w.shape[0] == 0 or count % w.shape[0]:
                    raise ValueError(
                        f"{type(self).__name__}: sample_weight of {w.shape[0]} values does not fit {count} labels"
                    )
                # one weight per sample of a (batch, ...) label map weighs all its entries
                w = jnp.repeat(w, count // w.shape[0])
            w = jnp.broadcast_to(w, y_true.shape)
        n = self.num_classes
        keep = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n) & (w != 0)
        if self.ignore_class is not None:
            keep = keep & (y_true != self.ignore_class)
        index = jnp.where(keep, y_true * n + y_pred, 0)
        counts = jax.ops.segment_sum(jnp.where(keep, w, 0.0), index, num_segments=n * n)
        return {"total_cm": state["total_cm"] + jnp.reshape(counts, (n, n)).astype(self.dtype)}

    def result(self, state):
        cm = state["total_cm"]
        tp = jnp.diagonal(cm)
        denominator = jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1) - tp
        ids = jnp.asarray(self.target_class_ids)
        tp, denominator = tp[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = jnp.where(valid, tp / (denominator + EPSILON), 0.0)
        return jnp.sum(iou) / (jnp.sum(valid.astype(cm.dtype)) + EPSILON)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class BinaryIoU(IoU):
    """IoU of binary labels with predictions thresholded at `threshold` (`>= threshold` is
    class 1).

    Args:
        target_class_ids: `[0]`, `[1]` or `[0, 1]` (default: the mean of both).
        threshold: the decision threshold (default 0.5).
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def _labels(self, y_true, y_pred):
        return jnp.asarray(y_true), (jnp.asarray(y_pred, jnp.float32) >= self.threshold).astype(jnp.int32)

    def get_config(self):
        return {
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
            "name": self.name,
            "dtype": self.dtype,
        }


class MeanIoU(IoU):
    """The mean IoU over all `num_classes` classes (present ones). Args as `IoU` without
    `target_class_ids`."""

    def __init__(
        self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1
    ):
        _check_int("MeanIoU", "num_classes", num_classes, 1)
        super().__init__(
            num_classes,
            list(range(num_classes)),
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """IoU for one-hot labels (and, by default, score predictions): both argmax-ed over
    `axis` first. Args as `IoU`; `sparse_y_pred` defaults to False."""

    def __init__(
        self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1
    ):
        super().__init__(
            num_classes,
            target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """Mean IoU for one-hot labels (and score predictions by default). Args as `MeanIoU`."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(
            num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config
