"""`KerasFileEditor`: inspect, edit and resave the weights of a `.keras` or `.weights.h5` file
(Keras's `keras.saving.KerasFileEditor`), without building the model."""

from __future__ import annotations

import math
import os

import numpy as np

# A dataset larger than this is refused before it is read (Keras's limit).
MAX_DATASET_BYTES = 1 << 32
MAX_RANK = 64


class KerasFileEditor:
    """Inspect, edit and resave the weights of a Keras 3 weights file.

    Useful to adapt an old file after changing a model's architecture. The weights are held as
    a nested dict following the file's layout (`editor.weights_dict["layers"]["dense"]["0"]`),
    one level per object, each object's variables under `"0"`, `"1"`, ...

    Args:
        filepath: a `.keras` archive or a `.weights.h5` file (written by Keras 3 or jnet).

    Example:

    ```python
    editor = jnet.saving.KerasFileEditor("my_model.weights.h5")
    editor.summary()
    editor.delete_object("layers/dense_2")
    editor.add_object("layers/einsum_dense", weights={"0": kernel, "1": bias})
    editor.resave_weights("edited_model.weights.h5")
    ```
    """

    def __init__(self, filepath):
        import h5py

        self.filepath = os.fspath(filepath)
        self.metadata = None
        self.config = None
        self.model = None
        if self.filepath.endswith(".keras"):
            import io

            from jnet.models.keras_format import WEIGHTS_NAME, _open_archive
            from jnet.models.saving import CheckpointError

            self.config, metadata, weights = _open_archive(self.filepath)
            self.metadata = {k: v for k, v in metadata.items() if not k.startswith("_")}
            if weights is None:
                raise CheckpointError(f"{self.filepath!r} has no {WEIGHTS_NAME}.")
            with h5py.File(io.BytesIO(weights), "r") as f:
                self.weights_dict, self.object_metadata = _extract(f)
        elif self.filepath.endswith(".weights.h5"):
            from jnet.models.h5_util import open_h5

            with open_h5(self.filepath) as f:
                self.weights_dict, self.object_metadata = _extract(f)
        else:
            raise ValueError(
                f"KerasFileEditor: invalid filepath {self.filepath!r}: expected a `.keras` or `.weights.h5` extension."
            )
        print(f"Keras model file '{self.filepath}'")
        if self.metadata:
            print(
                f"Saved with Keras {self.metadata.get('keras_version', '?')} - date: "
                f"{self.metadata.get('date_saved', '?')}"
            )

    # ------------------------------------------------------------------ inspecting

    def summary(self):
        """Print the weight structure of the opened file."""
        print("Weights structure")
        self._print_structure(self.weights_dict, prefix="  ", inner_path="")

    weights_summary = summary

    def _print_structure(self, weights, prefix, inner_path, first=True):
        items = list(weights.items())
        for i, (key, value) in enumerate(items):
            path = f"{inner_path}/{key}" if inner_path else key
            connector = "> " if first and i == 0 else ("└─ " if i == len(items) - 1 else "├─ ")
            if isinstance(value, dict):
                name = self.object_metadata.get(path, {}).get("name")
                print(f"{prefix}{connector}{key}" + (f" ('{name}')" if name else ""))
                self._print_structure(value, prefix + ("    " if i == len(items) - 1 else "│   "), path, first=False)
            else:
                print(f"{prefix}{connector}{key}: shape={value.shape}, dtype={value.dtype}")

    def compare(self, reference_model):
        """List every difference between the opened file and `reference_model`'s weights.

        Args:
            reference_model: a built model (or layer) to compare with.

        Returns:
            A dict with `"status"` (`"success"` or `"error"`), `"error_count"` (the number of
            mismatches) and `"match_count"` (the number of weights that fit).
        """
        print("Running comparison")
        ref = weight_spec(reference_model)
        checked = set()
        errors, matches = _compare(self.weights_dict, ref, "", "saved file", "reference model", checked)
        back, _ = _compare(ref, self.weights_dict, "", "reference model", "saved file", checked)
        errors += back
        print("─────────────────────")
        if errors == 0:
            print("Comparison successful: saved file is compatible with the reference model")
            print(f"    Found {matches} matching weight{'' if matches == 1 else 's'}")
        else:
            print(
                f"Found {errors} error{'' if errors == 1 else 's'}: "
                "saved file is not compatible with the reference model"
            )
        return {"status": "success" if errors == 0 else "error", "error_count": errors, "match_count": matches}

    # ------------------------------------------------------------------ editing

    def _edit_object(self, edit_fn, source_name, target_name=None):
        if target_name is not None and "/" in target_name:
            raise ValueError(f"KerasFileEditor: target_name should be a leaf name, not a path; got {target_name!r}")
        if "/" in source_name:
            *parents, leaf = source_name.split("/")
            node = self.weights_dict
            for e in parents:
                if not isinstance(node.get(e), dict):
                    raise ValueError(f"KerasFileEditor: path {source_name!r} not found in the file.")
                node = node[e]
            if leaf not in node:
                raise ValueError(f"KerasFileEditor: path {source_name!r} not found in the file.")
            edit_fn(node, source_name=leaf, target_name=target_name)
            return
        holders = _holders(self.weights_dict, source_name)
        if len(holders) > 1:
            raise ValueError(
                f"KerasFileEditor: name {source_name!r} occurs more than once in the file; pass its full path "
                f"(one of {[h[0] for h in holders]})"
            )
        if not holders:
            raise ValueError(
                f"KerasFileEditor: name {source_name!r} does not appear in the file; "
                "editor.summary() lists every object."
            )
        edit_fn(holders[0][1], source_name=source_name, target_name=target_name)

    def rename_object(self, object_name, new_name):
        """Rename an object (a layer) in the file.

        Args:
            object_name: the object's name or path (`"dense_2"` or `"layers/dense_2"`).
            new_name: its new name (a leaf name, no `/`).
        """

        def rename(node, source_name, target_name):
            node[target_name] = node.pop(source_name)

        self._edit_object(rename, object_name, new_name)

    def delete_object(self, object_name):
        """Remove an object (a layer) and its weights from the file.

        Args:
            object_name: the object's name or path (`"dense_2"` or `"layers/dense_2"`).
        """

        def delete(node, source_name, target_name=None):
            node.pop(source_name)

        self._edit_object(delete, object_name)

    def add_object(self, object_path, weights):
        """Add a new object (a layer) with its weights.

        Args:
            object_path: the object's full path (`"layers/dense_2"`); its parents must exist.
            weights: `{"0": array, "1": array, ...}`.
        """
        weights = _check_weights("add_object", weights)
        *parents, leaf = object_path.split("/")
        node = self.weights_dict
        for e in parents:
            if not isinstance(node.get(e), dict):
                raise ValueError(f"KerasFileEditor.add_object: path {'/'.join(parents)!r} not found in the file.")
            node = node[e]
        node[leaf] = weights

    def delete_weight(self, object_name, weight_name):
        """Remove one weight of an object.

        Args:
            object_name: the object's name or path (`"dense_2"` or `"layers/dense_2"`).
            weight_name: the weight's key (`"0"`).
        """

        def delete(node, source_name, target_name=None):
            if weight_name not in node[source_name]:
                raise ValueError(
                    f"KerasFileEditor.delete_weight: weight {weight_name!r} not found in object "
                    f"{object_name!r}; its weights: {list(node[source_name])}"
                )
            node[source_name].pop(weight_name)

        self._edit_object(delete, object_name)

    def add_weights(self, object_name, weights):
        """Add weights to an existing object.

        Args:
            object_name: the object's name or path (`"dense_2"` or `"layers/dense_2"`).
            weights: `{"2": array, ...}`.
        """
        weights = _check_weights("add_weights", weights)

        def add(node, source_name, target_name=None):
            node[source_name].update(weights)

        self._edit_object(add, object_name)

    # ------------------------------------------------------------------ saving

    def save(self, filepath):
        """Write the edited weights to a `.weights.h5` file (atomically).

        Args:
            filepath: the file to write; must end in `.weights.h5`.
        """
        from jnet.models.h5_util import atomic_h5

        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError(
                f"KerasFileEditor.save: invalid filepath {filepath!r}: expected a `.weights.h5` extension."
            )

        def write(node, f, inner_path):
            own = {}
            for name, value in node.items():
                if isinstance(value, dict):
                    if value:
                        write(value, f, f"{inner_path}/{name}" if inner_path else name)
                else:
                    own[name] = value
            if own:
                group = f.require_group(f"{inner_path}/vars" if inner_path else "vars")
                for name, value in own.items():
                    group.create_dataset(name, data=np.asarray(value))

        with atomic_h5(filepath) as f:
            write(self.weights_dict, f, "")

    def resave_weights(self, filepath):
        """`save(filepath)`."""
        self.save(filepath)


