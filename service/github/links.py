"""Which issues a pull request or a branch resolves: pure functions over text.

Closing keywords (GitHub's own list, case-insensitive), in a pull request's body::

    close closes closed  fix fixes fixed  resolve resolves resolved

followed by whitespace or a colon, then ``#N`` or ``owner/repo#N``. A reference to another
repository is dropped (an agent system acts on one repository's issues); GitHub also needs the
keyword before every reference, so in ``Fixes #1 and #2`` only ``#1`` is linked.

Branch names, first pattern that matches wins::

    issue-123  issue_123  issue/123  issues/123  issue123   "issue" then the number, anywhere
    switchyard/python/issue-123  fix/issue-7-typo             after a "/", "-" or "_"
    123-some-title  feature/123-some-title                    a segment starting "N-<letter>"

A leading number must be followed by ``-`` and a letter, so ``release/2024-01-01`` or ``v2`` link
nothing. Numbers are 1 to 10 ASCII digits and must be positive.
"""

from __future__ import annotations

import re

__all__ = ["closing_references", "issue_from_branch", "linked_issues"]

_CLOSING = re.compile(
    r"(?<![\w-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?:\s*:\s*|\s+)"
    r"(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<number>[0-9]{1,10})(?!\w)",
    re.IGNORECASE | re.ASCII,
)
_BRANCH_ISSUE = re.compile(
    r"(?:^|[/_-])issues?[-_/]?(?P<number>[0-9]{1,10})(?![0-9A-Za-z])", re.IGNORECASE | re.ASCII
)
_BRANCH_LEADING_NUMBER = re.compile(r"(?:^|/)(?P<number>[0-9]{1,10})-[A-Za-z]", re.ASCII)


def closing_references(text: str, *, repository: str) -> tuple[int, ...]:
    """Issue numbers of ``repository`` that ``text`` closes, in order, without repeats."""
    found: list[int] = []
    for match in _CLOSING.finditer(text):
        repo = match.group("repo")
        if repo is not None and repo.lower() != repository.lower():
            continue
        number = int(match.group("number"))
        if number > 0 and number not in found:
            found.append(number)
    return tuple(found)


def issue_from_branch(branch: str) -> int | None:
    """The issue a branch name points at, or ``None``."""
    for pattern in (_BRANCH_ISSUE, _BRANCH_LEADING_NUMBER):
        match = pattern.search(branch)
        if match is not None and int(match.group("number")) > 0:
            return int(match.group("number"))
    return None


def linked_issues(*, repository: str, body: str | None, branch: str | None) -> tuple[int, ...]:
    """The issues of ``repository`` that a pull request resolves: its body's closing references,
    then its head branch's issue, without repeats."""
    found = list(closing_references(body or "", repository=repository))
    from_branch = issue_from_branch(branch) if branch else None
    if from_branch is not None and from_branch not in found:
        found.append(from_branch)
    return tuple(found)
