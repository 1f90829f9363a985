"""Turning what users pass to `fit` / `evaluate` / `predict` into flat, checked arrays.

Inputs (`x`) become a list in the model's input order; targets (`y`) and sample weights a list
in output order (None where an output has none). Arrays, lists, and dicts keyed by input/output
name are accepted. Generators and other iterables of `(x,)`, `(x, y)` or `(x, y, sample_weight)`
batches are streamed (see `stream.py`), and so are `jnet.utils.PyDataset`s (by batch index) and
`jnet.utils.Dataset`s (what the `*_dataset_from_*` utilities return). All checks happen here, on the host, before anything is
compiled, so errors name the argument and the shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from jnet.utils.py_dataset import PyDataset, PyDatasetEpochs


def is_array(a) -> bool:
    return hasattr(a, "shape") and hasattr(a, "dtype")


def is_stream(x) -> bool:
    """A generator/iterator/iterable of batches (not an array, list, tuple or dict of arrays)."""
    if x is None or is_array(x) or isinstance(x, (list, tuple, dict, str, bytes)):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def epoch_iterable(x, shuffle=False):
    """A `PyDataset` becomes what `fit` iterates once per epoch (epoch hooks, shuffled batch
    order when `shuffle`, read-ahead workers); other streams are returned as they are."""
    if isinstance(x, PyDataset):
        return PyDatasetEpochs(x, shuffle)
    return x


def batch_rows(x):
    """Rows in a batch's `x` (an array, or a list/dict of them: the first input's)."""
    while isinstance(x, (dict, list, tuple)) and len(x):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    return len(x) if hasattr(x, "__len__") else None


def _as_numpy(a, what):
    if a is None:
        return None
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists etc.
        raise ValueError(f"{what}: could not convert to an array ({e})") from None
    if arr.dtype == object:
        raise ValueError(f"{what}: could not convert to a numeric array (ragged or mixed values?)")
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"{what} has dtype {arr.dtype}; models take numeric arrays (bool, int or float)")
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.int64:
        arr = arr.astype(np.int32)
    elif arr.dtype == np.uint64:
        arr = arr.astype(np.uint32)
    if arr.ndim == 0:
        raise ValueError(f"{what}: expected an array with a batch axis, got a scalar")
    return arr


def flatten_inputs(model, x, what="x") -> list:
    """`x` (array, list or dict by input name) -> list of numpy arrays in the model's order."""
    if x is None:
        raise ValueError(f"{what} is required")
    if isinstance(x, dict):
        flat = model.flatten_inputs(x)
        names = model.input_names
    elif isinstance(x, (list, tuple)) and _n_inputs(model) > 1:
        flat = model.flatten_inputs(*x)
        names = model.input_names
    else:
        flat = [x]
        names = model.input_names if model.built else ["input"]
        if model.built and len(model.input_names) != 1:
            raise ValueError(
                f"{type(model).__name__} '{model.name}' has {len(model.input_names)} inputs {model.input_names}; "
                f"give {what} as a list or a dict keyed by those names"
            )
    return [_as_numpy(a, f"{what} '{n}'" if len(flat) > 1 else what) for a, n in zip(flat, names)]


def _n_inputs(model):
    return len(model.input_names) if model.built else 1


def _to_outputs_with_loss(value, with_loss, n):
    """Keras's rule for a loss defined on some outputs only (`loss=[fn, None]`): targets given
    for just those outputs go to them, in order; the others get None."""
    given = list(value) if isinstance(value, (list, tuple)) else [value]
    if with_loss is None or len(with_loss) != n or sum(with_loss) != len(given) or len(given) == n:
        return None
    it = iter(given)
    return [next(it) if has else None for has in with_loss]


def flatten_outputs(output_names, value, what, with_loss=None) -> list:
    """Targets or sample weights (array, list per output, dict by output name) -> list per output."""
    n = len(output_names)
    if value is None:
        return [None] * n
    if isinstance(value, dict):
        bad = [k for k in value if k not in output_names]
        if bad:
            raise ValueError(
                f"{what} has key(s) {bad} that are not outputs of the model; expected keys from {output_names}"
            )
        return [value.get(k) for k in output_names]
    spread = _to_outputs_with_loss(value, with_loss, n) if n > 1 and what == "y" else None
    if spread is not None:
        return spread
    if isinstance(value, (list, tuple)) and n > 1:
        if len(value) != n:
            raise ValueError(
                f"{what}: the model has {n} outputs {output_names} but {len(value)} {what} entries were given"
            )
        return list(value)
    if n == 1 and isinstance(value, (list, tuple)) and len(value) == 1 and is_array(value[0]):
        return [value[0]]  # `[y]` for a single-output model, as Keras accepts
    if n > 1 and what.startswith("sample_weight"):
        return [value] * n  # one sample weight array applies to every output
    if n > 1:
        raise ValueError(
            f"{what}: the model has {n} outputs {output_names}; give a list or a dict keyed by output name"
        )
    return [value]


