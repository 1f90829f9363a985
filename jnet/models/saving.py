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
import shutil
import tempfile
import warnings
import zipfile

import jax
import numpy as np

from jnet.utils.tree import path_str

FORMAT = "jnet.checkpoint"
VERSION = 1
META_NAME = "jnet.json"
ARRAYS_DIR = "arrays"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (missing, truncated, corrupted) or does not fit."""


# --------------------------------------------------------------------------- pytrees <-> arrays


def _is_key_array(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def encode_tree(tree, prefix: str = "") -> tuple[list[dict], list[np.ndarray]]:
    """Flatten `tree` into a manifest (path, shape, dtype) and host numpy copies.

    Typed PRNG keys are stored as their raw key data with the impl name, so they round trip.
    """
    entries, arrays = [], []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        entry = {"path": prefix + path_str(path)}
        if _is_key_array(leaf):
            entry["prng_impl"] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        arr = np.array(jax.device_get(leaf))  # a copy: live training buffers get donated
        entry["shape"], entry["dtype"] = list(arr.shape), arr.dtype.name
        entries.append(entry)
        arrays.append(arr)
    return entries, arrays


def decode_leaf(entry: dict, arr: np.ndarray, like):
    """`arr` cast to the target leaf `like`'s dtype (PRNG keys rewrapped)."""
    if "prng_impl" in entry:
        return jax.random.wrap_key_data(np.asarray(arr), impl=entry["prng_impl"])
    dtype = getattr(like, "dtype", None)
    if dtype is None:
        return np.asarray(arr)
    return jax.numpy.asarray(arr, dtype=dtype)


def fill_tree(target, entries: list[dict], arrays: list, prefix: str = "", what="checkpoint",
              skip_mismatch=False, source="checkpoint"):
    """A new tree shaped like `target` with leaves from the saved `(entries, arrays)` matched by
    path. Mismatches raise one error listing every missing, unexpected and misshapen path,
    unless `skip_mismatch` (then those leaves keep the target's values, with a warning)."""
    saved = {e["path"][len(prefix):]: (e, a) for e, a in zip(entries, arrays) if e["path"].startswith(prefix)}
    flat, treedef = jax.tree_util.tree_flatten_with_path(target)
    problems, leaves, used = [], [], set()
    for path, like in flat:
        p = path_str(path)
        want = tuple(jax.numpy.shape(jax.random.key_data(like)) if _is_key_array(like) else np.shape(like))
        if p not in saved:
            problems.append(f"  {p}: the {what} expects shape {want}, missing from the {source}")
            leaves.append(like)
            continue
        entry, arr = saved[p]
        used.add(p)
        if tuple(arr.shape) != want:
            problems.append(f"  {p}: the {what} expects shape {want}, the {source} has {tuple(arr.shape)}")
            leaves.append(like)
            continue
        leaves.append(decode_leaf(entry, arr, like))
    for p, (entry, _) in saved.items():
        if p not in used:
            problems.append(f"  {p}: shape {tuple(entry['shape'])} in the {source}, not in the {what}")
    if problems and not skip_mismatch:
        raise CheckpointError(
            f"The {source} does not match the {what} ({len(problems)} mismatched path(s)):\n"
            + "\n".join(problems[:50]) + ("\n  ..." if len(problems) > 50 else "")
            + "\nPass skip_mismatch=True to load only the matching weights."
        )
    if problems:
        warnings.warn(f"Skipped {len(problems)} mismatched weight(s) while loading:\n" + "\n".join(problems[:50]), stacklevel=3)
    return jax.tree_util.tree_unflatten(treedef, leaves)


# --------------------------------------------------------------------------- the file


def _fsync_dir(path: str):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_checkpoint_dir(directory: str, meta: dict, arrays: list[np.ndarray]):
    """Write `jnet.json` and the orbax `arrays/` checkpoint into an existing empty directory."""
    import orbax.checkpoint as ocp

    if arrays:
        tree = {f"a{i}": a for i, a in enumerate(arrays)}
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(os.path.join(os.path.abspath(directory), ARRAYS_DIR), tree)
        checkpointer.wait_until_finished()
        checkpointer.close()
    with open(os.path.join(directory, META_NAME), "w") as f:
        json.dump(meta, f)


