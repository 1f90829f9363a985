"""Every example and the benchmark runner, in quick mode, in a subprocess (as a user runs them)."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, cwd, timeout=600):
    env = dict(
        os.environ,
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        KERAS_BACKEND="jax",
        MPLBACKEND="Agg",
    )
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


def ok(proc):
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    )
    return proc.stdout


def test_issue_triage_quick(tmp_path):
    out = tmp_path / "out"
    stdout = ok(run([os.path.join(ROOT, "examples", "issue_triage.py"), "--quick", "--out", str(out)], tmp_path))
    assert "generated 256 synthetic issues" in stdout
    assert "Triage of new issues" in stdout
    assert stdout.count("priority 0.") + stdout.count("priority 1.") >= 5
    assert any(f"-> {d}" in stdout for d in ("frontend", "backend", "infrastructure", "mobile"))
    assert (out / "issue_triage_model.png").stat().st_size > 1000
    assert (out / "issue_triage.keras").is_file() and not (out / "triage.json").exists()  # one file holds all
    assert (out / "checkpoints" / "best.keras").is_file()
    events = [f for _, _, fs in os.walk(out / "logs") for f in fs if "tfevents" in f]
    assert events, "TensorBoard wrote no event file"
    assert "val_loss" in stdout and "department_accuracy" in stdout
    assert "model    accuracy" in stdout and "baseline accuracy" in stdout and "macro-F1" in stdout


def test_issue_triage_user_data_and_bad_row(tmp_path):
    from jnet.datasets import issues

    rows = issues.generate(120, seed=5)
    good = tmp_path / "mine.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    stdout = ok(
        run(
            [
                os.path.join(ROOT, "examples", "issue_triage.py"),
                "--quick",
                "--data",
                str(good),
                "--out",
                str(tmp_path / "o"),
                "--epochs",
                "1",
            ],
            tmp_path,
        )
    )
    assert "read 120 issues" in stdout and "Triage of validation issues" in stdout
    assert "4 departments ['0', '1', '2', '3']" in stdout  # integers are the data's own names

    bad = tmp_path / "bad.csv"
    bad.write_text("title,body,tags,priority,department\nok,fine,bug,0.5,1\nbroken,x,bug,urgent,1\n")
    proc = run([os.path.join(ROOT, "examples", "issue_triage.py"), "--quick", "--data", str(bad)], tmp_path)
    assert proc.returncode != 0
    assert "bad.csv:3: field 'priority'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_issue_triage_github_export_and_predict(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    try:
        import issue_fixtures
    finally:
        sys.path.pop(0)
    export = tmp_path / "gh.json"
    export.write_text(json.dumps(issue_fixtures.github_export(160, seed=1, shape="gh")), encoding="utf-8")
    out = tmp_path / "model"
    script = os.path.join(ROOT, "examples", "issue_triage.py")
    stdout = ok(
        run(
            [
                script,
                "--quick",
                "--data",
                str(export),
                "--departments",
                issue_fixtures.DEPARTMENTS,
                "--split",
                "newest",
                "--out",
                str(out),
            ],
            tmp_path,
        )
    )
    assert "(github); skipped" in stdout and "pull requests" in stdout
    assert "4 departments ['compiler', 'docs', 'runtime', 'tooling']" in stdout
    assert "no priorities in the data: training the department head alone" in stdout
    assert "newest split" in stdout and "baseline accuracy" in stdout
    triaged = [line for line in stdout.splitlines() if "(filed under " in line]
    assert len(triaged) == 5 and all(
        any(f"-> {d}" in line for d in ("compiler", "docs", "runtime", "tooling")) for line in triaged
    )
    # The saved model holds the labels learned from the data: department names, tag vocabulary.
    with zipfile.ZipFile(out / "issue_triage.keras") as z:
        entries = {e["name"]: e for e in json.loads(z.read("config.json"))["config"]["layers"]}
    departments = entries["department"]["config"]["names"]
    assert departments == ["compiler", "docs", "runtime", "tooling"]
    tags = entries["tag_bits"]["config"]["vocabulary"]
    assert "kind/bug" in tags and "area/cli" not in tags
    assert entries["title"]["config"]["dtype"] == "string" and "priority" not in entries
    # That one file, alone in a new folder, triages a new issue from raw text, in the data's names.
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    shutil.copy(out / "issue_triage.keras", alone / "triage.keras")
    stdout = ok(
        run(
            [
                script,
                "--predict",
                str(alone / "triage.keras"),
                "Parser crash",
                "the lexer fails on unicode identifiers",
                "--tags",
                "kind/bug",
            ],
            alone,
        )
    )
    first, second = stdout.splitlines()[:2]
    assert first.startswith("Parser crash -> ") and first.split("-> ")[1].split()[0] in departments
    assert sorted(part.split()[0] for part in second.split(", ")) == departments


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "one.jsonl",
            b'{"title": "a", "body": "b", "department": "x"}\n',
            "issue_triage: 1 issue to learn from: at least 10 are needed",
        ),
        ("latin1.csv", b"title,body,department\ncaf\xe9,b,x\n", "latin1.csv:2: field 'title': byte 0xe9"),
        (
            "excel.csv",
            b"\xef\xbb\xbftitle,body,department\n" + b"".join(b"t%d,b,d%d\n" % (i, i % 2) for i in range(4)),
            "issue_triage: 4 issues to learn from",
        ),
        (
            "gh.json",
            b'[{"title": "a", "body": "b", "labels": [{"name": "bug"}]}]',
            "gh.json:1: GitHub issues need --departments",
        ),
    ],
)
def test_issue_triage_bad_files_write_nothing(tmp_path, name, content, message):
    data = tmp_path / name
    data.write_bytes(content)
    out = tmp_path / "out"
    proc = run(
        [os.path.join(ROOT, "examples", "issue_triage.py"), "--quick", "--data", str(data), "--out", str(out)], tmp_path
    )
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


def test_fashion_mnist_quick(tmp_path):
    # An empty --path folder: the example must explain how to get the files and fall back.
    proc = run([os.path.join(ROOT, "examples", "fashion_mnist.py"), "--quick", "--path", str(tmp_path)], tmp_path)
    stdout = ok(proc)
    assert "dataset-fashion-mnist" in proc.stderr and "falling back" in proc.stderr
    assert "MLP: test accuracy" in stdout and "CNN: test accuracy" in stdout


def test_research_loop_quick(tmp_path):
    stdout = ok(run([os.path.join(ROOT, "examples", "research_loop.py"), "--quick"], tmp_path))
    assert "per-example gradient norms" in stdout
    err = float(stdout.split("batch grad| = ")[1].split()[0])
    assert err < 1e-5


def test_second_order_quick(tmp_path):
    stdout = ok(run([os.path.join(ROOT, "examples", "second_order.py"), "--quick", "--out", str(tmp_path)], tmp_path))
    curves = {}
    for line in stdout.splitlines():
        if " training MSE " in line:
            name, rest = line.split(" training MSE ")
            start, final = rest.split(" in ")[0].split(" -> ")
            curves[name.strip()] = (float(start), float(final))
    assert set(curves) == {"gradient descent", "SGD (batch 32)", "L-BFGS", "Newton-CG"}
    assert len({start for start, _ in curves.values()}) == 1  # the same initial weights
    assert all(final < start for start, final in curves.values())
    assert curves["Newton-CG"][1] < curves["gradient descent"][1]  # even after a few epochs
    assert (tmp_path / "loss_curves.png").stat().st_size > 1000


def test_benchmarks_quick(tmp_path):
    stdout = ok(run(["-m", "benchmarks", "--quick", "--workloads", "mlp_small", "--out", str(tmp_path)], ROOT))
    data = json.loads((tmp_path / "results.json").read_text())
    cells = {r["framework"]: r for r in data["results"]}
    assert set(cells) == {"jnet", "jax", "keras", "flax"}
    for fw, r in cells.items():
        assert "error" not in r, (fw, r)
        if "skipped" not in r:
            assert (
                r["steps_per_s"] > 0
                and r["peak_memory_mb"] > 0
                and r["n_params"] == 32 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
            )
    table = (tmp_path / "results.md").read_text()
    assert "| mlp_small | jnet fit |" in table and "× jnet" in table
    assert "results written to" in stdout


def test_benchmark_summary_and_table():
    from benchmarks.run import markdown
    from benchmarks.worker import summarize

    s = summarize({"t0": 0.0, "epoch_ends": [5.0, 6.0, 7.0], "n_params": 10, "build_s": 0.5}, steps_per_epoch=100)
    assert s["steps_per_s"] == pytest.approx(100.0) and s["compile_s"] == pytest.approx(4.0) and s["build_s"] == 0.5
    results = [
        {
            "framework": "jnet",
            "workload": "mlp_small",
            "steps_per_s": 200.0,
            "compile_s": 1.0,
            "peak_memory_mb": 100.0,
            "n_params": 10,
        },
        {
            "framework": "jax",
            "workload": "mlp_small",
            "steps_per_s": 100.0,
            "compile_s": 2.0,
            "peak_memory_mb": 50.0,
            "n_params": 10,
            "build_s": 0.25,
        },
        {"framework": "flax", "workload": "mlp_small", "skipped": "flax not installed"},
    ]
    meta = {
        "device": "cpu",
        "platform": "cpu",
        "date": "d",
        "jax": "0",
        "cpu_count": 2,
        "mode": "quick",
        "epochs": 3,
        "steps": {"mlp_small": 10},
        "memory_kind": "peak RSS",
    }
    table = markdown(results, meta)
    row = next(line for line in table.splitlines() if "JAX+optax" in line)
    assert "| 100 | 0.50 | 0.25 | 2.00 | 2.00 | 50 | 0.50 |" in row
    assert "flax not installed" in table


def test_issue_triage_model_is_the_seeds():
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import issue_triage
    finally:
        sys.path.pop(0)
    model = issue_triage.build_model(10000)
    # Keras 3 counts 1,392,097 parameters for the seed's model (see benchmarks, lstm_triage).
    assert model.count_params() == 1_392_097
    assert model.input_names == ["title", "body", "tags"]
    assert model.output_names == ["priority", "department"]
