"""How a layer gets built (Keras's `_maybe_build`: from the shapes of its first call, `build`'s
arguments named after `call`'s), how its output shapes are inferred, and which symbolic tensors
it was called on (`layer.input`, `layer.output`)."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp

from jnet.core.symbolic import call_signature
from jnet.core.variables import VariableScope
from jnet.layers.specs import fill_specs, infer_output_spec, is_spec_leaf, shape_tree, specs_of

__all__ = ["BuildingMixin"]


class BuildingMixin:
    """The building half of `Layer` (see `jnet.layers.base`)."""

    def _maybe_build(self, arg_specs, kw_specs):
        """Build from the specs of the call's arguments (Keras's `_maybe_build`), once."""
        if self.built:
            return
        specs = specs_of(tuple(arg_specs))
        self._check_input_spec(specs)
        try:
            self.check_inputs(*specs, **self._check_inputs_keywords(kw_specs))
            self.__dict__["_build_specs"] = specs
            self._build_shapes = shape_tree(list(specs))
            self.build(*self._build_arguments(specs, kw_specs))
        except (TypeError, ValueError) as err:
            if self._label in str(err):
                raise
            raise type(err)(f"{self._label}: {err}") from err
        self.built = True
        if any(not sub.built for sub in self._sublayers()):
            self._build_by_tracing(specs, kw_specs)

    def _check_inputs_keywords(self, kw_specs) -> dict:
        """The inputs given by keyword (`attention(query=q, value=v)`) that `check_inputs` names."""
        params = inspect.signature(self.check_inputs).parameters
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {k: v for k, v in kw_specs.items() if k in params and params[k].kind in named and is_spec_leaf(v)}

    def _build_arguments(self, specs, kw_specs) -> list:
        """`build`'s arguments: the first input's shape for `build(input_shape)`, else the
        shape of each call argument its parameters name (`build(query_shape, value_shape)`)."""
        params = list(inspect.signature(self.build).parameters.values())
        if not params:
            return []
        if len(params) == 1 or params[0].name == "input_shape" or not params[0].name.endswith("_shape"):
            return [shape_tree(specs[0]) if specs else None]
        positional, _ = call_signature(type(self))
        named = dict(zip(positional, specs))
        named.update({k: v for k, v in kw_specs.items() if is_spec_leaf(v) or isinstance(v, (list, dict))})
        out = []
        for p in params:
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                break
            arg = named.get(p.name[: -len("_shape")]) if p.name.endswith("_shape") else None
            if arg is None:
                if p.default is inspect.Parameter.empty:
                    out.append(None)
                    continue
                out.append(p.default)
                continue
            out.append(shape_tree(arg))
        return out

    def _build_by_tracing(self, specs, kw_specs):
        """Build sublayers that `build` left unbuilt by tracing `call` once, shapes only (Keras
        does the same for layers whose `build` does not build their sublayers)."""
        filled = fill_specs((tuple(specs), dict(kw_specs)), 1)
        leaves, treedef = jax.tree_util.tree_flatten(filled, is_leaf=is_spec_leaf)
        where = [i for i, leaf in enumerate(leaves) if is_spec_leaf(leaf)]

        def run(arrays):
            full = list(leaves)
            for i, a in zip(where, arrays):
                full[i] = a
            args, kw = jax.tree_util.tree_unflatten(treedef, full)
            with VariableScope(training=False, abstract=True):
                return self._invoke(args, kw, False, None, None)

        try:
            jax.eval_shape(run, [leaves[i] for i in where])
        except (TypeError, ValueError) as err:
            if self._label in str(err):
                raise
            raise type(err)(f"{self._label}: {err}") from err

    def _makes_masks(self) -> bool:
        """Whether this layer may output a mask from unmasked inputs (Embedding's `mask_zero`,
        Masking): its class defines its own `compute_mask`."""
        return type(self).compute_mask is not _default_compute_mask()

    def _symbolic_output_mask(self, arg_specs, kw_specs, mask):
        """The spec of the output mask for a symbolic call (Keras's `_keras_mask` on the
        outputs), shapes only; None when the outputs carry no mask."""
        if mask is None and not self._makes_masks():
            return None
        tree = (tuple(arg_specs), dict(kw_specs), mask)
        unknown = any(
            d is None for s in jax.tree_util.tree_leaves(tree, is_leaf=is_spec_leaf) if is_spec_leaf(s) for d in s.shape
        )
        # Both fillers in one `eval_shape`: the wrapper is traced once.
        fills = (1021, 2039) if unknown else (1021,)
        flat = []
        for fill in fills:
            leaves, treedef = jax.tree_util.tree_flatten(fill_specs(tree, fill), is_leaf=is_spec_leaf)
            flat.append((leaves, treedef, [i for i, leaf in enumerate(leaves) if is_spec_leaf(leaf)]))

        def masks(arrays_per_fill):
            outs = []
            for (leaves, treedef, where), arrays in zip(flat, arrays_per_fill):
                full = list(leaves)
                for i, a in zip(where, arrays):
                    full[i] = a
                args, kw, m = jax.tree_util.tree_unflatten(treedef, full)
                with VariableScope(training=False, abstract=True):
                    if getattr(self, "_graph", None) is not None:  # a graph model: masks flow through it
                        outs.append(self._call_with_mask(args, kw, m)[1])
                    else:
                        outs.append(self.compute_mask(args[0] if args else None, m))
            return outs

        found = jax.eval_shape(masks, [[leaves[i] for i in where] for leaves, _, where in flat])
        first = found[0]
        if first is None or not unknown:
            return first
        return jax.tree_util.tree_map(
            lambda a, b: jax.ShapeDtypeStruct(tuple(x if x == y else None for x, y in zip(a.shape, b.shape)), a.dtype),
            first,
            found[1],
        )

    input_spec = None  # an InputSpec (or a list, one per input) set by the layer: checked on every call

    def _check_input_spec(self, specs):
        spec = self.__dict__.get("input_spec")
        if spec is not None:
            from jnet.layers.input_spec import check_input_specs

            check_input_specs(self._label, spec, list(specs))

    def compute_output_shape(self, input_shape, *args):
        """The output shape for an input of `input_shape` (batch axis included; None allowed)."""
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            specs = [jax.ShapeDtypeStruct(tuple(s), jnp.float32) for s in input_shape]
            out = self.output_spec(specs)
        else:
            out = self.output_spec(jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))
        return jax.tree_util.tree_map(lambda s: tuple(s.shape), out)

    def compute_output_spec(self, *args, **kwargs):
        return self.output_spec(*args, **kwargs)

    def output_spec(self, *input_specs, **kwargs):
        """Output spec(s) for inputs of the given specs, from `jax.eval_shape`.

        Axes given as `None` (unknown batch or sequence length) stay `None` in the result: the
        shape is evaluated with two far-apart prime fillers (1021 and 2039, so strided or
        windowed axes still differ) and the axes that move are unknown.
        """
        return infer_output_spec(self, input_specs, kwargs)

    def _node_tensor(self, which: str):
        if not self._inbound_nodes:
            raise AttributeError(f"{self._label} has never been called on symbolic tensors, so it has no {which}")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(
                f"{self._label} has been called {len(self._inbound_nodes)} times; its {which} is "
                f"ambiguous (use get_{which}_at(node_index))"
            )
        node = self._inbound_nodes[0]
        if which == "output":
            return node.outputs
        args = node.args
        return args[0] if len(args) == 1 else list(args)

    @property
    def input(self):
        return self._node_tensor("input")

    @property
    def output(self):
        return self._node_tensor("output")

    def get_input_at(self, node_index):
        args = self._inbound_nodes[node_index].args
        return args[0] if len(args) == 1 else list(args)

    def get_output_at(self, node_index):
        return self._inbound_nodes[node_index].outputs

    def get_build_config(self):
        if self._build_shapes is None:
            return None
        shapes = self._build_shapes
        return {"input_shape": shapes[0] if len(shapes) == 1 else shapes}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None and not self.built:
            shape = config["input_shape"]
            if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
                specs = [jax.ShapeDtypeStruct(tuple(s), jnp.float32) for s in shape]
            else:
                specs = [jax.ShapeDtypeStruct(tuple(shape), jnp.float32)]
            self._maybe_build(specs, {})


def _default_compute_mask():
    from jnet.layers.base import Layer

    return Layer.compute_mask
