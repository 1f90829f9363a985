"""A "real-like" GitHub issue export, generated offline, with labels the built-in generator never uses.

It imitates a public repository's issue list as the REST API or `gh issue list --json` returns
it: markdown issue templates, code blocks and tracebacks, version strings, links, non-ASCII
text, null bodies, unbalanced areas, vague reports, mislabelled issues, pull requests mixed
in, issues with no area label or two, a drift of topics over two years, and departments given
by `area/...` labels beside `kind/...`, `platform/...` and `priority/...` labels.

    python tests/issue_fixtures.py issues.json 1500          # the REST shape
    python tests/issue_fixtures.py issues.json 1500 --gh     # gh's shape

Train on it with `--departments "area/parser=compiler,area/cli=tooling,area/runtime=runtime,area/docs=docs"`.
"""

import datetime
import json
import sys

import numpy as np

AREAS = {
    "area/parser": [
        "parser",
        "lexer",
        "grammar",
        "syntax tree",
        "tokenizer",
        "macro expansion",
        "type checker",
        "error recovery",
        "unicode identifiers",
        "operator precedence",
        "f-strings",
        "decorators",
    ],
    "area/cli": [
        "command line",
        "--verbose flag",
        "config file",
        "exit code",
        "shell completion",
        "progress bar",
        "colour output",
        "subcommand",
        "argument parsing",
        "help text",
        "environment variable",
        "log level",
    ],
    "area/runtime": [
        "garbage collector",
        "thread pool",
        "memory leak",
        "event loop",
        "async tasks",
        "file handles",
        "signal handler",
        "allocator",
        "stack overflow",
        "deadlock",
        "mmap",
        "jit cache",
    ],
    "area/docs": [
        "tutorial",
        "api reference",
        "docstring",
        "readme",
        "changelog",
        "example notebook",
        "installation guide",
        "broken link",
        "sphinx build",
        "translation",
        "faq",
        "migration guide",
    ],
}
AREA_P = [0.38, 0.27, 0.23, 0.12]
NEW_TOPICS = {
    "area/parser": "pattern matching",
    "area/cli": "plugin loader",
    "area/runtime": "wasm backend",
    "area/docs": "cookbook",
}  # appear in the second year only: the newest split sees drift
KINDS = {
    "kind/bug": ["{c} fails with {e}", "{c} broken since {v}", "unexpected {e} in {c}", "{c} gives wrong result"],
    "kind/feature": ["support {c} in more places", "add an option for {c}", "proposal: rework {c}"],
    "kind/question": ["how to use {c}?", "is {c} expected to behave like this", "question about {c}"],
}
ERRORS = ["KeyError", "segmentation fault", "UnicodeDecodeError", "assertion failure", "TypeError", "timeout"]
FILLER = [
    "Thanks for the great project!",
    "I searched the existing issues.",
    "Happy to send a PR.",
    "Any pointers welcome.",
    "Same on Windows 11 and Ubuntu 22.04.",
    "Python 3.11, latest release.",
    "Not sure if this is the right place.",
    "See the log below.",
    "Cc @maintainers",
    "Merci beaucoup ✨",
    "日本語のファイルでも同じです。",
    "Edit: still happens on main.",
]
TAGS = ["platform/windows", "platform/macos", "needs-triage", "help wanted", "duplicate", "regression"]
PRIORITIES = ["priority/p0", "priority/p1", "priority/p2"]


