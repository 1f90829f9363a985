"""Keras's legacy HDF5 files (`model.save("x.h5")`, `save_weights("x.h5")`), both ways.

The layout is the one Keras 3's `keras.src.legacy.saving.legacy_h5_format` reads and tf.keras /
Keras 2 wrote:

- weights (the file's root for `save_weights`, the `model_weights` group for `save`): attributes
  `layer_names`, `backend`, `keras_version`; one group per layer holding its weights under the
  names listed in its `weight_names` attribute, in the legacy order (trainable weights, then
  non-trainable), plus `top_level_model_weights`;
- a whole model adds the file attributes `model_config` (JSON `{"class_name", "config"}`) and
  `training_config` (the compile arguments, the optimizer under `optimizer_config`), and a
  compiled model the group `optimizer_weights`: the optimizer's variables in Keras's order
  (`iterations`, `learning_rate`, then the slots; `jnet.models.keras_optimizer`) under the
  names listed in its `weight_names` attribute. jnet also keeps its whole training state in a
  group Keras ignores, and prefers it when it reads its own files.

Weights load by order, as Keras's loader does: the i-th layer with weights in the model takes the
i-th layer with weights in the file. Every count and shape mismatch is listed, and the model
changes only when all of them fit.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from jnet.models.keras_h5 import assign_pairs, current_values

# HDF5 object headers hold at most 64 KiB; Keras splits longer name lists into numbered chunks.
_HEADER_LIMIT = 64512


def _save_attr(group, name, items):
    data = np.asarray(items, dtype="S") if items else np.asarray([], dtype="S1")
    if data.nbytes <= _HEADER_LIMIT:
        group.attrs[name] = data
        return
    chunks = int(np.ceil(data.nbytes / _HEADER_LIMIT)) + 1
    for i, chunk in enumerate(np.array_split(data, chunks)):
        group.attrs[f"{name}{i}"] = chunk


def _load_attr(group, name) -> list:
    def text(n):
        return n.decode("utf8") if hasattr(n, "decode") else str(n)

    if name in group.attrs:
        return [text(n) for n in group.attrs[name]]
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out.extend(text(n) for n in group.attrs[f"{name}{i}"])
        i += 1
    return out


def _legacy_weights(layer) -> list:
    """Keras's legacy order: trainable weights, then non-trainable ones."""
    trainable = layer.trainable_weights
    ids = {id(v) for v in trainable}
    return trainable + [v for v in layer.weights if id(v) not in ids]


def _layers_with_weights(model) -> list:
    return [layer for layer in model.layers if _legacy_weights(layer)]


def write_weights_group(group, model):
    """Write `model`'s weights into an h5py group in the legacy layout."""
    from jnet.models.keras_format import KERAS_VERSION

    values = current_values(model)
    layers = list(model.layers)
    _save_attr(group, "layer_names", [layer.name.encode("utf8") for layer in layers])
    group.attrs["backend"] = b"jax"
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    for layer in sorted(layers, key=lambda layer: layer.name):
        _write_subset(group.create_group(layer.name), layer.name, _legacy_weights(layer), values)
    _write_subset(group.create_group("top_level_model_weights"), model.name, [], values)


def _write_subset(group, prefix, weights, values):
    names = []
    for v in weights:
        name = f"{prefix}/{v.path}"
        while name in names:  # two weights of one layer never share a dataset
            name += "_"
        names.append(name)
    _save_attr(group, "weight_names", [n.encode("utf8") for n in names])
    for name, v in zip(names, weights):
        group.create_dataset(name, data=np.asarray(values.get(id(v), v.value)))


