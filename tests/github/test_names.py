"""GitHub's rules for logins, repository names and numbers, as checked at intake."""

from __future__ import annotations

import pytest

from service.github.names import MAX_NUMBER, is_login, is_number, is_repository


@pytest.mark.parametrize(
    "name",
    ["octo-org/octo-repo", "a/b", "Octocat/Hello-World", "acme/.github", "x/a_b.c-d", "o/..."],
)
def test_repository_names_github_gives_are_taken(name: str) -> None:
    assert is_repository(name)


@pytest.mark.parametrize(
    "name",
    [
        "./y",
        "../z",
        "x/.",
        "x/..",
        "x/y/z",
        "x",
        "/y",
        "x/",
        "-x/y",
        "x y/z",
        "x/y\n",
        "x/y\x00",
        "x/" + "a" * 101,
        "a" * 40 + "/y",
        "x/é",
        "x/%2e%2e",
    ],
)
def test_names_github_would_never_give_are_refused(name: str) -> None:
    assert not is_repository(name)


def test_logins_bots_and_numbers() -> None:
    assert is_login("octocat") and is_login("a") and is_login("x" * 39)
    assert is_login("jdoe_acme")  # an Enterprise Managed User
    assert not is_login("x" * 40) and not is_login("-x") and not is_login("a b")
    assert is_login("dependabot[bot]", bot=True) and not is_login("dependabot[bot]")
    assert is_number(1) and is_number(MAX_NUMBER)
    assert not any(is_number(v) for v in (0, -1, MAX_NUMBER + 1, True, 1.0, "1", 10**5000))
