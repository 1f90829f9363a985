"""The benchmarked models and their data: one definition, shared by every framework.

One epoch's data is `batch_size * steps_per_epoch` samples, kept under 1 GiB so that every
framework (jnet included) holds it in device memory. Every framework trains the same architecture with the same loss, Adam(1e-3), batch size and
number of steps, on the same arrays (generated here from a fixed seed).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # "mlp" | "cnn" | "triage"
    batch_size: int
    steps_per_epoch: dict  # {"cpu": n, "gpu": n, "quick": n}
    sizes: tuple = ()  # mlp: (in, hidden..., out)
    gpu_only: bool = False
    description: str = ""


WORKLOADS = {
    w.name: w
    for w in [
        Workload(
            "mlp_small",
            "mlp",
            32,
            {"cpu": 400, "gpu": 5000, "quick": 10},
            (32, 64, 64, 10),
            description="dispatch-bound MLP 32-64-64-10, batch 32",
        ),
        Workload(
            "mlp_mnist",
            "mlp",
            128,
            {"cpu": 60, "gpu": 2000, "quick": 5},
            (784, 512, 512, 10),
            description="MNIST-size MLP 784-512-512-10, batch 128",
        ),
        Workload(
            "cnn",
            "cnn",
            128,
            {"cpu": 10, "gpu": 1000, "quick": 3},
            description="small CNN 28x28x1: conv3x3(32)-pool-conv3x3(64)-pool-dense(10), batch 128",
        ),
        Workload(
            "lstm_triage",
            "triage",
            32,
            {"cpu": 20, "gpu": 300, "quick": 3},
            description="issue-triage model: 2x(Embedding 10000x64 -> LSTM 128/32) + tags -> 2 heads, batch 32",
        ),
        Workload(
            "mlp_large",
            "mlp",
            4096,
            {"cpu": 2, "gpu": 60, "quick": 2},
            (1024, 4096, 4096, 10),
            gpu_only=True,
            description="large MLP 1024-4096-4096-10, batch 4096 (GPU only)",
        ),
    ]
}

# The triage model's text sizes (as in examples/issue_triage.py).
NUM_WORDS, TITLE_LEN, BODY_LEN, NUM_TAGS, NUM_DEPARTMENTS = 10000, 16, 96, 12, 4
LOSS_WEIGHTS = {"priority": 1.0, "department": 0.2}


def make_data(w: Workload, n: int):
    """`(x, y)`: x an array or a dict of arrays (triage), y likewise; deterministic."""
    rng = np.random.default_rng(0)
    if w.kind == "mlp":
        x = rng.standard_normal((n, w.sizes[0]), dtype=np.float32)
        y = rng.integers(0, w.sizes[-1], n).astype(np.int32)
        return x, y
    if w.kind == "cnn":
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int32)
        return x, y
    from jnet.datasets import issues

    (x, y), _ = issues.load_data(
        num_samples=n, test_split=0.0, num_words=NUM_WORDS, title_maxlen=TITLE_LEN, body_maxlen=BODY_LEN
    )
    return x, y
