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
`to_named` turns them into the records `read_issues` returns for files (department and tag
names), and `IssueLabels` learns the department and tag names of any data set.
"""

import collections
import math

import numpy as np

from jnet.datasets.issue_files import read_file, read_issues  # noqa: F401 - the readers, re-exported
from jnet.datasets.text import Tokenizer, pad_sequences

DEPARTMENTS = ["frontend", "backend", "infrastructure", "mobile"]
TAGS = [
    "bug",
    "enhancement",
    "question",
    "documentation",
    "security",
    "performance",
    "regression",
    "ui",
    "api",
    "ci",
    "mobile",
    "good first issue",
]
_TAG = {t: i for i, t in enumerate(TAGS)}
# The tag each department's issues usually carry.
_DEPT_TAG = {0: "ui", 1: "api", 2: "ci", 3: "mobile"}

# Things each department owns: the words that identify it.
_COMPONENTS = [
    [
        "dropdown menu",
        "modal dialog",
        "navbar",
        "css grid",
        "sidebar",
        "tooltip",
        "dark mode theme",
        "login form",
        "date picker",
        "react component",
        "page layout",
        "font rendering",
        "scrollbar",
        "settings page",
        "search box",
        "button styles",
        "svg icons",
        "table view",
    ],
    [
        "rest api",
        "graphql endpoint",
        "database query",
        "schema migration",
        "auth token",
        "user session",
        "redis cache",
        "json serializer",
        "webhook handler",
        "orm model",
        "pagination",
        "rate limiter",
        "job scheduler",
        "payment service",
        "search index",
        "email worker",
        "sql transaction",
    ],
    [
        "kubernetes cluster",
        "docker image",
        "ci pipeline",
        "deployment script",
        "terraform module",
        "helm chart",
        "load balancer",
        "dns record",
        "tls certificate",
        "nginx config",
        "prometheus alert",
        "build runner",
        "backup job",
        "disk volume",
        "autoscaler",
        "vpn gateway",
        "artifact registry",
    ],
    [
        "ios app",
        "android app",
        "push notification",
        "offline mode",
        "swipe gesture",
        "camera upload",
        "gps tracking",
        "splash screen",
        "deep link",
        "tablet layout",
        "app store build",
        "home screen widget",
        "background sync",
        "biometric login",
        "in app purchase",
        "apk signing",
        "keyboard overlay",
    ],
]
# Verbs/contexts per department ("when ...").
_CONTEXTS = [
    [
        "resizing the window",
        "switching tabs",
        "hovering over it",
        "using safari",
        "zooming in",
        "toggling the theme",
        "clicking twice",
        "typing quickly",
        "on a small screen",
    ],
    [
        "under load",
        "the request body is large",
        "two users save at once",
        "the token expires",
        "calling it with an empty list",
        "the cache is cold",
        "retrying a request",
        "paginating past 100",
    ],
    [
        "rolling out a new version",
        "a node restarts",
        "the runner is busy",
        "scaling down",
        "renewing certificates",
        "the cluster upgrades",
        "running the nightly job",
        "pulling the image",
    ],
    [
        "rotating the phone",
        "the app is in background",
        "on android 14",
        "on older iphones",
        "the network drops",
        "battery saver is on",
        "opening from a notification",
        "after an app update",
    ],
]

# Issue kinds: (title templates, body cue sentences, priority logit, tag names, weight).
# `{c}` is a component, `{x}` a context. Priority cues live in these words.
_KINDS = {
    "crash": (
        ["{c} crashes when {x}", "crash in {c} when {x}", "app crashes on {c}", "fatal error: {c} crashes"],
        [
            "the whole thing crashes with a stack trace",
            "it crashes every time and users are blocked",
            "we get a segfault and the process exits",
        ],
        2.2,
        ["bug"],
        0.12,
    ),
    "data_loss": (
        ["data loss in {c} when {x}", "{c} deletes user data", "saving via {c} loses data"],
        [
            "this causes data loss for customers",
            "records are silently dropped and lost",
            "users lost their work, data loss confirmed",
        ],
        2.8,
        ["bug"],
        0.06,
    ),
    "security": (
        ["security: {c} leaks tokens", "xss vulnerability in {c}", "{c} exposes secrets", "security issue with {c}"],
        [
            "this is a security vulnerability, please treat as confidential",
            "an attacker can read other users data",
            "credentials leak into the logs",
        ],
        2.6,
        ["security", "bug"],
        0.07,
    ),
    "outage": (
        ["{c} is down in production", "outage: {c} not responding", "{c} returns 500 in production"],
        ["production is down for all users", "this is an outage, urgent", "every request fails since this morning"],
        2.4,
        ["bug"],
        0.05,
    ),
    "regression": (
        ["regression: {c} broken after update", "{c} stopped working when {x}", "{c} broke in the latest release"],
        ["this worked in the previous release, it is a regression", "after the last update this behaviour changed"],
        1.0,
        ["bug", "regression"],
        0.10,
    ),
    "performance": (
        ["{c} is slow when {x}", "performance of {c} degraded", "{c} takes seconds when {x}"],
        ["it is noticeably slow, profiling shows most time spent here", "latency went up and it times out sometimes"],
        0.3,
        ["performance"],
        0.10,
    ),
    "bug": (
        [
            "{c} shows wrong value when {x}",
            "{c} does not work when {x}",
            "unexpected behaviour in {c}",
            "{c} error when {x}",
        ],
        ["expected it to work but got an error", "the result is wrong", "an exception is raised"],
        0.0,
        ["bug"],
        0.18,
    ),
    "feature": (
        [
            "feature request: {c} should support export",
            "add option to {c}",
            "support for {c} when {x}",
            "it would be nice if {c} could be configured",
        ],
        ["it would be nice to have this, low priority", "this is a feature request for later"],
        -1.2,
        ["enhancement"],
        0.12,
    ),
    "question": (
        ["question about {c}", "how do i configure {c}", "is {c} supposed to do this when {x}"],
        ["just a question, not sure if this is expected", "how should this be used"],
        -1.4,
        ["question"],
        0.07,
    ),
    "cosmetic": (
        ["{c} is misaligned", "cosmetic: {c} colour slightly off", "{c} has wrong padding"],
        ["purely cosmetic, the spacing looks off", "minor visual glitch"],
        -1.8,
        ["ui", "good first issue"],
        0.06,
    ),
    "typo": (
        ["typo in {c} docs", "fix typo in {c} message", "docs for {c} have a typo"],
        ["small typo in the documentation", "the wording in the docs is wrong"],
        -2.4,
        ["documentation", "good first issue"],
        0.07,
    ),
}
_KIND_NAMES = list(_KINDS)
_KIND_P = np.array([_KINDS[k][4] for k in _KIND_NAMES]) / sum(_KINDS[k][4] for k in _KIND_NAMES)

# Boilerplate everyone writes; carries no signal.
_FILLER = [
    "steps to reproduce",
    "expected behaviour",
    "actual behaviour",
    "see screenshot attached",
    "thanks for looking into this",
    "happens on version 2.3.1",
    "also seen on staging",
    "not sure if related to the other issue",
    "can reproduce consistently",
    "logs below",
    "tried clearing the cache",
    "any ideas",
    "this started last week",
    "our team noticed it today",
    "please advise",
    "let me know if you need more details",
    "workaround is to reload",
]
# Sentences that name the department's components in the body.
_DETAIL = [
    "the {c} fails when {x}",
    "seen in the {c} while {x}",
    "reproduced with the {c} when {x}",
    "it only happens in the {c}",
    "we use the {c} heavily",
    "the {c} logs a warning when {x}",
    "i think the {c} is the culprit",
    "only when {x}",
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
    return {
        "title": title,
        "body": body,
        "tags": [int(t) for t in tags],
        "priority": round(priority, 4),
        "department": dept,
    }


def generate(num_samples: int, seed: int = 0) -> list[dict]:
    """Generate `num_samples` deterministic synthetic issues (see the module docstring)."""
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
        raise ValueError(f"issues.generate: num_samples must be an int >= 0, got {num_samples!r}")
    rng = np.random.default_rng(seed)
    return [_one_issue(rng) for _ in range(num_samples)]


def to_named(records) -> list[dict]:
    """Generated issues with names instead of ids, as `read_issues` returns a file's issues."""
    return [
        {
            "title": r["title"],
            "body": r["body"],
            "tags": [t for t, bit in zip(TAGS, r["tags"]) if bit],
            "priority": r["priority"],
            "department": DEPARTMENTS[r["department"]],
            "created_at": None,
        }
        for r in records
    ]


