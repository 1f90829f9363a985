"""Reading issue files (JSONL, CSV, GitHub REST and gh JSON), learned labels, and the triage split/scores."""

import json
import os
import sys

import numpy as np
import pytest

from jnet.datasets import github_issues, issues
from jnet.datasets.text import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import issue_fixtures  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import triage_eval  # noqa: E402

sys.path.pop(0)
sys.path.pop(0)

DEPTS = github_issues.parse_mapping(issue_fixtures.DEPARTMENTS, "departments")


def test_jsonl_any_department_and_tag_names(tmp_path):
    p = tmp_path / "mine.jsonl"
    rows = [
        {
            "title": "Glacier tiles flicker",
            "body": "the sled map",
            "tags": ["wontfix", "area: maps"],
            "department": "cartography",
            "priority": 0.9,
            "created_at": "2024-03-01T10:00:00Z",
        },
        {"title": "Kiln too hot", "body": "", "tags": "pottery;urgent", "department": "ceramics"},
        {"title": "Owl count", "body": "x", "department": 7, "priority": ""},
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    recs = issues.read_file(str(p))
    assert [r["department"] for r in recs] == ["cartography", "ceramics", "7"]
    assert recs[0]["tags"] == ["wontfix", "area: maps"] and recs[1]["tags"] == ["pottery", "urgent"]
    assert recs[0]["priority"] == 0.9 and recs[1]["priority"] is None and recs[2]["priority"] is None
    assert recs[0]["created_at"] == pytest.approx(1709287200.0) and recs[1]["created_at"] is None
    labels = issues.IssueLabels.fit(recs)
    assert labels.departments == ["7", "cartography", "ceramics"]
    dept, tags = labels.encode(recs)
    assert dept.tolist() == [1, 2, 0] and tags.shape == (3, 4) and tags.sum() == 4
    x, y = issues.vectorize(recs, Tokenizer().fit(["glacier kiln owl"]), 4, 6, labels)
    assert x["tags"].shape == (3, 4) and np.isnan(y["priority"][1, 0]) and y["priority"][0, 0] == pytest.approx(0.9)


def test_csv_with_bom_quoted_newlines_and_line_numbers(tmp_path):
    p = tmp_path / "excel.csv"
    text = (
        'title,body,tags,priority,department\r\n'
        'Sluice gate stuck,"line one\r\nline two, with a comma",irrigation;valves,0.4,waterworks\r\n'
        '"Quoted ""title""","multi\nline\nbody",,,lighthouse\r\n'
        'Beacon dim,ok,lamps,2.5,lighthouse\r\n'
    )
    p.write_bytes("\ufeff".encode() + text.encode())
    with pytest.raises(ValueError, match=r"excel\.csv:7: field 'priority'"):  # the third record starts on line 7
        issues.read_file(str(p))
    p.write_bytes("\ufeff".encode() + text.replace("2.5", "0.5").encode())
    recs = issues.read_file(str(p))
    assert len(recs) == 3 and recs[0]["body"] == "line one\r\nline two, with a comma"
    assert recs[1]["title"] == 'Quoted "title"' and recs[1]["tags"] == [] and recs[1]["priority"] is None
    assert [r["line"] for r in recs] == [2, 4, 7]


@pytest.mark.parametrize("shape", ["rest", "gh"])
def test_github_exports(tmp_path, shape):
    export = issue_fixtures.github_export(60, seed=3, shape=shape)
    p = tmp_path / f"{shape}.json"
    p.write_text(json.dumps(export, indent=2, ensure_ascii=False), encoding="utf-8")
    prios = github_issues.parse_mapping("priority/p0=1,priority/p1=0.6,priority/p2=0.2", "priorities", float)
    data = issues.read_issues(str(p), DEPTS, prios)
    n_pr = sum(1 for o in export if "pull_request" in o or "/pull/" in o.get("url", ""))
    assert data.format == "github" and data.skipped.get(github_issues.SKIP_PULL_REQUEST, 0) == n_pr > 0
    assert len(data.records) + sum(data.skipped.values()) == 60
    assert {r["department"] for r in data.records} <= {"compiler", "tooling", "runtime", "docs"}
    for r in data.records:  # department and priority labels are not tags (they would give the answer away)
        assert not any(t.startswith(("area/", "priority/")) for t in r["tags"])
        assert r["created_at"] > 1.6e9 and r["priority"] in (None, 1.0, 0.6, 0.2)
    objs = {o["number"]: o for o in export}
    first = data.records[0]
    assert first["title"] == objs[first["number"]]["title"]
    assert first["comments"] == (
        len(objs[first["number"]]["comments"]) if shape == "gh" else objs[first["number"]]["comments"]
    )
    # Each issue knows its line in the pretty-printed array.
    lines = p.read_text(encoding="utf-8").splitlines()
    assert lines[first["line"] - 1].strip() == "{"
    assert f'"number": {first["number"]},' in "\n".join(lines[first["line"] - 1 : first["line"] + 12])


def test_github_needs_departments_and_counts_skips(tmp_path):
    p = tmp_path / "gh.json"
    p.write_text(
        json.dumps(
            {
                "items": [
                    {"title": "a", "body": None, "labels": [{"name": "area/cli"}], "createdAt": "2024-01-01T00:00:00Z"},
                    {"title": "b", "body": "x", "labels": [{"name": "kind/bug"}]},
                    {"title": "c", "body": "x", "labels": [{"name": "area/cli"}, {"name": "area/docs"}]},
                    {"title": "d", "body": "x", "labels": [], "pull_request": {}},
                ]
            }
        )
    )
    with pytest.raises(ValueError, match=r"gh\.json:\d+: GitHub issues need --departments"):
        issues.read_issues(str(p))
    data = issues.read_issues(str(p), DEPTS)
    assert [r["department"] for r in data.records] == ["tooling"] and data.records[0]["body"] == ""
    assert data.skipped == {
        github_issues.SKIP_NO_DEPARTMENT: 1,
        github_issues.SKIP_TWO_DEPARTMENTS: 1,
        github_issues.SKIP_PULL_REQUEST: 1,
    }


def test_mapping_errors():
    assert github_issues.parse_mapping("Bug=bugs, enhancement = features", "departments") == {
        "bug": "bugs",
        "enhancement": "features",
    }
    with pytest.raises(ValueError, match="--departments: expected LABEL=VALUE"):
        github_issues.parse_mapping("bug", "departments")
    with pytest.raises(ValueError, match="at least 2 departments"):
        github_issues.parse_mapping("bug=x,crash=x", "departments")
    with pytest.raises(ValueError, match="--priorities: the value for label 'p0' must be a number in"):
        github_issues.parse_mapping("p0=high", "priorities", float)


@pytest.mark.parametrize(
    "content, message",
    [
        (
            b'{"title": "ok", "body": "b", "department": "d"}\n{"title": "caf\xe9", "body": "b", "department": "d"}\n',
            r"bad\.jsonl:2: field 'title': byte 0xe9 at character 4 is not UTF-8",
        ),
        (
            b'{"title": "ok", "body": "b", "department": "d"}\n{"title": "x", "body": 3, "department": "d"}\n',
            r"bad\.jsonl:2: field 'body': expected a string",
        ),
        (b'{"title": "ok", "body": "b"}\n', r"bad\.jsonl:1: missing field 'department'"),
        (b'{"title": "ok", "body": "b", "department": "d"}\n{"title": "x",\n', r"bad\.jsonl:2: not valid JSON"),
        (
            b'{"title": "ok", "body": "b", "department": "d", "created_at": "yesterday"}\n',
            r"bad\.jsonl:1: field 'created_at': expected an ISO 8601 time",
        ),
        (
            b'{"title": "ok", "body": "b", "department": "d", "tags": [1, 0]}\n',
            r"bad\.jsonl:1: field 'tags': 0/1 values are read as the generator's 12 tags",
        ),
    ],
)
def test_bad_jsonl_names_file_line_field(tmp_path, content, message):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        issues.read_file(str(p))


def test_bad_csv_and_github(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"title,body,department\nok,fine,d\nok,\"caf\xe9 au lait\",d\n")
    with pytest.raises(ValueError, match=r"bad\.csv:3: field 'body': byte 0xe9 at character 4"):
        issues.read_file(str(p))
    p.write_bytes(b"\xef\xbb\xbftitle,body\nok,fine\n")  # the BOM is not part of 'title'
    with pytest.raises(ValueError, match=r"bad\.csv:2: missing field 'department'"):
        issues.read_file(str(p))
    g = tmp_path / "bad.json"
    g.write_text(
        '[\n {"title": "a", "body": "x", "labels": [{"name": "area/cli"}]},\n'
        ' {"title": "b", "body": "x", "labels": [{"name": "area/cli"}], "created_at": 5}\n]'
    )
    with pytest.raises(ValueError, match=r"bad\.json:3: field 'created_at'"):
        issues.read_issues(str(g), DEPTS)
    g.write_text('[\n {"title": "a", "body": "x", "labels": "area/cli"}\n]')
    with pytest.raises(ValueError, match=r"bad\.json:2: field 'labels': expected a list"):
        issues.read_issues(str(g), DEPTS)


def test_split_stratified_and_newest():
    y = np.array([0] * 50 + [1] * 30 + [2] * 3 + [3])
    train, val = triage_eval.split(y, 0.2, seed=1)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(y)
    assert np.bincount(y[val], minlength=4).tolist() == [10, 6, 1, 0]  # proportional; a lone issue trains
    times = np.arange(len(y))[::-1].astype(float)  # listed newest first, as GitHub does
    train, val = triage_eval.split(y, 0.25, "newest", times)
    assert sorted(val.tolist()) == list(range(21)) and times[val].min() > times[train].max()
    with pytest.raises(ValueError, match="^1 issue to learn from: at least 10"):
        triage_eval.split(np.array([0]), 0.2)
    with pytest.raises(ValueError, match="only one department"):
        triage_eval.split(np.array([0] * 12 + [1] * 3), 0.2, "newest", np.arange(15.0))


def test_scores_match_sklearn_and_baselines_agree():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 50), rng.integers(0, 5, 50)
    assert triage_eval.macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro"))
    assert triage_eval.accuracy(t, p) == pytest.approx(np.mean(t == p))
    recs = issues.to_named(issues.generate(300, seed=2))
    labels = issues.IssueLabels.fit(recs)
    y, tags = labels.encode(recs)
    tr, va = triage_eval.split(y, 0.3, seed=0)
    args = ([recs[i] for i in tr], [recs[i] for i in va], tags[tr], tags[va], y[tr], len(labels.departments))
    sk, _ = triage_eval.baseline(*args)
    own, name = triage_eval.baseline(*args, use_sklearn=False)
    assert "jnet" in name
    assert triage_eval.accuracy(y[va], sk) > 0.75 and triage_eval.accuracy(y[va], own) > 0.75
    assert np.mean(sk == own) > 0.85  # the same model, fitted two ways


