"""jnet: the Keras API on top, pure JAX functions underneath.

```python
import jnet
from jnet import layers, models
```
"""

from jnet import activations, initializers, regularizers, utils
from jnet import layers, models
from jnet import losses, metrics
from jnet import optimizers
from jnet.models.functional import Input
from jnet.models.model import Model
from jnet.models.sequential import Sequential
from jnet.serialization import register_serializable
from jnet import distribution, mixed_precision  # noqa: E402  (scale branch)

__version__ = "0.1.0"

__all__ = [
    "distribution", "mixed_precision",
    "Input", "Model", "Sequential", "activations", "initializers", "layers", "models",
    "losses", "metrics", "optimizers", "register_serializable", "regularizers", "utils",
]
