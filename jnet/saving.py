"""`jnet.saving`: Keras's `keras.saving` names: saving and loading models, registering custom
objects, and turning objects into configs and back."""

from jnet.models.saving import CheckpointError, load_model, save_model
from jnet.serialization import CustomObjectScope, custom_object_scope, get_custom_objects
from jnet.serialization import deserialize as deserialize_jnet_object
from jnet.serialization import register_serializable
from jnet.serialization import serialize as serialize_jnet_object
from jnet.serialization_lib import (deserialize_keras_object, get_registered_name, get_registered_object,
                                    serialize_keras_object)

# Keras spells the decorator `register_keras_serializable`; ported code keeps working.
register_keras_serializable = register_serializable

__all__ = [
    "CheckpointError", "CustomObjectScope", "custom_object_scope", "deserialize_jnet_object",
    "deserialize_keras_object", "get_custom_objects", "get_registered_name", "get_registered_object",
    "load_model", "register_keras_serializable", "register_serializable", "save_model",
    "serialize_jnet_object", "serialize_keras_object",
]
