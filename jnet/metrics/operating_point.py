"""Metrics at an operating point: the best value of one rate among the thresholds where
another reaches a target — SensitivityAtSpecificity, SpecificityAtSensitivity,
PrecisionAtRecall, RecallAtPrecision (Keras 3 semantics)."""

from __future__ import annotations

import jax.numpy as jnp

from jnet.metrics.base import Metric
from jnet.metrics.confusion import _divide_no_nan, confusion_counts


class _AtOperatingPoint(Metric):
    """Counts tp/fp/tn/fn at `num_thresholds` evenly spaced thresholds in [0, 1]; subclasses
    say which rate is constrained (`_constrained`) and which is maximised (`_dependent`)."""

    _value_name = "value"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{owner}: {self._value_name} must be in the range [0, 1], got {value!r}")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds <= 0:
            raise ValueError(f"{owner}: num_thresholds must be an int > 0, got {num_thresholds!r}")
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._evenly = [0.0] + inner + [1.0], True

    def init(self):
        return {k: jnp.zeros((len(self.thresholds),), self.dtype) for k in ("tp", "fp", "tn", "fn")}

    def update(self, state, y_true, y_pred, sample_weight=None):
        counts = confusion_counts(
            y_true,
            y_pred,
            self.thresholds,
            evenly=self._evenly,
            class_id=self.class_id,
            sample_weight=sample_weight,
            owner=type(self).__name__,
        )
        return {k: state[k] + c.astype(self.dtype) for k, c in zip(("tp", "fp", "tn", "fn"), counts)}

    @staticmethod
    def _rates(state):
        tp, fp, tn, fn = state["tp"], state["fp"], state["tn"], state["fn"]
        return {
            "sensitivity": _divide_no_nan(tp, tp + fn),
            "recall": _divide_no_nan(tp, tp + fn),
            "specificity": _divide_no_nan(tn, tn + fp),
            "precision": _divide_no_nan(tp, tp + fp),
        }

    def result(self, state):
        rates = self._rates(state)
        feasible = rates[self._constrained] >= self.value
        return jnp.max(jnp.where(feasible, rates[self._dependent], 0.0), initial=0.0)

    def get_config(self):
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self._value_name: self.value,
        }


def _make(cls_name, dependent, constrained, doc):
    def __init__(self, *args, num_thresholds=200, class_id=None, name=None, dtype=None, **kwargs):
        if len(args) > 1:
            raise TypeError(f"{cls_name} takes one positional argument ({constrained}), got {len(args)}")
        if args:
            kwargs[constrained] = args[0]
        if set(kwargs) != {constrained}:
            raise TypeError(f"{cls_name}: expected the argument {constrained!r}, got {sorted(kwargs)}")
        _AtOperatingPoint.__init__(self, kwargs[constrained], num_thresholds, class_id, name, dtype)

    cls = type(
        cls_name,
        (_AtOperatingPoint,),
        {
            "__init__": __init__,
            "__doc__": doc,
            "__module__": __name__,
            "_dependent": dependent,
            "_constrained": constrained,
            "_value_name": constrained,
            constrained: property(lambda self: self.value),
        },
    )
    return cls


_DOC = """The best {dependent} among the thresholds whose {constrained} is at least `{constrained}`
    (0 when none reaches it).

    Args:
        {constrained}: the target, in [0, 1].
        num_thresholds: how many evenly spaced thresholds in [0, 1] to try (default 200; 1
            means the single threshold 0.5).
        class_id: compute the metric for this class (column) of `y_pred` only.

    Example:
    ```python
    m = jnet.metrics.{name}({example})
    m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    m.result()
    ```
    """


def _doc(name, dependent, constrained):
    return _DOC.format(name=name, dependent=dependent, constrained=constrained, example=0.5)


SensitivityAtSpecificity = _make(
    "SensitivityAtSpecificity",
    "sensitivity",
    "specificity",
    _doc("SensitivityAtSpecificity", "sensitivity", "specificity"),
)
SpecificityAtSensitivity = _make(
    "SpecificityAtSensitivity",
    "specificity",
    "sensitivity",
    _doc("SpecificityAtSensitivity", "specificity", "sensitivity"),
)
PrecisionAtRecall = _make("PrecisionAtRecall", "precision", "recall", _doc("PrecisionAtRecall", "precision", "recall"))
RecallAtPrecision = _make("RecallAtPrecision", "recall", "precision", _doc("RecallAtPrecision", "recall", "precision"))
