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
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from jnet.core.variables import StatelessScope
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


def _own_variables(layer) -> list:
    # A layer whose Keras twin tracks another object's variable as its own (SpectralNormalization's
    # `self.kernel = self.layer.kernel`) lists Keras's own variables itself.
    saved = getattr(layer, "_keras_saved_variables", None)
    if saved is not None:  # a layer whose save_own_variables has its own order (quantized, LoRA)
        return saved()
    hook = getattr(layer, "_keras_own_variables", None)
    own = hook() if hook is not None else layer._own_variables()
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


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


def keras_weight_paths(model) -> list[tuple[str, object]]:
    """`[(h5 path of the dataset, Variable)]` of `model` in Keras 3's weights-file layout, plus
    `(group path, layer)` entries under the key `None` for every visited layer (Keras writes a
    `vars` group for each, weights or not)."""
    entries, groups, visited = [], [], set()

    def visit(layer, path):
        if id(layer) in visited:
            return
        visited.add(id(layer))
        group = f"{path}/vars" if path else "vars"
        groups.append((group, layer))
        # A layer whose Keras twin keeps its weights in a sublayer jnet folds in (ConvLSTM's `cell`).
        folded = getattr(type(layer), "_keras_vars_in", None)
        if folded:
            group = f"{path}/{folded}/vars" if path else f"{folded}/vars"
            groups.append((group, layer))
        for i, v in enumerate(_own_variables(layer)):
            entries.append((f"{group}/{i}", v))
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
    return entries, groups


def write_weights_h5(model, h5file):
    """Write `model`'s variables into an open `h5py.File` (or group) in Keras's layout."""
    values = current_values(model)
    entries, groups = keras_weight_paths(model)
    for group, layer in groups:
        h5file.require_group(group).attrs["name"] = layer.name
    values.update(_saved_values(groups, values))
    for path, v in entries:
        h5file.create_dataset(path, data=np.asarray(values[id(v)] if id(v) in values else v.value))


def _saved_values(groups, values) -> dict:
    """`{id(Variable): array}` a layer saves instead of the variable's value (LoRA merged into
    the kernel, as its `save_own_variables` does), computed on the model's current values."""
    out = {}
    for _, layer in groups:
        merged = getattr(layer, "_saved_values", None)
        if merged is None:
            continue
        bound = [(v, values[id(v)]) for v in layer._own_variables() if id(v) in values]
        with StatelessScope(state_mapping=bound):
            out.update({id(getattr(layer, name)): arr for name, arr in merged().items()})
    return out


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


def read_weights_h5(model, h5file, label: str, skip_mismatch=False) -> list:
    """`[(Variable, array)]` for every weight of `model` found in an open Keras weights file.

    Raises:
        CheckpointError: the file's weights and the model's disagree (every missing,
            unexpected and misshapen path listed), unless `skip_mismatch`.
    """
    import h5py

    from jnet.models.saving import CheckpointError

    entries, groups = keras_weight_paths(model)
    saved = {}

    def collect(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("optimizer/"):
            saved[name] = obj

    h5file.visititems(collect)
    pairs, problems, used = [], [], set()
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
    for _, layer in groups:  # LoRA restarts at zero: the file's kernel has the update merged in
        reset = getattr(layer, "_loaded_resets", None)
        pairs.extend(reset() if reset is not None else [])
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
    model in the middle of `fit` gets them too; call after every check passed."""
    import jax
    import jax.numpy as jnp

    new = {id(v): jnp.asarray(arr, v.dtype) for v, arr in pairs}
    # A variable never read yet takes its loaded array as its first value, so loading into a
    # fresh model does not first compute (and compile) the initializers it replaces.
    for v, _ in pairs:
        if not v.initialized:
            v._value = new[id(v)]
    tree = jax.tree_util.tree_map(lambda v, a: new.get(id(v), a), model._variable_tree(), model.current_variables())
    model.assign_variables(tree)


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
