"""jnet's one-file checkpoint: pytrees of arrays <-> an atomic, validated zip on disk.

The format (`jnet.json` manifest + an orbax `arrays/` directory, atomic replace, every read
failure a `CheckpointError` naming the path) is described in `jnet.models.saving`. It stands
below models and callbacks: `BackupAndRestore` writes and reads its backups with it, without
importing the model package.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
import zipfile

import jax
import numpy as np

from jnet.utils.tree import path_str

# A temporary file of a save that has not been touched for this long belongs to a save that was
# killed (a live save keeps writing to it); the next save of the same target removes it.
STALE_SECONDS = 600


def remove_stale_temps(path):
    """Remove the temporary siblings (`.<name>.jnet-tmp-*`) that killed saves of `path` left."""
    parent, name = os.path.split(os.path.abspath(os.fspath(path)))
    prefix = f".{name}.jnet-tmp-"
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        full = os.path.join(parent, entry)
        try:
            if now - os.lstat(full).st_mtime < STALE_SECONDS:
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                os.remove(full)
        except OSError:
            pass  # another save cleaned it first


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


def fill_tree(
    target,
    entries: list[dict],
    arrays: list,
    prefix: str = "",
    what="checkpoint",
    skip_mismatch=False,
    source="checkpoint",
):
    """A new tree shaped like `target` with leaves from the saved `(entries, arrays)` matched by
    path. Mismatches raise one error listing every missing, unexpected and misshapen path,
    unless `skip_mismatch` (then those leaves keep the target's values, with a warning)."""
    saved = {e["path"][len(prefix) :]: (e, a) for e, a in zip(entries, arrays) if e["path"].startswith(prefix)}
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
            + "\n".join(problems[:50])
            + ("\n  ..." if len(problems) > 50 else "")
            + "\nPass skip_mismatch=True to load only the matching weights."
        )
    if problems:
        warnings.warn(
            f"Skipped {len(problems)} mismatched weight(s) while loading:\n" + "\n".join(problems[:50]), stacklevel=3
        )
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
        raise CheckpointError(
            f"Cannot save to {path}: it is a directory. jnet writes one checkpoint file; give a file path."
        )
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
                        raise CheckpointError(
                            f"{path!r} is not a jnet checkpoint: member {member!r} escapes the archive."
                        )
                zf.extractall(workdir)
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise CheckpointError(f"{path!r} is truncated or corrupted: {err}") from err
        return _read_dir(workdir, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# A member may declare at most this many times its compressed size (jnet and Keras store
# uncompressed; a zip bomb declares thousands of times more).
MAX_EXPANSION = 100


def step_checkpoints(directory) -> list[tuple[int, str]]:
    """`[(step, path)]` of the step-numbered checkpoints (`<directory>/<step>`, as
    `OrbaxCheckpoint` writes them) in `directory`, oldest first."""
    directory = os.fspath(directory)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted((int(n), os.path.join(directory, n)) for n in names if n.isdigit())


def latest_step_checkpoint(path):
    """`path`, or its newest step checkpoint when `path` is a directory of them (Keras's
    `load_model(directory)` of an `OrbaxCheckpoint` directory loads the latest step)."""
    name = os.fspath(path)
    if not os.path.isdir(name) or os.path.exists(os.path.join(name, META_NAME)):
        return path
    steps = step_checkpoints(name)
    if not steps:
        raise CheckpointError(f"{name!r} is neither a jnet checkpoint nor a directory of step checkpoints.")
    return steps[-1][1]


def check_member_sizes(zf, label, max_bytes=16 << 30):
    """Refuse an archive whose members declare more bytes than they could honestly hold,
    before anything is decompressed or extracted."""
    for info in zf.infolist():
        if info.file_size > max(MAX_EXPANSION * info.compress_size, 1 << 20) or info.file_size > max_bytes:
            raise CheckpointError(
                f"{os.fspath(label)!r}: member {info.filename!r} declares {info.file_size} bytes uncompressed "
                f"from {info.compress_size} stored; refusing to extract it."
            )


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
        raise CheckpointError(
            f"{label!r} is not a jnet checkpoint (format tag {meta.get('format') if isinstance(meta, dict) else None!r})."
        )
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
            raise CheckpointError(
                f"{label!r} is corrupted: its arrays cannot be read ({type(err).__name__}: {err})."
            ) from err
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
