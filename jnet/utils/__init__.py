"""Utilities: seeding, summaries, plots, and Keras's serialization helpers."""

from jnet.serialization import CustomObjectScope, custom_object_scope, get_custom_objects, register_serializable
from jnet.serialization_lib import (deserialize_keras_object, get_registered_name, get_registered_object,
                                    serialize_keras_object)
from jnet.utils.rng import set_random_seed
from jnet.utils.plot import model_to_dot, plot_history, plot_model

register_keras_serializable = register_serializable

__all__ = [
    "CustomObjectScope", "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
    "get_registered_name", "get_registered_object", "model_to_dot", "plot_history", "plot_model",
    "register_keras_serializable", "serialize_keras_object", "set_random_seed",
]
