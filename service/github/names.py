"""GitHub's own rules for the names Switchyard takes from a payload, checked at intake.

* a login (user or organisation, the owner of a repository): 1-39 characters, letters, digits
  and hyphens, not starting with a hyphen (GitHub's sign-up rule; older accounts may end with
  or double a hyphen), or an Enterprise Managed User's ``name_shortcode`` with one underscore;
  a sender may also be an App's bot user, ``name[bot]``;
* a repository name: 1-100 characters of letters, digits, ``.``, ``-`` and ``_``, and not ``.``
  or ``..`` (GitHub replaces every other character with ``-`` and refuses those two);
* an issue or pull request number: 1 .. 2**31 - 1 (GitHub's GraphQL ``Int`` is 32-bit).

Names that pass are safe as Redis key parts, URL path segments and log text as they are.
"""

from __future__ import annotations

import re

__all__ = ["MAX_NUMBER", "is_login", "is_number", "is_repository", "repository_problem"]

MAX_NUMBER = 2**31 - 1
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:_[A-Za-z0-9]{1,20})?")
_BOT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}\[bot\]")
_REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")


def is_login(login: str, *, bot: bool = False) -> bool:
    """``login`` could be a GitHub account's (``bot``: also an App's ``name[bot]``)."""
    return bool(_LOGIN.fullmatch(login) or (bot and _BOT.fullmatch(login)))


def is_repository(full_name: str) -> bool:
    """``full_name`` is ``owner/name`` by GitHub's rules."""
    return repository_problem(full_name) is None


def repository_problem(full_name: str) -> str | None:
    """Why ``full_name`` is not a GitHub ``owner/name``, or None when it is one."""
    owner, slash, name = full_name.partition("/")
    if not slash:
        return "is not owner/name"
    if not is_login(owner):
        return "has an owner that is not a GitHub login"
    if name in (".", "..") or not _REPOSITORY.fullmatch(name):
        return "has a name GitHub does not allow"
    return None


def is_number(value: object) -> bool:
    """``value`` is an issue or pull request number GitHub could have given."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_NUMBER