def _check_weights(method, weights) -> dict:
    if not isinstance(weights, dict):
        raise ValueError(
            f"KerasFileEditor.{method}: weights should be a dict of weight names ('0', '1', ...) to "
            f"arrays; got {type(weights).__name__}"
        )
    return dict(weights)


def _holders(node, name, path="") -> list:
    """`[(path, dict holding `name`)]` everywhere in the nested weights."""
    out = [(f"{path}/{name}" if path else name, node)] if name in node else []
    for key, value in node.items():
        if isinstance(value, dict):
            out.extend(_holders(value, name, f"{path}/{key}" if path else key))
    return out


def _extract(group, inner_path="", metadata=None):
    """`(nested dict of arrays, {object path: attrs})` of an open weights file: an object's
    `vars` group becomes the object's own level, objects nested in it (an LSTM's `cell`) sit
    beside its variables. Links, external and virtual datasets, and datasets over 4 GiB or of
    absurd rank are refused."""
    import h5py

    metadata = {} if metadata is None else metadata
    out = {}
    for key in group.keys():
        path = f"{inner_path}/{key}" if inner_path else key
        value = _child(group, key, path)
        if isinstance(value, h5py.Group):
            if key == "vars":  # this object's own variables
                if value.attrs:
                    metadata[inner_path] = dict(value.attrs.items())
                for k in value.keys():
                    data = _child(value, k, f"{path}/{k}")
                    if isinstance(data, h5py.Dataset):
                        out[k] = _read_dataset(data, f"{path}/{k}")
                continue
            sub, _ = _extract(value, path, metadata)
            if sub:
                out[key] = sub
        elif isinstance(value, h5py.Dataset):
            out[key] = _read_dataset(value, path)
    return out, metadata


