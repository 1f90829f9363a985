"""Keras 3's `.keras` archive, both ways: `model.save("x.keras")` and `load_model("x.keras")`.

The archive is an uncompressed zip of three members, as Keras 3 writes it:

- `metadata.json`: `{"keras_version", "date_saved"}` (jnet adds `"jnet_version"`);
- `config.json`: the model in Keras's serialization format (`module`, `class_name`, `config`,
  `registered_name`, `build_config`, `compile_config`); functional models list their layers
  with `inbound_nodes` whose tensors are `__keras_tensor__` references `[layer, node, index]`;
- `model.weights.h5`: the variables in Keras's HDF5 layout (`jnet.models.keras_h5`), each
  layer's written by its `save_own_variables`;
- `assets/...`, when a layer has `save_assets(dir)`: the files it wrote, under its path
  (`assets/layers/lookup/vocabulary.txt`), given back to its `load_assets(dir)` on loading.

jnet's built-in classes are written under Keras's modules (`keras.layers`, ...), so Keras
loads the archive; configs Keras wrote load into jnet's classes of the same names
(`jnet.keras_configs` checks the Keras-only arguments). Custom classes resolve through
`custom_objects` and registration. Nothing in the archive is executed, and member sizes are
checked before anything is read.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

import jax
import numpy as np

from jnet.core.symbolic import dtype_name
from jnet.models.keras_h5 import assign_pairs, read_weights_h5, write_weights_h5

CONFIG_NAME, METADATA_NAME, WEIGHTS_NAME = "config.json", "metadata.json", "model.weights.h5"
TRAIN_STATE_NAME = "jnet_train_state.h5"
ASSETS_DIR = "assets"
# The Keras version jnet's configs follow; Keras warns on loading an archive from a newer one.
KERAS_VERSION = "3.5.0"
# An archive member larger than this (declared, uncompressed) is refused before it is read.
MAX_MEMBER_BYTES = 16 << 30
_MODEL_CLASSES = ("Functional", "Sequential", "Model")  # "Model": tf.keras's name of a functional model


# --------------------------------------------------------------------------- jnet -> Keras


def _kerasify(value):
    """A config from `serialize_keras_object` with jnet's built-in modules renamed to Keras's
    and jnet-only empty arguments (`input_shape=None`) dropped."""
    if isinstance(value, list):
        return [_kerasify(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _kerasify(v) for k, v in value.items()}
    if "class_name" in out and "config" in out and "module" not in out:
        family = _builtin_family(out["class_name"])
        if family is not None:  # jnet's short form (a wrapper's `layer`, an optimizer)
            out = {
                "module": f"jnet.{family}",
                "class_name": out["class_name"],
                "config": out["config"],
                "registered_name": None,
            }
    module = out.get("module")
    if (
        "class_name" in out
        and isinstance(module, str)
        and module.startswith("jnet")
        and out.get("registered_name") is None
    ):
        out["module"] = "keras" + module[len("jnet") :]
        inner = out.get("config")
        if isinstance(inner, dict):
            for key in ("input_shape", "input_dim"):
                if inner.get(key) is None:
                    inner.pop(key, None)
    return out


def _builtin_family(name) -> str | None:
    """`"layers"`, `"optimizers"`, ... for a jnet built-in class name, else None."""
    from jnet import serialization as reg
    from jnet.layers.base import Layer

    cls = reg.builtin_class(name)
    if not isinstance(cls, type) or not cls.__module__.startswith("jnet."):
        return None
    family = reg.family_of(cls)
    if family is None and issubclass(cls, Layer):
        family = "layers"
    return family


def _input_entry(tensor, name):
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "registered_name": None,
        "name": name,
        "config": {
            "batch_shape": list(tensor.shape),
            "dtype": dtype_name(tensor.dtype),
            "sparse": False,
            "ragged": False,
            "name": name,
        },
        "inbound_nodes": [],
    }


def _layer_entry(layer):
    from jnet.serialization_lib import serialize_keras_object

    if _is_graph_model(layer):
        entry = model_to_keras_config(layer, compile_config=False)
    else:
        entry = _kerasify(serialize_keras_object(layer))
        # Keras builds a model's layers by calling them; jnet's build configs of multi-input
        # layers (MultiHeadAttention) are not in Keras's `shapes_dict` form.
        entry.pop("build_config", None)
    entry.pop("compile_config", None)
    return entry


def _is_graph_model(layer) -> bool:
    from jnet.models.model import Model

    return isinstance(layer, Model) and getattr(layer, "_graph", None) is not None


def _model_class():
    from jnet.models.model import Model

    return Model


def _tensor_ref(t, node_index):
    # A Keras functional model owns a node of its own (index 0) before any call of it.
    offset = 1 if type(t.node.layer) is _model_class() and _is_graph_model(t.node.layer) else 0
    return {
        "class_name": "__keras_tensor__",
        "config": {
            "shape": list(t.shape),
            "dtype": dtype_name(t.dtype),
            "keras_history": [t.node.layer.name, node_index[id(t.node)] + offset, t.index],
        },
    }


def _functional_config(model) -> dict:
    from jnet.core.symbolic import is_symbolic
    from jnet.layers.input_layer import InputLayer

    graph = model._graph
    node_index, counts = {}, {}
    for node in graph.nodes:
        node_index[id(node)] = counts.get(id(node.layer), 0)
        counts[id(node.layer)] = node_index[id(node)] + 1

    def ref(x):
        return _tensor_ref(x, node_index) if is_symbolic(x) else x

    layers = []
    for layer in graph.layers:
        if isinstance(layer, InputLayer):
            node = next(n for n in graph.nodes if n.layer is layer)
            layers.append(_input_entry(node.outputs, layer.name))
            continue
        calls = [
            {
                "args": jax.tree_util.tree_map(ref, list(n.args), is_leaf=is_symbolic),
                "kwargs": jax.tree_util.tree_map(ref, dict(n.kwargs), is_leaf=is_symbolic),
            }
            for n in graph.nodes
            if n.layer is layer
        ]
        layers.append({**_layer_entry(layer), "name": layer.name, "inbound_nodes": calls})

    def io(tensors, keys, kind):
        refs = [ref(t)["config"]["keras_history"] for t in tensors]
        if kind == "single":
            return refs[0]
        return dict(zip(keys, refs)) if keys else refs

    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": io(graph.inputs, graph.input_keys, graph.input_kind),
        "output_layers": io(graph.outputs, graph.output_keys, graph.output_kind),
    }


def model_to_keras_config(model, compile_config=True) -> dict:
    """`model` as Keras 3's `serialize_keras_object` writes a model (what `config.json` holds)."""
    from jnet.models.sequential import Sequential
    from jnet.serialization_lib import serialize_keras_object

    if isinstance(model, Sequential) and model._graph is not None:
        inp = model._graph.inputs[0]
        layers = [_input_entry(inp, model._graph.layers[0].name)] + [_layer_entry(layer) for layer in model.layers]
        config = {
            "module": "keras",
            "class_name": "Sequential",
            "registered_name": None,
            "config": {
                "name": model.name,
                "trainable": model.trainable,
                "layers": layers,
                "build_input_shape": list(inp.shape),
            },
            "build_config": {"input_shape": list(inp.shape)},
        }
    elif _is_graph_model(model) and type(model) is _model_class():
        config = {
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "registered_name": None,
            "config": _functional_config(model),
            "build_config": None,
        }
    else:  # a subclassed model: its own get_config, rebuilt from build_config
        config = _kerasify(serialize_keras_object(model))
        config.pop("compile_config", None)
    if compile_config and getattr(model, "compiled", False):
        config["compile_config"] = _keras_compile_config(model)
    return config


