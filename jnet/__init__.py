"""jnet: the Keras API on top, pure JAX functions underneath.

```python
import jnet
from jnet import layers, models
```
"""

from jnet import activations, initializers, regularizers, utils
from jnet import datasets
from jnet import layers, models
from jnet.models.functional import Input
from jnet.models.model import Model
from jnet.models.sequential import Sequential
from jnet.serialization import register_serializable

__version__ = "0.1.0"

__all__ = [
    "Input", "Model", "Sequential", "activations", "datasets", "initializers", "layers", "models",
    "register_serializable", "regularizers", "utils",
]