def read_weights_group(group, model, label, skip_mismatch=False) -> list:
    """`[(Variable, array)]` from a legacy weights group, matched by layer order.

    Raises:
        CheckpointError: the layer count, a layer's weight count or a shape disagrees (every
            problem listed), unless `skip_mismatch` (then those weights are left, with a warning).
    """
    from jnet.models.saving import CheckpointError

    saved = []
    for name in _load_attr(group, "layer_names"):
        if name not in group:
            raise CheckpointError(f"{label!r} is corrupted: layer group {name!r} is missing.")
        weight_names = _load_attr(group[name], "weight_names")
        if weight_names:
            saved.append((name, [np.asarray(group[name][w]) for w in weight_names], weight_names))
    layers = _layers_with_weights(model)
    if len(saved) != len(layers):
        raise CheckpointError(
            f"{label!r} holds weights for {len(saved)} layer(s) ({', '.join(n for n, _, _ in saved)}); "
            f"{model._label} has {len(layers)} layer(s) with weights ({', '.join(layer.name for layer in layers)})."
        )
    pairs, problems = [], []
    for layer, (name, arrays, weight_names) in zip(layers, saved):
        targets = _legacy_weights(layer)
        if len(targets) != len(arrays):
            problems.append(
                f"  layer {layer.name!r} (file: {name!r}) expects {len(targets)} weight(s), the file has {len(arrays)}"
            )
            continue
        for v, arr, wname in zip(targets, arrays, weight_names):
            if tuple(arr.shape) != tuple(v.shape):
                problems.append(
                    f"  {layer.name}/{v.path} (file: {name}/{wname}): the model expects shape "
                    f"{tuple(v.shape)}, the file has {arr.shape}"
                )
            else:
                pairs.append((v, arr))
    if problems and not skip_mismatch:
        raise CheckpointError(
            f"The HDF5 file {label!r} does not match {model._label} ({len(problems)} problem(s)):\n"
            + "\n".join(problems[:50])
            + "\nPass skip_mismatch=True to load only the matching weights."
        )
    if problems:
        warnings.warn(
            f"Skipped {len(problems)} mismatched weight(s) while loading {label!r}:\n" + "\n".join(problems[:50]),
            stacklevel=3,
        )
    return pairs


def save_legacy_h5(model, filepath, include_model=True, include_optimizer=True):
    """`save("x.h5")` (architecture, compile config, weights) or `save_weights("x.h5")`
    (`include_model=False`: the weights layout at the file's root), written atomically."""
    from jnet.models.h5_util import atomic_h5
    from jnet.models.keras_format import KERAS_VERSION, _keras_compile_config, model_to_keras_config

    with atomic_h5(filepath) as f:
        if not include_model:
            write_weights_group(f, model)
            return
        config = model_to_keras_config(model, compile_config=False)
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "jax"
        f.attrs["model_config"] = json.dumps({"class_name": config["class_name"], "config": config["config"]})
        if include_optimizer and getattr(model, "compiled", False):
            training = _keras_compile_config(model)
            optimizer = training.pop("optimizer", None)
            if isinstance(optimizer, dict):
                training["optimizer_config"] = {"class_name": optimizer["class_name"], "config": optimizer["config"]}
            f.attrs["training_config"] = json.dumps(training)
        write_weights_group(f.create_group("model_weights"), model)
        if include_optimizer and getattr(model, "compiled", False):
            _write_optimizer_weights(f, model)
            write_train_state(f, model)


def _write_optimizer_weights(f, model):
    """Keras's `optimizer_weights` group (its variables in order, under their paths), for the
    optimizers whose state Keras's layout expresses."""
    from jnet.models.keras_optimizer import keras_optimizer_arrays, keras_optimizer_names

    arrays = keras_optimizer_arrays(model)
    if arrays is None:
        return
    names = keras_optimizer_names(model)
    group = f.create_group("optimizer_weights")
    _save_attr(group, "weight_names", [n.encode("utf8") for n in names])
    for name, arr in zip(names, arrays):
        group.create_dataset(name, data=arr)


def _read_optimizer_weights(f, model, label):
    """Restore the optimizer from Keras's `optimizer_weights` group (values by position)."""
    from jnet.models.keras_optimizer import restore_keras_optimizer
    from jnet.models.saving import CheckpointError

    group = f["optimizer_weights"]
    arrays = []
    for name in _load_attr(group, "weight_names"):
        if name not in group:
            raise CheckpointError(f"{label!r} is corrupted: optimizer weight {name!r} is listed but missing.")
        arrays.append(np.asarray(group[name]))
    if arrays:
        restore_keras_optimizer(model, arrays, label)


_TRAIN_STATE = "jnet_train_state"


