"""Shared test setup: shape bugs fail loudly, runs are seeded, Keras (the oracle) is on JAX."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(__file__))  # tests import the shared harness
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(autouse=True)
def _seed():
    import jnet

    jnet.utils.set_random_seed(0)
    yield
