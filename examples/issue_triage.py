"""Issue triage: a multi-input, multi-output model that reads GitHub-style issues.

Each issue has a title and a body (raw text) and tags (names). The model predicts the
`department` that should handle it and, when the data has one, its `priority` (a score in
[0, 1]). This is the functional-API model of the Keras guide, run on jnet, with the text
preprocessing inside the model: string inputs → TextVectorization → Embedding → LSTM for title
and body, a multi-hot StringLookup for the tags, concatenated, two output heads, two losses with
`loss_weights`, metrics per output, a validation split, early stopping, TensorBoard and
ModelCheckpoint callbacks, `summary()`, `plot_model`, then `save` → `load_model` → `predict` on
raw text. The string layers run on the host, before the compiled step.

    python examples/issue_triage.py                      # built-in generated issues, ~30 s on 2 cores
    python examples/issue_triage.py --data issues.jsonl  # your issues (JSONL or CSV)
    python examples/issue_triage.py --data issues.json --departments "bug=bugs,enhancement=features"
    python examples/issue_triage.py --predict runs/issue_triage "App crashes" "Since the update..."
    python examples/issue_triage.py --predict runs/issue_triage/issue_triage.keras "App crashes" "..."
    python examples/issue_triage.py --quick              # seconds, for CI

Departments and tags are learned from the data (any names, 2 or more departments). `--data`
reads JSONL/CSV with the fields title, body, department and optionally tags, priority and
created_at, or GitHub's issue JSON (REST API or `gh issue list --json
title,body,labels,createdAt,comments`), whose labels become departments through
`--departments LABEL=DEPARTMENT,...` (and priorities through `--priorities LABEL=SCORE,...`);
the other labels are tags, pull requests are skipped. Issues without a priority train the
department head alone (they carry no weight in the priority loss; with no priority at all
there is no priority head). See `jnet.datasets.issue_files`.

The run holds out a stratified 20% of the shuffled issues (`--split newest`: the newest 20%
by created_at), stops when val_loss stops improving and keeps the best epoch, then prints the
department accuracy and macro-F1 beside a TF-IDF + logistic-regression baseline trained on
the same split. Logs, checkpoints, the model picture and the saved model go to `--out` (default
./runs/issue_triage), only once the data has been read and checked. The saved model
(`issue_triage.keras`) is one file holding everything: the word vocabulary (in its
TextVectorization layers), the tag names (its StringLookup) and the department names (its
`LabelNames` layer); `--predict` needs nothing else.
"""

import argparse
import os
import sys
import time

import numpy as np

import jnet
from jnet import layers
from jnet.datasets import github_issues, issue_model, issues

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import triage_eval  # noqa: E402 - the example's own helper, beside it

num_tags = 12  # Number of unique issue tags (of the generated issues)
num_words = 10000  # Size of vocabulary obtained when preprocessing text data
num_departments = 4  # Number of departments (of the generated issues)
VAL_FRACTION = 0.2

# New issues to triage once the model is trained on generated issues (never seen in training).
NEW_ISSUES = [
    {
        "title": "App crashes on startup after the latest update",
        "body": "The ios app crashes every time on launch since this morning. Stack trace attached. Users are blocked.",
        "tags": ["bug", "mobile"],
    },
    {
        "title": "Typo in the dropdown menu tooltip",
        "body": "Small typo in the tooltip text of the dropdown menu on the settings page. Purely cosmetic.",
        "tags": ["ui", "good first issue"],
    },
    {
        "title": "Database query returns stale data after a schema migration",
        "body": "After running the migration the orm model reads old rows from the redis cache. Possible data loss.",
        "tags": ["bug", "api"],
    },
    {
        "title": "Helm chart: add an option for the autoscaler",
        "body": "It would be nice if the helm chart let us configure the autoscaler limits. Feature request.",
        "tags": ["enhancement", "ci"],
    },
    {
        "title": "Auth token leaks into the logs",
        "body": "The user session token is written to the logs of the rest api. This is a security vulnerability.",
        "tags": ["security", "api"],
    },
]


