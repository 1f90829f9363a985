"""`jnet.saving`: Keras's `keras.saving` names: saving and loading models, registering custom
objects, and turning objects into configs and back."""

from jnet.models.saving import CheckpointError, load_model, save_model
from jnet.saving.file_editor import KerasFileEditor
from jnet.serialization import CustomObjectScope, custom_object_scope, get_custom_objects, register_serializable
from jnet.serialization import deserialize as deserialize_jnet_object
from jnet.serialization import serialize as serialize_jnet_object
from jnet.serialization_lib import (
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    serialize_keras_object,
)


def save_weights(model, filepath, overwrite=True):
    """`model.save_weights(filepath)` as a function (Keras's `keras.saving.save_weights`)."""
    return model.save_weights(filepath, overwrite=overwrite)


def load_weights(model, filepath, skip_mismatch=False):
    """`model.load_weights(filepath)` as a function (Keras's `keras.saving.load_weights`)."""
    return model.load_weights(filepath, skip_mismatch=skip_mismatch)


# Keras spells the decorator `register_keras_serializable`; ported code keeps working.
register_keras_serializable = register_serializable

__all__ = [
    "CheckpointError",
    "CustomObjectScope",
    "KerasFileEditor",
    "custom_object_scope",
    "deserialize_jnet_object",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "register_serializable",
    "save_model",
    "save_weights",
    "serialize_jnet_object",
    "serialize_keras_object",
]
