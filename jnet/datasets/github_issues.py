"""GitHub's own issue JSON (the REST API's list and `gh issue list --json`) as triage records.

Both shapes are recognised per object: the REST API's `created_at`, `labels[].name`,
`comments` (a count), `reactions.total_count` and `pull_request` (present on pull requests), and
`gh`'s `createdAt`, `labels[].name`, `comments` (a list of comments) and `reactionGroups`.
Departments come from labels through a mapping such as `"bug=bugs,enhancement=features"`; the
labels that are neither departments nor priorities become the issue's tags. Pull requests are
skipped, as are issues with no department label or with labels of two departments (counted,
never guessed).

Example:
```python
departments = parse_mapping("bug=bugs,enhancement=features", "departments")
record, skipped = convert(issue_json, "issues.json:3:", departments)
```
"""

import datetime

# Why an issue was left out (the keys of the reader's `skipped` counts).
SKIP_PULL_REQUEST = "pull requests"
SKIP_NO_DEPARTMENT = "issues with no department label"
SKIP_TWO_DEPARTMENTS = "issues with labels of two departments"


def parse_mapping(spec, what, values=str):
    """Parse `"label=value,label=value"` into a dict keyed by lower-cased label.

    Args:
        spec: the text (e.g. the `--departments` option) or `None`.
        what: the option's name, for error messages.
        values: `str` for department names, `float` for priorities in [0, 1].

    Returns:
        `{label (lower case): value}`, or `None` when `spec` is `None` or empty.
    """
    if spec is None or not spec.strip():
        return None
    out = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        label, sep, value = part.partition("=")
        label, value = label.strip(), value.strip()
        if not sep or not label or not value:
            raise ValueError(f"--{what}: expected LABEL=VALUE pairs separated by commas, got {part.strip()!r}")
        if values is float:
            try:
                value = float(value)
            except ValueError:
                value = None
            if value is None or not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"--{what}: the value for label {label!r} must be a number in [0, 1], "
                    f"got {part.split('=', 1)[1].strip()!r}"
                )
        if label.lower() in out:
            raise ValueError(f"--{what}: label {label!r} is given twice")
        out[label.lower()] = value
    if values is str and len(set(out.values())) < 2:
        raise ValueError(f"--{what}: map labels to at least 2 departments, got {sorted(set(out.values()))}")
    return out


def looks_like_github(obj) -> bool:
    """True for a GitHub issue object (it has `labels` and `title` but no `department` field)."""
    return isinstance(obj, dict) and "labels" in obj and "title" in obj and "department" not in obj


def is_pull_request(obj) -> bool:
    """GitHub's issue list includes pull requests: REST marks them with `pull_request`, gh with a /pull/ url."""
    if obj.get("pull_request") is not None or obj.get("isPullRequest") is True:
        return True
    url = obj.get("html_url") or obj.get("url") or ""
    return isinstance(url, str) and "/pull/" in url


def parse_time(value, where, field):
    """ISO 8601 (`2024-05-01T12:00:00Z`) to POSIX seconds; a naive time is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{where} field {field!r}: expected an ISO 8601 time such as 2024-05-01T12:00:00Z, got {value!r}"
        )
    text = value.strip()
    if text.endswith(("Z", "z")):  # Python < 3.11 does not read the Z suffix
        text = text[:-1] + "+00:00"
    try:
        t = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{where} field {field!r}: expected an ISO 8601 time such as 2024-05-01T12:00:00Z, got {value!r}"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.timestamp()


def _label_names(labels, where):
    if not isinstance(labels, list):
        raise ValueError(f"{where} field 'labels': expected a list of labels, got {type(labels).__name__}")
    names = []
    for i, label in enumerate(labels):
        name = label.get("name") if isinstance(label, dict) else label
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where} field 'labels[{i}].name': expected a label name, got {name!r}")
        names.append(name.strip())
    return names


def _count(value, where, field):
    """REST gives counts; gh gives lists (comments) or reaction groups; both become an int."""
    if value is None:
        return 0
    if isinstance(value, list):
        if field == "reactionGroups":
            return sum(int((g.get("users") or {}).get("totalCount", 0)) for g in value if isinstance(g, dict))
        return len(value)
    if isinstance(value, dict) and field == "reactions":
        value = value.get("total_count", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where} field {field!r}: expected a count or a list, got {value!r}")
    return value


def convert(obj, where, departments, priorities=None):
    """One GitHub issue object -> `(record, None)`, or `(None, reason)` when it is skipped.

    Args:
        obj: the issue as GitHub returns it (REST or gh field names).
        where: `"file:line:"`, the prefix of error messages.
        departments: `{label (lower case): department}` from `parse_mapping`.
        priorities: optional `{label (lower case): priority in [0, 1]}`; an issue with several
            priority labels takes the highest, one with none has no priority.

    Returns:
        The record `{"title", "body", "tags", "priority", "department", "created_at",
        "comments", "reactions", "number"}` (tags: the other label names; created_at: POSIX
        seconds or None), or `None` and the reason it was skipped.
    """
    if is_pull_request(obj):
        return None, SKIP_PULL_REQUEST
    title, body = obj.get("title"), obj.get("body")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{where} field 'title': expected a non-empty string, got {title!r}")
    if body is not None and not isinstance(body, str):
        raise ValueError(f"{where} field 'body': expected a string or null, got {type(body).__name__}")
    names = _label_names(obj.get("labels"), where)
    depts = {departments[n.lower()] for n in names if n.lower() in departments}
    if not depts:
        return None, SKIP_NO_DEPARTMENT
    if len(depts) > 1:
        return None, SKIP_TWO_DEPARTMENTS
    prios = [priorities[n.lower()] for n in names if priorities and n.lower() in priorities]
    tags = [n for n in names if n.lower() not in departments and not (priorities and n.lower() in priorities)]
    time_field = "created_at" if "created_at" in obj else "createdAt" if "createdAt" in obj else None
    created = parse_time(obj[time_field], where, time_field) if time_field and obj[time_field] is not None else None
    reactions = ("reactions", obj["reactions"]) if "reactions" in obj else ("reactionGroups", obj.get("reactionGroups"))
    return {
        "title": title.strip(),
        "body": body or "",
        "tags": tags,
        "priority": max(prios) if prios else None,
        "department": depts.pop(),
        "created_at": created,
        "comments": _count(obj.get("comments"), where, "comments"),
        "reactions": _count(reactions[1], where, reactions[0]),
        "number": obj.get("number"),
    }, None
