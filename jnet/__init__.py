"""jnet: the Keras API on top, pure JAX functions underneath.

```python
import jnet
from jnet import layers, models
```
"""

from jnet import (
    activations,
    applications,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distribution,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    tree,
    utils,
)
from jnet.core.symbolic import SymbolicTensor as KerasTensor
from jnet.core.variables import StatelessScope, Variable
from jnet.initializers import Initializer
from jnet.layers.base import Layer
from jnet.layers.input_layer import Input
from jnet.layers.input_spec import InputSpec
from jnet.losses import Loss
from jnet.metrics import Metric
from jnet.mixed_precision import DTypePolicy
from jnet.models.model import Model
from jnet.models.saving import load_model
from jnet.models.sequential import Sequential
from jnet.optimizers import Optimizer
from jnet.regularizers import Regularizer
from jnet.serialization import register_serializable

__version__ = "0.1.0"


def version():
    """jnet's version string."""
    return __version__


__all__ = [
    "Input",
    "Model",
    "Sequential",
    "activations",
    "applications",
    "callbacks",
    "datasets",
    "distribution",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "optimizers",
    "preprocessing",
    "register_serializable",
    "regularizers",
    "constraints",
    "saving",
    "utils",
    "backend",
    "config",
    "ops",
    "random",
    "tree",
    "version",
    "DTypePolicy",
    "Initializer",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "Loss",
    "Metric",
    "Optimizer",
    "Regularizer",
    "StatelessScope",
    "Variable",
]
