"""Distributed training on `jax.sharding`, in the spirit of Keras 3's `keras.distribution`.

```python
from jnet import distribution
distribution.set_distribution(distribution.DataParallel())   # every local device
model.fit(x, y, batch_size=256)
```

Multi-host: call `distribution.initialize(...)` first on every process (see `docs/distributed.md`).
"""

from jnet.distribution.mesh import DeviceMesh, LayoutMap, TensorLayout, get_device_count, list_devices
from jnet.distribution.strategies import (
    DataParallel,
    MeshDistribution,
    ModelParallel,
    distribute_tensor,
    distribution,
    initialize,
    set_distribution,
)
from jnet.engine.distribute import Distribution

__all__ = [
    "DataParallel",
    "DeviceMesh",
    "Distribution",
    "LayoutMap",
    "MeshDistribution",
    "ModelParallel",
    "TensorLayout",
    "distribute_tensor",
    "distribution",
    "get_device_count",
    "initialize",
    "list_devices",
    "set_distribution",
]
