"""Layers, one family per module; every name Keras users import from `keras.layers`."""

from jnet.layers.base import Layer
from jnet.layers.core import *  # noqa: F401,F403
from jnet.models.functional import Input, InputLayer

__all__ = ["Layer", "Input", "InputLayer", "Dense"]

from jnet.layers.convolution import *  # noqa: F401,F403,E402
from jnet.layers.pooling import *  # noqa: F401,F403,E402
from jnet.layers import convolution as _convolution, pooling as _pooling  # noqa: E402

__all__ += _convolution.__all__ + _pooling.__all__
