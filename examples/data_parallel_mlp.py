"""Data-parallel training of an MLP on every device, on one host or many.

One host, every local GPU (or forced CPU devices):

    python examples/data_parallel_mlp.py
    XLA_FLAGS=--xla_force_host_platform_device_count=4 python examples/data_parallel_mlp.py

Several hosts (run on each, with its own --process-id; host 0's address is the coordinator):

    python examples/data_parallel_mlp.py --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
    python examples/data_parallel_mlp.py --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 1

Add --mixed-precision for float32 params with bfloat16 compute.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", help="host:port of process 0 (multi-host only)")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256, help="global batch, divisible by the device count")
    parser.add_argument("--mixed-precision", action="store_true")
    args = parser.parse_args()

    import jnet
    from jnet import distribution

    if args.coordinator or args.num_processes:
        # First thing, before any other JAX work, on every process.
        distribution.initialize(args.coordinator, args.num_processes, args.process_id)
    if args.mixed_precision:
        jnet.mixed_precision.set_global_policy("mixed_bfloat16")

    import numpy as np

    distribution.set_distribution(distribution.DataParallel())  # every device of every host
    is_chief = distribution.distribution().process_id == 0
    if is_chief:
        print(f"{distribution.get_device_count()} devices, {distribution.distribution().num_processes} process(es)")

    # Every process builds the same data (same seed): DataParallel keeps each process's rows.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8192, 784)).astype("float32")
    y = (x[:, :10].argmax(axis=1)).astype("int32")

    jnet.utils.set_random_seed(0)
    model = jnet.Sequential(
        [
            jnet.layers.Dense(512, activation="relu", input_shape=(784,)),
            jnet.layers.Dense(512, activation="relu"),
            jnet.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=2 if is_chief else 0)
    if is_chief:
        print("final loss", history.history["loss"][-1])


if __name__ == "__main__":
    main()
