"""Synthetic GitHub-style issues for the issue-triage example, and a reader for real ones.

`generate(n, seed)` writes issues the way people do: a short title and a longer body whose
words come from per-department vocabularies (a CSS bug names a dropdown, an infra bug names
a helm chart), priority cues ("crashes", "data loss", "security" push priority up; "typo",
"docs", "cosmetic" push it down), boilerplate shared by every department, words borrowed from
other departments, and some mislabelled issues — so a model must read, and still cannot be
perfect. Everything is drawn from one `numpy.random.Generator`: the same seed gives the same
issues on every machine.

Each issue is a dict `{"title": str, "body": str, "tags": [12 ints 0/1], "priority": float in
[0, 1], "department": int in 0..3}`; `TAGS` and `DEPARTMENTS` name the tag bits and classes.
"""

import csv
import json
import math
import os

import numpy as np

from jnet.datasets.text import Tokenizer, pad_sequences

DEPARTMENTS = ["frontend", "backend", "infrastructure", "mobile"]
TAGS = [
    "bug", "enhancement", "question", "documentation", "security", "performance",
    "regression", "ui", "api", "ci", "mobile", "good first issue",
]
_TAG = {t: i for i, t in enumerate(TAGS)}
# The tag each department's issues usually carry.
_DEPT_TAG = {0: "ui", 1: "api", 2: "ci", 3: "mobile"}

# Things each department owns: the words that identify it.
_COMPONENTS = [
    ["dropdown menu", "modal dialog", "navbar", "css grid", "sidebar", "tooltip", "dark mode theme",
     "login form", "date picker", "react component", "page layout", "font rendering", "scrollbar",
     "settings page", "search box", "button styles", "svg icons", "table view"],
    ["rest api", "graphql endpoint", "database query", "schema migration", "auth token", "user session",
     "redis cache", "json serializer", "webhook handler", "orm model", "pagination", "rate limiter",
     "job scheduler", "payment service", "search index", "email worker", "sql transaction"],
    ["kubernetes cluster", "docker image", "ci pipeline", "deployment script", "terraform module",
     "helm chart", "load balancer", "dns record", "tls certificate", "nginx config", "prometheus alert",
     "build runner", "backup job", "disk volume", "autoscaler", "vpn gateway", "artifact registry"],
    ["ios app", "android app", "push notification", "offline mode", "swipe gesture", "camera upload",
     "gps tracking", "splash screen", "deep link", "tablet layout", "app store build", "home screen widget",
     "background sync", "biometric login", "in app purchase", "apk signing", "keyboard overlay"],
]
# Verbs/contexts per department ("when ...").
_CONTEXTS = [
    ["resizing the window", "switching tabs", "hovering over it", "using safari", "zooming in",
     "toggling the theme", "clicking twice", "typing quickly", "on a small screen"],
    ["under load", "the request body is large", "two users save at once", "the token expires",
     "calling it with an empty list", "the cache is cold", "retrying a request", "paginating past 100"],
    ["rolling out a new version", "a node restarts", "the runner is busy", "scaling down",
     "renewing certificates", "the cluster upgrades", "running the nightly job", "pulling the image"],
    ["rotating the phone", "the app is in background", "on android 14", "on older iphones",
     "the network drops", "battery saver is on", "opening from a notification", "after an app update"],
]

