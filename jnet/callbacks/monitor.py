"""`MonitorCallback`: the shared "is this value better?" logic of callbacks that watch a metric
(EarlyStopping, ModelCheckpoint, ReduceLROnPlateau)."""

from __future__ import annotations

import math
import warnings

from jnet.callbacks.base import Callback

# Names whose value should go down; anything else recognised below goes up.
_DOWN_WORDS = (
    "loss",
    "error",
    "crossentropy",
    "hinge",
    "divergence",
    "poisson",
    "logcosh",
    "mse",
    "mae",
    "mape",
    "msle",
    "squared",
    "absolute",
    "kl",
)
_UP_WORDS = (
    "acc",
    "auc",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "iou",
    "r2",
    "true_positives",
    "true_negatives",
    "cosine",
    "specificity",
    "sensitivity",
)


def metric_direction(name: str, model=None) -> str | None:
    """`"min"`, `"max"` or None for a log key such as `val_loss` or `output_1_accuracy`."""
    base = name.removeprefix("val_")
    for m in getattr(model, "metrics", None) or []:
        # A metric object may say its direction (Keras's `_direction`, jnet's `direction`).
        direction = getattr(m, "direction", None) or getattr(m, "_direction", None)
        if direction and getattr(m, "name", None) and base.endswith(m.name):
            return "max" if direction in ("up", "max") else "min"
    if base == "loss" or base.endswith("_loss"):
        return "min"
    if any(w in base for w in _UP_WORDS):
        return "max"
    if any(w in base for w in _DOWN_WORDS):
        return "min"
    return None


class MonitorCallback(Callback):
    """Base class: `monitor`, `mode` ("auto", "min", "max"), `min_delta`, and `best`."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__}: mode {mode!r} is unknown, falling back to 'auto'.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self._direction = None

    def _resolve_mode(self):
        if self._direction is not None:
            return
        direction = self.mode if self.mode != "auto" else metric_direction(self.monitor, self.model)
        if direction is None:
            raise ValueError(
                f"{type(self).__name__}: cannot tell whether monitor={self.monitor!r} should be "
                "minimised or maximised. Pass mode='min' or mode='max'."
            )
        self._direction = direction

    def _is_improvement(self, value, reference) -> bool:
        self._resolve_mode()
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def _monitor_value(self, logs, who=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{who or type(self).__name__} monitors {self.monitor!r}, which is not in the logs. "
                f"Available: {', '.join(sorted(logs or {}))}",
                stacklevel=3,
            )
            return None
        value = float(value)
        return None if math.isnan(value) else value