@dataclass
class ArrayData:
    """Flat, checked numpy arrays: x per input, y and sample weights per output."""

    x: list
    y: list | None
    sw: list | None
    n: int = 0
    names: dict = field(default_factory=dict)

    def take(self, rows: slice) -> ArrayData:
        f = lambda lst: None if lst is None else [None if a is None else a[rows] for a in lst]  # noqa: E731
        out = ArrayData(f(self.x), f(self.y), f(self.sw), names=self.names)
        out.n = len(out.x[0])
        return out

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for part in (self.x, self.y or [], self.sw or []) for a in part if a is not None)


def from_arrays(
    model, output_names, x, y=None, sample_weight=None, class_weight=None, where="fit", check_nan=False, with_loss=None
) -> ArrayData:
    xs = flatten_inputs(model, x, "x")
    in_names = model.input_names if model.built else ["input"]
    ys = sws = None
    if y is not None:
        ys = [
            _as_numpy(a, f"y '{n}'" if len(output_names) > 1 else "y")
            for a, n in zip(flatten_outputs(output_names, y, "y", with_loss), output_names)
        ]
    if sample_weight is not None:
        sws = [_as_numpy(a, "sample_weight") for a in flatten_outputs(output_names, sample_weight, "sample_weight")]
    counts = [(f"x '{n}'" if len(xs) > 1 else "x", len(a)) for n, a in zip(in_names, xs)]
    if ys is not None:
        counts += [(f"y '{n}'" if len(ys) > 1 else "y", len(a)) for n, a in zip(output_names, ys) if a is not None]
    if sws is not None:
        counts += [
            (f"sample_weight '{n}'" if len(sws) > 1 else "sample_weight", len(a))
            for n, a in zip(output_names, sws)
            if a is not None
        ]
    if len({c for _, c in counts}) > 1:
        detail = ", ".join(f"{name} has {c}" for name, c in counts)
        raise ValueError(f"{where}: all arrays need the same number of samples (first axis); {detail}")
    n = counts[0][1]
    if n == 0:
        raise ValueError(f"{where}: got 0 samples")
    if class_weight is not None:
        if ys is None:
            raise ValueError(f"{where}: class_weight needs y")
        sws = apply_class_weight(class_weight, ys, sws, output_names, n)
    data = ArrayData(xs, ys, sws, n=n)
    if check_nan:
        check_finite(data, in_names, output_names, where)
    return data


def apply_class_weight(class_weight, ys, sws, output_names, n):
    """Fold `class_weight` into per-output sample weights (Keras: weight by the class of y)."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
    per_output = all(isinstance(v, dict) for v in class_weight.values()) and class_weight
    if per_output:
        bad = [k for k in class_weight if k not in output_names]
        if bad:
            raise ValueError(
                f"class_weight has key(s) {bad} that are not outputs of the model; expected keys from {output_names}"
            )
        tables = [class_weight.get(k) for k in output_names]
    elif len(output_names) > 1:
        raise ValueError(
            f"class_weight: the model has {len(output_names)} outputs {output_names}; give a dict "
            "of {class: weight} dicts keyed by output name"
        )
    else:
        tables = [class_weight]
    sws = list(sws) if sws is not None else [None] * len(output_names)
    for i, table in enumerate(tables):
        if table is None:
            continue
        y = ys[i]
        if y is None:
            raise ValueError(f"class_weight for output '{output_names[i]}' needs its y")
        if y.ndim == 2 and y.shape[1] > 1:
            labels = np.argmax(y, axis=1)
        else:
            labels = np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
        try:
            keys = {int(k): float(v) for k, v in table.items()}
        except (TypeError, ValueError):
            raise ValueError(f"class_weight keys must be integer class indices, got {list(table)}") from None
        lut = np.ones(max(max(keys) + 1, int(labels.max()) + 1), np.float32)
        for k, v in keys.items():
            lut[k] = v
        w = lut[labels]
        base = sws[i]
        if base is None:
            sws[i] = w
        else:
            base = base.astype(np.float32)
            sws[i] = base * w.reshape((n,) + (1,) * (base.ndim - 1))
    return sws


def check_finite(data: ArrayData, in_names, output_names, where):
    """`check_nan=True`: raise on the first NaN/inf in x, y or sample_weight, naming it."""
    groups = [
        ("x", in_names, data.x),
        ("y", output_names, data.y or []),
        ("sample_weight", output_names, data.sw or []),
    ]
    for what, names, arrays in groups:
        for name, a in zip(names, arrays):
            if a is None or not np.issubdtype(a.dtype, np.floating):
                continue
            bad = ~np.isfinite(a.reshape(len(a), -1)).all(axis=1)
            if bad.any():
                row = int(np.argmax(bad))
                label = f"{what} '{name}'" if len(arrays) > 1 else what
                raise ValueError(
                    f"{where}: {label} has NaN or inf values ({int(bad.sum())} samples, first at index {row})"
                )


def split_validation(data: ArrayData, validation_split: float):
    """Keras: the *last* `validation_split` fraction (before any shuffling) is held out."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    split_at = int(math.floor(data.n * (1.0 - validation_split)))
    if split_at == 0 or split_at == data.n:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty training or validation set for {data.n} samples"
        )
    return data.take(slice(0, split_at)), data.take(slice(split_at, None))


def unpack_batch(batch):
    """A streamed batch -> (x, y, sample_weight) as Keras: `x`, `(x,)`, `(x, y)` or `(x, y, sw)`."""
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(f"A data batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(batch)}")
    return batch, None, None