class IssueLabels:
    """The department and tag names of a data set, learned from its issues and saved with a model.

    Args:
        departments: the department names, in class-id order (at least 2).
        tags: the tag names, in tag-input order.

    Example:
    ```python
    labels = IssueLabels.fit(train_records)            # names from the data
    dept_ids, tag_bits = labels.encode(train_records)  # int32 (n,), float32 (n, len(labels.tags))
    labels.departments[int(logits.argmax())]           # back to the data's names
    ```
    """

    def __init__(self, departments, tags):
        departments, tags = list(departments), list(tags)
        if len(departments) < 2 or len(set(departments)) != len(departments):
            raise ValueError(f"IssueLabels: departments must be at least 2 distinct names, got {departments}")
        if len(set(tags)) != len(tags):
            raise ValueError(f"IssueLabels: tags must be distinct names, got {tags}")
        self.departments, self.tags = departments, tags
        self._dept = {d: i for i, d in enumerate(departments)}
        self._tag = {t: i for i, t in enumerate(tags)}

    @classmethod
    def fit(cls, records, departments=None, max_tags=200, min_tag_count=1):
        """Learn the names: departments sorted by name (or `departments` as given), tags by frequency.

        Args:
            records: issues with `department` and `tags` names (as `read_issues` gives them).
            departments: all the department names, when `records` is only the training part.
            max_tags: keep at most this many tags (the most frequent).
            min_tag_count: tags seen fewer times are ignored (rare labels only add noise).
        """
        depts = sorted({r["department"] for r in records} | set(departments or ()))
        if len(depts) < 2:
            raise ValueError(
                f"IssueLabels.fit: the issues name {len(depts)} department {depts}; "
                f"at least 2 are needed to learn to tell them apart"
            )
        counts = collections.Counter(t for r in records for t in dict.fromkeys(r["tags"]))
        tags = sorted((t for t, c in counts.items() if c >= min_tag_count), key=lambda t: (-counts[t], t))
        return cls(depts, tags[:max_tags])

    def encode(self, records):
        """`(department ids int32 (n,), tag multi-hot float32 (n, len(tags)))`; unknown tags are ignored."""
        unknown = [r["department"] for r in records if r["department"] not in self._dept]
        if unknown:
            raise ValueError(f"IssueLabels.encode: department {unknown[0]!r} is not one of {self.departments}")
        dept = np.asarray([self._dept[r["department"]] for r in records], np.int32)
        tags = np.zeros((len(records), len(self.tags)), np.float32)
        for i, r in enumerate(records):
            for t in r["tags"]:
                if t in self._tag:
                    tags[i, self._tag[t]] = 1.0
        return dept, tags

    def get_config(self):
        return {"departments": self.departments, "tags": self.tags}

    @classmethod
    def from_config(cls, config):
        return cls(config["departments"], config["tags"])


