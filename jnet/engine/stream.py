"""Streaming from the host: generators, iterables, and arrays too large for the device.

A producer thread pulls batches, pads each to the batch size (padding rows are marked
invalid), stacks up to `capacity` of them into one chunk, and moves it to the device while the
previous chunk trains (prefetch depth 2). The compiled loop then runs the chunk's batches
exactly as it runs device-resident data.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from jnet.engine.compiled import epoch_order
from jnet.engine.sources import Chunk, PassCursor, plain_index

_END = object()


class Prefetcher:
    """Runs `produce()` (an iterator) in a thread, `depth` items ahead. Exceptions in the
    producer are re-raised in the consumer."""

    def __init__(self, produce, depth=2):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(produce,), daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, produce):
        try:
            for item in produce():
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer thread
            self._put(("__error__", e))

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, tuple) and len(item) == 2 and item[0] == "__error__":
                raise item[1]
            yield item

    def close(self):
        self._stop.set()
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


def _pad_rows(a, rows):
    if a is None or len(a) == rows:
        return a
    pad = np.zeros((rows - len(a),) + a.shape[1:], a.dtype)
    return np.concatenate([a, pad], axis=0)


class ChunkBuilder:
    """Stacks host batches `(x_list, y_list, sw_list)` into fixed-shape chunks of `capacity`
    batches of `batch_size` rows (one compiled shape for the whole stream)."""

    def __init__(self, batch_size, capacity):
        self.batch_size, self.capacity = batch_size, capacity
        self.template = None

    def _check(self, batch):
        shapes = [[None if a is None else (a.shape[1:], a.dtype) for a in part] for part in batch]
        if self.template is None:
            self.template = shapes
        elif shapes != self.template:
            raise ValueError(
                "Streamed batches must all have the same structure, trailing shapes and dtypes "
                f"(only the number of rows may shrink); first batch {self.template}, now {shapes}"
            )

    def build(self, batches):
        """`batches`: a list of 1..capacity host batches -> (chunk arrays, n batches)."""
        B, C = self.batch_size, self.capacity
        parts = [[], [], []]
        valid = np.zeros((C * B,), bool)
        for i, batch in enumerate(batches):
            self._check(batch)
            rows = len(batch[0][0])
            if rows > B:
                raise ValueError(
                    f"A streamed batch has {rows} rows, more than the first batch's {B}; "
                    "batches may only shrink (the last one)"
                )
            valid[i * B : i * B + rows] = True
            for k in range(3):
                parts[k].append([_pad_rows(a, B) for a in batch[k]])
        # Unused slots repeat the first batch (masked invalid, and never stepped on: n < capacity).
        while len(parts[0]) < C:
            for k in range(3):
                parts[k].append(parts[k][0])
        stacked = []
        for k in range(3):
            per = list(zip(*parts[k])) if parts[k][0] else []
            stacked.append([None if cols[0] is None else np.concatenate(cols, axis=0) for cols in per])
        return (stacked[0], stacked[1], stacked[2], valid), len(batches)


class StreamSource:
    """Batches from the host: `batches()` yields `(x_list, y_list, sw_list)` numpy batches;
    they are padded, stacked into chunks of `capacity` and prefetched to the device.
    `n_rows`: set when the source is an array that `batches(order)` can read in any row order
    (then `fit` shuffles it); None for generators, which keep their own order as in Keras."""

    def __init__(self, batches, capacity, dist, steps=None, n_rows=None, batch_rows=None):
        self.batches, self.capacity, self.dist, self.steps = batches, capacity, dist, steps
        self.n_rows = n_rows
        # Rows of a full batch, when known: a source that visits its batches in a shuffled
        # order (a PyDataset) may start an epoch with its short last batch.
        self.batch_rows = batch_rows
        self.cursor = PassCursor()

    def chunks(self, rng=None, epoch=0, step=0, start_batch=0, limit=None, shuffle=False, resume=False):
        """The epoch as `Chunk`s (`engine.sources`' protocol, arguments as
        `DeviceSource.chunks`). Array sources are shuffled as the device path would shuffle
        them and continue a pass cut by `limit`; generators keep their own order."""
        if self.n_rows is None:
            chunks = self.host_chunks(limit=None if limit is None else limit - start_batch, skip=start_batch)
        else:
            pass_epoch, pass_step, first, stop = self.cursor.plan(self.steps, epoch, step, start_batch, limit, resume)
            order = epoch_order(rng, pass_epoch, pass_step, self.n_rows, True) if shuffle else None
            chunks = self.host_chunks(limit=stop - first, skip=first, order=order)
        for arrays, n, batch_size in chunks:
            rows = self.capacity * batch_size
            yield Chunk(arrays, plain_index(rows), rows, batch_size, 0, n, sized=False, row_valid=arrays[3])

    def host_chunks(self, limit=None, skip=0, order=None):
        """Yields `(device chunk, n batches, batch size)`; at most `limit` batches after `skip`.
        `order`: the epoch's row order (array sources only)."""

        def produce():
            builder = None
            pending = []
            taken = 0
            for i, batch in enumerate(self.batches() if order is None else self.batches(order)):
                if i < skip:
                    continue
                if builder is None:
                    builder = ChunkBuilder(max(len(batch[0][0]), self.batch_rows or 0), self.capacity)
                pending.append(batch)
                taken += 1
                if len(pending) == self.capacity:
                    arrays, n = builder.build(pending)
                    yield self.dist.place_batch(arrays), n, builder.batch_size
                    pending = []
                if limit is not None and taken >= limit:
                    break
            if pending:
                arrays, n = builder.build(pending)
                yield self.dist.place_batch(arrays), n, builder.batch_size

        prefetch = Prefetcher(produce)
        try:
            yield from prefetch
        finally:
            prefetch.close()


def array_stream(data, batch_size, capacity, dist, with_targets, n_outputs):
    """Host arrays too large for the device, streamed in batches of rows in `order` (the
    epoch's shuffled order from `fit`, the same one the device path would use) or in order."""

    def batches(order=None):
        for start in range(0, data.n, batch_size):
            rows = slice(start, start + batch_size) if order is None else order[start : start + batch_size]
            x = [a[rows] for a in data.x]
            if not with_targets:
                yield x, [], []
                continue
            y = [None if a is None else a[rows] for a in (data.y or [None] * n_outputs)]
            sw = [None if a is None else a[rows] for a in (data.sw or [None] * n_outputs)]
            yield x, y, sw

    return StreamSource(batches, capacity, dist, steps=-(-data.n // batch_size), n_rows=data.n)