# Keras's `Model.compile` arguments; jnet's other compile settings are left out when unset.
_KERAS_COMPILE_KEYS = (
    "optimizer",
    "loss",
    "loss_weights",
    "metrics",
    "weighted_metrics",
    "run_eagerly",
    "steps_per_execution",
    "jit_compile",
)


def _keras_compile_config(model) -> dict:
    from jnet.serialization_lib import serialize_keras_object

    config = _kerasify(serialize_keras_object(model.get_compile_config()))
    extra = {k: v for k, v in config.items() if k not in _KERAS_COMPILE_KEYS}
    steps = extra.pop("gradient_accumulation_steps", None)
    if steps is not None and isinstance(config.get("optimizer"), dict):
        config["optimizer"]["config"]["gradient_accumulation_steps"] = steps  # where Keras keeps it
    if not isinstance(config.get("steps_per_execution", 1), int):
        config.pop("steps_per_execution")  # jnet's "auto": Keras takes a count only (default 1)
    kept = {k: v for k, v in extra.items() if v is not None}
    return {**{k: config[k] for k in _KERAS_COMPILE_KEYS if k in config}, **kept}


def save_keras_archive(model, filepath):
    """Write `model` as Keras 3's `.keras` zip at `filepath`, atomically."""
    from jnet import __version__ as jnet_version
    from jnet.models.h5_util import atomic_file

    config = model_to_keras_config(model)
    metadata = {
        "keras_version": KERAS_VERSION,
        "jnet_version": jnet_version,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }
    import h5py

    from jnet.models.h5_format import write_train_state
    from jnet.models.keras_optimizer import keras_optimizer_arrays

    weights, train_state = io.BytesIO(), None
    compiled = getattr(model, "compiled", False)
    with h5py.File(weights, "w") as f:
        write_weights_h5(model, f)
        state = keras_optimizer_arrays(model) if compiled else None
        if state is not None:  # Keras resumes from these too
            group = f.create_group("optimizer/vars")
            group.attrs["name"] = model.optimizer.name if hasattr(model.optimizer, "name") else "optimizer"
            for i, arr in enumerate(state):
                group.create_dataset(str(i), data=arr)
    if compiled:  # jnet's whole training state (any optimizer, metrics, rng), in a member Keras ignores
        train_state = io.BytesIO()
        with h5py.File(train_state, "w") as f:
            write_train_state(f, model)
    with atomic_file(filepath) as raw:
        with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA_NAME, json.dumps(metadata))
            zf.writestr(CONFIG_NAME, json.dumps(config))
            zf.writestr(WEIGHTS_NAME, weights.getvalue())
            if train_state is not None:
                zf.writestr(TRAIN_STATE_NAME, train_state.getvalue())
            for name, data in _saved_assets(model):
                zf.writestr(name, data)


