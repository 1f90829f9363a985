"""`Progbar`: Keras's text progress bar for custom loops."""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from jnet.utils.io_utils import is_interactive_logging_enabled, print_msg


class Progbar:
    """Displays a progress bar with running metric averages, as `keras.utils.Progbar`.

    Args:
        target: total number of steps expected, or `None` if unknown.
        width: bar width in characters.
        verbose: 0 (silent), 1 (a bar redrawn in place) or 2 (one line when done).
        interval: minimum seconds between redraws.
        stateful_metrics: names whose values are shown as given (not averaged over steps).
        stateless_metrics: the opposite choice: only these are averaged (give one or the other).
        unit_name: what a step is called in the speed display.
        file: where to write (default `sys.stdout`).

    Example:
    ```python
    bar = jnet.utils.Progbar(target=100)
    for step in range(100):
        bar.update(step + 1, values=[("loss", loss)])
    ```
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
        file=None,
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: give stateful_metrics or stateless_metrics, not both")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose must be 0, 1 or 2, got {verbose!r}")
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        self.stateful_metrics = set(stateful_metrics or ()) if stateless_metrics is None else None
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._file = file
        self._dynamic = bool(getattr(self.file, "isatty", lambda: False)()) or "ipykernel" in sys.modules
        self._seen_so_far = 0
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._prev_width = 0

    @property
    def file(self):
        return self._file if self._file is not None else sys.stdout

    def _averaged(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step `current`.

        Args:
            current: index of the current step (steps done).
            values: list of `(name, value)`; averaged over steps unless stateful.
            finalize: whether this is the last update (default: `current >= target`).
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if name not in self._values_order:
                self._values_order.append(name)
            if self._averaged(name) and not finalize:
                # Weighted by the steps since the last update, so sparse updates average fairly.
                weight = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + np.mean(value) * weight, count + weight]
            else:
                self._values[name] = [value, 1]
        self._seen_so_far = current
        now = time.time()
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._write(self._line(current, now, finalize), finalize)
        elif self.verbose == 2 and finalize:
            print_msg(self._line(current, now, True, bar=False), file=self.file)
        self._last_update = now

    def add(self, n, values=None):
        """Advances the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    def _write(self, line, finalize):
        if not is_interactive_logging_enabled():  # logging: one record per update, no redrawing
            print_msg(line)
            return
        pad = " " * max(self._prev_width - len(line), 0)
        print_msg(
            ("\r" if self._dynamic else "\n" if self._prev_width else "") + line + pad + ("\n" if finalize else ""),
            line_break=False,
            file=self.file,
        )
        self._prev_width = 0 if finalize else len(line)

    def _line(self, current, now, finalize, bar=True):
        per_step = (now - self._start) / current if current else 0.0
        if not bar:  # verbose=2: "count - time - speed - metrics", as Keras
            digits = int(math.log10(self.target)) + 1 if self.target else 1
            parts = [f"{current:{digits}d}/{self.target}", f"{now - self._start:.0f}s", _rate(per_step, self.unit_name)]
            return " - ".join(parts + self._metric_parts())
        if self.target:
            digits = int(math.log10(self.target)) + 1
            done = int(self.width * min(current / self.target, 1.0))
            shown = f"{current:{digits}d}/{self.target} [" + "=" * done + "." * (self.width - done) + "]"
        else:
            shown = f"{current:7d}/Unknown"
        if self.target and not finalize:
            eta = per_step * (self.target - current)
            when = f"ETA: {_clock(eta)}"
        else:
            when = f"{now - self._start:.0f}s"
        return " - ".join([shown, f"{when} {_rate(per_step, self.unit_name)}"] + self._metric_parts())

    def _metric_parts(self):
        parts = []
        for name in self._values_order:
            value, count = self._values[name]
            if isinstance(value, (int, float, np.number, np.ndarray)):
                avg = float(np.mean(value)) / max(count, 1)
                parts.append(f"{name}: {avg:.4f}" if abs(avg) > 1e-3 else f"{name}: {avg:.4e}")
            else:
                parts.append(f"{name}: {value}")
        return parts


def _clock(seconds):
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _rate(per_step, unit):
    if per_step >= 1 or per_step == 0:
        return f"{per_step:.0f}s/{unit}"
    if per_step >= 1e-3:
        return f"{per_step * 1e3:.0f}ms/{unit}"
    return f"{per_step * 1e6:.0f}us/{unit}"
