"""Keras 3's weights file (`model.weights.h5`, also inside a `.keras` archive), both ways.

Keras 3 stores a model's variables in HDF5 by walking its objects the way
`keras.saving.saving_lib` does: an object's own variables go to `<path>/vars/0, 1, ...`
(trainable ones first, then non-trainable, each in creation order); then its children follow,
visited once each: a Sequential or functional model's `layers` first, then every attribute in
sorted name order. An attribute holding a layer adds its name to the path
(`layers/lstm/cell/vars/0`); a list of layers adds the attribute's name and then, per layer, its
class name in snake case, numbered per class (`layers/dense`, `layers/dense_1`, ...).

jnet's layers declare the same weights in the same order under Keras's names, so the only
translation needed is the few private attribute names of jnet's built-in layers that differ
from Keras's (`_cell` is Keras's `cell`, ...). Variables are matched by path; a mismatch lists
every missing, unexpected and misshapen path, and the model changes only if all of it fits.

Each layer's part is what its `save_own_variables(store)` writes (by default its variables under
`"0"`, `"1"`, ...), so a layer overriding it changes the file as in Keras; a layer overriding
`load_own_variables` reads its group's arrays itself, after every other path was checked.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from jnet.layers.base import Layer, to_snake_case

# jnet built-ins' attribute names -> the attribute Keras holds the same sublayer under.
_KERAS_ATTR = {
    "_cell": "cell",
    "_forward": "forward_layer",
    "_backward": "backward_layer",
    "_query_dense": "query_dense",
    "_key_dense": "key_dense",
    "_value_dense": "value_dense",
    "_output_dense": "output_dense",
}
_SKIP = ("_inbound_nodes", "_graph", "_layers", "_own_vars")


def _class_path_name(layer) -> str:
    from jnet.models.model import Model

    if type(layer) is Model:  # Keras's `keras.Model(inputs, outputs)` is a `Functional`
        return "functional"
    # A layer loaded from a Keras config under another class (custom_objects) keeps Keras's name.
    return to_snake_case(layer.__dict__.get("_keras_class_name") or type(layer).__name__)


def _children(layer):
    """`(attribute name, layer or list of layers)` in the order Keras visits them."""
    from jnet.models.model import Model

    out = []
    if isinstance(layer, Model) and getattr(layer, "_graph", None) is not None:
        out.append(("layers", list(layer.layers)))
    builtin = type(layer).__module__.startswith("jnet.")
    skip = set(_SKIP) | set(getattr(type(layer), "_untracked", ()))
    attrs = []
    for key, value in layer.__dict__.items():
        if key in skip or key.startswith("__"):
            continue
        if isinstance(value, Layer) or (isinstance(value, (list, tuple, dict)) and _layers_in(value)):
            attrs.append((_KERAS_ATTR.get(key, key) if builtin else key, value))
    if isinstance(layer, Model) and getattr(layer, "_graph", None) is None:
        attrs.append(("layers", list(layer.layers)))  # Keras's `Model.layers` property
    out.extend(sorted(attrs, key=lambda kv: kv[0]))
    return out


def _layers_in(container) -> list:
    values = container.values() if isinstance(container, dict) else container
    return [v for v in values if isinstance(v, Layer)]


def visit_layers(model) -> list[tuple[str, str, object, bool]]:
    """`[(inner path, vars group, layer, holds variables)]` for every layer of `model`, once
    each, in the order Keras's saving walks them. The inner path names the layer's place
    (`layers/dense`; `""` for the model) and its assets folder; the group is where its
    `save_own_variables` store lives (an entry that holds no variables is an empty group
    Keras writes too)."""
    out, visited = [], set()

    def visit(layer, path):
        if id(layer) in visited:
            return
        visited.add(id(layer))
        group = f"{path}/vars" if path else "vars"
        # A layer whose Keras twin keeps its weights in a sublayer jnet folds in (ConvLSTM's
        # `cell`): Keras's file has the layer's own (empty) group and the sublayer's.
        folded = getattr(type(layer), "_keras_vars_in", None)
        if folded:
            out.append((path, group, layer, False))
            group = f"{path}/{folded}/vars" if path else f"{folded}/vars"
        out.append((path, group, layer, True))
        for attr, child in _children(layer):
            where = f"{path}/{attr}" if path else attr
            if isinstance(child, Layer):
                visit(child, where)
                continue
            used = {}
            for sub in _layers_in(child):
                name = _class_path_name(sub)
                if name in used:
                    used[name] += 1
                    name = f"{name}_{used[name]}"
                else:
                    used[name] = 0
                visit(sub, f"{where}/{name}")

    visit(model, "")
    return out


def _overrides(layer, hook: str) -> bool:
    return getattr(type(layer), hook, None) is not getattr(Layer, hook)


def keras_weight_paths(model) -> list[tuple[str, object]]:
    """`[(h5 path of the dataset, Variable)]` of `model` in Keras 3's weights-file layout (the
    default `save_own_variables` of every layer), plus `(group path, layer)` entries for every
    visited layer (Keras writes a `vars` group for each, weights or not)."""
    entries, groups = [], []
    for _, group, layer, holds in visit_layers(model):
        groups.append((group, layer))
        if holds:
            entries.extend((f"{group}/{i}", v) for i, v in enumerate(layer._saved_variables()))
    return entries, groups


class WriteStore:
    """The dict-like `save_own_variables` writes into: one layer's `vars` group. A Variable
    stored is written with its live value (the training arrays during `fit`)."""

    def __init__(self, group, values):
        self._group, self._values = group, values

    def __setitem__(self, key, value):
        from jnet.core.variables import Variable

        if isinstance(value, Variable):
            value = self._values[id(value)] if id(value) in self._values else value.value
        key = str(key)
        if key in self._group:
            del self._group[key]
        self._group.create_dataset(key, data=np.asarray(value))

    def __getitem__(self, key):
        return np.asarray(self._group[str(key)][()])

    def __contains__(self, key):
        return str(key) in self._group

    def __len__(self):
        return len(self._group)

    def __iter__(self):
        return iter(self._group.keys())

    def keys(self):
        return list(self._group.keys())


class ReadStore(dict):
    """The dict-like `load_own_variables` reads: one layer's arrays, by key, as numpy."""


