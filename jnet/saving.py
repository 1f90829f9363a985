"""`jnet.saving`: Keras's `keras.saving` names (`load_model`, `save_model`, registration)."""

from jnet.models.saving import CheckpointError, load_model, save_model
from jnet.serialization import deserialize as deserialize_jnet_object
from jnet.serialization import register_serializable
from jnet.serialization import serialize as serialize_jnet_object

# Keras spells the decorator `register_keras_serializable`; ported code keeps working.
register_keras_serializable = register_serializable

__all__ = [
    "CheckpointError", "deserialize_jnet_object", "load_model", "register_keras_serializable",
    "register_serializable", "save_model", "serialize_jnet_object",
]
