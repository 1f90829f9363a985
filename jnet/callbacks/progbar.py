"""`ProgbarLogger`: Keras's progress output on tqdm (a widget in notebooks, text elsewhere).

`verbose=1` draws a bar per epoch that advances once per compiled chunk and shows the running
metrics; `verbose=2` prints one line per epoch. `fit` adds it automatically when `verbose` is
not 0 (`"auto"` means 1, as in Keras).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from jnet.callbacks.base import Callback


def _fmt(logs: dict) -> str:
    parts = []
    for k, v in (logs or {}).items():
        if np.ndim(v) == 0:
            parts.append(f"{k}: {float(v):.4f}")
        else:
            parts.append(f"{k}: {np.array2string(np.asarray(v), precision=4)}")
    return " - ".join(parts)


class ProgbarLogger(Callback):
    """Prints progress and metrics.

    Args:
        verbose: 1 (a progress bar, the default) or 2 (one line per epoch).
        file: where to write (default `sys.stderr` for bars, `sys.stdout` for lines).
    """

    def __init__(self, verbose=1, file=None):
        super().__init__()
        if verbose == "auto":
            verbose = 1
        if verbose not in (1, 2):
            raise ValueError(f"ProgbarLogger: verbose must be 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.file = file
        self._bar = None
        self._epochs = 1
        self._t0 = 0.0
        self._in_fit = False

    @property
    def wants_batch_logs(self) -> bool:
        # A bar that moves once per compiled chunk is enough: never ask for single steps.
        return False

    def _new_bar(self, total, desc):
        from tqdm.auto import tqdm

        self._close()
        self._bar = tqdm(
            total=total, desc=desc, unit="step", file=self.file or sys.stderr, leave=True, dynamic_ncols=True
        )

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _advance(self, batch, logs):
        if self._bar is None:
            return
        done = batch + 1
        if self._bar.total is not None and done > self._bar.total:
            self._bar.total = done
        self._bar.update(done - self._bar.n)
        if logs:
            self._bar.set_postfix_str(_fmt({k: v for k, v in logs.items() if k != "outputs"}), refresh=False)

    # ---- fit
    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs", 1)
        self._in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        if self.verbose == 1:
            self._new_bar(self.params.get("steps"), f"Epoch {epoch + 1}/{self._epochs}")

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose == 1:
            self._advance(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1 and self._bar is not None:
            self._bar.set_postfix_str(_fmt(logs), refresh=True)
            self._close()
        elif self.verbose == 2:
            seconds = time.perf_counter() - self._t0
            print(
                f"Epoch {epoch + 1}/{self._epochs} - {seconds:.1f}s - {_fmt(logs)}",
                file=self.file or sys.stdout,
                flush=True,
            )

    def on_train_end(self, logs=None):
        self._close()
        self._in_fit = False

    # ---- evaluate / predict (outside fit)
    def on_test_begin(self, logs=None):
        if self._in_fit:
            return  # validation inside fit: the epoch's bar and timer carry on
        if self.verbose == 1:
            self._new_bar(self.params.get("steps"), "Evaluate")
        self._t0 = time.perf_counter()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit and self.verbose == 1:
            self._advance(batch, logs)

    def on_test_end(self, logs=None):
        if self._in_fit:
            return
        if self.verbose == 1:
            if self._bar is not None:
                self._bar.set_postfix_str(_fmt(logs), refresh=True)
            self._close()
        else:
            print(
                f"Evaluate - {time.perf_counter() - self._t0:.1f}s - {_fmt(logs)}",
                file=self.file or sys.stdout,
                flush=True,
            )

    def on_predict_begin(self, logs=None):
        if self.verbose == 1:
            self._new_bar(self.params.get("steps"), "Predict")

    def on_predict_batch_end(self, batch, logs=None):
        if self.verbose == 1:
            self._advance(batch, None)

    def on_predict_end(self, logs=None):
        self._close()
