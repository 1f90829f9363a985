"""Layers, one family per module; every name Keras users import from `keras.layers`."""

from jnet.layers.base import Layer
from jnet.layers.core import *  # noqa: F401,F403
from jnet.models.functional import Input, InputLayer

__all__ = ["Layer", "Input", "InputLayer", "Dense"]
from jnet.layers.recurrent import *  # noqa: F401,F403
from jnet.layers.attention import *  # noqa: F401,F403
from jnet.layers.flax_layer import *  # noqa: F401,F403
