"""`Dataset`: the re-iterable batch source that jnet's dataset utilities return.

Keras's `*_dataset_from_*` functions return `tf.data.Dataset`s; jnet has no TensorFlow, so
they return a `Dataset`: a plain Python object that yields NumPy batches, `x` or `(x, y)`,
each time it is iterated. `model.fit`, `evaluate` and `predict` take it directly (it is an
iterable of batches, re-iterated every epoch), and it can be re-batched or split.

Samples are read lazily (`take_rows(indices)` reads only the rows of one batch), so a folder
of images is never loaded whole. The `tf.data` methods Keras examples chain on such a dataset
exist with the same meaning: `map` (a function on each element, as it is read), `take` (the
first elements), `cache` (the first full pass is kept and replayed), `cardinality` (the number
of elements) and `prefetch` (accepted; batches are read when the loop asks for them).
"""

from __future__ import annotations

import math

import numpy as np


def _rows(structure, idx):
    if isinstance(structure, tuple):
        return tuple(_rows(s, idx) for s in structure)
    if isinstance(structure, dict):
        return {k: _rows(v, idx) for k, v in structure.items()}
    return structure[idx]


def _first_len(structure):
    if isinstance(structure, tuple):
        return _first_len(structure[0])
    if isinstance(structure, dict):
        return _first_len(next(iter(structure.values())))
    return len(structure)


def _lengths(structure, out):
    if isinstance(structure, tuple):
        for s in structure:
            _lengths(s, out)
    elif isinstance(structure, dict):
        for s in structure.values():
            _lengths(s, out)
    else:
        out.append(len(structure))
    return out


class Dataset:
    """A re-iterable source of NumPy batches (or single samples when `batch_size` is None).

    Args:
        take_rows: function `indices (int array) -> sample structure` with a leading batch axis:
            an array, a tuple `(x, y)` / `(x, y, sample_weight)`, or a dict.
        num_samples: number of samples.
        batch_size: rows per batch (the last one may be smaller); `None` yields single samples.
        shuffle: visit the samples in a new random order on every iteration (every epoch).
        seed: seed of that order (the sequence of epoch orders is reproducible).

    Each iteration yields batches in the structure `take_rows` returns. Attributes such as
    `class_names` and `file_paths` are set by the functions that build it.

    Example:
    ```python
    ds = jnet.utils.Dataset.from_arrays((x, y), batch_size=32, shuffle=True, seed=0)
    model.fit(ds, epochs=3)
    ```
    """

    def __init__(self, take_rows, num_samples, batch_size=None, shuffle=False, seed=None):
        if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1):
            raise ValueError(f"Dataset: batch_size must be a positive int or None, got {batch_size!r}")
        self._take_rows = take_rows
        self.num_samples = int(num_samples)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self._rng = np.random.RandomState(seed if seed is not None else np.random.randint(1_000_000))
        self._maps = ()  # functions `map` added, applied in order to each element as it is read
        self._count = None  # `take`'s limit on elements per iteration

    @classmethod
    def from_arrays(cls, arrays, batch_size=None, shuffle=False, seed=None):
        """A dataset over in-memory arrays: one array, a tuple `(x, y[, sample_weight])` or a dict,
        all with the same number of rows."""
        if isinstance(arrays, list):
            arrays = tuple(arrays)
        arrays = _as_arrays(arrays)
        lengths = _lengths(arrays, [])
        if not lengths or len(set(lengths)) != 1:
            raise ValueError(f"Dataset.from_arrays: all arrays need the same number of rows, got {lengths}")
        return cls(lambda idx: _rows(arrays, idx), lengths[0], batch_size, shuffle, seed)

    def __len__(self):
        """Batches per iteration (samples when `batch_size` is None)."""
        if self.batch_size is None:
            n = self.num_samples
        else:
            n = math.ceil(self.num_samples / self.batch_size)
        return n if self._count is None else min(n, self._count)

    @property
    def num_batches(self):
        return len(self)

    def _order(self):
        if self.shuffle:
            return self._rng.permutation(self.num_samples)
        return np.arange(self.num_samples)

    def __iter__(self):
        order = self._order()
        for _ in range(len(self)):
            if self.batch_size is None:
                element, order = _rows(self._take_rows(order[:1]), 0), order[1:]
            else:
                element, order = self._take_rows(order[: self.batch_size]), order[self.batch_size :]
            yield self._mapped(element)

    def _mapped(self, element):
        for fn in self._maps:
            # tf.data's rule: a tuple element is passed as separate arguments.
            element = fn(*element) if isinstance(element, tuple) else fn(element)
        return element

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """A dataset whose elements are `map_func(element)` (`map_func(*element)` for a tuple
        element such as `(x, y)`), computed as each element is read, every iteration.

        Args:
            map_func: function of one element (a batch when the dataset is batched).
            num_parallel_calls: accepted for `tf.data` compatibility; elements are mapped in order
                on the calling thread.
            deterministic: accepted for `tf.data` compatibility (the order is always kept).
            name: unused.

        Returns:
            A new `Dataset`.

        Example:
        ```python
        train_ds = train_ds.map(lambda img, label: (augment(img), label))
        ```
        """
        del num_parallel_calls, deterministic, name
        if not callable(map_func):
            raise TypeError(f"Dataset.map: map_func must be callable, got {type(map_func).__name__}")
        out = self._with()
        out._maps = self._maps + (map_func,)
        return out

    def take(self, count, name=None):
        """A dataset of at most the first `count` elements (batches when batched) of each
        iteration (tf.data's `take`); `count=-1` keeps them all.

        Example:
        ```python
        for inputs, targets in dataset.take(1):
            print(inputs.shape)
        ```
        """
        del name
        if isinstance(count, bool) or int(count) != count or count < -1:
            raise ValueError(f"Dataset.take: count must be an int >= -1, got {count!r}")
        out = self._with()
        if count != -1:
            out._count = int(count) if self._count is None else min(self._count, int(count))
        return out

    def prefetch(self, buffer_size=None, name=None):
        """The same dataset (`tf.data` compatibility): batches are read when the training loop
        asks for them, so there is nothing to prefetch."""
        del buffer_size, name
        return self._with()

    def cache(self, filename="", name=None):
        """A dataset that keeps the elements of its first complete iteration in memory and
        replays them on later iterations (tf.data's `cache`): file reads and `map` functions
        before it run once, and a shuffled order is frozen at the first pass's, as in tf.data.
        Functions `map`ped after it still run on every iteration.

        Args:
            filename: `""` (memory). jnet keeps every cache in memory; a path is accepted
                for `tf.data` compatibility and nothing is written there.
            name: unused.

        Returns:
            A new `Dataset`.

        Example:
        ```python
        train_ds = raw_train_ds.map(vectorize_text).cache().prefetch(buffer_size=10)
        ```
        """
        del name
        if not isinstance(filename, str):
            raise TypeError(f"Dataset.cache: filename must be a string, got {type(filename).__name__}")
        return _CachedDataset(self)

    def cardinality(self):
        """The number of elements (batches when batched) one iteration yields, as tf.data's
        `cardinality()` (a NumPy int64 here, not a tensor)."""
        return np.int64(len(self))

    def as_numpy_iterator(self):
        """An iterator over the batches (the `tf.data` spelling)."""
        return iter(self)

    def batch(self, batch_size):
        """The same samples in batches of `batch_size` (a new dataset)."""
        self._check_rebatch("batch")
        return self._with(batch_size=batch_size)

    def unbatch(self):
        """The same samples, one at a time (a new dataset)."""
        self._check_rebatch("unbatch")
        return self._with(batch_size=None)

    def _check_rebatch(self, what):
        if self._maps or self._count is not None:
            raise ValueError(
                f"Dataset.{what}: this dataset has map() or take() applied to its current elements; "
                f"call {what}() before map()/take() (re-batching their results is not supported)"
            )

    def _with(self, **changes):
        args = dict(batch_size=self.batch_size, shuffle=self.shuffle, seed=self.seed)
        args.update(changes)
        out = Dataset(self._take_rows, self.num_samples, **args)
        out._maps, out._count = self._maps, self._count
        out.__dict__.update(
            {
                k: v
                for k, v in self.__dict__.items()
                if not k.startswith("_") and k not in ("num_samples", "batch_size", "shuffle", "seed")
            }
        )
        return out

    def take_samples(self, indices):
        """The samples at `indices` (in that order) as one batch structure (before `map`)."""
        return self._take_rows(np.asarray(indices, dtype=np.int64))

    def __repr__(self):
        return f"<jnet Dataset: {self.num_samples} samples, batch_size={self.batch_size}, shuffle={self.shuffle}>"


