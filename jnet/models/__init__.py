"""Models: `Sequential`, graph `Model`, and saving/loading."""

from jnet.models.model import Model
from jnet.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