def write_weights_h5(model, h5file):
    """Write `model`'s variables into an open `h5py.File` (or group) in Keras's layout, each
    layer's through its `save_own_variables`."""
    from jnet.core.variables import call_scope

    values = current_values(model)
    for _, group, layer, holds in visit_layers(model):
        g = h5file.require_group(group)
        g.attrs["name"] = layer.name
        if holds:
            # The live values bound, so a hook computing from `.value` (LoRA's merged kernel)
            # writes the arrays of the latest step during `fit`, not those from before it.
            with call_scope(values):
                layer.save_own_variables(WriteStore(g, values))


def current_values(model) -> dict:
    """`{id(Variable): array}` of the model's current values; during `fit` these are the live
    training arrays, which the Variables themselves only receive when training ends."""
    import jax

    model._materialize()
    tree, values = model._variable_tree(), model.current_variables()
    pairs = jax.tree_util.tree_leaves(
        jax.tree_util.tree_map(lambda v, a: (v, a), tree, values), is_leaf=lambda x: isinstance(x, tuple)
    )
    return {id(v): a for v, a in pairs}


class LoadedWeights(list):
    """`[(Variable, array)]` read from a weights file, plus `hooks`: `[(layer, ReadStore)]` for
    the layers that read their own arrays (`load_own_variables` overridden)."""

    hooks: list


