"""Saving and loading: `model.save`, `jnet.models.load_model`, `save_weights`, `load_weights`.

The file format follows the name, as in Keras 3: `x.keras` is Keras's zip archive
(`jnet.models.keras_format`), `x.weights.h5` Keras's weights file (`jnet.models.keras_h5`),
`x.h5` / `x.hdf5` Keras's legacy HDF5 (`jnet.models.h5_format`); Keras reads what jnet writes
and the other way round. Any other name (`weights.ckpt`, a directory) is a jnet checkpoint,
**one file we own**: an uncompressed zip holding

- `jnet.json`: the format tag, the architecture (`jnet.serialization.serialize(model)`), the
  compile config, and a manifest of every array (tree path, shape, dtype);
- `arrays/`: an **orbax** checkpoint of the arrays, keyed `a0, a1, ...` in manifest order.

No pickle anywhere: loading reads JSON and arrays, and rebuilds layers through the registry
(`jnet.register_serializable` / `custom_objects=`), so it runs no code from the file. A `Lambda`
whose function would have to be imported by name refuses to load unless `safe_mode=False` (or
`custom_objects` supplies the function).

Saves are atomic: orbax writes its directory under a temporary name and renames it, the zip is
written to a temporary sibling file, flushed to disk, and moved over `path` with `os.replace`.
A process killed at any moment leaves either the previous checkpoint or the new one, never a
mix. Loads build a complete new variable tree before anything on the model changes, so a
missing, truncated or corrupted file raises `CheckpointError` and leaves the model as it was.
"""

from __future__ import annotations

import json
import os

from jnet.utils.checkpoint import (  # noqa: F401 - re-exported
    ARRAYS_DIR,
    FORMAT,
    META_NAME,
    VERSION,
    CheckpointError,
    check_member_sizes,
    decode_leaf,
    encode_tree,
    fill_tree,
    latest_step_checkpoint,
    read_checkpoint,
    write_checkpoint,
    write_checkpoint_dir,
)

# --------------------------------------------------------------------------- the model API


def _unbuilt_error(model):
    return CheckpointError(
        f"{model._label} is not built yet: give it an input shape (jnet.Input or input_shape=) "
        "or call it on data before saving or loading weights."
    )


def _train_state_of(model):
    """The train state tree when the model is compiled (None otherwise)."""
    if getattr(model, "compiled", False) and hasattr(model, "get_train_state"):
        return model.get_train_state()
    return None


