"""Issue triage: a multi-input, multi-output model that reads GitHub-style issues.

Each issue has a title and a body (variable-length word sequences) and a 12-wide binary tag
vector. The model predicts its `priority` (a score in [0, 1]) and the `department` that should
handle it (one of 4). This is the functional-API model of the Keras guide, run on jnet:
two Embedding → LSTM branches, concatenated with the tags, two output heads, two losses with
`loss_weights`, metrics per output, a validation split, TensorBoard and ModelCheckpoint
callbacks, `summary()`, `plot_model`, then `save` → `load_model` → `predict` on new issues.

    python examples/issue_triage.py                      # built-in generated issues, ~1 min on 2 cores
    python examples/issue_triage.py --data issues.jsonl  # your issues (JSONL or CSV)
    python examples/issue_triage.py --quick              # seconds, for CI

`--data` files have the fields title, body, tags (12 values 0/1, or tag names separated by
";"), priority (0..1) and department (0..3 or frontend/backend/infrastructure/mobile); see
`jnet.datasets.issues.read_file`. Logs, checkpoints, the model picture and the saved model go
to `--out` (default ./runs/issue_triage).
"""

import argparse
import os
import time

import numpy as np

import jnet
from jnet import layers
from jnet.datasets import issues
from jnet.datasets.text import Tokenizer

num_tags = 12          # Number of unique issue tags
num_words = 10000      # Size of vocabulary obtained when preprocessing text data
num_departments = 4    # Number of departments for predictions

# New issues to triage once the model is trained (never seen in training).
NEW_ISSUES = [
    {"title": "App crashes on startup after the latest update",
     "body": "The ios app crashes every time on launch since this morning. Stack trace attached. Users are blocked.",
     "tags": ["bug", "mobile"]},
    {"title": "Typo in the dropdown menu tooltip",
     "body": "Small typo in the tooltip text of the dropdown menu on the settings page. Purely cosmetic.",
     "tags": ["ui", "good first issue"]},
    {"title": "Database query returns stale data after a schema migration",
     "body": "After running the migration the orm model reads old rows from the redis cache. Possible data loss.",
     "tags": ["bug", "api"]},
    {"title": "Helm chart: add an option for the autoscaler",
     "body": "It would be nice if the helm chart let us configure the autoscaler limits. Feature request.",
     "tags": ["enhancement", "ci"]},
    {"title": "Auth token leaks into the logs",
     "body": "The user session token is written to the logs of the rest api. This is a security vulnerability.",
     "tags": ["security", "api"]},
]


def build_model(vocab_size: int, title_units=128, body_units=32, embed_dim=64):
    """The multi-input, multi-output model (the Keras functional-API guide's, on jnet)."""
    title_input = jnet.Input(shape=(None,), dtype="int32", name="title")  # Variable-length sequence of ints
    body_input = jnet.Input(shape=(None,), dtype="int32", name="body")    # Variable-length sequence of ints
    tags_input = jnet.Input(shape=(num_tags,), name="tags")               # Binary vectors of size `num_tags`

    # Embed each word into a vector; id 0 is padding and is masked out of the LSTMs.
    title_features = layers.Embedding(vocab_size, embed_dim, mask_zero=True)(title_input)
    body_features = layers.Embedding(vocab_size, embed_dim, mask_zero=True)(body_input)
    # Reduce each sequence of embedded words to a single vector.
    title_features = layers.LSTM(title_units)(title_features)
    body_features = layers.LSTM(body_units)(body_features)
    # Merge all available features into a single large vector via concatenation.
    x = layers.concatenate([title_features, body_features, tags_input])
    # A regression head for priority and a department classifier (logits) on top.
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    return jnet.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])


