"""Utilities: seeding, summaries, plots."""

from jnet.utils.rng import set_random_seed

__all__ = ["set_random_seed"]
