"""`OrbaxCheckpoint`: Keras 3.12's step-numbered checkpoints of the model during training."""

from __future__ import annotations

import concurrent.futures
import os
import warnings

from jnet.callbacks.monitor import MonitorCallback


class OrbaxCheckpoint(MonitorCallback):
    """Save the model (or its weights) under `directory/<step>`, as Keras's `OrbaxCheckpoint`.

    Each checkpoint is a jnet checkpoint (an orbax checkpoint of the arrays and a JSON
    manifest, written atomically), named by its step: the epoch index (from 0) with
    `save_freq="epoch"`, else the number of batches trained so far (counted from the
    optimizer's iterations when training resumes). `jnet.models.load_model(directory)` and
    `model.load_weights(directory)` read the newest one; give `directory/<step>` for another.
    (Keras's own files need orbax's v1 API; jnet writes its own checkpoint format.)

    Args:
        directory: the folder of the checkpoints (created if missing).
        monitor: the log key compared when `save_best_only` (default `"val_loss"`).
        verbose: 1 prints a line for every save.
        save_best_only: save only when `monitor` improves; a missing `monitor` skips the save
            with a warning.
        mode: `"auto"`, `"min"` or `"max"` for `monitor`.
        save_freq: `"epoch"`, or a positive number of batches between saves.
        initial_value_threshold: the value `monitor` must beat for the first save.
        max_to_keep: keep only the newest this many step checkpoints in `directory` (default
            1); None keeps all.
        save_on_background: write in a background thread (the arrays are copied to the host
            first, so training goes on meanwhile); `on_train_end` waits for the writes.
        save_weights_only: store the variables only (then load them with `load_weights`).

    Example:

    ```python
    ckpt = jnet.callbacks.OrbaxCheckpoint("ckpt", monitor="val_accuracy", mode="max", save_best_only=True)
    model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[ckpt])
    best = jnet.models.load_model("ckpt")
    ```
    """

    def __init__(
        self,
        directory,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
        max_to_keep=1,
        save_on_background=True,
        save_weights_only=False,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                f"OrbaxCheckpoint: unrecognized save_freq {save_freq!r}; expected 'epoch' or a positive integer"
            )
        if max_to_keep is not None and (isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int)):
            raise ValueError(f"OrbaxCheckpoint: max_to_keep must be a positive integer or None, got {max_to_keep!r}")
        if max_to_keep is not None and max_to_keep < 1:
            raise ValueError(f"OrbaxCheckpoint: max_to_keep must be >= 1 or None, got {max_to_keep}")
        self.directory = os.fspath(directory)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_freq = save_freq
        self.max_to_keep = max_to_keep
        self.save_on_background = save_on_background
        self.save_weights_only = save_weights_only
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._total_batches_seen = 0
        self._executor = None
        self._pending = []

    @property
    def wants_batch_logs(self) -> bool:
        return self.save_freq != "epoch"

    def set_model(self, model):
        super().set_model(model)
        iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
        if iterations is not None:
            self._total_batches_seen = int(iterations)  # a resumed model keeps counting

    def is_multihost_enabled(self) -> bool:
        """Whether training spans several JAX processes."""
        import jax

        return jax.process_count() > 1

    def is_primary_host(self) -> bool:
        """Whether this process is the one that logs (always True on one host)."""
        import jax

        return jax.process_index() == 0

    # ------------------------------------------------------------------ when

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        # With steps_per_execution the hook sees the last batch of each chunk: count the gap.
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            seen = batch + 1
        else:
            seen = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += seen
        self._last_batch_seen = batch
        self._total_batches_seen += seen
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _improved(self, logs, where) -> bool:
        if not self.save_best_only:
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available, skipping save at {where}.", stacklevel=3
            )
            return False
        if not self._is_improvement(float(current), self.best):
            return False
        self.best = float(current)
        return True

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch) and self._improved(logs, f"batch {batch}"):
            self._save_checkpoint(self._total_batches_seen)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch" and self._improved(logs, f"epoch {epoch}"):
            self._save_checkpoint(epoch)

    def on_train_end(self, logs=None):
        self.wait_until_finished()

    # ------------------------------------------------------------------ how

    def _save_checkpoint(self, step):
        from jnet.models.saving import checkpoint_payload

        # The arrays are host copies taken now; only the file writing may run in the background.
        meta, arrays = checkpoint_payload(self.model, weights_only=self.save_weights_only)
        path = os.path.join(self.directory, str(step))
        if self.verbose > 0:
            print(f"\nOrbaxCheckpoint: saving {'weights' if self.save_weights_only else 'model'} to {path}")
        if not self.save_on_background:
            self._write(path, meta, arrays)
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="jnet-orbax")
        self._pending.append(self._executor.submit(self._write, path, meta, arrays))

    def _write(self, path, meta, arrays):
        from jnet.utils.checkpoint import step_checkpoints, write_checkpoint

        write_checkpoint(path, meta, arrays)
        if self.max_to_keep is not None:
            for _, old in step_checkpoints(self.directory)[: -self.max_to_keep]:
                if os.path.isfile(old):
                    os.remove(old)

    def wait_until_finished(self):
        """Block until every background save has been written (raising the first failure)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
