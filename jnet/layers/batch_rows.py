"""Which rows of the current training batch are real (trace-time context).

The engine pads the last partial batch of an epoch to the full batch size so an epoch
compiles once, and masks the padding rows out of losses and metrics. Layers whose output
depends on the other rows of the batch (BatchNormalization's batch statistics) must skip them
too, or the padding (copies of a real row) would bias them. The train step runs the forward
pass inside `valid_rows(valid)`; such layers read `current()`. Outside the engine (a user's
own `apply`) there is no scope and every row counts.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["valid_rows", "current"]

_ROWS = contextvars.ContextVar("jnet_valid_rows", default=None)


@contextlib.contextmanager
def valid_rows(mask):
    """Within the block, `current()` is `mask`: bool (batch,), True for the real rows."""
    token = _ROWS.set(mask)
    try:
        yield
    finally:
        _ROWS.reset(token)


def current():
    """The valid-rows mask of the batch being traced, or None (every row is real)."""
    return _ROWS.get()