# Issue kinds: (title templates, body cue sentences, priority logit, tag names, weight).
# `{c}` is a component, `{x}` a context. Priority cues live in these words.
_KINDS = {
    "crash": (["{c} crashes when {x}", "crash in {c} when {x}", "app crashes on {c}",
               "fatal error: {c} crashes"],
              ["the whole thing crashes with a stack trace", "it crashes every time and users are blocked",
               "we get a segfault and the process exits"], 2.2, ["bug"], 0.12),
    "data_loss": (["data loss in {c} when {x}", "{c} deletes user data", "saving via {c} loses data"],
                  ["this causes data loss for customers", "records are silently dropped and lost",
                   "users lost their work, data loss confirmed"], 2.8, ["bug"], 0.06),
    "security": (["security: {c} leaks tokens", "xss vulnerability in {c}", "{c} exposes secrets",
                  "security issue with {c}"],
                 ["this is a security vulnerability, please treat as confidential",
                  "an attacker can read other users data", "credentials leak into the logs"], 2.6,
                 ["security", "bug"], 0.07),
    "outage": (["{c} is down in production", "outage: {c} not responding", "{c} returns 500 in production"],
               ["production is down for all users", "this is an outage, urgent",
                "every request fails since this morning"], 2.4, ["bug"], 0.05),
    "regression": (["regression: {c} broken after update", "{c} stopped working when {x}",
                    "{c} broke in the latest release"],
                   ["this worked in the previous release, it is a regression",
                    "after the last update this behaviour changed"], 1.0, ["bug", "regression"], 0.10),
    "performance": (["{c} is slow when {x}", "performance of {c} degraded", "{c} takes seconds when {x}"],
                    ["it is noticeably slow, profiling shows most time spent here",
                     "latency went up and it times out sometimes"], 0.3, ["performance"], 0.10),
    "bug": (["{c} shows wrong value when {x}", "{c} does not work when {x}", "unexpected behaviour in {c}",
             "{c} error when {x}"],
            ["expected it to work but got an error", "the result is wrong", "an exception is raised"],
            0.0, ["bug"], 0.18),
    "feature": (["feature request: {c} should support export", "add option to {c}", "support for {c} when {x}",
                 "it would be nice if {c} could be configured"],
                ["it would be nice to have this, low priority", "this is a feature request for later"],
                -1.2, ["enhancement"], 0.12),
    "question": (["question about {c}", "how do i configure {c}", "is {c} supposed to do this when {x}"],
                 ["just a question, not sure if this is expected", "how should this be used"],
                 -1.4, ["question"], 0.07),
    "cosmetic": (["{c} is misaligned", "cosmetic: {c} colour slightly off", "{c} has wrong padding"],
                 ["purely cosmetic, the spacing looks off", "minor visual glitch"], -1.8,
                 ["ui", "good first issue"], 0.06),
    "typo": (["typo in {c} docs", "fix typo in {c} message", "docs for {c} have a typo"],
             ["small typo in the documentation", "the wording in the docs is wrong"], -2.4,
             ["documentation", "good first issue"], 0.07),
}
_KIND_NAMES = list(_KINDS)
_KIND_P = np.array([_KINDS[k][4] for k in _KIND_NAMES]) / sum(_KINDS[k][4] for k in _KIND_NAMES)

# Boilerplate everyone writes; carries no signal.
_FILLER = [
    "steps to reproduce", "expected behaviour", "actual behaviour", "see screenshot attached",
    "thanks for looking into this", "happens on version 2.3.1", "also seen on staging",
    "not sure if related to the other issue", "can reproduce consistently", "logs below",
    "tried clearing the cache", "any ideas", "this started last week", "our team noticed it today",
    "please advise", "let me know if you need more details", "workaround is to reload",
]
# Sentences that name the department's components in the body.
_DETAIL = [
    "the {c} fails when {x}", "seen in the {c} while {x}", "reproduced with the {c} when {x}",
    "it only happens in the {c}", "we use the {c} heavily", "the {c} logs a warning when {x}",
    "i think the {c} is the culprit", "only when {x}",
]
_DEPT_P = np.array([0.3, 0.3, 0.2, 0.2])


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def _one_issue(rng: np.random.Generator) -> dict:
    dept = int(rng.choice(4, p=_DEPT_P))
    kind = _KIND_NAMES[int(rng.choice(len(_KIND_NAMES), p=_KIND_P))]
    titles, cues, logit, kind_tags, _ = _KINDS[kind]

    def component(d):
        # Overlap: one component in six comes from another department's vocabulary.
        if rng.random() < 1 / 6:
            d = int(rng.integers(4))
        return _COMPONENTS[d][int(rng.integers(len(_COMPONENTS[d])))]

    def context(d):
        return _CONTEXTS[d][int(rng.integers(len(_CONTEXTS[d])))]

    title = titles[int(rng.integers(len(titles)))].format(c=component(dept), x=context(dept))
    sentences = [cues[int(rng.integers(len(cues)))]]
    for _ in range(int(rng.integers(1, 4))):
        template = _DETAIL[int(rng.integers(len(_DETAIL)))]
        sentences.append(template.format(c=component(dept), x=context(dept)))
    for _ in range(int(rng.integers(1, 7))):
        sentences.append(_FILLER[int(rng.integers(len(_FILLER)))])
    # A second cue sometimes, and sometimes a stray mention of another team's component.
    extra = 0.0
    if rng.random() < 0.25:
        other = _KIND_NAMES[int(rng.choice(len(_KIND_NAMES), p=_KIND_P))]
        sentences.append(_KINDS[other][1][0])
        extra = 0.3 * _KINDS[other][2]
    if rng.random() < 0.3:
        sentences.append(f"maybe the {component(int(rng.integers(4)))} is related")
    order = rng.permutation(len(sentences) - 1) + 1
    body = ". ".join([sentences[0]] + [sentences[i] for i in order]) + "."
    if rng.random() < 0.5:  # the cue is not always first
        body = ". ".join(sentences[i] for i in rng.permutation(len(sentences))) + "."

    priority = _sigmoid(logit + extra + float(rng.normal(0.0, 0.6)))
    tags = np.zeros(len(TAGS), np.int32)
    for t in kind_tags:
        tags[_TAG[t]] = rng.random() < 0.85
    tags[_TAG[_DEPT_TAG[dept]]] |= rng.random() < 0.6
    flips = rng.random(len(TAGS)) < 0.03  # people tag sloppily
    tags = np.where(flips, 1 - tags, tags)
    if rng.random() < 0.05:  # and sometimes file issues with the wrong team
        dept = int(rng.integers(4))
    return {"title": title, "body": body, "tags": [int(t) for t in tags],
            "priority": round(priority, 4), "department": dept}