_END = object()


class _CachedDataset(Dataset):
    """`Dataset.cache()`: the source's elements, read once (the first complete pass) and then
    replayed; `map` / `take` applied after the cache act on the replayed elements."""

    def __init__(self, source, store=None):
        super().__init__(source.take_samples, source.num_samples, source.batch_size, False, source.seed)
        self._source = source
        self._store = store if store is not None else {"elements": None}
        self.__dict__.update(
            {k: v for k, v in source.__dict__.items() if not k.startswith("_") and k not in self.__dict__}
        )

    def __len__(self):
        n = len(self._source)
        return n if self._count is None else min(n, self._count)

    def __iter__(self):
        cached = self._store["elements"]
        if cached is not None:
            for element in cached[: len(self)]:
                yield self._mapped(element)
            return
        # Stored only when a pass reads the whole source (tf.data drops a partial cache too).
        elements = []
        source = iter(self._source)
        while self._count is None or len(elements) < self._count:
            element = next(source, _END)
            if element is _END:
                self._store["elements"] = elements
                return
            elements.append(element)
            yield self._mapped(element)

    def _with(self, **changes):
        if changes.get("batch_size", self.batch_size) != self.batch_size:
            raise ValueError("Dataset: re-batching a cached dataset is not supported; call batch() before cache()")
        out = _CachedDataset(self._source, self._store)
        out._maps, out._count = self._maps, self._count
        return out

    def take_samples(self, indices):
        return self._source.take_samples(indices)


def _as_arrays(structure):
    if isinstance(structure, tuple):
        return tuple(_as_arrays(s) for s in structure)
    if isinstance(structure, dict):
        return {k: _as_arrays(v) for k, v in structure.items()}
    return np.asarray(structure)
