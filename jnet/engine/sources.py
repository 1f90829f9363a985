"""The data-source protocol: what the training, evaluation and prediction loops read.

Every source — arrays placed on the device, arrays too large for it, generators, a
`PyDataset` — answers `chunks(...)` with a sequence of `Chunk`s: device arrays plus the
positions of the batches to run in them. The loops in `engine.loop` are written once against
that; they never ask which kind of source they read.

- `DeviceSource` (here): the data set lives on the device; an epoch is one chunk whose `index`
  is the epoch's (shuffled) row order, and the engine sizes its calls freely (`sized=True`).
- `StreamSource` (`engine.stream`): host batches stacked into chunks of `capacity` batches,
  prefetched; each chunk runs in one call (or one call per batch when callbacks ask).

Continuing through the data. With `steps_per_epoch` below one pass over in-memory arrays,
training continues the next epoch where the previous one stopped (as Keras does), and a new
pass (reshuffled) begins once the data is used up: `PassCursor` keeps that position.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from jnet.engine.compiled import epoch_index


class Chunk(NamedTuple):
    """Batches `start .. stop` of `arrays` (positions in `index`, rows `>= n_rows` are padding).

    `sized`: the engine picks how many steps each call runs (device-resident data); otherwise
    the chunk runs in one call. `row_valid`: for streamed chunks, the host mask of real rows
    (None when every row below `n_rows` is real)."""

    arrays: Any
    index: Any
    n_rows: int
    batch_size: int
    start: int
    stop: int
    sized: bool
    row_valid: Any = None

    def kept_rows(self, first, count, outputs):
        """The real rows of the outputs of batches `first .. first + count` (padding removed)."""
        bs = self.batch_size
        if self.row_valid is None:
            rows = min(count * bs, self.n_rows - first * bs)
            return [np.asarray(x[:rows]) for x in outputs]
        keep = np.asarray(self.row_valid)[first * bs : (first + count) * bs]
        return [np.asarray(x[: count * bs])[keep] for x in outputs]


class PassCursor:
    """Where training stands in the current pass over array data: the pass's shuffle key
    `(epoch, step)` at which it began and the next batch position in it."""

    def __init__(self):
        self.position = None  # (pass epoch, pass start step, next batch), or None

    def plan(self, total, epoch, step, start_batch, limit, resume):
        """`(pass epoch, pass start step, first batch, stop batch)` of the epoch about to run,
        over a pass of `total` batches; `limit` batches at most (steps_per_epoch)."""
        if resume and limit is not None and self.position is not None and start_batch == 0:
            pass_epoch, pass_step, first = self.position
        else:
            pass_epoch, pass_step, first = epoch, step - start_batch, start_batch
        stop = total if limit is None else min(total, first + limit - start_batch)
        # A pass cut by steps_per_epoch continues next epoch; a finished one starts afresh.
        self.position = (pass_epoch, pass_step, stop) if resume and limit is not None and stop < total else None
        return pass_epoch, pass_step, first, stop


class DeviceSource:
    """A data set placed on the device once; batches are gathered inside the compiled loop."""

    def __init__(self, data, n_outputs, batch_size, dist, with_targets=True):
        y = (data.y if data.y is not None else [None] * n_outputs) if with_targets else []
        sw = (data.sw if data.sw is not None else [None] * n_outputs) if with_targets else []
        self.arrays = dist.place_batch((data.x, y, sw, None))
        self.n, self.batch_size = data.n, batch_size
        self.steps = math.ceil(data.n / batch_size)
        self.cursor = PassCursor()
        self._plain = None

    def index(self, rng=None, epoch=0, epoch_start_step=0, shuffle=False):
        """The row order of an epoch (positions -> rows), padded to whole batches."""
        padded = self.steps * self.batch_size
        if not shuffle:
            if self._plain is None:
                zeros = jnp.zeros((2,), jnp.uint32)
                self._plain = epoch_index(zeros, 0, 0, n=self.n, padded=padded, shuffle=False)
            return self._plain
        return epoch_index(rng, epoch, epoch_start_step, n=self.n, padded=padded, shuffle=True)

    def chunks(self, rng=None, epoch=0, step=0, start_batch=0, limit=None, shuffle=False, resume=False):
        """The epoch as one `Chunk`. `step`: optimizer steps taken (the shuffle key with
        `epoch`); `start_batch`: a resumed run's first batch; `limit`: at most this many
        batches; `resume`: continue the pass a previous epoch with `limit` left unfinished."""
        pass_epoch, pass_step, first, stop = self.cursor.plan(self.steps, epoch, step, start_batch, limit, resume)
        index = self.index(rng, pass_epoch, pass_step, shuffle)
        yield Chunk(self.arrays, index, self.n, self.batch_size, first, stop, sized=True)


_ARANGE = {}


def plain_index(n):
    """`0 .. n-1` as a device int32 vector (cached): the index of a streamed chunk, whose rows
    are already in order."""
    if n not in _ARANGE:
        _ARANGE[n] = jnp.arange(n, dtype=jnp.int32)
    return _ARANGE[n]