def _saved_assets(model) -> list[tuple[str, bytes]]:
    """`[(archive name, bytes)]` of the files the layers' `save_assets(dir)` write, each layer
    given the folder of its path under `assets/` (Keras's layout)."""
    import tempfile

    from jnet.models.keras_h5 import visit_layers

    savers = [(path, layer) for path, _, layer, holds in visit_layers(model) if holds and hasattr(layer, "save_assets")]
    if not savers:
        return []
    out = []
    with tempfile.TemporaryDirectory(prefix="jnet-assets-") as root:
        for path, layer in savers:
            folder = os.path.join(root, *path.split("/")) if path else root
            os.makedirs(folder, exist_ok=True)
            layer.save_assets(folder)
        for here, _, files in os.walk(root):
            for name in sorted(files):
                full = os.path.join(here, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, "rb") as f:
                    out.append((f"{ASSETS_DIR}/{rel}", f.read()))
    return out


def _load_assets(model, assets, label):
    """Give each layer with `load_assets(dir)` its folder of the archive's `assets/` (None when
    the archive has none for it, as Keras does)."""
    import tempfile

    from jnet.models.keras_h5 import visit_layers
    from jnet.models.saving import CheckpointError

    loaders = [
        (path, layer) for path, _, layer, holds in visit_layers(model) if holds and hasattr(layer, "load_assets")
    ]
    if not loaders or not assets:
        return
    with tempfile.TemporaryDirectory(prefix="jnet-assets-") as root:
        for name, data in assets.items():
            parts = name.split("/")[1:]
            if not parts or any(p in ("", ".", "..") for p in parts) or ":" in name or "\\" in name:
                raise CheckpointError(f"{label!r}: asset member {name!r} escapes the assets folder; refusing it.")
            full = os.path.join(root, *parts)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
        for path, layer in loaders:
            folder = os.path.join(root, *path.split("/")) if path else root
            layer.load_assets(folder if os.path.isdir(folder) else None)


