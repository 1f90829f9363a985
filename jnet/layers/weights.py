"""What a layer's weights are and what derives from them: `add_weight` (the one declaration),
the variable tree, Keras's weight lists, `get_weights`/`set_weights`, initial and current values,
and the penalty, constraints and trainable mask the trainer applies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnet.core.initial import initial_values
from jnet.core.trees import bind_pairs, map_paths, variable_paths, zip_map
from jnet.core.variables import Variable, concrete, path_key

__all__ = ["WeightsMixin"]


class WeightsMixin:
    """The weight half of `Layer` (see `jnet.layers.base`)."""

    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        autocast=True,
        regularizer=None,
        constraint=None,
        aggregation="none",
        overwrite_with_gradient=False,
        name=None,
    ):
        """Declare a weight (Keras's signature) and return its `Variable`.

        Its init key (from its path), penalty, constraint, place in `weights` (creation order),
        checkpoint path and trainable split all come from this one declaration.
        """
        self._init_tracking()
        shape = () if shape is None else shape
        if isinstance(shape, int):
            shape = (shape,)
        from jnet.core.variables import _is_key

        if dtype is None:
            dtype = jnp.dtype(self.param_dtype)
        elif not _is_key(dtype):
            dtype = jnp.dtype(dtype)
        if initializer is None:
            initializer = "glorot_uniform" if not _is_key(dtype) and jnp.issubdtype(dtype, jnp.floating) else "zeros"
        try:
            var = Variable(initializer, shape, dtype, trainable, name, regularizer, constraint, owner=self)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{self._label}.add_weight(name={name!r}): {err}") from None
        self._own_vars.append(var)
        return var

    add_variable = add_weight

    def _own_variables(self) -> list:
        own = list(self.__dict__.get("_own_vars", []))
        ids = {id(v) for v in own}
        for value in list(self.__dict__.values()):
            if isinstance(value, Variable) and id(value) not in ids:
                if value._owner is None:
                    value._owner = self
                own.append(value)
                ids.add(id(value))
        return own

    def _own_values(self) -> dict:
        """`{weight name: current (or scope-bound) array}` of the layer's own weights."""
        return {v.name: v.value for v in self._own_variables()}

    def _sublayers(self) -> list:
        """Layers held as attributes (also inside lists, tuples and dicts), in assignment order."""
        found, seen = [], {id(self)}

        def visit(value, depth):
            if isinstance(value, WeightsMixin):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            elif depth < 3 and isinstance(value, (list, tuple)):
                for v in value:
                    visit(v, depth + 1)
            elif depth < 3 and isinstance(value, dict):
                for v in value.values():
                    visit(v, depth + 1)

        skip = ("_inbound_nodes",) + tuple(getattr(type(self), "_untracked", ()))
        for key, value in list(self.__dict__.items()):
            if key in skip:
                continue
            visit(value, 0)
        return found

    def _variable_tree(self) -> dict:
        """`{"params": ..., "state": ...}` of `Variable`s: own weights by name (trainable ones in
        params), sublayers' trees by sublayer name."""
        params, state = {}, {}
        for v in self._own_variables():
            part = params if v.trainable else state
            part[_unique_key(v.name, set(params) | set(state))] = v
        inline = {id(self.__dict__.get(a)) for a in getattr(type(self), "_inline_sublayers", ())}
        subs = self._sublayers()
        if subs:
            _name_sublayers(self, [s for s in subs if id(s) not in inline], set(params) | set(state))
        for sub in subs:
            tree = sub._variable_tree()
            for part, sub_part in ((params, tree["params"]), (state, tree["state"])):
                if not sub_part:
                    continue
                if id(sub) in inline:  # its weights read as this layer's own (an RNN's cell)
                    clash = set(part) & set(sub_part)
                    if clash:
                        raise ValueError(
                            f"{self._label}: its weights and {sub._label}'s share the names {sorted(clash)}"
                        )
                    part.update(sub_part)
                else:
                    part[sub.name] = sub_part
        return {"params": params, "state": state}

    @property
    def variables(self) -> list:
        return self.weights

    def _with_sublayers(self, own, attr) -> list:
        """`own` followed by every sublayer's `attr` list, each variable once (shared ones too)."""
        out, seen = list(own), {id(v) for v in own}
        for sub in self._sublayers():
            for v in getattr(sub, attr):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def weights(self) -> list:
        """All weights in Keras's order: own trainable, own non-trainable, then sublayers'."""
        own = self._own_variables()
        return self._with_sublayers([v for v in own if v.trainable] + [v for v in own if not v.trainable], "weights")

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return self._with_sublayers([v for v in self._own_variables() if v.trainable], "trainable_weights")

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        """All weights as numpy arrays, in Keras's order."""
        self._materialize()
        return [np.asarray(v.value) for v in self.weights]

    # ---- derived from the declarations: what the trainer (or your own loop) applies

    def penalty(self, params):
        """The weight regularizers' penalty (`kernel_regularizer=`, ...) on `params`."""
        total = 0.0
        for v, a in bind_pairs(self._variable_tree(), {"params": params}, self._label):
            if v.regularizer is not None:
                total = total + v.regularizer(a)
        return total

    def constrain(self, params):
        """`params` with every weight's constraint applied (`kernel_constraint=`, ...)."""
        tree = self._variable_tree()["params"]
        return zip_map(lambda v, a: a if v.constraint is None else v.constraint(a), tree, params)

    def trainable_mask(self, params):
        """A pytree of bools over `params`: False where a weight is frozen (its layer, or a
        model holding it, has `trainable=False`)."""
        frozen = {id(v) for v in self.weights} - {id(v) for v in self.trainable_weights}
        tree = self._variable_tree()["params"]
        return zip_map(lambda v, a: id(v) not in frozen, tree, params)

    def weights_of(self, variables) -> list:
        """The arrays of a `{"params", "state"}` tree in Keras's weight order (`weights`)."""
        found = {id(v): a for v, a in bind_pairs(self._variable_tree(), variables, self._label)}
        return [found[id(v)] for v in self.weights if id(v) in found]

    def set_weights(self, weights):
        """Replace every weight from a list in `get_weights()` order (every mismatch listed)."""
        self._materialize()  # as in Keras, the weights exist (and the seed advanced) before they are replaced
        targets = self.weights
        weights = list(weights)
        problems = []
        if len(weights) != len(targets):
            problems.append(f"expected {len(targets)} arrays, got {len(weights)}")
        for i, (v, w) in enumerate(zip(targets, weights)):
            if tuple(np.shape(w)) != v.shape:
                problems.append(f"weight {i} ({v.path}) expects shape {v.shape}, got {tuple(np.shape(w))}")
        if problems:
            raise ValueError(f"{self._label}.set_weights: " + "; ".join(problems))
        for v, w in zip(targets, weights):
            v._value = jnp.asarray(w, v.dtype)

    def count_params(self, variables=None) -> int:
        """Number of scalars in the weights (Keras: no argument; jnet also counts a given tree's
        params)."""
        if variables is not None:
            return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(variables.get("params", {}))))
        if not self.built:
            raise ValueError(f"{self._label} is not built yet: call it on data or build(input_shape) first")
        return int(sum(v.size for v in self.weights))

    def _materialize(self, key=None):
        """Give every weight that has no value yet its initial value (few compiled programs,
        see `jnet.core.initial`), each from the key folded with its path."""
        tree = self._variable_tree()
        todo = [(p, v) for p, v in variable_paths(tree) if not v.initialized]
        if not todo:
            return
        from jnet.utils import rng as jrng

        values = concrete(lambda: initial_values(jrng.next_key() if key is None else key, todo))
        for (_, v), value in zip(todo, values):
            v._value = value

    def initial_variables(self, key) -> dict:
        """Initial values of every weight, each from `key` folded with its path."""
        tree = self._variable_tree()
        return {
            part: map_paths(lambda p, v: v.initial_value(path_key(key, p)), tree[part]) for part in ("params", "state")
        }

    def current_variables(self) -> dict:
        """The weights' current values as `{"params", "state"}` (initialising any that have none)."""
        self._materialize()
        tree = self._variable_tree()
        return jax.tree_util.tree_map(lambda v: v.value, tree, is_leaf=lambda v: isinstance(v, Variable))

    def assign_variables(self, variables):
        """Store the arrays of a `{"params", "state"}` tree into the layer's variables."""
        tree = self._variable_tree()
        for v, value in bind_pairs(tree, variables, self._label):
            v._value = value


def _unique_key(base: str, taken) -> str:
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def _name_sublayers(owner, subs, taken):
    """Unique names among a layer's sublayers (and its own weights): `dense`, `dense_1`, ..."""
    names = set(taken)
    for sub in subs:
        if sub.name in names:
            if sub._auto_named and not sub._name_fixed:
                sub.name = _unique_key(sub.name, names)
            else:
                raise ValueError(
                    f"{owner._label}: two of its sublayers (or a sublayer and a weight) are named "
                    f"{sub.name!r}; give them distinct names"
                )
        names.add(sub.name)
