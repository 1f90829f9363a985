"""The training engine: a pure train step, compiled multi-step loops, data placement."""

from jnet.engine.distribute import Distribution, current, set_current
from jnet.engine.train_state import TrainState

__all__ = ["Distribution", "TrainState", "current", "set_current"]
