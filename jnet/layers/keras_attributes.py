"""Keras 3's remaining `Layer` attributes: `path`, `dtype_policy`, `input_dtype`, `autocast`,
`supports_jit`, `call_signature_parameters`, `symbolic_call`, `metrics`, `metrics_variables`,
and `add_metric` (which Keras 3 has disabled).

`path` is where the layer was built, as in Keras: a layer built while its parent builds (a
`Sequential`'s layers, a subclassed model's or layer's sublayers) reads `parent/name`, a layer
built on its own or on symbolic inputs (a functional model's layers) just `name`; `None`
before it is built. Building runs inside `building_scope(layer)`, which records the layers whose
builds are in progress; names are read when `path` is, so the unique names a layer gets on
joining a model show up in it.
"""

from __future__ import annotations

import contextlib
import inspect
import threading

_SCOPE = threading.local()


def _stack() -> list:
    stack = getattr(_SCOPE, "layers", None)
    if stack is None:
        stack = _SCOPE.layers = []
    return stack


@contextlib.contextmanager
def building_scope(layer):
    """Build `layer` inside this block: it records its parents (the builds in progress) once,
    and layers built inside get it as a parent."""
    stack = _stack()
    if stack and stack[-1] is layer:  # `_maybe_build` calling the wrapped `build`
        yield
        return
    layer.__dict__.setdefault("_path_parents", _Parents(stack))
    stack.append(layer)
    try:
        yield
    finally:
        stack.pop()


class _Parents:
    """The layers whose builds were in progress when a layer was built: held in an object of
    its own, not a list, so sublayer tracking does not take the parents for sublayers."""

    def __init__(self, layers):
        self.layers = tuple(layers)


class LayerAttributesMixin:
    """The Keras attributes listed in the module docstring, for every layer and model."""

    # Keras's `supports_jit`: whether the layer may run under `jax.jit` (jnet's always do; a
    # subclass may set False for documentation, jnet's loops compile regardless).
    supports_jit = True

    @property
    def path(self):
        """Where the layer was built (`"outer/inner"`), `None` before it is built."""
        if not self.built:
            return None
        parents = self.__dict__.get("_path_parents")
        return "/".join([p.name for p in (parents.layers if parents else ())] + [self.name])

    @property
    def dtype_policy(self):
        """The layer's `DTypePolicy` (its `dtype` argument, else the global policy)."""
        from jnet import dtypes
        from jnet.mixed_precision import DTypePolicy

        return DTypePolicy(self.dtype if self.dtype is not None else dtypes.global_policy())

    @dtype_policy.setter
    def dtype_policy(self, value):
        from jnet.mixed_precision import DTypePolicy

        self.dtype = DTypePolicy(value).name

    @property
    def input_dtype(self) -> str:
        """The dtype floating inputs are cast to: the compute dtype."""
        return self.compute_dtype.name

    @property
    def autocast(self) -> bool:
        """Keras's `autocast`: jnet layers always compute in `compute_dtype` (float inputs and
        float32 variables are cast to it under a mixed policy), so it is always True."""
        return True

    @autocast.setter
    def autocast(self, value):
        if not value:
            raise ValueError(
                f"{self._label}: autocast=False is not supported: jnet layers always compute in their "
                "compute_dtype; give the layer dtype='float32' to keep it in full precision"
            )

    @property
    def call_signature_parameters(self) -> list:
        """The names of `call`'s parameters (Keras lists them, `*args`/`**kwargs` included)."""
        return [p.name for p in inspect.signature(self.call).parameters.values()]

    def symbolic_call(self, *args, **kwargs):
        """The output spec for inputs like `args` (Keras: `compute_output_spec`); records no
        graph node."""
        return self.compute_output_spec(*args, **kwargs)

    @property
    def metrics(self) -> list:
        """Metric objects held as public attributes of this layer, then its sublayers'."""
        from jnet.metrics.base import Metric

        out = [v for k, v in self.__dict__.items() if not k.startswith("_") and isinstance(v, Metric)]
        for sub in self._sublayers():
            out.extend(m for m in sub.metrics if all(m is not o for o in out))
        return out

    @property
    def metrics_variables(self) -> list:
        """The `variables` of every metric in `metrics`, concatenated."""
        return [v for m in self.metrics for v in m.variables]

    def add_metric(self, *args, **kwargs):
        # Keras 3 disabled this method and raises NotImplementedError; the same type and advice
        # here, so code that catches it behaves alike.
        raise NotImplementedError(
            f"{self._label}: Layer `add_metric()` method is deprecated. Add your metric in "
            "`Model.compile(metrics=[...])`, or create metric trackers in init() or build() when "
            "subclassing the layer or model, then call `metric.update_state()` whenever necessary."
        )

    def _maybe_build(self, arg_specs, kw_specs):
        # Sublayers built while this layer builds (or traces its call to build them) get it as
        # their parent in `path`.
        if self.built:
            return super()._maybe_build(arg_specs, kw_specs)
        with building_scope(self):
            return super()._maybe_build(arg_specs, kw_specs)