def build_model(
    vocab_size: int,
    title_units=128,
    body_units=32,
    embed_dim=64,
    num_tags=num_tags,
    num_departments=num_departments,
    priority=True,
    dropout=0.0,
    l2=0.0,
    text=None,
    departments=None,
):
    """The multi-input, multi-output model (the Keras functional-API guide's, on jnet).

    With the defaults it is the guide's model exactly (token ids and tag bits in); `dropout` (on
    the LSTM inputs and the merged features) and `l2` (on the heads) regularise it for small
    data sets, and `priority=False` leaves out the priority head for data without priorities.
    `text=(title_vectorizer, body_vectorizer, tag_lookup or None)` (from
    `issue_model.text_layers`) makes it take raw strings: title and body texts and a row of tag
    names; `departments` names the department classes inside the model (a `LabelNames` layer).
    """
    if text is None:
        title_input = jnet.Input(shape=(None,), dtype="int32", name="title")  # Variable-length sequence of ints
        body_input = jnet.Input(shape=(None,), dtype="int32", name="body")  # Variable-length sequence of ints
        tags_input = jnet.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`
        title_ids, body_ids, tag_bits = title_input, body_input, tags_input
    else:  # raw text in: the string layers run on the host, the rest is compiled
        title_vec, body_vec, tag_lookup = text
        title_input = jnet.Input(shape=(), dtype="string", name="title")
        body_input = jnet.Input(shape=(), dtype="string", name="body")
        title_ids, body_ids = title_vec(title_input), body_vec(body_input)
        tags_input = jnet.Input(shape=(None,), dtype="string", name="tags") if tag_lookup is not None else None
        tag_bits = tag_lookup(tags_input) if tag_lookup is not None else None
    inputs = [t for t in (title_input, body_input, tags_input) if t is not None]

    # Embed each word into a vector; id 0 is padding and is masked out of the LSTMs.
    title_features = layers.Embedding(vocab_size, embed_dim, mask_zero=True)(title_ids)
    body_features = layers.Embedding(vocab_size, embed_dim, mask_zero=True)(body_ids)
    # Reduce each sequence of embedded words to a single vector.
    title_features = layers.LSTM(title_units, dropout=dropout)(title_features)
    body_features = layers.LSTM(body_units, dropout=dropout)(body_features)
    # Merge all available features into a single large vector via concatenation.
    x = layers.concatenate([f for f in (title_features, body_features, tag_bits) if f is not None])
    if dropout:
        x = layers.Dropout(dropout)(x)
    reg = jnet.regularizers.L2(l2) if l2 else None
    # A department classifier (logits) and, when the data has priorities, a regression head.
    if departments is None:
        department_pred = layers.Dense(num_departments, kernel_regularizer=reg, name="department")(x)
    else:  # the same head; the logits pass through a layer that records the class names
        logits = layers.Dense(len(departments), kernel_regularizer=reg, name="department_logits")(x)
        department_pred = issue_model.LabelNames(departments, name="department")(logits)
    if not priority:
        return jnet.Model(inputs=inputs, outputs=department_pred)
    priority_pred = layers.Dense(1, kernel_regularizer=reg, name="priority")(x)
    return jnet.Model(inputs=inputs, outputs=[priority_pred, department_pred])


# ---------------------------------------------------------------------- data


def load_records(args):
    """Read (or generate) and check the issues; returns `(records, description)`. Writes nothing."""
    if not args.data:
        n = args.samples or (256 if args.quick else 4000)
        records = issues.to_named(issues.generate(n, seed=args.seed))
        for i, r in enumerate(records):  # generated issues are "filed" in order: --split newest works
            r["created_at"] = float(i)
        return records, f"generated {n} synthetic issues (jnet.datasets.issues, seed {args.seed})"
    departments = github_issues.parse_mapping(args.departments, "departments")
    priorities = github_issues.parse_mapping(args.priorities, "priorities", values=float)
    data = issues.read_issues(args.data, departments, priorities)
    text = f"read {len(data.records)} issues from {args.data} ({data.format})"
    if data.skipped:
        text += "; skipped " + ", ".join(f"{n} {why}" for why, n in data.skipped.items())
    return data.records, text


def prepare(records, args):
    """Labels, split, the string layers and the inputs; every check on the data happens here,
    before any write."""
    triage_eval.check_count(len(records), VAL_FRACTION)
    all_labels = issues.IssueLabels.fit(records)
    dept_all = all_labels.encode(records)[0]
    times = None
    if args.split == "newest":
        missing = next((r for r in records if r.get("created_at") is None), None)
        if missing is not None:
            where = f"{args.data}:{missing['line']}" if "line" in missing else "an issue"
            raise ValueError(f"--split newest needs created_at on every issue; {where} has none")
        times = [r["created_at"] for r in records]
    train_idx, val_idx = triage_eval.split(dept_all, VAL_FRACTION, args.split, times, args.seed)
    train, val = [records[i] for i in train_idx], [records[i] for i in val_idx]
    # Department names from all issues (a rare one may sit in validation only); tags from training.
    labels = issues.IssueLabels.fit(train, departments=all_labels.departments, min_tag_count=1 if not args.data else 2)
    title_len, body_len = (12, 48) if args.quick else (16, 96)
    text = issue_model.text_layers(train, num_words, title_len, body_len, labels.tags)
    y_train, y_val = encode_targets(train, labels), encode_targets(val, labels)
    with_tags = text[2] is not None
    return dict(
        labels=labels,
        text=text,
        title_len=title_len,
        body_len=body_len,
        train=train,
        val=val,
        x_train=issue_model.raw_inputs(train, with_tags),
        y_train=y_train,
        x_val=issue_model.raw_inputs(val, with_tags),
        y_val=y_val,
        has_priority=bool(np.isfinite(y_train["priority"]).any()),
    )


def encode_targets(records, labels):
    """`{"priority": (n, 1) float32, NaN where unknown, "department": (n,) int32, "tags": (n, tags)
    multi-hot}` (the tag bits feed the baseline; the model reads the tag names)."""
    dept, tags = labels.encode(records)
    priority = [np.nan if r.get("priority") is None else r["priority"] for r in records]
    return {"priority": np.asarray(priority, np.float32).reshape(-1, 1), "department": dept, "tags": tags}


def targets(y, has_priority):
    """Targets and per-output sample weights: an issue without a priority weighs 0 in its loss."""
    if not has_priority:
        return y["department"], None
    known = np.isfinite(y["priority"][:, 0])
    y_out = {"priority": np.where(known[:, None], y["priority"], 0.0).astype(np.float32), "department": y["department"]}
    weights = {"priority": known.astype(np.float32), "department": np.ones(len(known), np.float32)}
    return y_out, (None if known.all() else weights)


# ---------------------------------------------------------------------- predict


def softmax(logits):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def load_triage(path):
    """The saved model from an output folder (or the .keras file itself): it holds everything."""
    model_path = os.path.join(path, "issue_triage.keras") if os.path.isdir(path) else path
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path}: not found; give the --out folder of a training run or its .keras file")
    return jnet.models.load_model(model_path, compile=False)


def triage(model, records):
    """`(department probabilities (n, departments), priorities (n,) or None)` for issue records
    (title, body and tag names: raw text in, the model does the rest)."""
    x = issue_model.raw_inputs(records, with_tags="tags" in model.input_names)
    out = model.predict(x, verbose=0)
    if "priority" in model.output_names:
        return softmax(np.asarray(out[1])), np.clip(np.asarray(out[0])[:, 0], 0.0, 1.0)
    return softmax(np.asarray(out)), None


def describe(names, probs, prio):
    d = int(probs.argmax())
    text = f"{names[d]:14s} ({probs[d]:.0%})"
    if prio is not None:
        level = "HIGH" if prio >= 0.7 else "medium" if prio >= 0.4 else "low"
        text += f"  priority {prio:.2f} {level}"
    return text


def predict_main(args):
    try:
        model = load_triage(args.predict[0])
        names = issue_model.department_names(model)
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"issue_triage: {e}") from None
    tags = [t.strip() for t in (args.tags or "").split(";") if t.strip()]
    probs, prio = triage(model, [{"title": args.predict[1], "body": args.predict[2], "tags": tags}])
    print(f"{args.predict[1][:60]} -> {describe(names, probs[0], None if prio is None else prio[0])}")
    order = np.argsort(-probs[0])
    print("  " + ", ".join(f"{names[i]} {probs[0, i]:.0%}" for i in order[:5]))


# ---------------------------------------------------------------------- train


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[2:]),
    )
    parser.add_argument("--data", help="JSONL, CSV or GitHub JSON file of issues (default: generated issues)")
    parser.add_argument("--departments", help='GitHub labels to departments, e.g. "bug=bugs,enhancement=features"')
    parser.add_argument("--priorities", help='GitHub labels to priorities in [0, 1], e.g. "P0=1,P1=0.7,P2=0.3"')
    parser.add_argument(
        "--split",
        choices=("stratified", "newest"),
        default="stratified",
        help="validation: a stratified 20%% of the shuffled issues, or the newest 20%%",
    )
    parser.add_argument(
        "--out",
        default=os.path.join("runs", "issue_triage"),
        help="folder for logs, checkpoints, the model picture and the saved model",
    )
    parser.add_argument(
        "--predict",
        nargs=3,
        metavar=("MODEL", "TITLE", "BODY"),
        help="triage one issue with a saved model (an --out folder or its .keras file) and exit",
    )
    parser.add_argument("--tags", help='tags of the --predict issue, separated by ";"')
    parser.add_argument("--quick", action="store_true", help="tiny data and model, for CI (seconds)")
    parser.add_argument("--samples", type=int, default=None, help="number of generated issues (default 4000)")
    parser.add_argument("--epochs", type=int, default=None, help="most training epochs (default 10; 30 with --data)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.predict:
        return predict_main(args)
    t_start = time.perf_counter()
    jnet.utils.set_random_seed(args.seed)

    # ------------------------------------------------------------------ data (read and checked first)
    try:
        records, text = load_records(args)
        data = prepare(records, args)
    except (OSError, ValueError) as e:  # a bad file or too few issues: one line, nothing written
        raise SystemExit(f"issue_triage: {e}") from None
    print(text)
    labels, (title_vec, _body_vec, _tag_lookup) = data["labels"], data["text"]
    print(
        f"{len(labels.departments)} departments {labels.departments}, {len(labels.tags)} tags; "
        f"{len(data['train'])} issues to train on, {len(data['val'])} to validate ({args.split} split)"
    )
    if not data["has_priority"]:
        print("no priorities in the data: training the department head alone")
    # The seed's vocabulary size is 10,000; --quick and small files use just the words seen.
    in_use = title_vec.vocabulary_size()
    vocab_size = num_words if not args.quick and not args.data else min(num_words, in_use)
    print(
        f"vocabulary: {in_use} ids in use (0 = padding, 1 = unknown word); "
        f"titles padded to {data['title_len']} words, bodies to {data['body_len']}"
    )

    # ------------------------------------------------------------------ model
    sizes = (16, 8, 16) if args.quick else (128, 32, 64) if not args.data else (64, 32, 64)
    # Real label sets are small and noisy: regularise (the generated data set is big enough without).
    reg = dict(dropout=0.3, l2=1e-3) if args.data else {}
    model = build_model(
        vocab_size, *sizes, priority=data["has_priority"], text=data["text"], departments=labels.departments, **reg
    )
    model.summary()
    os.makedirs(args.out, exist_ok=True)
    picture = os.path.join(args.out, "issue_triage_model.png")
    jnet.utils.plot_model(model, picture, show_shapes=True)

    dept_loss = jnet.losses.SparseCategoricalCrossentropy(from_logits=True)
    if data["has_priority"]:
        model.compile(
            optimizer=jnet.optimizers.Adam(learning_rate=1e-3),
            loss={"priority": jnet.losses.MeanSquaredError(), "department": dept_loss},
            # The priority MSE (scores in [0, 1]) is ~10x smaller than the department cross-entropy:
            # weight them so that neither head drowns the other.
            loss_weights={"priority": 1.0, "department": 0.2},
            metrics={"priority": ["mae"], "department": ["accuracy"]},
        )
    else:
        model.compile(optimizer=jnet.optimizers.Adam(learning_rate=1e-3), loss=dept_loss, metrics=["accuracy"])

    log_dir = os.path.join(args.out, "logs")
    ckpt_path = os.path.join(args.out, "checkpoints", "best.keras")
    callbacks = [
        jnet.callbacks.TensorBoard(log_dir=log_dir),
        jnet.callbacks.ModelCheckpoint(ckpt_path, monitor="val_loss", save_best_only=True),
        jnet.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True, verbose=1),
    ]
    epochs = args.epochs or (2 if args.quick else 30 if args.data else 10)
    y_train, w_train = targets(data["y_train"], data["has_priority"])
    y_val, w_val = targets(data["y_val"], data["has_priority"])
    history = model.fit(
        data["x_train"],
        y_train,
        sample_weight=w_train,
        epochs=epochs,
        batch_size=args.batch_size,
        validation_data=(data["x_val"], y_val) if w_val is None else (data["x_val"], y_val, w_val),
        callbacks=callbacks,
        verbose=0 if args.quick else "auto",
    )
    last = {k: v[-1] for k, v in history.history.items()}
    print("final epoch: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()) if k != "learning_rate"))

    # ------------------------------------------------------------------ save, reload, evaluate, predict
    model_path = os.path.join(args.out, "issue_triage.keras")
    model.save(model_path)  # one file: weights, vocabularies, tag and department names
    restored = load_triage(model_path)
    names = issue_model.department_names(restored)

    val_probs, _ = triage(restored, data["val"])
    if not args.quick:  # (one more compile: skipped in quick mode)
        original = model.predict(data["x_val"], verbose=0)
        original = softmax(np.asarray(original[1] if data["has_priority"] else original))
        if not np.allclose(val_probs, original, atol=1e-5):
            raise SystemExit("the reloaded model predicts differently from the trained one")
        print("the reloaded model predicts the same as the trained one")
    y_true = data["y_val"]["department"]
    base_pred, base_name = triage_eval.baseline(
        data["train"],
        data["val"],
        data["y_train"]["tags"],
        data["y_val"]["tags"],
        data["y_train"]["department"],
        len(labels.departments),
        seed=args.seed,
    )
    print(f"\ndepartment on the {len(y_true)} validation issues ({args.split} split):")
    for name, pred in (("model", val_probs.argmax(-1)), ("baseline", base_pred)):
        print(
            f"  {name:8s} accuracy {triage_eval.accuracy(y_true, pred):.3f}  "
            f"macro-F1 {triage_eval.macro_f1(y_true, pred):.3f}" + (f"  ({base_name})" if name == "baseline" else "")
        )

    if args.data:
        shown = [dict(r) for r in data["val"][:5]]
        print("\nTriage of validation issues (by the reloaded model):")
    else:
        shown = [dict(issue) for issue in NEW_ISSUES]
        print("\nTriage of new issues (by the reloaded model):")
    truth = [r.get("department") for r in shown]
    probs, prio = triage(restored, shown)
    for i, r in enumerate(shown):
        said = f"  (filed under {truth[i]})" if args.data else ""
        print(f"  {r['title'][:60]:60s} -> {describe(names, probs[i], None if prio is None else prio[i])}{said}")

    print(f"\ndone in {time.perf_counter() - t_start:.0f} s. Written:")
    print(f"  model picture   {picture}")
    print(f"  TensorBoard     {log_dir}   (tensorboard --logdir {log_dir})")
    print(f"  best checkpoint {ckpt_path}")
    print(f"  saved model     {model_path}  (one file: weights, vocabularies, tag and department names)")
    print(f'  triage an issue: python {sys.argv[0]} --predict {args.out} "TITLE" "BODY"')
    return history


if __name__ == "__main__":
    main()
