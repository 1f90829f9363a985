"""Keras 3's remaining `Model` attributes: the compile settings as attributes (`loss`,
`jit_compile`, `run_eagerly`, `steps_per_execution`), the JAX trainer's step functions
(`make_train_function` / `train_function`, and the test and predict pairs), `jax_state_sync`,
and the nested state tree (`get_state_tree` / `set_state_tree`).

`fit`, `evaluate` and `predict` run jnet's own compiled loops (jnet.engine); the step
functions here are Keras's, for code that drives `model.train_step` by hand:

```python
model.optimizer.build(model.trainable_variables)
model.make_train_function()
state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
         model.optimizer.variables, [v.value for v in model.metrics_variables])
logs, state = model.train_function(state, iter([(x, y)]))
```

The state tree is keyed by Keras's paths: a weight's is its layer's `path` and its name
(`my_sequential/my_dense/kernel`), optimizer slots are named as Keras names them
(`adam/my_sequential_my_dense_kernel_momentum`), metric state by metric (`loss/total`).
"""

from __future__ import annotations

import jax
import numpy as np

from jnet.models.keras_optimizer import _SLOT_NAMES, _slot_count, keras_optimizer_arrays, restore_keras_optimizer

_VALUE_FORMATS = ("backend_tensor", "numpy_array")


def state_path(variable) -> str:
    """A weight's Keras path: its layer's `path` (where the layer was built) and its name."""
    owner = getattr(variable, "_owner", None)
    if owner is None:
        return variable.path
    return f"{owner.path or owner.name}/{variable.name}"


def _nest(flat: dict) -> dict:
    nested = {}
    for path, value in flat.items():
        parts = path.split("/")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def _flatten(nested: dict, prefix="") -> dict:
    flat = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _leaf_items(tree, prefix) -> list:
    """`(prefix/key path, array)` for each leaf of a metric's state."""
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        keys = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
        out.append(("/".join([prefix] + keys), leaf))
    return out