def _child(group, key, path):
    import h5py

    kind = group.get(key, getclass=True, getlink=True)
    if kind in (h5py.ExternalLink, h5py.SoftLink):
        raise ValueError(f"KerasFileEditor: not allowed: an HDF5 {kind.__name__} at {path}")
    return group[key]


def _read_dataset(value, path):
    if value.external:
        raise ValueError(f"KerasFileEditor: not allowed: a dataset with external storage at {path}")
    if value.is_virtual:
        raise ValueError(f"KerasFileEditor: not allowed: a virtual dataset at {path}")
    if len(value.shape) > MAX_RANK or any(d < 0 for d in value.shape):
        raise ValueError(f"KerasFileEditor: malformed dataset shape {value.shape} at {path}")
    size = math.prod(value.shape) * value.dtype.itemsize
    if size > MAX_DATASET_BYTES:
        raise ValueError(
            f"KerasFileEditor: dataset {path} is too large to load safely ({size} bytes; limit {MAX_DATASET_BYTES})"
        )
    return value[()]


def weight_spec(model) -> dict:
    """The nested `{object: {weight key: ShapeDtypeStruct}}` that `model`'s weights file holds
    (each layer's `save_own_variables`, at its place in Keras's layout)."""
    import jax

    from jnet.models.keras_h5 import current_values, visit_layers

    values = current_values(model)
    spec = {}
    for path, _, layer, holds in visit_layers(model):
        if not holds:
            continue
        store = _SpecStore(values)
        layer.save_own_variables(store)
        if not store:
            continue
        node = spec
        for part in path.split("/") if path else []:
            node = node.setdefault(part, {})
        node.update({k: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype) for k, v in sorted(store.items())})
    optimizer = _optimizer_spec(model)
    if optimizer:
        spec["optimizer"] = optimizer
    return spec


def _optimizer_spec(model) -> dict:
    import jax

    if not getattr(model, "compiled", False):
        return {}
    from jnet.models.keras_optimizer import keras_optimizer_arrays

    arrays = keras_optimizer_arrays(model) or []
    return {str(i): jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype) for i, a in enumerate(arrays)}


class _SpecStore(dict):
    def __init__(self, values):
        super().__init__()
        self._values = values

    def __setitem__(self, key, value):
        from jnet.core.variables import Variable

        if isinstance(value, Variable):
            value = self._values.get(id(value), value.value)
        super().__setitem__(str(key), np.asarray(value))


def _compare(target, ref, inner_path, target_name, ref_name, checked) -> tuple[int, int]:
    errors = matches = 0
    for key, ref_val in ref.items():
        path = f"{inner_path}/{key}"
        if path in checked:
            continue
        if key not in target:
            errors += 1
            checked.add(path)
            if isinstance(ref_val, dict):
                print(f"...Object {path} present in {ref_name}, missing from {target_name}")
                print(f"    In {ref_name}, {path} contains the following keys: {list(ref_val)}")
            else:
                print(f"...Weight {path} present in {ref_name}, missing from {target_name}")
        elif isinstance(ref_val, dict):
            if not isinstance(target[key], dict):
                errors += 1
                checked.add(path)
                print(f"...Object {path} in {ref_name} is a weight in {target_name}")
                continue
            e, m = _compare(target[key], ref_val, path, target_name, ref_name, checked)
            errors, matches = errors + e, matches + m
        elif isinstance(target[key], dict) or tuple(target[key].shape) != tuple(ref_val.shape):
            errors += 1
            checked.add(path)
            other = "an object" if isinstance(target[key], dict) else f"shape={tuple(target[key].shape)}"
            print(
                f"...Weight shape mismatch for {path}\n    In {ref_name}: shape={tuple(ref_val.shape)}\n"
                f"    In {target_name}: {other}"
            )
        else:
            matches += 1
    return errors, matches
