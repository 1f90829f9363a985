"""`DataMixin`: how `fit` / `evaluate` / `predict` turn the user's data into an engine source.

Arrays that fit on the device become a `DeviceSource` (placed once, batches gathered inside the
compiled step); bigger arrays and generators / `PyDataset`s become a host-fed `StreamSource`.
String inputs pass the model's host stage first; a deferred model is built from the first batch.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np

from jnet.engine import data as D
from jnet.engine import distribute
from jnet.engine.sources import DeviceSource
from jnet.engine.stream import StreamSource, array_stream

# Data sets up to this size are placed on the device once; larger ones stream from the host.
DEVICE_DATA_BYTES = 1 << 30
STREAM_CAPACITY = 16  # batches per streamed chunk when steps_per_execution is "auto"


class DataMixin:
    """The data half of `TrainingMixin` (see `jnet.models.training`)."""

    def _host_inputs(self, x):
        """Raw text through the model's leading string layers, on the host (see
        `jnet.layers.preprocessing.host`); other inputs unchanged."""
        from jnet.layers.preprocessing.host import run_host_stage

        if D.is_stream(x):  # a generator / Dataset: `_stream` runs each batch through as it is read
            return x
        return run_host_stage(self, x)

    def _ensure_built_from(self, x):
        if self.built or D.is_stream(x):
            return
        if self._is_subclassed() and self._graph is None and _several_arrays(x):
            # A subclassed model's `call` gets the structure it is given (a dict, a list).
            self._ensure_graph((jax.tree_util.tree_map(_first_row, x),))
            return
        first = x
        if isinstance(x, dict):
            first = next(iter(x.values()))
        elif isinstance(x, (list, tuple)) and not D.is_array(x) and len(x) == 1:
            first = x[0]
        arr = np.asarray(first[:1])
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        self._ensure_graph((arr,))

    def _arrays(self, x, y, sample_weight, class_weight, where, check_nan):
        self._ensure_built_from(x)
        return D.from_arrays(
            self, self.output_names, x, y, sample_weight, class_weight, where, check_nan, self._outputs_with_loss()
        )

    def _outputs_with_loss(self):
        """Per output, whether compile() gave it a loss (None before compile or with no loss)."""
        from jnet.engine.compile_args import is_metric_leaf, per_output

        args = getattr(self, "_compile_args", None)
        if not args or args.get("loss") is None:
            return None
        try:
            losses = per_output(args["loss"], self.output_names, "loss", is_leaf=is_metric_leaf)
        except (TypeError, ValueError):
            return None
        return [loss is not None for loss in losses]

    def _check_targets(self, data, where):
        """Each output's y must fit its loss: say which loss wants which shape."""
        if data.y is None:  # only a custom train_step trains without targets
            self._get_trainer()
            return
        trainer = self._get_trainer([None if a is None else a.shape for a in data.y])
        out_shapes, out_dtypes = self._output_shapes()
        for o, y, shape, dtype in zip(trainer.plan_factory(None).outputs, data.y, out_shapes, out_dtypes):
            if o.loss is None:
                continue
            if y is None:
                raise ValueError(f"{where}: output '{o.name}' has a loss ({o.loss.name}) but no y was given for it")
            pred = jax.ShapeDtypeStruct(
                (len(y),)
                + tuple(y.shape[1 + i] if d is None and 1 + i < y.ndim else (d or 1) for i, d in enumerate(shape[1:])),
                dtype,
            )
            true = jax.ShapeDtypeStruct(y.shape, y.dtype)
            try:
                jax.eval_shape(o.loss, true, pred)
            except Exception as e:  # noqa: BLE001 - re-raised with the output and shapes named
                raise ValueError(
                    f"{where}: y for output '{o.name}' has shape {y.shape}, which does not fit loss "
                    f"'{o.loss.name}' on the model output of shape {shape}: {e}"
                ) from None

    def _source(self, data, batch_size, n_outputs, with_targets=True):
        dist = distribute.current()
        if batch_size % dist.batch_multiple:
            raise ValueError(
                f"batch_size {batch_size} must be a multiple of {dist.batch_multiple} "
                "(the number of data-parallel devices)"
            )
        if data.nbytes <= DEVICE_DATA_BYTES:
            return DeviceSource(data, n_outputs, batch_size, dist, with_targets)
        # Too big for the device: stream host slices, in the same order the device path uses.
        return array_stream(data, batch_size, self._stream_capacity(), dist, with_targets, n_outputs)

    def _stream_capacity(self):
        spe = self._compile_args["steps_per_execution"] if self._compile_args else "auto"
        return STREAM_CAPACITY if spe == "auto" else spe

    def _peek_stream(self, iterable, where, with_targets=True):
        """Look at the first batch on this thread: build a deferred model from it and resolve
        losses/metrics from its target shapes (e.g. "accuracy" on sparse labels). Returns the
        iterable with that batch still in it."""
        if isinstance(iterable, D.PyDatasetEpochs):
            first = iterable.first()  # batch 0 by index: no epoch hooks, no batch consumed
        elif hasattr(iterable, "__next__"):
            try:
                first = next(iterable)
            except StopIteration:
                raise ValueError(f"{where}: the data generator yielded no batches") from None
            iterable = itertools.chain([first], iterable)
        else:
            first = next(iter(iterable), None)
            if first is None:
                raise ValueError(f"{where}: the data iterable yielded no batches")
        x, y, sw = D.unpack_batch(first)
        x = self._host_inputs(x)
        self._ensure_built_from(x)
        if with_targets and self.compiled:
            if y is None:
                raise ValueError(f"{where}: the data batches must be (x, y) or (x, y, sample_weight) tuples")
            data = D.from_arrays(self, self.output_names, x, y, sw, None, where, with_loss=self._outputs_with_loss())
            self._check_targets(data, where)
        return iterable, D.batch_rows(x)

    def _stream(self, iterable, class_weight=None, with_targets=True, where="fit", shuffle=False):
        iterable = D.epoch_iterable(iterable, shuffle)
        iterable, first_rows = self._peek_stream(iterable, where, with_targets)
        state = {"it": None}

        with_loss = self._outputs_with_loss()

        def batches():
            if state["it"] is None or not hasattr(iterable, "__next__"):
                state["it"] = iter(iterable)
            for batch in state["it"]:
                x, y, sw = D.unpack_batch(batch)
                x = self._host_inputs(x)
                self._ensure_built_from(x)
                out_names = self.output_names
                d = D.from_arrays(
                    self,
                    out_names,
                    x,
                    y if with_targets else None,
                    sw if with_targets else None,
                    class_weight if with_targets else None,
                    "batch",
                    with_loss=with_loss,
                )
                if with_targets:
                    yield (
                        d.x,
                        d.y if d.y is not None else [None] * len(out_names),
                        d.sw if d.sw is not None else [None] * len(out_names),
                    )
                else:
                    yield d.x, [], []

        return StreamSource(
            batches,
            self._stream_capacity(),
            distribute.current(),
            steps=getattr(iterable, "num_batches", None),
            batch_rows=first_rows,
        )

    def _validation_source(self, validation_data, batch_size, check_nan):
        if D.is_stream(validation_data):
            return self._stream(validation_data, where="fit (validation_data)")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "fit: validation_data must be (x_val, y_val), (x_val, y_val, sample_weight) or a "
                f"generator; got {type(validation_data).__name__}"
            )
        vx, vy, vsw = (list(validation_data) + [None])[:3]
        data = self._arrays(vx, vy, vsw, None, "fit (validation_data)", check_nan)
        self._check_targets(data, "fit (validation_data)")
        return self._source(data, batch_size, len(self.output_names))


def _several_arrays(x) -> bool:
    """A dict of arrays, or a list/tuple of two or more arrays (not one nested-list array)."""
    if isinstance(x, dict):
        return len(x) > 0
    return isinstance(x, (list, tuple)) and len(x) > 1 and all(hasattr(v, "shape") for v in x)


def _first_row(a):
    arr = np.asarray(a[:1])
    return arr.astype(np.float32) if arr.dtype == np.float64 else arr
