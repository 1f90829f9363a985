"""jnet vs a hand-written JAX loop vs Keras 3 (JAX backend) vs Flax NNX, on the same data.

Run `python -m benchmarks` (or `python benchmarks/run.py`); `--help` for options.
"""
