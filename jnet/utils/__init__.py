"""Utilities: seeding, summaries, plots."""

from jnet.utils.rng import set_random_seed
from jnet.utils.plot import model_to_dot, plot_history, plot_model

__all__ = ["set_random_seed", "model_to_dot", "plot_history", "plot_model"]
