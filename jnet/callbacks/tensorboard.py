"""`TensorBoard`: scalars, weight histograms and the model summary for TensorBoard.

Written through tensorboardX, so no TensorFlow is needed. The layout follows Keras: `log_dir/train`
and `log_dir/validation` runs, scalars `epoch_<metric>` (validation keys lose their `val_`
prefix and go to the validation run), `batch_<metric>` at the global batch step, and
`<layer>/<weight>/histogram`.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from jnet.callbacks.base import Callback
from jnet.utils.tree import path_str


class TensorBoard(Callback):
    """Log training for TensorBoard (`tensorboard --logdir <log_dir>`).

    Args:
        log_dir: the root folder; runs go to `log_dir/train` and `log_dir/validation`.
        histogram_freq: write a histogram of every weight every this many epochs (0: never).
        write_graph: accepted for Keras compatibility; jnet writes the model summary as text
            (tag `model_summary`) instead of a graph.
        write_images: also write 2-D weights (and conv kernels reshaped to 2-D) as images.
        write_steps_per_second: log `steps_per_second` every epoch.
        update_freq: `"epoch"` (scalars per epoch), `"batch"` (also per batch) or an integer N
            (also every N batches). Per-batch values are read after each compiled chunk.
        profile_batch, embeddings_freq, embeddings_metadata: must be left off (use
            `jax.profiler` for traces); a non-zero value is an error rather than ignored.

    Example:
    ```python
    tensorboard_callback = jnet.callbacks.TensorBoard("./logs", histogram_freq=1)
    model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[tensorboard_callback])
    ```
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        if profile_batch:
            raise ValueError(
                "TensorBoard: profile_batch is not supported by jnet; use jax.profiler.trace(log_dir) around fit"
            )
        if embeddings_freq or embeddings_metadata:
            raise ValueError(
                "TensorBoard: embeddings_freq / embeddings_metadata (the projector) are not supported by jnet"
            )
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(
                f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, got {update_freq!r}"
            )
        if histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be >= 0, got {histogram_freq}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._last_batch = None
        self._epoch_start = None
        self._epoch_batches = 0

    @property
    def wants_batch_logs(self) -> bool:
        return self.update_freq != "epoch" or self.write_steps_per_second

    def _writer(self, run):
        if run not in self._writers:
            from tensorboardX import SummaryWriter

            self._writers[run] = SummaryWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._last_batch = None
        self._write_summary_text()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self._last_batch = None
        self._epoch_start = time.perf_counter()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        # With an integer steps_per_execution the hooks come once per execution: advance by
        # the batches it covered.
        seen = batch + 1 if self._last_batch is None or batch <= self._last_batch else batch - self._last_batch
        self._last_batch = batch
        before = self._global_train_batch
        self._global_train_batch += seen
        self._epoch_batches += seen
        if self.update_freq == "epoch" or not logs:
            return
        if self._global_train_batch // self.update_freq > before // self.update_freq:
            writer = self._writer("train")
            for name, value in logs.items():
                if np.ndim(value) == 0:
                    writer.add_scalar(f"batch_{name}", float(value), self._global_train_batch)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        lr = self._learning_rate()
        if lr is not None:
            train.setdefault("learning_rate", lr)
        if self.write_steps_per_second and self._epoch_start is not None:
            import time

            elapsed = time.perf_counter() - self._epoch_start
            if elapsed > 0 and self._epoch_batches:
                train["steps_per_second"] = self._epoch_batches / elapsed
        for run, values in (("train", train), ("validation", val)):
            if not values:
                continue
            writer = self._writer(run)
            for name, value in values.items():
                if np.ndim(value) == 0:
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
            writer.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    # ------------------------------------------------------------------ content

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        try:
            return float(optimizer.learning_rate) if optimizer is not None else None
        except (AttributeError, TypeError, ValueError):
            return None

    def _write_summary_text(self):
        lines = []
        try:
            self.model.summary(print_fn=lines.append)
        except Exception:  # an unbuilt (deferred) model has no summary yet
            return
        # Indented lines render as a code block in TensorBoard's markdown text view.
        self._writer("train").add_text("model_summary", "\n".join("    " + l for l in lines), 0)

    def _log_weights(self, epoch):
        writer = self._writer("train")
        variables = self.model.current_variables()  # live arrays: read now, before the next step
        for part in ("params", "state"):
            for path, leaf in jax.tree_util.tree_flatten_with_path(variables.get(part, {}))[0]:
                name = path_str(path)
                values = np.asarray(jax.device_get(leaf), dtype=np.float64)
                writer.add_histogram(f"{name}/histogram", values, epoch)
                if self.write_images and values.ndim >= 2:
                    img = values.reshape(-1, values.shape[-1])
                    span = img.max() - img.min()
                    img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
                    writer.add_image(f"{name}/image", img[None], epoch, dataformats="CHW")
        writer.flush()
