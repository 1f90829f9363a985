"""Read issues from files: JSONL, CSV, or GitHub's issue JSON; every error names file, line and field.

Accepted files (UTF-8, a leading byte-order mark is fine):

- **JSONL** (`.jsonl`, `.ndjson`, or `.json` with one object per line) and **CSV** (`.csv`, a
  header row; quoted fields may hold newlines) with the fields `title` (text), `body` (text,
  may be empty), `department` (any name; an integer is a name too), and optionally `tags`
  (names separated by `;`, a JSON list of names, or the generator's 12 0/1 values),
  `priority` (a number in [0, 1]; empty = none) and `created_at` (ISO 8601).
- **GitHub's issue JSON** as the REST API (`GET /repos/OWNER/REPO/issues`, a JSON array or
  `{"items": [...]}` from search) and `gh issue list --json title,body,labels,createdAt,...`
  return it, or one such object per line. Departments come from labels through
  `departments={"bug": "bugs", ...}` (see `jnet.datasets.github_issues`).

Example:
```python
data = read_issues("issues.json", departments=parse_mapping("bug=bugs,enhancement=features", "departments"))
data.records, data.skipped      # records: dicts with title, body, tags, priority, department, created_at
```
"""

import csv
import dataclasses
import io
import json
import math
import os
import re

from jnet.datasets import github_issues

FIELDS = ("title", "body", "department", "tags", "priority", "created_at")
_BAD_BYTE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


@dataclasses.dataclass
class IssueFile:
    """What `read_issues` read: the records, the format, and how many issues were skipped and why."""

    records: list
    format: str
    skipped: dict


def _check_text(value, where, field):
    """A string holding bytes that are not UTF-8 is named with its field and the first bad byte."""
    if isinstance(value, str):
        bad = _BAD_BYTE.search(value)
        if bad:
            byte = ord(bad.group()) - 0xDC00
            raise ValueError(
                f"{where} field {field!r}: byte 0x{byte:02x} at character {bad.start() + 1} is not "
                f"UTF-8; save the file as UTF-8"
            )
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_text(v, where, f"{field}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(v, where, f"{field}.{k}")
    return value


def _parse_tags(value, where):
    # Imported here: issues.py imports this module for `read_file`.
    from jnet.datasets.issues import TAGS

    if value is None:
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):  # a JSON list written into a CSV cell
            try:
                value = json.loads(s)
            except json.JSONDecodeError:
                raise ValueError(f"{where} field 'tags': not a valid JSON list: {s!r}") from None
        elif len(s) == len(TAGS) and set(s) <= {"0", "1"}:
            value = [int(ch) for ch in s]
        else:
            value = [p.strip() for p in s.replace("|", ";").split(";") if p.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where} field 'tags': expected tag names separated by ';' or a list, got {value!r}")
    if value and all(isinstance(v, (int, bool)) for v in value):  # the generator's 0/1 vector
        if len(value) != len(TAGS) or any(v not in (0, 1) for v in value):
            raise ValueError(
                f"{where} field 'tags': 0/1 values are read as the generator's {len(TAGS)} tags "
                f"{TAGS}; got {len(value)} values {list(value)!r} (give tag names instead)"
            )
        return [TAGS[i] for i, v in enumerate(value) if v]
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"{where} field 'tags[{i}]': expected a tag name, got {v!r}")
    return [v.strip() for v in value]


def _parse_row(row, where):
    """One JSONL object or CSV row with the jnet fields -> a record."""
    for field in ("title", "body", "department"):
        if row.get(field) is None:
            raise ValueError(
                f"{where} missing field {field!r} (need title, body, department; optional tags, priority, created_at)"
            )
    for field in FIELDS:
        _check_text(row.get(field), where, field)
    title, body, dept = row["title"], row["body"], row["department"]
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{where} field 'title': expected a non-empty string, got {title!r}")
    if not isinstance(body, str):
        raise ValueError(f"{where} field 'body': expected a string, got {body!r}")
    if isinstance(dept, bool) or not isinstance(dept, (str, int)) or not str(dept).strip():
        raise ValueError(f"{where} field 'department': expected a department name, got {dept!r}")
    priority = row.get("priority")
    if isinstance(priority, str) and not priority.strip():
        priority = None
    if priority is not None:
        try:
            value = float(priority)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(priority, bool) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{where} field 'priority': expected a number in [0, 1] or nothing, got {priority!r}")
        priority = value
    created = row.get("created_at")
    if isinstance(created, str) and not created.strip():
        created = None
    if created is not None:
        created = github_issues.parse_time(created, where, "created_at")
    return {
        "title": title.strip(),
        "body": body,
        "tags": _parse_tags(row.get("tags"), where),
        "priority": priority,
        "department": str(dept).strip(),
        "created_at": created,
    }