def vectorize(records, tokenizer: Tokenizer, title_maxlen: int = 16, body_maxlen: int = 96, labels=None):
    """Turn issue dicts into model inputs and targets.

    Args:
        records: generated issues (ids, 12 tag bits) or, with `labels`, named issues.
        tokenizer: a fitted `Tokenizer`.
        title_maxlen, body_maxlen: padded/truncated lengths (padding after the words).
        labels: an `IssueLabels` for named records (`read_issues`, `to_named`).

    Returns:
        `(x, y)`: `x = {"title": int32 (n, title_maxlen), "body": int32 (n, body_maxlen),
        "tags": float32 (n, num_tags)}` (token ids padded with 0 at the end) and
        `y = {"priority": float32 (n, 1) (NaN where an issue has none), "department": int32 (n,)}`.
    """
    titles = tokenizer.texts_to_sequences([r["title"] for r in records])
    bodies = tokenizer.texts_to_sequences([r["body"] for r in records])
    if labels is None:
        dept = np.asarray([r["department"] for r in records], np.int32)
        tags = np.asarray([r["tags"] for r in records], np.float32).reshape(len(records), len(TAGS))
    else:
        dept, tags = labels.encode(records)
    x = {
        "title": pad_sequences(titles, maxlen=title_maxlen, padding="post", truncating="post"),
        "body": pad_sequences(bodies, maxlen=body_maxlen, padding="post", truncating="post"),
        "tags": tags,
    }
    priority = [math.nan if r.get("priority") is None else r["priority"] for r in records]
    y = {"priority": np.asarray(priority, np.float32).reshape(-1, 1), "department": dept}
    return x, y


def load_data(
    num_samples=5000, test_split=0.2, num_words=10000, title_maxlen=16, body_maxlen=96, seed=0, return_tokenizer=False
):
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