class SavingMixin:
    """`save`, `save_weights` and `load_weights` for `jnet.Model` (see `jnet.models.saving`)."""

    def save_weights(self, filepath, overwrite=True):
        """Write the model's variables (params and state) to `filepath`, atomically.

        The name picks the format: `"x.weights.h5"` is Keras 3's weights file, `"x.h5"` Keras's
        legacy HDF5 (both readable by Keras), any other name a jnet checkpoint (a zip holding an
        orbax checkpoint and a JSON manifest).

        Args:
            filepath: where to write; parent folders are created.
            overwrite: if False and the file exists, raise instead of replacing it.
        """
        if not self.built:
            raise _unbuilt_error(self)
        _check_overwrite(filepath, overwrite)
        kind = file_kind(filepath)
        if kind == "keras":
            raise ValueError(
                f"Model.save_weights: {os.fspath(filepath)!r} names a whole-model .keras archive; "
                "save weights to a .weights.h5 file (Keras's), or use model.save for .keras."
            )
        if kind == "weights.h5":
            from jnet.models.keras_h5 import save_weights_h5

            return save_weights_h5(self, filepath)
        if kind == "h5":
            from jnet.models.h5_format import save_legacy_h5

            return save_legacy_h5(self, filepath, include_model=False)
        write_checkpoint(filepath, *checkpoint_payload(self, weights_only=True))

    def load_weights(self, filepath, skip_mismatch=False):
        """Load variables written by `save_weights` (or `save`) into this model.

        Weights are matched by path (`params/<layer>/<weight>`); the same model-building code
        gives the same paths. A different architecture raises an error listing every mismatched
        path with both shapes; `skip_mismatch=True` loads the matching ones and warns. Nothing
        on the model changes unless the whole load succeeds.
        """
        if not self.built:
            raise _unbuilt_error(self)
        kind = file_kind(filepath)
        if kind == "weights.h5":
            from jnet.models.keras_h5 import load_weights_h5

            return load_weights_h5(self, filepath, skip_mismatch=skip_mismatch)
        if kind == "h5":
            from jnet.models.h5_format import load_legacy_h5_weights

            return load_legacy_h5_weights(self, filepath, skip_mismatch=skip_mismatch)
        if kind == "keras":
            from jnet.models.keras_format import load_weights_from_archive

            return load_weights_from_archive(self, filepath, skip_mismatch=skip_mismatch)
        filepath = latest_step_checkpoint(filepath)
        meta, entries, arrays = read_checkpoint(filepath)
        new = fill_tree(
            self.current_variables(),
            entries,
            arrays,
            prefix="variables/",
            what=self._label,
            skip_mismatch=skip_mismatch,
            source=f"checkpoint {os.fspath(filepath)!r}",
        )
        self.assign_variables(new)

    def to_json(self, **kwargs):
        """The model's architecture (and compile config, if compiled) as a JSON string, in
        Keras 3's format; no weights. `jnet.models.model_from_json` rebuilds it.

        Args:
            **kwargs: passed to `json.dumps` (`indent=2`, ...).
        """
        from jnet.models.keras_format import model_to_keras_config

        # The `config.json` of a `.keras` archive: Keras 3's `model_from_json` reads it too.
        return json.dumps(model_to_keras_config(self), **kwargs)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save the whole model to one file: architecture (JSON), variables, optimizer state and
        compile config. `jnet.models.load_model(filepath)` rebuilds it with no code execution.

        The name picks the format: `"model.keras"` is Keras 3's archive, `"simple_model.h5"`
        Keras's legacy HDF5 (Keras loads both), any other name a jnet checkpoint (zip of orbax
        arrays + JSON). The write is atomic.

        Args:
            filepath: where to write.
            overwrite: if False and the file exists, raise instead of replacing it.
            include_optimizer: also store the training state (optimizer slots, step, rng), so
                a loaded model continues `fit` exactly where this one stopped.
        """
        if not self.built:
            raise _unbuilt_error(self)
        _check_overwrite(filepath, overwrite)
        kind = file_kind(filepath)
        if kind == "keras":
            from jnet.models.keras_format import save_keras_archive

            return save_keras_archive(self, filepath)
        if kind == "h5":
            from jnet.models.h5_format import save_legacy_h5

            return save_legacy_h5(self, filepath, include_optimizer=include_optimizer)
        if kind == "weights.h5":
            raise ValueError(
                f"Model.save: {os.fspath(filepath)!r} names a weights file (.weights.h5); "
                "use save_weights, or save to a .keras file for the whole model."
            )
        write_checkpoint(filepath, *checkpoint_payload(self, include_optimizer=include_optimizer))


def checkpoint_payload(model, weights_only=False, include_optimizer=True) -> tuple[dict, list]:
    """`(manifest, host arrays)` of a jnet checkpoint of `model` (what `model.save` /
    `save_weights` write to a non-Keras name), taken now; writing them may happen later."""
    from jnet.serialization import serialize

    entries, arrays = encode_tree(model.current_variables(), prefix="variables/")
    if weights_only:
        return {"kind": "weights", "arrays": entries}, arrays
    meta = {"kind": "model", "architecture": serialize(model)}
    build_config = model.get_build_config() if model._graph is None else None
    if build_config is not None:
        meta["build_config"] = build_config  # a subclassed model is rebuilt from its input shapes
    if getattr(model, "compiled", False) and hasattr(model, "get_compile_config"):
        meta["compile_config"] = model.get_compile_config()
        state = _train_state_of(model) if include_optimizer else None
        if state is not None:
            e2, a2 = encode_tree(state, prefix="train_state/")
            # The train state's params/state are the variables stored above: keep one copy.
            keep = [
                i for i, e in enumerate(e2) if not e["path"].startswith(("train_state/params/", "train_state/state/"))
            ]
            entries, arrays = entries + [e2[i] for i in keep], arrays + [a2[i] for i in keep]
    meta["arrays"] = entries
    json.dumps(meta)  # fail before writing anything if the config is not JSON-able
    return meta, arrays


def file_kind(filepath) -> str:
    """Which format a path names: `"weights.h5"` (Keras 3's weights file), `"h5"` (Keras's
    legacy HDF5), `"keras"` (Keras 3's `.keras` zip), or `"jnet"` (jnet's orbax checkpoint: a
    directory, or any other name)."""
    name = os.fspath(filepath)
    if os.path.isdir(name):
        return "jnet"
    if name.endswith(".weights.h5"):
        return "weights.h5"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    if name.endswith(".keras"):
        return "keras"
    return "jnet"


def _check_overwrite(filepath, overwrite):
    if not overwrite and os.path.exists(os.fspath(filepath)):
        raise FileExistsError(f"{os.fspath(filepath)!r} exists and overwrite=False")


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002 - Keras name
    """Rebuild a model saved with `model.save(filepath)`.

    Args:
        filepath: a `.keras` archive or `.h5` file (written by jnet or Keras), or a jnet
            checkpoint (any other name).
        custom_objects: `{"Name": cls}` for user layers not registered with
            `@jnet.register_serializable()`.
        compile: re-compile with the saved compile config and restore the optimizer state, so
            `evaluate` gives the same numbers and `fit` continues where it stopped.
        safe_mode: refuse layers that would import and run code named in the file (a `Lambda`
            saved with a module-level function), unless `custom_objects` supplies it.

    Returns:
        A `jnet.Model` (or `Sequential`) with the saved variables. The file is read completely
        and checked before the model is built, so a bad file raises `CheckpointError`.
    """
    from jnet.serialization import deserialize

    kind = file_kind(filepath)
    if kind == "keras":
        from jnet.models.keras_format import load_keras_archive

        return load_keras_archive(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if kind == "h5":
        from jnet.models.h5_format import load_legacy_h5_model

        return load_legacy_h5_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    filepath = latest_step_checkpoint(filepath)
    meta, entries, arrays = read_checkpoint(filepath)
    label = os.fspath(filepath)
    if meta.get("kind") != "model" or "architecture" not in meta:
        raise CheckpointError(
            f"{label!r} holds weights only (written by save_weights): build the model with code "
            "and call model.load_weights(path) instead."
        )
    try:
        # Layers that would run code from the file (a `Lambda` naming a function to import)
        # refuse here unless safe_mode=False or custom_objects supplies the function.
        model = deserialize(meta["architecture"], custom_objects=custom_objects, safe_mode=safe_mode)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"Cannot rebuild the model saved in {label!r}: {err}") from err
    if meta.get("build_config") is not None and not model.built:
        model.build_from_config(meta["build_config"])
    variables = fill_tree(
        model.current_variables(),
        entries,
        arrays,
        prefix="variables/",
        what="rebuilt model",
        source=f"checkpoint {label!r}",
    )
    model.assign_variables(variables)
    if compile and meta.get("compile_config") is not None and hasattr(model, "compile_from_config"):
        try:
            model.compile_from_config(meta["compile_config"])
        except (ValueError, TypeError) as err:
            raise CheckpointError(f"Cannot compile the model saved in {label!r}: {err}") from err
        if any(e["path"].startswith("train_state/") for e in entries) and hasattr(model, "set_train_state"):
            target = model.get_train_state()
            have = {e["path"] for e in entries}
            for e, a in list(zip(entries, arrays)):  # params/state live under variables/ only
                alias = "train_state/" + e["path"][len("variables/") :]
                if e["path"].startswith("variables/") and alias not in have:
                    entries, arrays = entries + [{**e, "path": alias}], arrays + [a]
            model.set_train_state(
                fill_tree(
                    target,
                    entries,
                    arrays,
                    prefix="train_state/",
                    what="compiled model's train state",
                    source=f"checkpoint {label!r}",
                )
            )
    return model


def model_from_json(json_string, custom_objects=None):
    """A new model from `model.to_json()`'s string (fresh weights; compiled again if the string
    holds a compile config).

    Args:
        json_string: the JSON string.
        custom_objects: `{name: object}` for custom classes and functions the config names
            (registered ones and those of an open `custom_object_scope` are found anyway).

    Example:
    ```python
    clone = jnet.models.model_from_json(model.to_json())
    ```
    """
    from jnet.serialization_lib import deserialize_keras_object

    try:
        config = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"model_from_json: json_string is not valid JSON ({err})") from err
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"model_from_json: expected the JSON of a model config, got {json_string[:200]!r}")
    from jnet.keras_configs import is_keras_module

    if not is_keras_module(config.get("module")):  # jnet's own config form
        return deserialize_keras_object(config, custom_objects=custom_objects, default_module="jnet.models")
    from jnet.models.keras_format import build_object

    model = build_object(config, custom_objects=custom_objects)
    if not getattr(model, "built", False) and config.get("build_config"):
        model.build_from_config(config["build_config"])
    if config.get("compile_config") and hasattr(model, "compile_from_config"):
        model.compile_from_config(config["compile_config"])
    return model


def save_model(model, filepath, overwrite=True, **kwargs):
    """`model.save(filepath)` as a function (Keras's `keras.saving.save_model`)."""
    return model.save(filepath, overwrite=overwrite, **kwargs)