def new_issue_records():
    tag_index = {t: i for i, t in enumerate(issues.TAGS)}
    out = []
    for issue in NEW_ISSUES:
        bits = [0] * num_tags
        for t in issue["tags"]:
            bits[tag_index[t]] = 1
        out.append({"title": issue["title"], "body": issue["body"], "tags": bits, "priority": 0.0, "department": 0})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    parser.add_argument("--data", help="JSONL or CSV file of issues (default: generated issues)")
    parser.add_argument("--out", default=os.path.join("runs", "issue_triage"),
                        help="folder for logs, checkpoints, the model picture and the saved model")
    parser.add_argument("--quick", action="store_true", help="tiny data and model, for CI (seconds)")
    parser.add_argument("--samples", type=int, default=None, help="number of generated issues (default 4000)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    jnet.utils.set_random_seed(args.seed)

    # ------------------------------------------------------------------ data
    if args.data:
        try:
            records = issues.read_file(args.data)
        except (OSError, ValueError) as e:  # a bad file: say where, without a traceback
            raise SystemExit(f"issue_triage: {e}") from None
        print(f"read {len(records)} issues from {args.data}")
    else:
        n = args.samples or (256 if args.quick else 4000)
        records = issues.generate(n, seed=args.seed)
        print(f"generated {len(records)} synthetic issues (jnet.datasets.issues, seed {args.seed})")
    tokenizer = Tokenizer(num_words=num_words).fit([r["title"] for r in records] + [r["body"] for r in records])
    title_len, body_len = (12, 48) if args.quick else (16, 96)
    x, y = issues.vectorize(records, tokenizer, title_maxlen=title_len, body_maxlen=body_len)
    # The seed's vocabulary size is 10,000; --quick uses just the words seen, to stay small.
    vocab_size = tokenizer.vocabulary_size if args.quick else num_words
    print(f"vocabulary: {tokenizer.vocabulary_size} ids in use (0 = padding, 1 = unknown word); "
          f"titles padded to {title_len} words, bodies to {body_len}")

    # ------------------------------------------------------------------ model
    model = build_model(vocab_size, *((16, 8, 16) if args.quick else (128, 32, 64)))
    model.summary()
    os.makedirs(args.out, exist_ok=True)
    picture = os.path.join(args.out, "issue_triage_model.png")
    jnet.utils.plot_model(model, picture, show_shapes=True)

    model.compile(
        optimizer=jnet.optimizers.Adam(learning_rate=1e-3),
        loss={
            "priority": jnet.losses.MeanSquaredError(),
            "department": jnet.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
        # The priority MSE (scores in [0, 1]) is ~10x smaller than the department cross-entropy:
        # weight them so that neither head drowns the other.
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"priority": ["mae"], "department": ["accuracy"]},
    )

    log_dir = os.path.join(args.out, "logs")
    ckpt_path = os.path.join(args.out, "checkpoints", "best.keras")
    callbacks = [
        jnet.callbacks.TensorBoard(log_dir=log_dir),
        jnet.callbacks.ModelCheckpoint(ckpt_path, monitor="val_loss", save_best_only=True),
    ]
    epochs = args.epochs or (2 if args.quick else 10)
    history = model.fit(
        {"title": x["title"], "body": x["body"], "tags": x["tags"]},
        {"priority": y["priority"], "department": y["department"]},
        epochs=epochs,
        batch_size=args.batch_size,
        validation_split=0.2,
        callbacks=callbacks,
        verbose=0 if args.quick else "auto",
    )
    last = {k: v[-1] for k, v in history.history.items()}
    print("final epoch: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()) if k != "learning_rate"))

    # ------------------------------------------------------------------ save, reload, predict
    model_path = os.path.join(args.out, "issue_triage.keras")
    model.save(model_path)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        f.write(tokenizer.to_json())
    restored = jnet.models.load_model(model_path)

    new = new_issue_records()
    x_new, _ = issues.vectorize(new, tokenizer, title_maxlen=title_len, body_maxlen=body_len)
    priority, department_logits = restored.predict(x_new, verbose=0)
    if not args.quick:  # (one more compile: skipped in quick mode)
        original = model.predict(x_new, verbose=0)
        if not np.allclose(priority, original[0], atol=1e-5):
            raise SystemExit("the reloaded model predicts differently from the trained one")
        print("the reloaded model predicts the same as the trained one")
    probs = np.exp(department_logits - department_logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)

    print("\nTriage of new issues (by the reloaded model):")
    for issue, p, pr in zip(NEW_ISSUES, np.asarray(priority)[:, 0], probs):
        d = int(pr.argmax())
        score = float(np.clip(p, 0.0, 1.0))
        level = "HIGH" if score >= 0.7 else "medium" if score >= 0.4 else "low"
        print(f"  {issue['title'][:60]:60s} -> {issues.DEPARTMENTS[d]:14s} ({pr[d]:.0%})  "
              f"priority {score:.2f} {level}")

    print(f"\ndone in {time.perf_counter() - t_start:.0f} s. Written:")
    print(f"  model picture   {picture}")
    print(f"  TensorBoard     {log_dir}   (tensorboard --logdir {log_dir})")
    print(f"  best checkpoint {ckpt_path}")
    print(f"  saved model     {model_path}  (+ tokenizer.json)")
    return history


if __name__ == "__main__":
    main()
