"""Layers, one family per module; every name Keras users import from `keras.layers`."""

import importlib as _importlib

from jnet.layers.activation import *  # noqa: F401,F403,E402
from jnet.layers.attention import *  # noqa: F401,F403,E402
from jnet.layers.base import Layer
from jnet.layers.convolution import *  # noqa: F401,F403,E402
from jnet.layers.convolution_depthwise import *  # noqa: F401,F403,E402
from jnet.layers.core import *  # noqa: F401,F403,E402
from jnet.layers.flax_layer import *  # noqa: F401,F403,E402
from jnet.layers.input_layer import Input, InputLayer
from jnet.layers.merge import *  # noqa: F401,F403,E402
from jnet.layers.normalization import *  # noqa: F401,F403,E402
from jnet.layers.op_layer import OpLayer  # noqa: F401,E402
from jnet.layers.pooling import *  # noqa: F401,F403,E402
from jnet.layers.preprocessing import *  # noqa: F401,F403,E402
from jnet.layers.recurrent import *  # noqa: F401,F403,E402
from jnet.layers.regularization import *  # noqa: F401,F403,E402
from jnet.layers.reshaping import *  # noqa: F401,F403,E402
from jnet.layers.rnn_wrappers import *  # noqa: F401,F403,E402
from jnet.serialization_lib import deserialize_layer as deserialize
from jnet.serialization_lib import serialize_layer as serialize

_FAMILIES = (
    "activation",
    "core",
    "merge",
    "normalization",
    "regularization",
    "reshaping",
    "convolution",
    "pooling",
    "recurrent",
    "rnn_wrappers",
    "attention",
    "flax_layer",
    "preprocessing",
)
__all__ = ["Layer", "Input", "InputLayer", "OpLayer", "deserialize", "serialize"]
for _family in _FAMILIES:
    __all__ += _importlib.import_module(f"jnet.layers.{_family}").__all__

# Keras 3 layers added together (helper `names`): one block, so parallel additions stay apart.
from jnet.layers.convolution import Conv1DTranspose as Convolution1DTranspose  # noqa: F401,E402
from jnet.layers.convolution import Conv3DTranspose as Convolution3DTranspose  # noqa: F401,E402
from jnet.layers.einsum_dense import *  # noqa: F401,F403,E402
from jnet.layers.input_spec import InputSpec  # noqa: F401,E402
from jnet.layers.normalization_extra import *  # noqa: F401,F403,E402
from jnet.layers.pooling_adaptive import *  # noqa: F401,F403,E402
from jnet.layers.regularization_extra import *  # noqa: F401,F403,E402
from jnet.layers.reshaping_3d import *  # noqa: F401,F403,E402
from jnet.layers.wrapper import *  # noqa: F401,F403,E402

__all__ += ["InputSpec", "Convolution1DTranspose", "Convolution3DTranspose"]
for _family in (
    "normalization_extra",
    "einsum_dense",
    "reshaping_3d",
    "regularization_extra",
    "pooling_adaptive",
    "wrapper",
):
    __all__ += _importlib.import_module(f"jnet.layers.{_family}").__all__
from jnet.layers.grouped_query_attention import *  # noqa: F401,F403,E402
from jnet.layers.jax_layer import *  # noqa: F401,F403,E402

__all__ += ["GroupedQueryAttention", "GroupQueryAttention", "JaxLayer"]
from jnet.layers.stacked_cells import StackedRNNCells  # noqa: F401,E402

__all__ += ["StackedRNNCells"]
from jnet.layers.conv_lstm import *  # noqa: F401,F403,E402

__all__ += ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]
from jnet.layers.audio import *  # noqa: F401,F403,E402

__all__ += ["MelSpectrogram", "STFTSpectrogram"]
from jnet.layers.reversible_embedding import ReversibleEmbedding  # noqa: F401,E402

__all__ += ["ReversibleEmbedding"]