def read_weights_h5(model, h5file, label: str, skip_mismatch=False) -> LoadedWeights:
    """`[(Variable, array)]` for every weight of `model` found in an open Keras weights file,
    and the stores of the layers that load their own (see `LoadedWeights`).

    Raises:
        CheckpointError: the file's weights and the model's disagree (every missing,
            unexpected and misshapen path listed), unless `skip_mismatch`.
    """
    import h5py

    from jnet.models.saving import CheckpointError

    hooked = {
        group: layer
        for _, group, layer, holds in visit_layers(model)
        if holds and _overrides(layer, "load_own_variables") and getattr(layer, "_loads_own_variables", True)
    }
    entries, _ = keras_weight_paths(model)
    entries = [(path, v) for path, v in entries if path.rsplit("/", 1)[0] not in hooked]
    saved = {}

    def collect(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("optimizer/"):
            saved[name] = obj

    h5file.visititems(collect)
    pairs, problems, used = LoadedWeights(), [], set()
    stores = {group: ReadStore() for group in hooked}
    for path, data in saved.items():
        group, key = path.rsplit("/", 1) if "/" in path else ("", path)
        if group in stores:
            stores[group][key] = np.asarray(data[()])
            used.add(path)
    pairs.hooks = [(layer, stores[group]) for group, layer in hooked.items()]
    for path, v in entries:
        if path not in saved:
            problems.append(f"  {path} ({v.path}): the model expects shape {v.shape}, missing from the file")
            continue
        used.add(path)
        arr = np.asarray(saved[path][()])
        if tuple(arr.shape) != tuple(v.shape):
            problems.append(f"  {path} ({v.path}): the model expects shape {tuple(v.shape)}, the file has {arr.shape}")
            continue
        pairs.append((v, arr))
    for path in sorted(set(saved) - used):
        problems.append(f"  {path}: shape {saved[path].shape} in the file, not in the model")
    if problems and not skip_mismatch:
        raise CheckpointError(
            f"The Keras weights file {label!r} does not match {model._label} ({len(problems)} mismatched "
            "path(s)):\n"
            + "\n".join(problems[:50])
            + ("\n  ..." if len(problems) > 50 else "")
            + "\nPass skip_mismatch=True to load only the matching weights."
        )
    if problems:
        warnings.warn(
            f"Skipped {len(problems)} mismatched weight(s) while loading {label!r}:\n" + "\n".join(problems[:50]),
            stacklevel=3,
        )
    return pairs


def assign_pairs(model, pairs):
    """Give each Variable its array (cast to its dtype) through `model.assign_variables`, so a
    model in the middle of `fit` gets them too; call after every check passed. Layers that load
    their own (`pairs.hooks`) get their `load_own_variables` called first."""
    import jax
    import jax.numpy as jnp

    pairs = list(pairs) + _run_load_hooks(getattr(pairs, "hooks", ()))
    new = {id(v): jnp.asarray(arr, v.dtype) for v, arr in pairs}
    # A variable never read yet takes its loaded array as its first value, so loading into a
    # fresh model does not first compute (and compile) the initializers it replaces.
    for v, _ in pairs:
        if not v.initialized:
            v._value = new[id(v)]
    tree = jax.tree_util.tree_map(lambda v, a: new.get(id(v), a), model._variable_tree(), model.current_variables())
    model.assign_variables(tree)


def _run_load_hooks(hooks) -> list:
    """Call each layer's own `load_own_variables`; its variables' new values join the arrays
    assigned through the model (so a model in the middle of `fit` gets them too)."""
    out = []
    for layer, store in hooks:
        before = {id(v): v._value for v in layer._own_variables()}
        try:
            layer.load_own_variables(store)
        except (KeyError, ValueError, TypeError) as err:
            from jnet.models.saving import CheckpointError

            raise CheckpointError(f"{layer._label}.load_own_variables failed: {err!r}") from err
        out.extend((v, v._value) for v in layer._own_variables() if v._value is not before.get(id(v)))
    return out


def save_weights_h5(model, filepath):
    """`model.save_weights("x.weights.h5")`: Keras 3's weights file, written atomically."""
    from jnet.models.h5_util import atomic_h5

    with atomic_h5(filepath) as f:
        write_weights_h5(model, f)


def load_weights_h5(model, filepath, skip_mismatch=False):
    """`model.load_weights("x.weights.h5")` of a file written by Keras 3 or jnet."""
    from jnet.models.h5_util import open_h5

    label = os.fspath(filepath)
    with open_h5(filepath) as f:
        pairs = read_weights_h5(model, f, label, skip_mismatch=skip_mismatch)
    assign_pairs(model, pairs)
