"""Utilities as in `keras.utils`: data preparation, files and images, datasets for `fit`,
progress bars, seeding, summaries and plots, and Keras's serialization helpers."""

from jnet.serialization import CustomObjectScope, custom_object_scope, get_custom_objects, register_serializable
from jnet.serialization_lib import (
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    serialize_keras_object,
)
from jnet.utils.audio_dataset import audio_dataset_from_directory
from jnet.utils.config import Config
from jnet.utils.data_tuples import pack_x_y_sample_weight, unpack_x_y_sample_weight
from jnet.utils.dataset import Dataset
from jnet.utils.directory_datasets import image_dataset_from_directory, text_dataset_from_directory
from jnet.utils.dtype_utils import standardize_dtype
from jnet.utils.file_utils import get_file
from jnet.utils.graph_utils import clear_session, get_source_inputs, is_keras_tensor
from jnet.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from jnet.utils.io_utils import disable_interactive_logging, enable_interactive_logging, is_interactive_logging_enabled
from jnet.utils.numerical import normalize, to_categorical
from jnet.utils.plot import model_to_dot, plot_history, plot_model
from jnet.utils.progbar import Progbar
from jnet.utils.py_dataset import PyDataset, Sequence
from jnet.utils.rng import set_random_seed
from jnet.utils.sequence import pad_sequences
from jnet.utils.split import split_dataset
from jnet.utils.timeseries import timeseries_dataset_from_array

register_keras_serializable = register_serializable


def __getattr__(name):
    # FeatureSpace is a layer: imported on first use, since jnet.layers itself imports jnet.utils.
    if name == "FeatureSpace":
        from jnet.layers.preprocessing.feature_space import FeatureSpace

        return FeatureSpace
    raise AttributeError(f"module 'jnet.utils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"FeatureSpace"})


__all__ = [
    "Config",
    "CustomObjectScope",
    "Dataset",
    "FeatureSpace",
    "Progbar",
    "PyDataset",
    "Sequence",
    "array_to_img",
    "clear_session",
    "audio_dataset_from_directory",
    "custom_object_scope",
    "get_source_inputs",
    "is_keras_tensor",
    "deserialize_keras_object",
    "disable_interactive_logging",
    "enable_interactive_logging",
    "get_custom_objects",
    "get_file",
    "get_registered_name",
    "get_registered_object",
    "image_dataset_from_directory",
    "img_to_array",
    "is_interactive_logging_enabled",
    "load_img",
    "model_to_dot",
    "normalize",
    "pack_x_y_sample_weight",
    "pad_sequences",
    "plot_history",
    "plot_model",
    "register_keras_serializable",
    "save_img",
    "serialize_keras_object",
    "set_random_seed",
    "split_dataset",
    "standardize_dtype",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
    "to_categorical",
    "unpack_x_y_sample_weight",
]