def test_issue_model_string_layers_raw_inputs_and_label_names():
    import jnet
    from jnet.datasets import issue_model

    recs = [
        {"title": "Glacier tiles flicker", "body": "the sled map flickers", "tags": ["maps", "wontfix"]},
        {"title": "Kiln too hot", "body": "glacier kiln", "tags": []},
        {"title": "Owl count", "body": "owl owl", "tags": ["maps"]},
    ]
    title_vec, body_vec, tag_lookup = issue_model.text_layers(recs, 50, 3, 5, ["maps", "wontfix"])
    assert title_vec.get_vocabulary() == body_vec.get_vocabulary()  # one vocabulary for title and body
    # by frequency over titles and bodies (owl 3, kiln 2, glacier 2: ties larger token first, as Keras)
    assert title_vec.get_vocabulary()[:5] == ["", "[UNK]", "owl", "kiln", "glacier"]
    x = issue_model.raw_inputs(recs + [{"title": "t", "body": "b"}])
    assert (
        x["tags"].shape == (4, 2) and x["tags"][1].tolist() == ["", ""] and x["tags"][0].tolist() == ["maps", "wontfix"]
    )
    assert "tags" not in issue_model.raw_inputs(recs, with_tags=False)
    assert np.asarray(title_vec(["Owl kiln glacier zebra"])).tolist() == [[2, 3, 4]]  # cut to 3 words
    assert np.asarray(body_vec(["glacier owl zebra"])).tolist() == [[4, 2, 1, 0, 0]]  # [UNK], then padding
    # multi-hot tag bits: column 0 counts tags never seen in training, padding "" counts nothing
    np.testing.assert_array_equal(
        np.asarray(tag_lookup(np.array([["maps", ""], ["new", "wontfix"]]))), [[0, 1, 0], [1, 0, 1]]
    )

    names = issue_model.LabelNames(["bugs", "docs"], name="department")
    assert issue_model.LabelNames.from_config(names.get_config()).names == ["bugs", "docs"]
    logits = jnet.Input(shape=(2,))
    model = jnet.Model(logits, names(logits))
    assert issue_model.department_names(model) == ["bugs", "docs"]
    np.testing.assert_array_equal(model.predict(np.eye(2, dtype="float32"), verbose=0), np.eye(2))
    with pytest.raises(ValueError, match="names must be distinct"):
        issue_model.LabelNames(["a", "a"])
    with pytest.raises(ValueError, match="non-empty list of strings"):
        issue_model.LabelNames([])
    plain = jnet.Model(logits, jnet.layers.Dense(2, name="department")(logits))
    with pytest.raises(ValueError, match="no LabelNames layer 'department'"):
        issue_model.department_names(plain)
