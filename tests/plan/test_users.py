"""The users file: roles, token hashes compared in constant time, refusals naming the entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flags.secret import Secret
from service.errors import SettingsError
from service.plan.users import Role, User, Users, token_hash

ALICE = {"name": "alice", "role": "operator", "token_sha256": token_hash("a-token")}
BOB = {"name": "bob", "role": "approver", "token_sha256": token_hash("b-token")}


def _file(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "users.json"
    path.write_text(json.dumps(content))
    return path


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_token_finds_its_person_and_role(tmp_path: Path) -> None:
    users = Users.load(_file(tmp_path, {"users": [ALICE, BOB]}))
    assert users.authenticate(Secret("b-token")) == User("bob", Role.APPROVER, BOB["token_sha256"])
    assert users.authenticate(Secret("nope")) is None
    assert users.authenticate(None) is None


def test_roles() -> None:
    assert (Role.VIEWER.may_act, Role.OPERATOR.may_act, Role.APPROVER.may_act) == (
        False,
        True,
        True,
    )
    assert [r.may_approve for r in Role] == [False, False, True]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([ALICE], 'the file must be {"users": [...]}'),
        ({"users": ["alice"]}, "users[0] must be an object"),
        ({"users": [{**ALICE, "name": ""}]}, "users[0].name"),
        ({"users": [ALICE, {**BOB, "role": "admin"}]}, "users[1].role"),
        ({"users": [{**ALICE, "token_sha256": "a-token"}]}, "users[0].token_sha256"),
        ({"users": [ALICE, {**BOB, "name": "alice"}]}, "a name appears twice"),
    ],
)
def test_a_bad_file_is_refused_naming_the_entry(tmp_path: Path, content: Any, message: str) -> None:
    with pytest.raises(SettingsError, match="SWITCHYARD_USERS_FILE") as refused:
        Users.load(_file(tmp_path, content))
    assert message in str(refused.value)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        Users.load(tmp_path / "missing.json")
