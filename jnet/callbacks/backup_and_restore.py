"""`BackupAndRestore`: resume an interrupted `fit` exactly where it stopped."""

from __future__ import annotations

import os
import shutil

from jnet.callbacks.base import Callback

_FILE = "backup.jnet"


class BackupAndRestore(Callback):
    """Back up the full training state so a killed run resumes where it stopped.

    Args:
        backup_dir: a folder for the backup (created; used by this callback only).
        save_freq: `"epoch"` (back up at every epoch end), an integer (every that many
            batches, checked after each compiled chunk), or False (never back up during training).
        delete_checkpoint: delete the backup when training finishes normally.
        double_checkpoint: also keep the previous backup, used if the latest cannot be read.

    The backup holds the whole train state: params, state, optimizer state, rng, step and the
    running metric accumulators, plus the (epoch, batch) reached. When `fit` starts and a
    backup exists, it is restored and `fit` continues at that epoch and batch. Shuffling and
    dropout derive from (seed, epoch) and (seed, step), so on CPU the resumed run ends
    bit-identical to one that was never interrupted. Each backup is written atomically.

    Example:
    ```python
    backup = jnet.callbacks.BackupAndRestore(backup_dir="/tmp/backup", save_freq=100)
    model.fit(x, y, epochs=10, callbacks=[backup])  # rerun the same line after a crash
    ```
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq != "epoch" and save_freq is not False and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(
                f"BackupAndRestore: invalid save_freq {save_freq!r}; expected 'epoch', False or a positive integer"
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, _FILE)
        self._prev_path = self._path + ".prev"
        self._current_epoch = 0
        self._batches_since = 0
        self._last_batch = None
        self._pending = None
        self._backup_at_epoch_end = False

    @property
    def wants_batch_logs(self) -> bool:
        periodic = isinstance(self.save_freq, int) and not isinstance(self.save_freq, bool)
        return periodic or getattr(self, "_pending", None) is not None

    # ------------------------------------------------------------------ restore

    def on_train_begin(self, logs=None):
        from jnet.utils.checkpoint import CheckpointError, fill_tree, read_checkpoint

        self._current_epoch, self._batches_since, self._last_batch = 0, 0, None
        self._pending = None
        self._backup_at_epoch_end = False
        candidates = [p for p in (self._path, self._prev_path) if os.path.exists(p)]
        errors = []
        for path in candidates:
            try:
                meta, entries, arrays = read_checkpoint(path)
                state = fill_tree(
                    self.model.get_train_state(),
                    entries,
                    arrays,
                    prefix="train_state/",
                    what="model's train state",
                    source=f"backup {path!r}",
                )
            except CheckpointError as err:
                errors.append(str(err))
                continue
            self.model.set_train_state(state)
            self.model.resume_at(int(meta["epoch"]), int(meta["batch"]))
            # Mid-epoch, the running metrics of the epoch's first batches are part of the state.
            self._pending = state if int(meta["batch"]) > 0 else None
            self._current_epoch = int(meta["epoch"])
            return
        if errors:
            raise CheckpointError(f"BackupAndRestore: no usable backup in {self.backup_dir!r}:\n" + "\n".join(errors))

    # ------------------------------------------------------------------ backup

    def _backup(self, epoch, batch):
        from jnet.utils.checkpoint import encode_tree, write_checkpoint

        entries, arrays = encode_tree(self.model.get_train_state(), prefix="train_state/")
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._prev_path)
        write_checkpoint(self._path, {"kind": "backup", "epoch": epoch, "batch": batch, "arrays": entries}, arrays)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        # The engine resets the running metrics when an epoch starts, also the resumed one; put
        # the backed-up ones back before the first step (nothing else has changed since).
        if self._pending is not None:
            self.model.set_train_state(self._pending)
            self._pending = None

    def on_train_batch_end(self, batch, logs=None):
        if not self.wants_batch_logs:
            return
        if self._last_batch is None or batch <= self._last_batch:
            seen = batch + 1
        else:
            seen = batch - self._last_batch
        self._last_batch = batch
        self._batches_since += seen
        if self._batches_since >= self.save_freq:
            self._batches_since = 0
            steps = (self.params or {}).get("steps")
            if steps is not None and batch + 1 >= steps:
                # The epoch's last batch: back up after its end (validation, epoch callbacks)
                # instead, so the resumed run starts cleanly at the next epoch.
                self._backup_at_epoch_end = True
            else:
                # Resume at the batch after this one, in this epoch.
                self._backup(self._current_epoch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._last_batch = None
        self._pending = None
        if self.save_freq == "epoch" or self._backup_at_epoch_end:
            self._backup_at_epoch_end = False
            self._backup(epoch + 1, 0)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            for path in (self._path, self._prev_path):
                if os.path.exists(path):
                    os.remove(path)
            if not os.listdir(self.backup_dir):
                shutil.rmtree(self.backup_dir, ignore_errors=True)
