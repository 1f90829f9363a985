"""Run ONE (framework, workload) cell in this process and print its result as one JSON line.

Each cell gets a fresh process so that peak memory (RSS on CPU, the allocator's peak on a GPU)
and compile caches belong to that cell alone.
"""

import argparse
import json
import os
import resource
import sys
import traceback

FRAMEWORKS = ("jnet", "jax", "keras", "flax")


def peak_memory_mb(platform):
    if platform != "cpu":
        import jax

        stats = jax.local_devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return stats["peak_bytes_in_use"] / 2**20, "device peak_bytes_in_use"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak RSS"  # ru_maxrss is KiB on Linux


def summarize(result, steps_per_epoch):
    """Steady-state steps/s from epochs 2.. ; compile time = first epoch minus one steady epoch;
    build time = making the model and its variables (and optimizer state), before `fit`."""
    t0, ends = result["t0"], result["epoch_ends"]
    first = ends[0] - t0
    out = {
        "first_epoch_s": first,
        "epochs": len(ends),
        "steps_per_epoch": steps_per_epoch,
        "n_params": result["n_params"],
        "build_s": result.get("build_s"),
    }
    if len(ends) >= 2:
        steady = (ends[-1] - ends[0]) / (len(ends) - 1)
        out["steps_per_s"] = steps_per_epoch / steady
        out["compile_s"] = max(0.0, first - steady)
    return out


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--framework", choices=FRAMEWORKS, required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--steps", type=int, required=True, help="steps per epoch")
    p.add_argument("--epochs", type=int, required=True)
    args = p.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")

    import jax

    from benchmarks.workloads import WORKLOADS, make_data

    w = WORKLOADS[args.workload]
    platform = jax.default_backend()
    x, y = make_data(w, w.batch_size * args.steps)
    record = {"framework": args.framework, "workload": w.name, "platform": platform}
    try:
        if args.framework == "jnet":
            from benchmarks.keras_api import run_jnet as run
        elif args.framework == "keras":
            try:
                import keras  # noqa: F401
            except ImportError as e:
                record.update(skipped=f"keras not installed ({e})")
                raise SystemExit(print(json.dumps(record))) from None
            from benchmarks.keras_api import run_keras as run
        elif args.framework == "flax":
            try:
                from flax import nnx  # noqa: F401
            except ImportError as e:
                record.update(skipped=f"flax not installed ({e})")
                raise SystemExit(print(json.dumps(record))) from None
            from benchmarks.flax_nnx import run
        else:
            from benchmarks.jax_loop import run
        record.update(summarize(run(w, x, y, args.epochs), args.steps))
        record["peak_memory_mb"], record["memory_kind"] = peak_memory_mb(platform)
    except Exception as e:  # noqa: BLE001 - a failing cell is reported, the others still run
        record["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc(file=sys.stderr)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