def _issue(rng, i, n, start):
    area = list(AREAS)[int(rng.choice(4, p=AREA_P))]
    kind = list(KINDS)[int(rng.choice(3, p=[0.6, 0.28, 0.12]))]
    t = i / n
    words = AREAS[area] + ([NEW_TOPICS[area]] * 4 if t > 0.5 else [])

    def comp(a=area):
        pool = words if a == area else AREAS[a]
        return pool[int(rng.integers(len(pool)))]

    fmt = dict(c=comp(), e=ERRORS[int(rng.integers(len(ERRORS)))], v=f"v{rng.integers(1, 4)}.{rng.integers(0, 12)}")
    title = KINDS[kind][int(rng.integers(len(KINDS[kind])))].format(**fmt)
    if rng.random() < 0.1:  # vague titles happen
        title = ["Help", "it does not work", "Bug?", "Weird behaviour", "question"][int(rng.integers(5))]
    parts = []
    if kind == "kind/bug" and rng.random() < 0.7:
        parts += [
            "### Describe the bug",
            f"When I use the {comp()} it fails.",
            "### To reproduce",
            "```python\nimport tool\ntool.run('x')\n```",
            "### Traceback",
            f"```\nTraceback (most recent call last):\n  File \"main.py\", line "
            f"{rng.integers(1, 400)}\n{fmt['e']}: {comp()}\n```",
        ]
    else:
        parts += [f"The {comp()} should work with the {comp()}.", f"Right now {comp()} is confusing."]
    for _ in range(int(rng.integers(0, 4))):
        parts.append(FILLER[int(rng.integers(len(FILLER)))])
    if rng.random() < 0.35:  # mentions of other areas' words
        parts.append(f"Maybe related to the {comp(list(AREAS)[int(rng.integers(4))])}.")
    if rng.random() < 0.2:
        parts.append(f"See https://example.org/issues/{rng.integers(1, 9999)} for context.")
    body = None if rng.random() < 0.05 else "\n\n".join(parts)
    label_area = area if rng.random() > 0.08 else list(AREAS)[int(rng.integers(4))]  # mislabelled
    labels = [kind]
    r = rng.random()
    if r > 0.12:  # some issues never got an area label
        labels.append(label_area)
    if r > 0.97:  # and a few got two
        labels.append(list(AREAS)[(list(AREAS).index(label_area) + 1) % 4])
    labels += [tg for tg in TAGS if rng.random() < 0.08]
    if rng.random() < 0.4:
        labels.append(PRIORITIES[int(rng.choice(3, p=[0.15, 0.35, 0.5]))])
    created = start + datetime.timedelta(days=730 * t, minutes=int(rng.integers(0, 1440)))
    return {
        "number": i + 1,
        "title": title,
        "body": body,
        "labels": labels,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "comments": int(rng.poisson(2)),
        "reactions": int(rng.poisson(1)),
        "pr": rng.random() < 0.08,
    }


def github_export(n, seed=0, shape="rest"):
    """`n` issues (pull requests included) as a list of GitHub JSON objects, newest first as GitHub lists them."""
    rng = np.random.default_rng(seed)
    start = datetime.datetime(2023, 1, 1)
    out = []
    for i in range(n):
        it = _issue(rng, i, n, start)
        url = f"https://github.com/acme/tool/{'pull' if it['pr'] else 'issues'}/{it['number']}"
        if shape == "rest":
            obj = {
                "url": url.replace("github.com", "api.github.com/repos"),
                "html_url": url,
                "number": it["number"],
                "title": it["title"],
                "body": it["body"],
                "state": "open",
                "labels": [{"id": 100 + k, "name": name, "color": "ededed"} for k, name in enumerate(it["labels"])],
                "comments": it["comments"],
                "created_at": it["created"],
                "reactions": {"total_count": it["reactions"], "+1": it["reactions"]},
            }
            if it["pr"]:
                obj["pull_request"] = {"url": url}
        else:
            obj = {
                "number": it["number"],
                "title": it["title"],
                "body": it["body"] or "",
                "url": url,
                "labels": [
                    {"id": f"LA_{k}", "name": name, "description": "", "color": "ededed"}
                    for k, name in enumerate(it["labels"])
                ],
                "comments": [{"author": {"login": "someone"}, "body": "+1"}] * it["comments"],
                "createdAt": it["created"],
                "reactionGroups": [{"content": "THUMBS_UP", "users": {"totalCount": it["reactions"]}}],
            }
        out.append(obj)
    return out[::-1]


DEPARTMENTS = "area/parser=compiler,area/cli=tooling,area/runtime=runtime,area/docs=docs"

if __name__ == "__main__":
    path, count = sys.argv[1], int(sys.argv[2])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(github_export(count, shape="gh" if "--gh" in sys.argv else "rest"), f, indent=1, ensure_ascii=False)
