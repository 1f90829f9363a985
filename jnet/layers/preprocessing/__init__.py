"""Preprocessing layers (Keras's `keras.layers` preprocessing family), one module per family."""

import importlib as _importlib

# Keras exports FeatureSpace as keras.utils.FeatureSpace only; imported here so that a saved
# FeatureSpace's classes are registered for loading.
from jnet.layers.preprocessing import feature_space as _feature_space  # noqa: E402,F401
from jnet.layers.preprocessing.augment import *  # noqa: F401,F403
from jnet.layers.preprocessing.augment_color import *  # noqa: F401,F403
from jnet.layers.preprocessing.augment_geometric import *  # noqa: F401,F403
from jnet.layers.preprocessing.augment_mixing import *  # noqa: F401,F403
from jnet.layers.preprocessing.augment_pixel import *  # noqa: F401,F403
from jnet.layers.preprocessing.augment_policies import *  # noqa: F401,F403
from jnet.layers.preprocessing.encoding import *  # noqa: F401,F403
from jnet.layers.preprocessing.image import *  # noqa: F401,F403
from jnet.layers.preprocessing.numeric import *  # noqa: F401,F403
from jnet.layers.preprocessing.pipeline import *  # noqa: F401,F403
from jnet.layers.preprocessing.text import *  # noqa: F401,F403

_MODULES = (
    "numeric",
    "image",
    "encoding",
    "augment",
    "augment_color",
    "augment_pixel",
    "augment_geometric",
    "augment_mixing",
    "augment_policies",
    "pipeline",
    "text",
)
__all__ = []
for _m in _MODULES:
    __all__ += _importlib.import_module(f"jnet.layers.preprocessing.{_m}").__all__
