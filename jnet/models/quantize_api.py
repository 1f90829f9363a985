"""`Model.quantize` (Keras's): quantize every quantizable layer of a built model. The layers'
side (`layer.quantize`, the int8 weights and call) is `jnet.layers.quantization`."""

from __future__ import annotations


class QuantizeMixin:
    """`quantize` and `get_quantization_layer_structure` of `jnet.Model`."""

    def quantize(self, mode=None, config=None, filters=None, **kwargs):
        """Quantize the weights of every layer that supports it (Dense, EinsumDense, Embedding).

        Args:
            mode: `"int8"` (optional when `config` is given).
            config: a `jnet.quantizers.Int8QuantizationConfig`.
            filters: which layers: a regex searched in the layer's name, a list of regexes (any
                matches), or a callable `layer -> bool`. None: all.

        Layers without `quantize` are skipped; a subclass of a quantizable layer is skipped
        with a warning (its call may differ), as in Keras. The model must be built; compile it
        again before training.

        Example:
        ```python
        model.quantize("int8")
        model.quantize("int8", filters="dense")   # only layers whose name contains "dense"
        ```
        """
        import re
        import warnings

        from jnet.quantizers import resolve_config

        type_check = kwargs.pop("type_check", True)
        if kwargs:
            raise ValueError(f"{self._label}.quantize: unrecognized keyword arguments {sorted(kwargs)}")
        if filters is not None and not isinstance(filters, (str, list, tuple)) and not callable(filters):
            raise ValueError(
                f"{self._label}.quantize: filters must be a regex string, a list of regex strings or a "
                f"callable, got {type(filters).__name__}"
            )
        mode, config = resolve_config(mode, config, f"{self._label}.quantize")
        self._require_built()

        def wanted(layer):
            if filters is None:
                return True
            if isinstance(filters, str):
                return re.search(filters, layer.name) is not None
            if isinstance(filters, (list, tuple)):
                return any(re.search(p, layer.name) for p in filters)
            return bool(filters(layer))

        changed = False
        for layer in _leaf_layers(self):
            if not hasattr(layer, "quantize") or not wanted(layer):
                continue
            try:
                layer.quantize(mode, type_check=type_check, config=config)
                changed = True
            except NotImplementedError as err:
                warnings.warn(str(err), stacklevel=2)
        if changed:
            self._trainer = None  # the variables changed: training state is rebuilt on the next fit

    def get_quantization_layer_structure(self, mode=None):
        """The model's block structure for structure-aware quantization modes (Keras's hook for
        GPTQ/AWQ, which jnet does not have): None unless a subclass overrides it."""
        del mode
        return None


def _leaf_layers(model) -> list:
    """Every layer inside `model` that holds no layers itself, each once, in tracking order."""
    out, seen = [], {id(model)}

    def visit(layer):
        subs = layer._sublayers()
        if not subs and layer is not model:
            out.append(layer)
        for sub in subs:
            if id(sub) not in seen:
                seen.add(id(sub))
                visit(sub)

    visit(model)
    return out
