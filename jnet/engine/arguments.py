"""Up-front checks of the arguments of `fit`, `evaluate` and `predict`.

Each bad argument raises one `ValueError` (`TypeError` for a wrong kind of object) that names the
method, the argument and what was expected, before any data is converted or anything is
compiled; without them a negative `batch_size` ran zero steps or failed deep inside JAX.
"""

from __future__ import annotations

import numbers

import numpy as np

# Array kinds a model can take: bool, signed/unsigned int, float, complex.
_NUMERIC_KINDS = "biufc"


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_count(where, name, value, *, minimum=1, optional=True):
    """`value` must be an int >= `minimum` (or None when `optional`)."""
    if value is None and optional:
        return
    if not _is_int(value) or value < minimum:
        want = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{where}: {name} must be {want}{' or None' if optional else ''}, got {value!r}")


def check_dtypes(where, name, value):
    """Every array in `value` (an array, a list/tuple of arrays or a dict of them, as `x`, `y`
    and `sample_weight` may be) must be numeric; a string or object array is named, e.g.
    `fit: x['title'] has dtype <U3`. Python lists of values are checked as the array they make."""
    for label, arr in _arrays(name, value):
        if arr.dtype.kind not in _NUMERIC_KINDS:
            what = "object" if arr.dtype.kind == "O" else str(arr.dtype)
            raise ValueError(
                f"{where}: {label} has dtype {what}; models take numeric arrays (bool, int or float). "
                "Map strings or Python objects to numbers first (e.g. a vocabulary index)."
            )


def _arrays(label, value):
    if value is None:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _arrays(f"{label}[{k!r}]", v)
        return
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        yield label, value
        return
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, dict) or (hasattr(v, "shape") and hasattr(v, "dtype")) for v in value):
            for i, v in enumerate(value):
                yield from _arrays(f"{label}[{i}]", v)
            return
        try:
            arr = np.asarray(value)
        except ValueError:
            return  # ragged: the data conversion reports it with the argument named
        yield label, arr


def check_class_weight(where, class_weight):
    """`{class index: weight}`, or for several outputs `{output name: {class index: weight}}`."""
    if class_weight is None:
        return
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"{where}: class_weight must be a dict {{class index: weight}}, got {type(class_weight).__name__}"
        )
    if class_weight and all(isinstance(v, dict) for v in class_weight.values()):
        for output, table in class_weight.items():
            _check_class_table(where, f"class_weight[{output!r}]", table)
        return
    _check_class_table(where, "class_weight", class_weight)


def _check_class_table(where, label, table):
    for k, v in table.items():
        if not _is_int(k) or k < 0:
            raise ValueError(f"{where}: {label} keys must be class indices (ints >= 0), got key {k!r}")
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise ValueError(f"{where}: {label}[{k!r}] must be a number (the class's weight), got {v!r}")


def check_fit_args(
    x,
    y,
    sample_weight,
    *,
    batch_size,
    epochs,
    initial_epoch,
    steps_per_epoch,
    validation_steps,
    validation_batch_size,
    validation_freq,
    validation_split,
    validation_data,
    class_weight,
):
    """All of `fit`'s arguments that can be checked before the data is read."""
    where = "fit"
    check_count(where, "batch_size", batch_size)
    check_count(where, "epochs", epochs, minimum=0, optional=False)
    check_count(where, "initial_epoch", initial_epoch, minimum=0, optional=False)
    if initial_epoch > epochs:
        raise ValueError(
            f"{where}: initial_epoch ({initial_epoch}) is after the last epoch: epochs={epochs} "
            "counts from 0, so it must be >= initial_epoch"
        )
    check_count(where, "steps_per_epoch", steps_per_epoch)
    check_count(where, "validation_steps", validation_steps)
    check_count(where, "validation_batch_size", validation_batch_size)
    check_count(where, "validation_freq", validation_freq, optional=False)
    if (
        not isinstance(validation_split, numbers.Real)
        or isinstance(validation_split, bool)
        or not 0.0 <= validation_split < 1.0
    ):
        raise ValueError(f"{where}: validation_split must be a float in [0, 1), got {validation_split!r}")
    check_class_weight(where, class_weight)
    check_data(where, x, y, sample_weight)
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
        check_data("fit (validation_data)", *(list(validation_data) + [None])[:3])


def check_eval_args(where, x, y=None, sample_weight=None, *, batch_size, steps):
    """`evaluate` / `predict`: batch_size, steps and the dtypes of the data."""
    check_count(where, "batch_size", batch_size)
    check_count(where, "steps", steps)
    check_data(where, x, y, sample_weight)


def check_data(where, x, y, sample_weight):
    for name, value in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        check_dtypes(where, name, value)
