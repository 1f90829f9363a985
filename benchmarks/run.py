"""Benchmark entry point: `python -m benchmarks` or `python benchmarks/run.py`.

Times, in one run and on the same data, jnet `fit` (default settings), a hand-written
`jax.jit` + optax per-step loop, Keras 3 `fit` on the JAX backend and Flax NNX with `nnx.jit`,
for each workload in `benchmarks/workloads.py` (the large MLP only on GPU). Every cell runs in
its own process. Reported: steady-state steps/s (epochs after the first), first-epoch compile
time (first epoch minus a steady epoch), peak memory (RSS on CPU, device peak on GPU), each
also as a ratio to jnet. Writes `<out>/results.json` and `<out>/results.md`.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.workloads import WORKLOADS  # noqa: E402

FRAMEWORKS = ("jnet", "jax", "keras", "flax")
LABELS = {"jnet": "jnet fit", "jax": "JAX+optax loop", "keras": "Keras 3 fit (JAX)", "flax": "Flax NNX"}


def detect_platform():
    out = subprocess.run(
        [sys.executable, "-c", "import jax; d = jax.devices()[0]; print(d.platform, '|', d.device_kind)"],
        capture_output=True,
        text=True,
        check=True,
    )
    plat, kind = out.stdout.strip().split(" | ", 1)
    return plat, kind


def run_cell(framework, workload, steps, epochs, timeout, env):
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        "--framework",
        framework,
        "--workload",
        workload,
        "--steps",
        str(steps),
        "--epochs",
        str(epochs),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
    except subprocess.TimeoutExpired:
        return {"framework": framework, "workload": workload, "error": f"timed out after {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"framework": framework, "workload": workload, "error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def ratio(value, ref):
    return None if value is None or not ref else value / ref


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def markdown(results, meta):
    lines = [
        f"Device: {meta['device']} ({meta['platform']}); {meta['date']}; jax {meta['jax']}; "
        f"{meta['cpu_count']} CPU cores; mode: {meta['mode']}; best of {meta.get('repeats', 1)} round(s); load average (1/5/15 min) "
        f"{meta.get('load_average_before')} before, {meta.get('load_average_after')} after.",
        "",
        "| workload | framework | steps/s | × jnet | build s | compile s | × jnet | peak MiB | × jnet | params |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for wname in dict.fromkeys(r["workload"] for r in results):
        cells = [r for r in results if r["workload"] == wname]
        ref = next((r for r in cells if r["framework"] == "jnet" and "steps_per_s" in r), {})
        for r in cells:
            label = LABELS[r["framework"]]
            if "skipped" in r or "error" in r:
                why = r.get("skipped") or r.get("error")
                notes.append(f"- {wname} / {label}: {'skipped' if 'skipped' in r else 'failed'} — {why}")
                lines.append(f"| {wname} | {label} | {'skipped' if 'skipped' in r else 'failed'} | | | | | | | |")
                continue
            sps, comp, mem = r.get("steps_per_s"), r.get("compile_s"), r.get("peak_memory_mb")
            lines.append(
                f"| {wname} | {label} | {fmt(sps, ',.0f' if sps is not None and sps >= 100 else '.2f')} | {fmt(ratio(sps, ref.get('steps_per_s')), '.2f')} "
                f"| {fmt(r.get('build_s'), '.2f')} | {fmt(comp, '.2f')} | {fmt(ratio(comp, ref.get('compile_s')), '.2f')} "
                f"| {fmt(mem, ',.0f')} | {fmt(ratio(mem, ref.get('peak_memory_mb')), '.2f')} | {r.get('n_params', '–'):,} |"
            )
    lines += [
        "",
        "steps/s: steady state (epochs after the first); build s: making the model, its variables and "
        "the optimizer state; compile s: the first epoch minus a steady one; × jnet > 1 means more steps/s, more compile "
        "time or more memory than jnet. Memory: " + meta["memory_kind"] + " of the whole process "
        "(each cell runs alone in a fresh process).",
    ]
    for wname, w in WORKLOADS.items():
        if any(r["workload"] == wname for r in results):
            lines.append(f"- {wname}: {w.description}; {meta['steps'][wname]} steps/epoch × {meta['epochs']} epochs")
    if notes:
        lines += ["", "Notes:"] + notes
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny epochs: checks that every cell runs, numbers are noise")
    p.add_argument("--workloads", nargs="*", default=None, help=f"subset of {list(WORKLOADS)}")
    p.add_argument("--frameworks", nargs="*", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    p.add_argument("--epochs", type=int, default=None, help="epochs per cell (>= 2; default 3, quick 2)")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply every steps/epoch by this")
    p.add_argument("--repeats", type=int, default=1, help="rounds per cell; the fastest round is kept")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    p.add_argument("--out", default=os.path.join("benchmarks", "results"), help="folder for results.json/.md")
    args = p.parse_args(argv)

    plat, kind = detect_platform()
    mode = "quick" if args.quick else ("gpu" if plat == "gpu" else "cpu")
    epochs = args.epochs or (2 if args.quick else 3)
    if epochs < 2:
        p.error("--epochs must be >= 2 (the first epoch includes compilation)")
    names = args.workloads or [n for n, w in WORKLOADS.items() if plat == "gpu" or not w.gpu_only]
    unknown = set(names) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workloads {sorted(unknown)}; choose from {list(WORKLOADS)}")
    env = dict(os.environ, KERAS_BACKEND="jax", XLA_PYTHON_CLIENT_PREALLOCATE="false")

    steps = {n: max(1, int(WORKLOADS[n].steps_per_epoch[mode] * args.steps_scale)) for n in names}
    load_before = [round(v, 2) for v in os.getloadavg()]
    results = {}
    print(f"benchmarking on {kind} ({plat}), {epochs} epochs per cell, {args.repeats} round(s)", flush=True)
    # Rounds are interleaved (every cell once, then again) so that a burst of load on a shared
    # machine hits one round of every framework rather than all runs of one; each cell keeps
    # its fastest round.
    for rnd in range(args.repeats):
        for wname in names:
            for fw in args.frameworks:
                r = run_cell(fw, wname, steps[wname], epochs, args.timeout, env)
                r["round"] = rnd
                prev = results.get((wname, fw))
                if prev is None or r.get("steps_per_s", -1) > prev.get("steps_per_s", -1):
                    results[(wname, fw)] = r
                if "steps_per_s" in r:
                    msg = (
                        f"{r['steps_per_s']:10,.1f} steps/s  build {r.get('build_s') or 0:5.2f} s  compile {r['compile_s']:6.2f} s  "
                        f"peak {r['peak_memory_mb']:8,.0f} MiB  params {r['n_params']:,}"
                    )
                else:
                    msg = r.get("skipped") or r.get("error")
                print(f"{wname:12s} {LABELS[fw]:18s} {msg}", flush=True)
    results = list(results.values())

    meta = {
        "device": kind,
        "platform": plat,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "jax": importlib.metadata.version("jax"),
        "cpu_count": os.cpu_count(),
        "host": platform.node(),
        "mode": mode,
        "epochs": epochs,
        "steps": steps,
        "repeats": args.repeats,
        "load_average_before": load_before,
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "memory_kind": "device peak_bytes_in_use" if plat == "gpu" else "peak RSS",
    }
    mismatched = {
        wn for wn in names if len({r.get("n_params") for r in results if r["workload"] == wn and "n_params" in r}) > 1
    }
    if mismatched:
        meta["param_count_mismatch"] = sorted(mismatched)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=2)
    table = markdown(results, meta)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    print("\n" + table)
    if mismatched:
        print(f"WARNING: parameter counts differ between frameworks for {sorted(mismatched)}")
    print(f"results written to {os.path.join(args.out, 'results.json')} and results.md")
    return results


if __name__ == "__main__":
    main()