def generate(num_samples: int, seed: int = 0) -> list[dict]:
    """Generate `num_samples` deterministic synthetic issues (see the module docstring)."""
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
        raise ValueError(f"issues.generate: num_samples must be an int >= 0, got {num_samples!r}")
    rng = np.random.default_rng(seed)
    return [_one_issue(rng) for _ in range(num_samples)]


def vectorize(records, tokenizer: Tokenizer, title_maxlen: int = 16, body_maxlen: int = 96):
    """Turn issue dicts into model inputs and targets.

    Returns:
        `(x, y)`: `x = {"title": int32 (n, title_maxlen), "body": int32 (n, body_maxlen),
        "tags": float32 (n, 12)}` (token ids padded with 0 at the end) and
        `y = {"priority": float32 (n, 1), "department": int32 (n,)}`.
    """
    titles = tokenizer.texts_to_sequences([r["title"] for r in records])
    bodies = tokenizer.texts_to_sequences([r["body"] for r in records])
    x = {
        "title": pad_sequences(titles, maxlen=title_maxlen, padding="post", truncating="post"),
        "body": pad_sequences(bodies, maxlen=body_maxlen, padding="post", truncating="post"),
        "tags": np.asarray([r["tags"] for r in records], np.float32).reshape(len(records), len(TAGS)),
    }
    y = {
        "priority": np.asarray([r["priority"] for r in records], np.float32).reshape(-1, 1),
        "department": np.asarray([r["department"] for r in records], np.int32),
    }
    return x, y


def load_data(num_samples=5000, test_split=0.2, num_words=10000, title_maxlen=16, body_maxlen=96,
              seed=0, return_tokenizer=False):
    """Generated issues, tokenized and split, in Keras's `load_data()` shape.

    Args:
        num_samples: total number of issues (train + test).
        test_split: fraction held out as the test set.
        num_words: tokenizer id space (padding 0 and OOV 1 included), i.e. `Embedding` input_dim.
        title_maxlen, body_maxlen: padded/truncated lengths (padding after the words).
        seed: generator seed.
        return_tokenizer: also return the `Tokenizer` (fit on the training texts only).

    Returns:
        `(x_train, y_train), (x_test, y_test)` with `x` and `y` dicts as in `vectorize`;
        plus the tokenizer when asked.

    Example:
    ```python
    (x_train, y_train), (x_test, y_test) = jnet.datasets.issues.load_data(num_samples=2000)
    model.fit(x_train, y_train)   # x keys: title, body, tags; y keys: priority, department
    ```
    """
    if not 0.0 <= test_split < 1.0:
        raise ValueError(f"issues.load_data: test_split must be in [0, 1), got {test_split}")
    records = generate(num_samples, seed)
    n_test = int(round(num_samples * test_split))
    train, test = records[n_test:], records[:n_test]
    tok = Tokenizer(num_words=num_words).fit([r["title"] for r in train] + [r["body"] for r in train])
    out = (vectorize(train, tok, title_maxlen, body_maxlen), vectorize(test, tok, title_maxlen, body_maxlen))
    return out + (tok,) if return_tokenizer else out