def write_checkpoint(path, meta: dict, arrays: list[np.ndarray]):
    """Atomically write a checkpoint file at `path` (see the module docstring)."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise CheckpointError(f"Cannot save to {path}: it is a directory. jnet writes one checkpoint file; give a file path.")
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, **meta}
    workdir = tempfile.mkdtemp(prefix=f".{name}.jnet-tmp-", dir=parent)
    try:
        write_checkpoint_dir(workdir, meta, arrays)
        fd, tmp_file = tempfile.mkstemp(prefix=f".{name}.jnet-tmp-", suffix=".zip", dir=parent)
        try:
            with os.fdopen(fd, "wb") as raw:
                with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                    for root, _, files in sorted(os.walk(workdir)):
                        for fname in sorted(files):
                            full = os.path.join(root, fname)
                            zf.write(full, os.path.relpath(full, workdir))
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp_file, path)  # the commit point: atomic on POSIX and Windows
            _fsync_dir(parent)
            from jnet.models.h5_util import remove_stale_temps

            remove_stale_temps(path)  # what earlier, killed saves of this file left behind
        except BaseException:
            if os.path.exists(tmp_file):
                os.remove(tmp_file)
            raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def read_checkpoint(path) -> tuple[dict, list[dict], list[np.ndarray]]:
    """`(meta, entries, arrays)` from a checkpoint file (or an unzipped checkpoint directory).

    Every failure is a `CheckpointError` naming the path and what is wrong.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"No checkpoint at {path!r}: the file does not exist.")
    if os.path.isdir(path):
        return _read_dir(path, path)
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path!r} is not a jnet checkpoint (not a complete zip archive: truncated, corrupted, "
            "or written by another program such as Keras/HDF5)."
        )
    workdir = tempfile.mkdtemp(prefix=".jnet-load-")
    try:
        try:
            with zipfile.ZipFile(path) as zf:
                check_member_sizes(zf, path)
                bad = zf.testzip()  # checks every member's CRC
                if bad is not None:
                    raise CheckpointError(f"{path!r} is corrupted: member {bad!r} fails its CRC check.")
                for member in zf.namelist():
                    target = os.path.realpath(os.path.join(workdir, member))
                    if not target.startswith(os.path.realpath(workdir) + os.sep):
                        raise CheckpointError(f"{path!r} is not a jnet checkpoint: member {member!r} escapes the archive.")
                zf.extractall(workdir)
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise CheckpointError(f"{path!r} is truncated or corrupted: {err}") from err
        return _read_dir(workdir, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# A member may declare at most this many times its compressed size (jnet and Keras store
# uncompressed; a zip bomb declares thousands of times more).
MAX_EXPANSION = 100


def check_member_sizes(zf, label, max_bytes=16 << 30):
    """Refuse an archive whose members declare more bytes than they could honestly hold,
    before anything is decompressed or extracted."""
    for info in zf.infolist():
        if info.file_size > max(MAX_EXPANSION * info.compress_size, 1 << 20) or info.file_size > max_bytes:
            raise CheckpointError(
                f"{os.fspath(label)!r}: member {info.filename!r} declares {info.file_size} bytes uncompressed "
                f"from {info.compress_size} stored; refusing to extract it.")


def _read_dir(directory: str, label: str):
    meta_file = os.path.join(directory, META_NAME)
    try:
        with open(meta_file) as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{label!r} is not a jnet checkpoint: it has no {META_NAME}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{label!r} is corrupted: {META_NAME} is not valid JSON ({err}).") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{label!r} is not a jnet checkpoint (format tag {meta.get('format') if isinstance(meta, dict) else None!r}).")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{label!r} was written by a newer jnet (format version {meta['version']} > {VERSION}).")
    entries = meta.get("arrays", [])
    arrays = []
    if entries:
        import orbax.checkpoint as ocp

        arrays_dir = os.path.join(os.path.abspath(directory), ARRAYS_DIR)
        if not os.path.isdir(arrays_dir):
            raise CheckpointError(f"{label!r} is incomplete: its arrays are missing.")
        try:
            checkpointer = ocp.StandardCheckpointer()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # orbax warns when restoring without a target
                tree = checkpointer.restore(arrays_dir)
            checkpointer.close()
        except Exception as err:  # orbax/tensorstore raise many types for damaged data
            raise CheckpointError(f"{label!r} is corrupted: its arrays cannot be read ({type(err).__name__}: {err}).") from err
        for i, entry in enumerate(entries):
            arr = tree.get(f"a{i}") if isinstance(tree, dict) else None
            if arr is None:
                raise CheckpointError(f"{label!r} is corrupted: array {entry['path']!r} is missing.")
            arr = np.asarray(arr)
            if list(arr.shape) != list(entry["shape"]) or arr.dtype.name != entry["dtype"]:
                raise CheckpointError(
                    f"{label!r} is corrupted: array {entry['path']!r} has shape {arr.shape} {arr.dtype.name}, "
                    f"the manifest says {tuple(entry['shape'])} {entry['dtype']}."
                )
            arrays.append(arr)
    return meta, entries, arrays


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
            raise ValueError(f"Model.save_weights: {os.fspath(filepath)!r} names a whole-model .keras archive; "
                             "save weights to a .weights.h5 file (Keras's), or use model.save for .keras.")
        if kind == "weights.h5":
            from jnet.models.keras_h5 import save_weights_h5

            return save_weights_h5(self, filepath)
        if kind == "h5":
            from jnet.models.h5_format import save_legacy_h5

            return save_legacy_h5(self, filepath, include_model=False)
        entries, arrays = encode_tree(self.current_variables(), prefix="variables/")
        write_checkpoint(filepath, {"kind": "weights", "arrays": entries}, arrays)

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
        meta, entries, arrays = read_checkpoint(filepath)
        new = fill_tree(self.current_variables(), entries, arrays, prefix="variables/", what=self._label,
                        skip_mismatch=skip_mismatch, source=f"checkpoint {os.fspath(filepath)!r}")
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
        from jnet.serialization import serialize

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
            raise ValueError(f"Model.save: {os.fspath(filepath)!r} names a weights file (.weights.h5); "
                             "use save_weights, or save to a .keras file for the whole model.")
        meta = {"kind": "model", "architecture": serialize(self)}
        build_config = self.get_build_config() if self._graph is None else None
        if build_config is not None:
            meta["build_config"] = build_config   # a subclassed model is rebuilt from its input shapes
        entries, arrays = encode_tree(self.current_variables(), prefix="variables/")
        if getattr(self, "compiled", False) and hasattr(self, "get_compile_config"):
            meta["compile_config"] = self.get_compile_config()
            state = _train_state_of(self) if include_optimizer else None
            if state is not None:
                e2, a2 = encode_tree(state, prefix="train_state/")
                # The train state's params/state are the variables stored above: keep one copy.
                keep = [i for i, e in enumerate(e2) if not e["path"].startswith(("train_state/params/", "train_state/state/"))]
                entries, arrays = entries + [e2[i] for i in keep], arrays + [a2[i] for i in keep]
        meta["arrays"] = entries
        json.dumps(meta)  # fail before writing anything if the config is not JSON-able
        write_checkpoint(filepath, meta, arrays)


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
    variables = fill_tree(model.current_variables(), entries, arrays, prefix="variables/", what="rebuilt model", source=f"checkpoint {label!r}")
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
                alias = "train_state/" + e["path"][len("variables/"):]
                if e["path"].startswith("variables/") and alias not in have:
                    entries, arrays = entries + [{**e, "path": alias}], arrays + [a]
            model.set_train_state(fill_tree(target, entries, arrays, prefix="train_state/",
                                            what="compiled model's train state", source=f"checkpoint {label!r}"))
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

    if not is_keras_module(config.get("module")):   # jnet's own config form
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
