"""The host stage: string layers (`_host_stage = True`, e.g. TextVectorization, StringLookup)
at the front of a `Sequential` model run on the host, on the raw strings, before the compiled
step. `fit`, `evaluate`, `predict`, the on-batch methods and `model(x)` pass raw inputs through
`run_host_stage`; inside the compiled graph those layers then see their own (numeric) output
and pass it through unchanged."""

from __future__ import annotations

import numpy as np

__all__ = ["host_stage_layers", "run_host_stage", "is_raw_strings"]


def is_raw_strings(x) -> bool:
    """Whether `x` is text data: a numpy array of strings/bytes, or a (nested) list of str."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "US" or (x.dtype.kind == "O" and x.size > 0 and isinstance(x.flat[0], (str, bytes)))
    if isinstance(x, (list, tuple)) and x:
        return isinstance(x[0], (str, bytes)) or is_raw_strings(x[0]) if isinstance(x[0], (list, tuple)) \
            else isinstance(x[0], (str, bytes))
    return False


def host_stage_layers(model) -> list:
    """The leading host-stage layers of a `Sequential` model (empty for other models)."""
    layers = model.__dict__.get("_layers")
    if not isinstance(layers, list):
        return []
    out = []
    for layer in layers:
        if not getattr(layer, "_host_stage", False):
            break
        out.append(layer)
    return out


def run_host_stage(model, x):
    """`x` through the model's host-stage layers when it is raw text; anything else unchanged.

    Raises:
        ValueError: when `x` is text but the model has no host-stage layer to take it.
    """
    if not is_raw_strings(x):
        return x
    stage = host_stage_layers(model)
    if not stage:
        raise ValueError(f"{model._label}: got strings, but the model does not start with a string layer "
                         "(TextVectorization or StringLookup) to turn them into numbers")
    for layer in stage:
        x = layer(x)
    return np.asarray(x)