class ModelAttributesMixin:
    """The attributes listed in the module docstring (mixed into `jnet.Model`)."""

    # ------------------------------------------------------------------ compile settings

    def _compile_setting(self, key, default):
        args = getattr(self, "_compile_args", None)
        if args is not None:
            return args[key]
        return self.__dict__.get(f"_{key}_setting", default)

    def _set_compile_setting(self, key, value):
        self.__dict__[f"_{key}_setting"] = value
        if getattr(self, "_compile_args", None) is not None:
            self._compile_args[key] = value

    @property
    def loss(self):
        """The `loss` given to `compile` (None before). As in Keras, setting it does not change
        the compiled loss."""
        if "_loss_setting" in self.__dict__:
            return self.__dict__["_loss_setting"]
        return (getattr(self, "_compile_args", None) or {}).get("loss")

    @loss.setter
    def loss(self, value):
        self.__dict__["_loss_setting"] = value

    @property
    def jit_compile(self) -> bool:
        """Whether the steps are compiled with XLA (True unless `run_eagerly`)."""
        value = self._compile_setting("jit_compile", "auto")
        if value == "auto":
            value = bool(self.supports_jit)
        return bool(value) and not self._compile_setting("run_eagerly", False)

    @jit_compile.setter
    def jit_compile(self, value):
        self._set_compile_setting("jit_compile", value)

    @property
    def run_eagerly(self) -> bool:
        """Whether `fit` / `evaluate` / `predict` run their steps without `jax.jit` (debugging)."""
        return bool(self._compile_setting("run_eagerly", False))

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._set_compile_setting("run_eagerly", bool(value))

    @property
    def steps_per_execution(self):
        """Steps per compiled call: 1 before `compile`, then `compile`'s value (jnet's default
        `"auto"` sizes the chunks itself)."""
        return self._compile_setting("steps_per_execution", 1)

    @steps_per_execution.setter
    def steps_per_execution(self, value):
        from jnet.engine.loop import ChunkSizer

        ChunkSizer(value)  # validates
        self._set_compile_setting("steps_per_execution", value)
        self.__dict__["_trainer"] = None  # the next fit builds its loop with the new chunk size

    # ------------------------------------------------------------------ step functions

    train_function = None
    test_function = None
    predict_function = None

    def _steps_per_call(self) -> int:
        spe = self.steps_per_execution
        return spe if isinstance(spe, int) else 1

    def _step_function(self, step, concatenate_outputs=False):
        """Keras's `_make_function`: `(state, iterator) -> (outputs, state)` running up to
        `steps_per_execution` batches from the iterator."""
        if not self.run_eagerly and self.jit_compile:
            step = jax.jit(step)
        n = self._steps_per_call()

        def iterator_step(state, iterator):
            outputs, state = step(state, next(iterator))
            collected = [outputs]
            for _ in range(n - 1):
                try:
                    data = next(iterator)
                except StopIteration:
                    break
                outputs, state = step(state, data)
                collected.append(outputs)
            if concatenate_outputs and len(collected) > 1:
                outputs = jax.tree_util.tree_map(lambda *xs: jax.numpy.concatenate(xs), *collected)
            return outputs, state

        return iterator_step

    def make_train_function(self, force=False):
        """Set `train_function(state, iterator) -> (logs, state)` over `train_step`, with
        `state = (trainable, non_trainable, optimizer, metrics variables)` as lists of arrays."""
        if self.train_function is not None and not force:
            return
        self.train_function = self._step_function(self.train_step)

    def make_test_function(self, force=False):
        """Set `test_function(state, iterator) -> (logs, state)` over `test_step`, with
        `state = (trainable, non_trainable, metrics variables)`."""
        if self.test_function is not None and not force:
            return
        self.test_function = self._step_function(self.test_step)

    def make_predict_function(self, force=False):
        """Set `predict_function(state, iterator) -> (outputs, state)` over `predict_step`, with
        `state = (trainable, non_trainable variables)`; the outputs of the batches it runs are
        concatenated. Returns the existing function when there is one (and not `force`), else
        None, as Keras does."""
        if self.predict_function is not None and not force:
            return self.predict_function

        def predict_step(state, data):
            return self.predict_step(state, data), state

        self.predict_function = self._step_function(predict_step, concatenate_outputs=True)

    def jax_state_sync(self):
        """Copy the training state into the model's variables. jnet does this whenever `fit`
        hands control to a callback or returns, so this is only needed inside a loop that reads
        variables mid-step; outside `fit` it does nothing."""
        self._sync_from_trainer()

    # ------------------------------------------------------------------ state tree

    def get_state_tree(self, value_format="backend_tensor"):
        """The model's state as nested dicts keyed by Keras paths: `{"trainable_variables",
        "non_trainable_variables", "optimizer_variables", "metrics_variables"}`.

        Args:
            value_format: `"backend_tensor"` (jax arrays) or `"numpy_array"`.

        Returns:
            A dict of four nested dicts whose leaves are the arrays.

        Example:
        ```python
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        tree = model.get_state_tree()
        tree["trainable_variables"]["my_sequential"]["my_dense"]["kernel"]
        ```
        """
        if value_format not in _VALUE_FORMATS:
            raise ValueError(
                f"{self._label}.get_state_tree: invalid `value_format` argument. Expected one of "
                f"{{'numpy_array', 'backend_tensor'}}. Received: value_format={value_format!r}"
            )
        if getattr(self, "optimizer", None) is None:
            raise ValueError(
                f"{self._label}.get_state_tree: compile the model first (it reports the optimizer's state)"
            )
        convert = np.asarray if value_format == "numpy_array" else (lambda a: a)
        tree = {}
        for group in ("trainable_variables", "non_trainable_variables"):
            tree[group] = self._nested(group, [(state_path(v), v.value) for v in getattr(self, group)], convert)
        tree["optimizer_variables"] = self._nested("optimizer_variables", self._optimizer_items(), convert)
        tree["metrics_variables"] = self._nested("metrics_variables", self._metric_items(), convert)
        return tree

    def _nested(self, group, items, convert) -> dict:
        flat = {}
        for path, value in items:
            if path in flat:
                raise ValueError(
                    f"{self._label}.get_state_tree: the variable path {path!r} is found twice in the "
                    f"model's {group}; give unique names to your layers (and other objects)."
                )
            flat[path] = convert(value)
        return _nest(flat)

    def _optimizer_items(self) -> list:
        optimizer = self.optimizer
        prefix = optimizer.name
        arrays = keras_optimizer_arrays(self) if self.trainable_weights else None
        if arrays is None:  # an optimizer whose Keras layout jnet does not map: its optax leaves
            return [(f"{prefix}/{i}", a) for i, a in enumerate(optimizer.variables)]
        names = [f"{prefix}/iteration", f"{prefix}/learning_rate"]
        slots = _SLOT_NAMES.get(type(optimizer).__name__, ())[: _slot_count(optimizer) or 0]
        for v in self.trainable_weights:
            names.extend(f"{prefix}/{state_path(v).replace('/', '_')}_{slot}" for slot in slots)
        return list(zip(names, arrays))

    def _metric_items(self) -> list:
        items = []
        for metric in self.metrics:
            entries = getattr(metric, "_entries", None)
            state = metric._held_state()
            if entries is not None:  # compile()'s metrics: one entry per metric, as in Keras
                for _, log, m, _ in entries:
                    items.extend(_leaf_items(state[log], _keras_metric_name(m)))
            else:
                items.extend(_leaf_items(state, metric.name))
        return items

    def set_state_tree(self, state_tree):
        """Assign the values of a tree like `get_state_tree()`'s (any of its four parts; paths
        not in the model are ignored, as in Keras)."""
        for group, nested in state_tree.items():
            flat = _flatten(nested)
            if group in ("trainable_variables", "non_trainable_variables"):
                for v in getattr(self, group):
                    if state_path(v) in flat:
                        v.assign(flat[state_path(v)])
            elif group == "optimizer_variables":
                if getattr(self, "optimizer", None) is not None and flat:
                    self._set_optimizer_items(flat)
            elif group == "metrics_variables":
                self._set_metric_items(flat)
            else:
                raise ValueError(f"{self._label}.set_state_tree: unknown variable name: {group!r}")

    def _set_optimizer_items(self, flat):
        items = self._optimizer_items()
        if not all(name in flat for name, _ in items):
            missing = [name for name, _ in items if name not in flat]
            raise ValueError(f"{self._label}.set_state_tree: optimizer_variables lacks {missing}")
        arrays = [np.asarray(flat[name]) for name, _ in items]
        if keras_optimizer_arrays(self) is None:
            ts = self.get_train_state()
            treedef = jax.tree_util.tree_structure(ts.opt_state)
            self.set_train_state(ts._replace(opt_state=jax.tree_util.tree_unflatten(treedef, arrays)))
        else:
            restore_keras_optimizer(self, arrays, f"{self._label}.set_state_tree")

    def _set_metric_items(self, flat):
        for metric in self.metrics:
            entries = getattr(metric, "_entries", None)
            state = metric._held_state()
            if entries is not None:
                new = dict(state)
                for _, log, m, _ in entries:
                    new[log] = _replaced(state[log], _keras_metric_name(m), flat)
            else:
                new = _replaced(state, metric.name, flat)
            metric._state = new


def _keras_metric_name(metric) -> str:
    """The name Keras gives a compiled metric's variables: its class's default name (`"mae"`
    in `compile` logs as `mae`, its variables sit under `mean_absolute_error/`)."""
    try:
        return type(metric)().name
    except TypeError:  # a metric class that needs arguments: its own name
        return metric.name


def _replaced(tree, prefix, flat):
    leaves = [jax.numpy.asarray(flat.get(path, leaf), leaf.dtype) for path, leaf in _leaf_items(tree, prefix)]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(tree), leaves)
