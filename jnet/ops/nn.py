"""`jnet.ops.nn`: the neural-network ops of `keras.ops.nn`."""

from jnet.ops import _nn_activations as _activations
from jnet.ops import _nn_conv as _conv
from jnet.ops import _nn_ctc as _ctc
from jnet.ops import _nn_misc as _misc
from jnet.ops.numpy import _public

for _m in (_activations, _conv, _ctc, _misc):
    globals().update(_public(_m))
del _m