# --------------------------------------------------------------------------- Keras -> jnet


def with_keras_modules(value):
    """A config from a legacy Keras file (no `module` keys) with Keras's module filled in for
    every class jnet has built in, so Keras-only arguments are checked as for Keras 3 configs."""
    if isinstance(value, list):
        return [with_keras_modules(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: with_keras_modules(v) for k, v in value.items()}
    if "class_name" in out and "config" in out and not out.get("module") and out["class_name"] not in _MODEL_CLASSES:
        family = _builtin_family(out["class_name"])
        if family is not None:
            out["module"] = f"keras.{family}"
    return out


def _is_tensor_ref(x) -> bool:
    return isinstance(x, dict) and x.get("class_name") == "__keras_tensor__"


def _build_functional(config, custom_objects, safe_mode):
    import jnet
    from jnet.core.symbolic import is_symbolic

    made = {}  # layer name -> (layer, [outputs of each call])
    pending, functional, legacy = {}, set(), False
    for entry in config["layers"]:
        name = entry.get("name") or entry["config"].get("name")
        if entry["class_name"] == "InputLayer":
            c = entry["config"]
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            made[name] = (None, [jnet.Input(batch_shape=tuple(shape), dtype=c.get("dtype"), name=name)])
            continue
        layer = build_object(entry, custom_objects, safe_mode)
        made[name] = (layer, [])
        if entry["class_name"] in ("Functional", "Model"):
            functional.add(name)
        legacy = legacy or any(not isinstance(n, dict) for n in entry.get("inbound_nodes", []))
        pending[name] = [_modern_node(n) for n in entry.get("inbound_nodes", [])]

    def tensor(history):
        lname, k, i = history[:3]
        if lname not in made:
            raise ValueError(f"the config reads the output of layer {lname!r}, which it does not define")
        outs = made[lname][1]
        if lname in functional:
            k -= 1  # Keras counts a functional model's own node first
        if k >= len(outs):
            raise IndexError
        return jax.tree_util.tree_leaves(outs[k], is_leaf=is_symbolic)[i]

    def resolve(x):
        if _is_tensor_ref(x):
            return tensor(x["config"]["keras_history"])
        if isinstance(x, dict):
            return {k: resolve(v) for k, v in x.items()}
        if isinstance(x, list):
            return [resolve(v) for v in x]
        return x

    # Replay calls in dependency order; a shared layer's calls keep their order (node indices).
    while any(pending.values()):
        progress = False
        for name, calls in pending.items():
            while calls:
                try:
                    args, kwargs = resolve(calls[0].get("args", [])), resolve(calls[0].get("kwargs", {}))
                except IndexError:
                    break
                kwargs = {k: v for k, v in kwargs.items() if not (k in ("training", "mask") and v in (None, False))}
                made[name][1].append(made[name][0](*args, **kwargs))
                calls.pop(0)
                progress = True
        if not progress:
            raise ValueError("the model config is inconsistent: some layer calls read tensors that are never made")

    def io(spec):
        if _is_legacy_ref(spec):
            return tensor(spec)
        if isinstance(spec, dict):
            return {k: io(v) for k, v in spec.items()}
        out = [io(v) for v in spec]
        # tf.keras listed a single input or output as a list of one
        return out[0] if legacy and len(out) == 1 else out

    return jnet.Model(
        io(config["input_layers"]),
        io(config["output_layers"]),
        name=config.get("name"),
        trainable=config.get("trainable", True),
    )


def _legacy_ref(ref):
    return {"class_name": "__keras_tensor__", "config": {"keras_history": list(ref[:3])}}


def _is_legacy_ref(x) -> bool:
    return (
        isinstance(x, list) and len(x) in (3, 4) and isinstance(x[0], str) and all(isinstance(i, int) for i in x[1:3])
    )


def _modern_node(node):
    """A call in Keras 3's `{"args", "kwargs"}` form; tf.keras / Keras 2 wrote a call as a list of
    `[layer, node, tensor, kwargs]` references (several for a list-taking layer)."""
    if isinstance(node, dict):
        return node
    refs = [r for r in node if _is_legacy_ref(r)]
    kwargs = dict(refs[0][3]) if refs and len(refs[0]) == 4 and isinstance(refs[0][3], dict) else {}
    kwargs = {k: _legacy_ref(v) if _is_legacy_ref(v) else v for k, v in kwargs.items()}
    args = [_legacy_ref(refs[0])] if len(refs) == 1 else [[_legacy_ref(r) for r in refs]]
    return {"args": args, "kwargs": kwargs}


def _build_sequential(config, custom_objects, safe_mode):
    import jnet

    model = jnet.Sequential(name=config.get("name"), trainable=config.get("trainable", True))
    for entry in config["layers"]:
        if entry["class_name"] == "InputLayer":
            c = entry["config"]
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            model.add(jnet.Input(batch_shape=tuple(shape), dtype=c.get("dtype"), name=c.get("name")))
        else:
            inner = entry.get("config") or {}
            shape = inner.get("batch_input_shape") or inner.get("batch_shape")
            if shape is not None and not model.layers and getattr(model, "_input", None) is None:
                # tf.keras put the input shape on the first layer's config
                model.add(
                    jnet.Input(
                        batch_shape=tuple(shape),
                        dtype=inner.get("dtype") if isinstance(inner.get("dtype"), str) else None,
                    )
                )
            entry = {
                **entry,
                "config": {k: v for k, v in inner.items() if k not in ("batch_input_shape", "batch_shape")},
            }
            model.add(build_object(entry, custom_objects, safe_mode))
    if not model.built and config.get("build_input_shape") is not None:
        model.build(tuple(config["build_input_shape"]))
    return model


def build_object(config, custom_objects=None, safe_mode=True):
    """A jnet layer or model from a config in Keras's format (built-in or custom)."""
    from jnet.keras_configs import is_keras_module
    from jnet.serialization_lib import deserialize_keras_object

    name, module = config.get("class_name"), config.get("module")
    own = dict(config.get("config") or {})
    if isinstance(module, str) and module.startswith("keras.src.ops."):
        # An op Keras recorded in a functional graph (`NotEqual` for an Embedding's mask):
        # jnet's OpLayer runs the op of the same name from jnet.ops.
        from jnet.layers.base import to_snake_case
        from jnet.layers.op_layer import OpLayer

        return OpLayer(op=to_snake_case(name), name=own.get("name"))
    if (
        name in _MODEL_CLASSES
        and (module is None or is_keras_module(module) or module.startswith("jnet"))
        and config.get("registered_name") in (None, name)
    ):
        if name == "Sequential":
            return _build_sequential(own, custom_objects, safe_mode)
        if "layers" in own:
            return _build_functional(own, custom_objects, safe_mode)
    obj = deserialize_keras_object(
        {k: v for k, v in config.items() if k not in ("build_config", "compile_config", "name", "inbound_nodes")},
        custom_objects=custom_objects,
        safe_mode=safe_mode,
    )
    if isinstance(name, str) and name != type(obj).__name__ and hasattr(obj, "__dict__"):
        obj.__dict__["_keras_class_name"] = name  # its weights-file path follows Keras's class name
    build_config = config.get("build_config")
    if (
        build_config
        and hasattr(obj, "build_from_config")
        and not getattr(obj, "built", False)
        and hasattr(obj, "_graph")
    ):
        obj.build_from_config(build_config)
    return obj


def _open_archive(filepath):
    """`(config, metadata, weights bytes)` of a `.keras` file, every member size checked first."""
    from jnet.models.saving import CheckpointError, check_member_sizes

    label = os.fspath(filepath)
    if not os.path.exists(label):
        raise CheckpointError(f"No Keras archive at {label!r}: the file does not exist.")
    if not zipfile.is_zipfile(label):
        raise CheckpointError(
            f"{label!r} is not a Keras archive (not a zip file: truncated, or another format under the .keras suffix)."
        )
    try:
        with zipfile.ZipFile(label) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            check_member_sizes(zf, label, MAX_MEMBER_BYTES)
            if CONFIG_NAME not in infos:
                if "jnet.json" in infos:
                    raise CheckpointError(
                        f"{label!r} is a jnet checkpoint of an older jnet, not a Keras archive: "
                        "rename it without the .keras suffix to load it."
                    )
                raise CheckpointError(f"{label!r} is not a Keras archive: it has no {CONFIG_NAME}.")

            def read(name, limit):
                with zf.open(name) as f:
                    data = f.read(limit + 1)
                if len(data) > limit:
                    raise CheckpointError(f"{label!r}: member {name!r} is larger than it declares; refusing it.")
                return data

            config = json.loads(read(CONFIG_NAME, infos[CONFIG_NAME].file_size))
            metadata = json.loads(read(METADATA_NAME, infos[METADATA_NAME].file_size)) if METADATA_NAME in infos else {}
            weights = read(WEIGHTS_NAME, infos[WEIGHTS_NAME].file_size) if WEIGHTS_NAME in infos else None
            if TRAIN_STATE_NAME in infos:
                metadata["_train_state"] = read(TRAIN_STATE_NAME, infos[TRAIN_STATE_NAME].file_size)
            metadata["_assets"] = {
                name: read(name, info.file_size)
                for name, info in infos.items()
                if name.startswith(ASSETS_DIR + "/") and not info.is_dir()
            }
    except (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{label!r} is truncated or corrupted: {err}") from err
    version = str(metadata.get("keras_version", "3"))
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) > 3:
        raise CheckpointError(f"{label!r} was written by Keras {version}, newer than the Keras 3 format jnet reads.")
    return config, metadata, weights


def _open_bytes(data, label, member):
    import h5py

    from jnet.models.saving import CheckpointError

    if data is None:
        raise CheckpointError(f"{label!r} has no {member}.")
    try:
        return h5py.File(io.BytesIO(data), "r")
    except OSError as err:
        raise CheckpointError(f"{label!r}: its {member} is not valid HDF5 ({err}).") from err


def _load_weights_bytes(model, weights, label, skip_mismatch=False):
    with _open_bytes(weights, label, WEIGHTS_NAME) as f:
        return read_weights_h5(model, f, label, skip_mismatch=skip_mismatch)


def _restore_training(model, weights, metadata, label):
    """The optimizer state: jnet's own train state when jnet wrote the file, else Keras's
    `optimizer/vars` mapped onto jnet's optimizer."""
    from jnet.models.h5_format import read_train_state
    from jnet.models.keras_optimizer import restore_keras_optimizer

    if metadata.get("_train_state") is not None:
        with _open_bytes(metadata["_train_state"], label, TRAIN_STATE_NAME) as f:
            read_train_state(f, model, label)
        return
    with _open_bytes(weights, label, WEIGHTS_NAME) as f:
        if "optimizer/vars" not in f:
            return
        group = f["optimizer/vars"]
        arrays = [np.asarray(group[str(i)]) for i in range(len(group))]
    if arrays:
        restore_keras_optimizer(model, arrays, label)


def load_keras_archive(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002 - Keras name
    """A jnet model from a `.keras` archive written by Keras 3 or jnet."""
    from jnet.models.saving import CheckpointError

    label = os.fspath(filepath)
    config, metadata, weights = _open_archive(filepath)
    try:
        model = build_object(config, custom_objects=custom_objects, safe_mode=safe_mode)
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"Cannot rebuild the model saved in {label!r}: {err}") from err
    if not getattr(model, "built", False) and config.get("build_config"):
        model.build_from_config(config["build_config"])
    assign_pairs(model, _load_weights_bytes(model, weights, label))
    _load_assets(model, metadata.get("_assets"), label)
    if compile and config.get("compile_config") and hasattr(model, "compile_from_config"):
        try:
            model.compile_from_config(config["compile_config"])
        except (ValueError, TypeError) as err:
            raise CheckpointError(f"Cannot compile the model saved in {label!r}: {err}") from err
        _restore_training(model, weights, metadata, label)
    return model


def load_weights_from_archive(model, filepath, skip_mismatch=False):
    """`model.load_weights("x.keras")`: only the archive's weights, into `model`."""
    _, _, weights = _open_archive(filepath)
    assign_pairs(model, _load_weights_bytes(model, weights, os.fspath(filepath), skip_mismatch))
