"""`ModelCheckpoint`: save the model (or its weights) during training."""

from __future__ import annotations

import os
import warnings

from jnet.callbacks.monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Save the model or its weights every epoch, every `save_freq` batches, or when best.

    Args:
        filepath: where to save; may hold format fields filled from the epoch (from 1), the
            batch (from 1, with an integer `save_freq`) and the logs, e.g.
            `"ckpt-{epoch:02d}-{val_loss:.2f}.keras"`. The suffix picks the format as in
            `model.save` / `save_weights` (`.keras`, `.weights.h5`, `.h5`: Keras's; any other
            name: a jnet checkpoint).
        monitor: the log key compared when `save_best_only` (default `"val_loss"`).
        verbose: 1 prints a line for every save decision.
        save_best_only: save only when `monitor` improves (with a fixed `filepath` this keeps
            the best model; with format fields, one file per improvement).
        save_weights_only: `model.save_weights` instead of `model.save`.
        mode: `"auto"`, `"min"` or `"max"` for `monitor`.
        save_freq: `"epoch"`, or an integer number of batches between saves (counted across
            epochs; with an integer the engine calls the batch hooks after every batch, or
            every `steps_per_execution` batches when that is an integer).
        initial_value_threshold: the value `monitor` must beat for the first save.
        max_to_keep: (jnet addition) keep only the newest this many files written by this
            callback, deleting older ones; None keeps all.

    Each save is atomic: a crash during a save leaves the previous file intact.

    Example:
    ```python
    ckpt = jnet.callbacks.ModelCheckpoint("ckpt/best.keras", monitor="val_loss", save_best_only=True)
    ```
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
        max_to_keep=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(
                f"ModelCheckpoint: unrecognized save_freq {save_freq!r}; expected 'epoch' or a positive integer"
            )
        if max_to_keep is not None and max_to_keep < 1:
            raise ValueError(f"ModelCheckpoint: max_to_keep must be >= 1 or None, got {max_to_keep}")
        self.save_freq = save_freq
        self.max_to_keep = max_to_keep
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._written = []

    @property
    def wants_batch_logs(self) -> bool:
        return self.save_freq != "epoch"

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        # With steps_per_execution the hook sees the last batch of each chunk: count the gap.
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            seen = batch + 1
        else:
            seen = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _file_path(self, epoch, batch, logs):
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in (logs or {}):
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError) as err:
            raise KeyError(
                f'ModelCheckpoint: failed to format filepath "{self.filepath}": {err} is not among '
                f"the available fields {sorted(fields)}"
            ) from None

    def _should_save(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        current = float(current)
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs):
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is an existing directory; give a file path"
            )
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if filepath in self._written:
            self._written.remove(filepath)
        self._written.append(filepath)
        if self.max_to_keep is not None:
            while len(self._written) > self.max_to_keep:
                old = self._written.pop(0)
                if os.path.exists(old):
                    os.remove(old)
