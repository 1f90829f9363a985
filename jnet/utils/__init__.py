"""Utilities: seeding, summaries, plots."""

from jnet.utils.batch import pack_x_y_sample_weight, unpack_x_y_sample_weight
from jnet.utils.rng import set_random_seed
from jnet.utils.plot import model_to_dot, plot_history, plot_model

__all__ = ["set_random_seed", "pack_x_y_sample_weight", "unpack_x_y_sample_weight", "model_to_dot", "plot_history", "plot_model"]
