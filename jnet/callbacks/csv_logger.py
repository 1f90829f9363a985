"""`CSVLogger`: write each epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import os

import numpy as np

from jnet.callbacks.base import Callback


class CSVLogger(Callback):
    """Stream epoch results to a CSV file: a header `epoch,<keys...>`, then one row per epoch.

    Args:
        filename: the CSV file (parent folders are created).
        separator: the field separator.
        append: append to an existing file (no second header) instead of overwriting it.

    Keys seen first in later epochs (e.g. validation every few epochs) get "NA" where missing;
    the columns are fixed by the first epoch, as Keras does.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self.writer = None
        self.csv_file = None
        self._append_header = True

    def on_train_begin(self, logs=None):
        parent = os.path.dirname(self.filename)
        if parent:
            os.makedirs(parent, exist_ok=True)
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self._append_header = not bool(f.readline().strip())
            mode = "a"
        else:
            self._append_header = True
            mode = "w"
        self.csv_file = open(self.filename, mode, newline="")
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def fmt(v):
            if isinstance(v, str):
                return v
            arr = np.asarray(v)
            if arr.ndim == 0:
                return arr.item()
            return f'"[{", ".join(str(x) for x in arr.ravel())}]"'

        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, delimiter=self.sep, extrasaction="ignore"
            )
            if self._append_header:
                self.writer.writeheader()
        row = {"epoch": epoch, **{k: fmt(logs[k]) if k in logs else "NA" for k in self.keys}}
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
            self.csv_file = None
        self.writer = None
