"""`jnet.Model`: a graph of layers that is itself a layer, plus the Keras facade.

The pure core is `init` / `apply` (a model is a layer, so models nest). The facade binds one set
of variables to the model so Keras code runs unchanged: `summary()`, `get_weights()`,
`model(x)`, and the training methods (`compile`, `fit`, ...) from `jnet.models.training`.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from jnet.core.symbolic import is_symbolic
from jnet.core.variables import current_scope
from jnet.layers.base import Layer, _init_takes_more, as_spec, is_spec_leaf
from jnet.layers.keras_attributes import building_scope
from jnet.models import subclassed_inputs
from jnet.models.functional import Graph, InputLayer
from jnet.models.keras_attributes import ModelAttributesMixin
from jnet.models.quantize_api import QuantizeMixin
from jnet.models.saving import SavingMixin
from jnet.models.step_api import KerasStepsMixin
from jnet.models.training import TrainingMixin


class Model(ModelAttributesMixin, KerasStepsMixin, TrainingMixin, SavingMixin, QuantizeMixin, Layer):
    """A model: a graph of layers (`jnet.Model(inputs, outputs)`) or a subclass with `call()`.

    Args:
        inputs: a symbolic tensor from `jnet.Input`, or a list or dict of them.
        outputs: symbolic tensors computed from `inputs`: one, a list, or a dict by name.
        name: the model's name (default `"model"`, or `"sequential"` for `Sequential`).

    A subclass that defines `call()` is built on its first call (or by `build(input_shape)`),
    with the layers it holds as attributes; a subclass without `call()` may still be built as
    `MyModel(inputs, outputs)` (to override `train_step`, say).

    The model is itself a layer: `model.init(key)` gives `{"params", "state"}` keyed by layer
    name, and `model.apply(variables, *inputs, training=False, rng=None)` runs it purely, inside
    any `jax.jit` / `jax.grad` / `jax.vmap` of your own. Inputs may be given positionally, as a
    list, or as a dict keyed by input name. Its layers hold the current weights: a layer or
    model used in several models is one set of weights.

    A `training=` given when a layer is called in the graph (`base(x, training=False)`, the
    transfer-learning recipe) is kept during `fit`. Keras 3 overrides it with fit's
    `training=True` (keras-team/keras#20285), so a "frozen" BatchNorm there moves its
    statistics once its model is unfrozen; jnet does what the recipe says.

    Example:
    ```python
    x = jnet.Input(shape=(784,))
    h = jnet.layers.Dense(32, activation="relu")(x)
    y = jnet.layers.Dense(10, activation="softmax")(h)
    model = jnet.Model(inputs=x, outputs=y)
    model.summary()
    ```
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, dtype=None, **kwargs):
        if "input" in kwargs or "output" in kwargs:
            inputs = kwargs.pop("input", inputs)
            outputs = kwargs.pop("output", outputs)
        self._init_base(name, trainable, dtype, **kwargs)
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise TypeError(f"{self._label}: pass both inputs= and outputs= to build a graph model")
            self._set_graph(Graph(inputs, outputs, owner_label=self._label))
        elif not self._is_subclassed():
            raise TypeError(
                "jnet.Model needs inputs= and outputs= (symbolic tensors from jnet.Input and layer "
                "calls), or subclass it and define call()."
            )

    @classmethod
    def _is_subclassed(cls) -> bool:
        return cls.call is not Model.call

    def _init_base(self, name, trainable, dtype, **kwargs):
        kwargs.pop("input_shape", None)
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.__dict__.setdefault("_graph", None)
        self.__dict__.setdefault("_out_structure", None)
        self._init_tracking()
        self._auto_named = name is None
        self.name = name or (
            "sequential"
            if type(self).__name__ == "Sequential"
            else "model"
            if type(self) is Model or not self._is_subclassed() and type(self).__module__.startswith("jnet.")
            else _snake(type(self).__name__)
        )
        self.trainable = trainable
        self.dtype = dtype
        self.input_dim = None
        self.activity_regularizer = None

    # Models are never dataclasses: their config is the graph (or the subclass's get_config).
    _dataclass_config = False

    def _set_graph(self, graph):
        self._graph = graph
        self.built = True

    def call(self, *inputs, training=False, mask=None):
        """Run the graph (graph models); subclasses write their own."""
        scope = current_scope()  # inside stateless_call: dropout keys come from the call's rng
        return self._run(inputs, training, scope.next_rng() if scope is not None else None, mask)[0]

    # ------------------------------------------------------------------ structure

    def _require_graph(self):
        if self._graph is None:
            raise ValueError(
                f"{self._label} is not built yet: give the first layer input_shape=, start with a "
                "jnet.Input, or call build(input_shape) / fit / predict on data first"
            )
        return self._graph

    def _sublayers(self) -> list:
        if self._graph is not None:
            return [layer for layer in self._graph.layers if not isinstance(layer, InputLayer)]
        return super()._sublayers()

    @property
    def layers(self) -> list:
        if self._graph is None and self._is_subclassed():
            from jnet.layers.base import _name_sublayers

            subs = super()._sublayers()
            _name_sublayers(self, subs, set())
            return subs
        return list(self._require_graph().layers)

    @property
    def inputs(self):
        return list(self._require_graph().inputs)

    @property
    def outputs(self):
        return list(self._require_graph().outputs)

    @property
    def input(self):
        graph = self._require_graph()
        return graph.inputs[0] if len(graph.inputs) == 1 else list(graph.inputs)

    @property
    def output(self):
        graph = self._require_graph()
        return self._structure(list(graph.outputs))

    @property
    def input_shape(self):
        """Shape of the input, batch axis included (None for unknown axes); a list when the model
        has several (Keras's `Functional.input_shape`). None until the model knows its inputs."""
        if self._graph is None:
            return None
        shapes = [tuple(t.shape) for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        """Shape of the output (None for unknown axes); a list when the model has several."""
        shapes = [tuple(t.shape) for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self) -> list:
        if self._graph is None and self._is_subclassed():
            return subclassed_inputs.names(self)
        return self._require_graph().input_names

    @property
    def output_names(self) -> list:
        if self._graph is None and self._is_subclassed():
            struct = self._out_structure
            if struct is None:
                raise ValueError(f"{self._label} is not built yet: call it on data, build(input_shape), or fit first")
            kind, keys, n = struct
            if kind == "dict":
                return list(keys)
            return ["output"] if kind == "single" else [f"output_{i + 1}" for i in range(n)]
        return self._require_graph().output_names

    @property
    def _output_kind(self):
        if self._graph is not None:
            return self._graph.output_kind, self._graph.output_keys
        kind, keys, _ = self._out_structure
        return kind, keys

    def flatten_outputs(self, outputs) -> list:
        """The model's outputs as a list in `output_names` order."""
        kind, keys = self._output_kind
        if kind == "dict":
            return [outputs[k] for k in keys]
        if kind == "single":
            return [outputs]
        return list(outputs)

    def output_shapes(self):
        """`([shape per output], [dtype per output])` (None for unknown axes)."""
        if self._graph is not None:
            outs = self._graph.outputs
        else:
            outs = self.flatten_outputs(self._out_specs)
        return [tuple(t.shape) for t in outs], [t.dtype for t in outs]

    def get_layer(self, name=None, index=None):
        """The layer called `name` (or at position `index` in `layers`)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"{self._label}: layer index {index} out of range (model has {len(layers)} layers)")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self._label}: no layer named {name!r}. Layers: {[l.name for l in layers]}")

    # ------------------------------------------------------------------ layer protocol

    def init(self, key=None, *example_inputs) -> dict:
        """Fresh `{"params", "state"}` for the whole model. `key` defaults to the next key of the
        global seed (`jnet.utils.set_random_seed`). Example inputs are optional when the
        input shapes are known, and build a deferred or subclassed model when they are not."""
        if example_inputs:
            self._ensure_graph(example_inputs)
        self._require_built()
        if key is None:
            from jnet.utils import rng as jrng

            key = jrng.next_key()
        return self.initial_variables(key)

    def _require_built(self):
        if self._graph is None and not (self._is_subclassed() and self.built):
            self._require_graph()

    def _ensure_graph(self, example_inputs):
        """Check example inputs against the graph (a deferred Sequential or a subclassed model
        builds here)."""
        specs = jax.tree_util.tree_map(as_spec, tuple(example_inputs), is_leaf=is_spec_leaf)
        if self._graph is None and self._is_subclassed():
            if not self.built:
                self._build_subclassed(specs)
            return
        self._check_specs(self._flat_inputs(specs))

    def _build_subclassed(self, specs):
        """Build a subclassed model from example specs: its `build` (if any), then one shape-only
        trace of `call` builds the layers it uses and records its output structure."""
        with building_scope(self):  # the layers built here have this model in their `path`
            self._build_subclassed_in_scope(specs)

    def _build_subclassed_in_scope(self, specs):
        if len(specs) == 1 and isinstance(specs[0], (list, tuple)) and not is_spec_leaf(specs[0]):
            specs = (list(specs[0]),)
        subclassed_inputs.record(self, specs)
        unknown_batch = jax.tree_util.tree_map(
            lambda s: jax.ShapeDtypeStruct((None,) + tuple(s.shape[1:]), s.dtype), specs, is_leaf=is_spec_leaf
        )
        if type(self).build is not Model.build:
            self._build_shapes = [
                tuple(s.shape) for s in jax.tree_util.tree_leaves(unknown_batch, is_leaf=is_spec_leaf)
            ]
            type(self).build(self, *self._build_arguments(unknown_batch, {}))
        self.built = True
        out = self.output_spec(*unknown_batch)
        if isinstance(out, dict):
            self._out_structure = ("dict", list(out), len(out))
        elif isinstance(out, (list, tuple)):
            self._out_structure = ("list", None, len(out))
        else:
            self._out_structure = ("single", None, 1)
        self._out_specs = out
        self._build_shapes = [tuple(s.shape) for s in jax.tree_util.tree_leaves(unknown_batch, is_leaf=is_spec_leaf)]

    def _maybe_build(self, arg_specs, kw_specs):
        if self._graph is None and self._is_subclassed() and not self.built:
            self._build_subclassed(tuple(arg_specs))

    def apply(self, variables, *inputs, training=False, rng=None, mask=None, **kwargs):
        if kwargs and self._graph is not None:
            raise TypeError(f"{self._label}.apply got unexpected keyword arguments {sorted(kwargs)}")
        if self._graph is None:
            self._ensure_graph(inputs)
            inputs = subclassed_inputs.restructure(self, inputs)
            return Layer.apply(self, variables, *inputs, training=training, rng=rng, mask=mask, **kwargs)
        # The graph gets the call's key as it is (`call` instead folds in the scope's counter).
        outputs, state, _ = self._bound_run(variables, lambda: self._run(inputs, training, rng, mask)[0], training, rng)
        return outputs, state

    def apply_with_losses(self, variables, *inputs, training=False, rng=None):
        """`(outputs, new_state, losses)`: like `apply`, plus the scalars layers added with
        `add_loss` or their `activity_regularizer` during the call."""

        def run():
            if self._graph is None:
                self._ensure_graph(inputs)
                return self._invoke(subclassed_inputs.restructure(self, inputs), {}, training, None, rng)
            return self._run(inputs, training, rng, None)[0]

        return self._bound_run(variables, run, training, rng)

    def _call_with_mask(self, args, kwargs, mask, training=False, rng=None):
        if self._graph is None:
            return super()._call_with_mask(args, kwargs, mask, training, rng)
        outputs, masks = self._run(args, training, rng, mask)
        graph = self._graph
        out_mask = masks[0] if graph.output_kind == "single" else self._structure(masks)
        if all(m is None for m in masks):
            out_mask = None
        return outputs, out_mask

    def _makes_masks(self) -> bool:
        if self._graph is not None:
            return any(t._keras_mask is not None for t in self._graph.outputs)
        return super()._makes_masks()

    def _run(self, inputs, training, rng, mask):
        """Inside a scope: `(structured outputs, output masks)` of the graph."""
        self._ensure_graph(inputs)
        graph = self._graph
        flat = self._flat_inputs(inputs)
        flat = [jnp.asarray(x) for x in flat]
        # An `Input(dtype="int64")` takes int32 arrays without x64 (JAX's canonical dtype).
        wanted = [jax.dtypes.canonicalize_dtype(t.dtype) for t in graph.feeds]
        flat = [x if x.dtype == w else x.astype(w) for x, w in zip(flat, wanted)]
        masks = None
        if mask is not None:
            masks = [mask] if len(graph.inputs) == 1 else list(self._flat_inputs((mask,)))
        outputs, out_masks = graph.run(flat, training=training, rng=rng, input_masks=masks)
        return self._structure(outputs), out_masks

    def _flat_inputs(self, inputs) -> list:
        """Positional, list or dict-by-name inputs -> a list in the order of `self.inputs`."""
        if self._graph is None and self._is_subclassed():
            flat = subclassed_inputs.flatten(self, inputs)
            if flat is not None:
                return flat
        graph = self._require_graph()
        n = len(graph.inputs)
        if len(inputs) == 1 and isinstance(inputs[0], dict):
            given = inputs[0]
            names = graph.input_keys or graph.input_names
            missing = [k for k in names if k not in given]
            extra = [k for k in given if k not in names]
            if missing or extra:
                raise ValueError(
                    f"{self._label}: input dict keys {sorted(given)} do not match the model's inputs {names}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; unexpected {extra}" if extra else "")
                )
            return [given[k] for k in names]
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) and n > 1:
            inputs = tuple(inputs[0])
        if len(inputs) != n:
            raise ValueError(f"{self._label} expects {n} input(s) {graph.input_names}, got {len(inputs)}")
        return list(inputs)

    def _check_specs(self, flat):
        graph = self._require_graph()
        for x, t, name in zip(flat, graph.feeds, graph.input_names):  # feeds: string inputs after the host stage
            shape = tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
            ok = len(shape) == len(t.shape) and all(d is None or d == s for d, s in zip(t.shape, shape))
            if not ok:
                raise ValueError(f"{self._label}: input '{name}' expects shape {t.shape}, got {shape}")

    def _structure(self, flat: list):
        """A flat list per output -> the model's output structure (one, a list, a dict)."""
        kind, keys = self._output_kind
        if kind == "single":
            return flat[0]
        if kind == "dict":
            return dict(zip(keys, flat))
        return list(flat)

    def output_spec(self, *input_specs, **kwargs):
        if self._graph is None and not self._is_subclassed() and input_specs:
            self._ensure_graph(input_specs)
        if self._graph is None:
            return super().output_spec(*input_specs, **kwargs)
        graph = self._graph
        if not input_specs:
            return self._structure([jax.ShapeDtypeStruct(t.shape, t.dtype) for t in graph.outputs])
        return super().output_spec(*input_specs, **kwargs)

    # ------------------------------------------------------------------ bound variables

    def current_variables(self) -> dict:
        """The model's current `{"params", "state"}` (initialised on first use). During `fit`
        these are the live training arrays (no copy; the next step donates them)."""
        live = self._live_variables()
        if live is not None:
            return live
        self._require_built()
        return super().current_variables()

    def assign_variables(self, variables):
        """Store a `{"params", "state"}` tree into the model's layers (and, during `fit`, into
        the training state)."""
        if not self._set_live_variables(variables):
            super().assign_variables(variables)

    def build(self, input_shape=None):
        """Build the model for inputs of `input_shape` (batch axis included; Keras `build`).
        A batch of data stands for its shape (Keras's JAX guides call `model.build(one_batch)`)."""
        if hasattr(input_shape, "shape") and hasattr(input_shape, "dtype"):
            input_shape = tuple(input_shape.shape)
        if input_shape is not None and not self.built:
            shapes = input_shape if isinstance(input_shape, list) else [input_shape]
            self._ensure_graph(
                tuple(jax.ShapeDtypeStruct(tuple(1 if d is None else d for d in s), jnp.float32) for s in shapes)
            )
        elif input_shape is not None and self._graph is not None:
            # Keras refuses to rebuild a Sequential for another shape; jnet checks every graph model.
            shapes = input_shape if isinstance(input_shape, list) else [input_shape]
            known = [tuple(t.shape) for t in self._graph.inputs]
            ok = len(shapes) == len(known) and all(
                len(s) == len(k) and all(a is None or b is None or a == b for a, b in zip(s, k))
                for s, k in zip(shapes, known)
            )
            if not ok:
                known = known[0] if len(known) == 1 else known
                raise ValueError(
                    f"{self._label} is already built for input shape(s) {known}; it cannot be built "
                    f"with input_shape {input_shape}"
                )
        self._require_built()
        self._materialize()

    # Not wrapped by Layer's once-only `build` guard: a built model still checks the shape.
    build.__jnet_build__ = True

    def get_build_config(self):
        if self._graph is not None:
            return None
        shapes = self._build_shapes
        if not shapes:
            return None
        return {"input_shape": list(shapes[0]) if len(shapes) == 1 else [list(s) for s in shapes]}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None and not self.built:
            shape = config["input_shape"]
            multi = shape and isinstance(shape[0], (list, tuple))
            self.build([tuple(s) for s in shape] if multi else tuple(shape))

    def get_weights(self) -> list:
        """All arrays as numpy, in Keras's order (layer by layer; kernel before bias)."""
        self._sync_from_trainer()
        return super().get_weights()

    def set_weights(self, weights):
        """Replace all arrays from a list in `get_weights()` order (shapes are checked)."""
        super().set_weights(weights)
        self._push_to_trainer()

    def count_params(self, variables=None) -> int:
        if variables is not None:
            return super().count_params(variables)
        self._require_built()
        return int(sum(v.size for v in self.weights))

    def reset_states(self):
        """Zero the carried states of every stateful layer (RNNs with `stateful=True`), as
        tf.keras's `Model.reset_states` (Keras 3 has only the layers' `reset_state`)."""
        from jnet.layers.rnn_state import stateful_layers

        for layer in stateful_layers(self):
            layer.reset_state()

    reset_state = reset_states

    def summary(self, line_length=None, expand_nested=False, print_fn=None, **kwargs):
        """Print a Keras-like table of layers, output shapes and param counts."""
        from jnet.utils.summary import print_summary

        print_summary(self, line_length=line_length, expand_nested=expand_nested, print_fn=print_fn)

    def __call__(self, *args, **kwargs):
        leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=is_symbolic)
        if any(is_symbolic(leaf) for leaf in leaves):
            return super().__call__(*args, **kwargs)
        if args:  # raw text through leading string layers, on the host
            args = (self._host_inputs(args[0]),) + tuple(args[1:])
        if self._graph is None and not self._is_subclassed():
            self._ensure_graph(args)
        elif self._graph is not None:
            self._check_specs(self._flat_inputs(args))
        self._sync_from_trainer()
        if self._graph is not None and type(self).call is Model.call and current_scope() is None and args:
            done, out = self._compiled_eager_call(args, kwargs)
            if done:
                return out
        return super().__call__(*args, **kwargs)

    def _compiled_eager_call(self, args, kwargs):
        """`(True, outputs)` of an eager call on arrays run as one compiled function
        (`jnet.models.eager`), or `(False, None)` when it must run layer by layer."""
        from jnet.layers.base import _to_array
        from jnet.models.eager import compiled_call
        from jnet.utils import rng as jrng

        if set(kwargs) - {"training", "mask", "rng"}:
            return False, None
        args = jax.tree_util.tree_map(_to_array, args)
        mask = kwargs.get("mask")
        leaves = jax.tree_util.tree_leaves((args, mask))
        if not all(isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) for a in leaves):
            return False, None
        if not all(v.initialized for v in self.weights):
            self._materialize()  # before the call's key is drawn, as the layer-by-layer call does
        training = bool(kwargs.get("training") or False)
        rng = kwargs.get("rng")
        count = jrng._state["count"]
        if rng is None and training:
            rng = jrng.next_key()
        done, out = compiled_call(self, args, {}, training, mask, rng)
        if not done:
            jrng._state["count"] = count  # the eager call draws the same key
        return done, out

    # ------------------------------------------------------------------ config

    def get_config(self) -> dict:
        if self._graph is None or (self._is_subclassed() and type(self).get_config is not Model.get_config):
            if type(self).get_config is Model.get_config and self._is_subclassed() and _init_takes_more(type(self)):
                raise TypeError(
                    f"{type(self).__name__} is a subclassed model whose __init__ takes arguments: "
                    "define get_config() (and from_config) to save its architecture, or use "
                    "save_weights / load_weights"
                )
            config = {"name": self.name, "trainable": self.trainable}
            if type(self).get_config is Model.get_config and self._is_subclassed():
                # Keras's auto-config: keep only what the subclass's `__init__` takes.
                params = inspect.signature(type(self).__init__).parameters
                if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                    config = {k: v for k, v in config.items() if k in params}
            return config
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype, **self._graph.get_config()}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        if "layers" in config and "input_layers" in config:
            inputs, outputs = Graph.from_config(config, custom_objects, safe_mode)
            return cls(
                inputs=inputs,
                outputs=outputs,
                name=config.get("name"),
                trainable=config.get("trainable", True),
                dtype=config.get("dtype"),
            )
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _snake(name):
    from jnet.layers.base import to_snake_case

    return to_snake_case(name)