# --------------------------------------------------------------------------- reading files

def _parse_tags(value, where):
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return [0] * len(TAGS)
        if len(s) == len(TAGS) and set(s) <= {"0", "1"}:
            return [int(ch) for ch in s]
        value = [p for p in s.replace("|", ";").replace(",", ";").replace(" ", ";").split(";") if p]
        if all(p in ("0", "1") for p in value):
            value = [int(p) for p in value]
        else:  # tag names, e.g. "bug;security" (names with spaces need the 0/1 form)
            value = [p.replace("_", " ") for p in value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where} field 'tags': expected a list of {len(TAGS)} 0/1 values or tag names, got {value!r}")
    if value and all(isinstance(v, str) for v in value):
        unknown = [v for v in value if v not in _TAG]
        if unknown:
            raise ValueError(f"{where} field 'tags': unknown tag names {unknown}; known: {TAGS}")
        bits = [0] * len(TAGS)
        for v in value:
            bits[_TAG[v]] = 1
        return bits
    if len(value) != len(TAGS) or any(v not in (0, 1, True, False) or isinstance(v, str) for v in value):
        raise ValueError(f"{where} field 'tags': expected {len(TAGS)} values each 0 or 1, got {value!r}")
    return [int(v) for v in value]


def _parse_row(row: dict, where: str) -> dict:
    missing = [f for f in ("title", "body", "tags", "priority", "department") if f not in row or row[f] is None]
    if missing:
        raise ValueError(f"{where} missing field {missing[0]!r} (need title, body, tags, priority, department)")
    title, body = row["title"], row["body"]
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{where} field 'title': expected a non-empty string, got {title!r}")
    if not isinstance(body, str):
        raise ValueError(f"{where} field 'body': expected a string, got {body!r}")
    try:
        priority = float(row["priority"])
    except (TypeError, ValueError):
        priority = math.nan
    if isinstance(row["priority"], bool) or not 0.0 <= priority <= 1.0:
        raise ValueError(f"{where} field 'priority': expected a number in [0, 1], got {row['priority']!r}")
    dept = row["department"]
    if isinstance(dept, str) and dept.strip() in DEPARTMENTS:
        dept = DEPARTMENTS.index(dept.strip())
    else:
        try:
            dept = int(dept) if str(dept).strip().lstrip("-").isdigit() and not isinstance(dept, (bool, float)) else None
        except (TypeError, ValueError):
            dept = None
    if dept is None or not 0 <= dept < len(DEPARTMENTS):
        raise ValueError(f"{where} field 'department': expected 0..{len(DEPARTMENTS) - 1} or one of {DEPARTMENTS}, "
                         f"got {row['department']!r}")
    return {"title": title, "body": body, "tags": _parse_tags(row["tags"], where),
            "priority": priority, "department": dept}


def read_file(path: str) -> list[dict]:
    """Read issues from a JSONL (`.jsonl`/`.json`, one object per line) or CSV (`.csv`, header row) file.

    Fields: `title` (text), `body` (text), `tags` (12 0/1 values, a 12-character "0101..."
    string, or tag names from `TAGS` separated by `;`), `priority` (number in [0, 1]),
    `department` (0..3 or a name from `DEPARTMENTS`).

    Raises:
        ValueError: naming the file, line and field of the first malformed row.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"issues.read_file: no such file {path!r}")
    ext = os.path.splitext(path)[1].lower()
    records = []
    if ext in (".jsonl", ".json", ".ndjson"):
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}:"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{where} not valid JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{where} expected a JSON object per line, got {type(row).__name__}")
                records.append(_parse_row(row, where))
    elif ext == ".csv":
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            for row in reader:
                where = f"{path}:{reader.line_num}:"
                if None in row:
                    raise ValueError(f"{where} more columns than the header {reader.fieldnames}")
                records.append(_parse_row(row, where))
    else:
        raise ValueError(f"issues.read_file: {path!r}: expected a .jsonl or .csv file")
    if not records:
        raise ValueError(f"issues.read_file: {path!r} holds no issues")
    return records