def _json_values(text, path):
    """Parse a whole-file JSON document; yield `(line, object)` for each issue in it."""
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] != "[":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ValueError(
                f"{path}:1: expected a JSON list of issues (or {{\"items\": [...]}}), got {type(doc).__name__}"
            )
        line = text.count("\n", 0, text.find('"items"')) + 1
        return [(line, obj) for obj in items]
    # Walk the array element by element, so that each issue knows the line it starts on.
    out, i = [], start + 1
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i < len(text) and text[i] == "]":
            break
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None
        out.append((text.count("\n", 0, i) + 1, obj))
        i = end
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i < len(text) and text[i] == ",":
            i += 1
        elif i >= len(text) or text[i] != "]":
            line = text.count("\n", 0, i) + 1
            raise ValueError(f"{path}:{line}: not valid JSON (expected ',' or ']' after an issue)")
    return out


def _rows(text, path, ext):
    """Yield `(line, dict)` for each record in the file, whatever its format."""
    stripped = text.lstrip()
    if ext == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            _check_text(header, f"{path}:1:", "header")
            line = reader.line_num + 1
            for values in reader:
                if any(v.strip() for v in values):  # blank lines between records are fine
                    if len(values) > len(header):
                        raise ValueError(
                            f"{path}:{line}: {len(values)} columns, more than the header's {len(header)} {header}"
                        )
                    yield line, dict(zip(header, values))
                line = reader.line_num + 1
        except csv.Error as e:
            raise ValueError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None
    elif stripped.startswith("[") or (ext == ".json" and stripped.startswith("{") and "\n{" not in stripped):
        yield from _json_values(text, path)
    else:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg}, column {e.colno})") from None


def read_issues(path, departments=None, priorities=None) -> IssueFile:
    """Read and check every issue in `path` (formats in the module docstring).

    Args:
        path: the file.
        departments: `{label: department}` (see `github_issues.parse_mapping`); needed for
            GitHub's issue JSON, not used for files with a `department` field.
        priorities: optional `{label: priority in [0, 1]}` for GitHub's issue JSON.

    Returns:
        An `IssueFile`: `records` (dicts with `title`, `body`, `tags` (names), `priority`
        (float or None), `department` (name), `created_at` (POSIX seconds or None)), the
        `format` ("jsonl", "csv" or "github") and the `skipped` counts by reason.

    Raises:
        FileNotFoundError: no such file.
        ValueError: `path:line: field 'name': what was expected` for the first malformed record.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".jsonl", ".ndjson", ".json", ".csv"):
        raise ValueError(f"{path}: expected a .jsonl, .json or .csv file")
    with open(path, "rb") as f:
        # Bytes that are not UTF-8 survive decoding as surrogates, so the error can name the field.
        text = f.read().decode("utf-8-sig", errors="surrogateescape")
    records, skipped, kinds = [], {}, set()
    for line, row in _rows(text, path, ext):
        where = f"{path}:{line}:"
        if not isinstance(row, dict):
            raise ValueError(f"{where} expected a JSON object per issue, got {type(row).__name__}")
        if github_issues.looks_like_github(row):
            kinds.add("github")
            if departments is None:
                raise ValueError(
                    f"{where} GitHub issues need --departments LABEL=DEPARTMENT,... to say which labels are departments"
                )
            for field in ("title", "body", "labels", "created_at", "createdAt"):
                _check_text(row.get(field), where, field)
            record, reason = github_issues.convert(row, where, departments, priorities)
            if record is None:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
        else:
            kinds.add("csv" if ext == ".csv" else "jsonl")
            record = _parse_row(row, where)
        record["line"] = line
        records.append(record)
    if not records:
        why = f" (skipped: {', '.join(f'{n} {k}' for k, n in skipped.items())})" if skipped else ""
        raise ValueError(f"{path}: no issues to train on{why}")
    return IssueFile(records, "+".join(sorted(kinds)), skipped)


def read_file(path, departments=None, priorities=None) -> list:
    """The records of `read_issues(path, ...)` (see there)."""
    return read_issues(path, departments, priorities).records