def write_train_state(group, model):
    """jnet's training state (optimizer slots, step, rng, metric states) under a group Keras
    ignores, so a file jnet loads back continues `fit` exactly; params/state are the weights
    already stored in Keras's layout."""
    from jnet.models.saving import encode_tree

    entries, arrays = encode_tree(model.get_train_state(), prefix="train_state/")
    keep = [i for i, e in enumerate(entries) if not e["path"].startswith(("train_state/params/", "train_state/state/"))]
    sub = group.create_group(_TRAIN_STATE)
    sub.attrs["manifest"] = json.dumps([entries[i] for i in keep])
    for n, i in enumerate(keep):
        sub.create_dataset(str(n), data=arrays[i])


def read_train_state(group, model, label):
    """Restore jnet's training state written by `write_train_state` (after weights and compile)."""
    from jnet.models.saving import encode_tree, fill_tree

    if _TRAIN_STATE not in group or not hasattr(model, "set_train_state"):
        return
    sub = group[_TRAIN_STATE]
    entries = json.loads(_text(sub.attrs["manifest"]))
    arrays = [np.asarray(sub[str(n)]) for n in range(len(entries))]
    e_vars, a_vars = encode_tree(model.current_variables(), prefix="train_state/")
    model.set_train_state(
        fill_tree(
            model.get_train_state(),
            entries + e_vars,
            arrays + a_vars,
            prefix="train_state/",
            what="compiled model's train state",
            source=f"file {label!r}",
        )
    )


def _weights_root(f):
    if "layer_names" not in f.attrs and "model_weights" in f:
        return f["model_weights"]
    return f


def load_legacy_h5_weights(model, filepath, skip_mismatch=False):
    """`model.load_weights("x.h5")` of a file written by Keras (3, 2 or tf.keras) or jnet."""
    from jnet.models.h5_util import open_h5

    label = os.fspath(filepath)
    with open_h5(filepath) as f:
        pairs = read_weights_group(_weights_root(f), model, label, skip_mismatch)
    assign_pairs(model, pairs)


def _text(value):
    return value.decode("utf-8") if hasattr(value, "decode") else value


def load_legacy_h5_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002 - Keras name
    """`load_model("x.h5")`: a model from a legacy HDF5 file of Keras (3, 2 or tf.keras) or jnet."""
    from jnet.models.h5_util import open_h5
    from jnet.models.keras_format import build_object, with_keras_modules
    from jnet.models.saving import CheckpointError

    label = os.fspath(filepath)
    with open_h5(filepath) as f:
        if f.attrs.get("model_config") is None:
            raise CheckpointError(
                f"{label!r} holds weights only (no model_config): build the model with code and "
                "call model.load_weights(path)."
            )
        version = str(_text(f.attrs.get("keras_version", "2")))
        if version.split(".")[0].isdigit() and int(version.split(".")[0]) > 3:
            raise CheckpointError(f"{label!r} was written by Keras {version}, newer than the formats jnet reads.")
        try:
            config = json.loads(_text(f.attrs["model_config"]))
            training = json.loads(_text(f.attrs["training_config"])) if f.attrs.get("training_config") else None
        except (json.JSONDecodeError, TypeError) as err:
            raise CheckpointError(f"{label!r} is corrupted: its model_config is not valid JSON ({err}).") from err
        try:
            model = build_object(with_keras_modules(config), custom_objects=custom_objects, safe_mode=safe_mode)
        except (ValueError, TypeError, KeyError) as err:
            raise CheckpointError(f"Cannot rebuild the model saved in {label!r}: {err}") from err
        pairs = read_weights_group(_weights_root(f), model, label)
        assign_pairs(model, pairs)
        if compile and training and hasattr(model, "compile_from_config"):
            compile_config = {k: v for k, v in training.items() if k != "optimizer_config"}
            if training.get("optimizer_config") is not None:
                compile_config["optimizer"] = training["optimizer_config"]
            try:
                model.compile_from_config(with_keras_modules(compile_config))
            except (ValueError, TypeError) as err:
                raise CheckpointError(f"Cannot compile the model saved in {label!r}: {err}") from err
            if _TRAIN_STATE in f:  # jnet wrote it: its whole training state
                read_train_state(f, model, label)
            elif "optimizer_weights" in f:
                _read_optimizer_weights(f, model, label)
    return model
