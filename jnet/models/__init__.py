"""Models: `Sequential`, graph `Model`, and saving/loading."""

from jnet.models.cloning import clone_model
from jnet.models.model import Model
from jnet.models.saving import load_model, model_from_json, save_model
from jnet.models.sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
