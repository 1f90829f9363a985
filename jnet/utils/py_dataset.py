"""`PyDataset` (alias `Sequence`): a Python batch source indexed by batch number, for `fit`.

Subclass it, give `__len__` (or `num_batches`) and `__getitem__(index) -> batch`, and pass an
instance to `model.fit` / `evaluate` / `predict`. `fit` visits the batches in a new random order
each epoch when `shuffle=True` (Keras's default: Python's `random`, so `set_random_seed` fixes
it), and calls `on_epoch_begin` / `on_epoch_end` around every epoch.

Parallel loading (a documented subset of Keras): `workers > 1` reads up to `max_queue_size`
batches ahead on a pool of `workers` threads, in order. `use_multiprocessing=True` is accepted
and also runs on threads (a warning says so): the batches and their order are the same, only
the GIL is not sidestepped. Batch loading in NumPy/Pillow mostly releases the GIL.
"""

from __future__ import annotations

import random
import warnings
from concurrent.futures import ThreadPoolExecutor


class PyDataset:
    """Base class for datasets that produce batches by index.

    Args:
        workers: threads that load batches ahead of training (1: load in the training thread's
            producer, no pool).
        use_multiprocessing: accepted for Keras compatibility; jnet uses threads (see module doc).
        max_queue_size: how many batches may be loaded ahead when `workers > 1`.

    Subclasses implement `__getitem__(index)` returning `x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)` NumPy batches, and `__len__` (or the `num_batches` property;
    `None` means endless). Call `super().__init__(**kwargs)` in your `__init__`.

    Example:
    ```python
    class Batches(jnet.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, i):
            rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return self.x[rows], self.y[rows]

    model.fit(Batches(x, y, 32, workers=4), epochs=3)
    ```
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _settings(self):
        # Subclasses that forget `super().__init__()` still work, as in Keras.
        return (
            getattr(self, "_workers", 1),
            getattr(self, "_use_multiprocessing", False),
            getattr(self, "_max_queue_size", 10),
        )

    @property
    def workers(self):
        return self._settings()[0]

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        return self._settings()[1]

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        return self._settings()[2]

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} must implement __getitem__(index) -> batch")

    @property
    def num_batches(self):
        """Number of batches per epoch (`len(self)`), or `None` for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise TypeError(f"{type(self).__name__} must implement __len__ or the num_batches property")

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch (e.g. to reshuffle the samples)."""

    def __iter__(self):
        """The batches in order, once (no epoch hooks: `fit` drives those)."""
        n = self.num_batches
        i = 0
        while n is None or i < n:
            yield self[i]
            i += 1


Sequence = PyDataset


def standardize_batch(batch):
    """A batch from `__getitem__` as `fit` reads it: lists become tuples, as in Keras."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple) and len(batch) not in (1, 2, 3):
        raise ValueError(
            f"PyDataset.__getitem__ must return x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(batch)}"
        )
    return batch


class PyDatasetEpochs:
    """What `fit` iterates for a `PyDataset`: each iteration is one epoch, with the epoch hooks,
    the batch order (shuffled or not) and the optional read-ahead thread pool."""

    def __init__(self, dataset: PyDataset, shuffle=False):
        self.dataset = dataset
        self.num_batches = dataset.num_batches
        self.shuffle = bool(shuffle) and self.num_batches is not None
        if shuffle and self.num_batches is None:
            warnings.warn(
                "shuffle=True is ignored for an endless PyDataset (num_batches is None); it should shuffle itself",
                stacklevel=3,
            )
        workers, multi, _ = dataset._settings()
        if multi and workers > 0:
            warnings.warn(
                "PyDataset: use_multiprocessing=True runs the workers as threads in jnet (same batches, same order)",
                stacklevel=3,
            )

    def first(self):
        """The first batch, for building the model; no epoch hooks run."""
        if self.num_batches == 0:
            raise ValueError(f"{type(self.dataset).__name__} has no batches (len 0)")
        return standardize_batch(self.dataset[0])

    def _indices(self):
        if self.num_batches is None:
            i = 0
            while True:
                yield i
                i += 1
        order = list(range(self.num_batches))
        if self.shuffle:
            random.shuffle(order)
        yield from order

    def __iter__(self):
        ds = self.dataset
        workers, _, queue_size = ds._settings()
        ds.on_epoch_begin()
        try:
            if workers <= 1:
                for i in self._indices():
                    yield standardize_batch(ds[i])
                return
            with ThreadPoolExecutor(max_workers=workers) as pool:
                pending = []
                for i in self._indices():
                    pending.append(pool.submit(ds.__getitem__, i))
                    if len(pending) >= max(queue_size, 1):
                        yield standardize_batch(pending.pop(0).result())
                while pending:
                    yield standardize_batch(pending.pop(0).result())
        finally:
            # Also when `fit` stops the epoch early (steps_per_epoch): the generator is closed
            # before the next epoch's iteration starts.
            ds.on_epoch_end()
