"""Layers, one family per module; every name Keras users import from `keras.layers`."""

from jnet.layers import activation as _activation
from jnet.layers import core as _core
from jnet.layers import merge as _merge
from jnet.layers import normalization as _normalization
from jnet.layers import regularization as _regularization
from jnet.layers import reshaping as _reshaping
from jnet.layers.activation import *  # noqa: F401,F403
from jnet.layers.base import Layer
from jnet.layers.core import *  # noqa: F401,F403
from jnet.layers.merge import *  # noqa: F401,F403
from jnet.layers.normalization import *  # noqa: F401,F403
from jnet.layers.regularization import *  # noqa: F401,F403
from jnet.layers.reshaping import *  # noqa: F401,F403
from jnet.models.functional import Input, InputLayer

__all__ = ["Layer", "Input", "InputLayer"]
for _module in (_core, _activation, _merge, _normalization, _regularization, _reshaping):
    __all__ += _module.__all__
