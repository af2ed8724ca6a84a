"""People and their roles: a users file of name, role and the SHA-256 of a personal token.

``SWITCHYARD_USERS_FILE`` names a JSON file ``{"users": [{"name": "alice", "role": "operator",
"token_sha256": "<hex>"}, ...]}``. Roles: ``viewer`` (status only), ``operator`` (start, pause,
resume, abort) and ``approver`` (all that, and approve). A command authenticates with its own
token (``SWITCHYARD_TOKEN``), the dashboard and ``/migration/status`` with the same token
(:mod:`service.dashboard.credentials`); the name the file gives is the one every audit entry,
timeline entry and notification carries. Tokens are never stored, only their hashes, compared in
constant time. The shared admin token is not in the file and is never an approver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from flags.secret import Secret
from service.errors import SettingsError

__all__ = ["Role", "User", "Users", "token_hash"]

_HEX = re.compile(r"[0-9a-f]{64}")
_VARIABLE = "SWITCHYARD_USERS_FILE"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"

    @property
    def may_act(self) -> bool:
        return self is not Role.VIEWER

    @property
    def may_approve(self) -> bool:
        return self is Role.APPROVER


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    token_sha256: str


def token_hash(token: str) -> str:
    """What the users file holds for ``token``: ``sha256(token)`` in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Users:
    users: tuple[User, ...]

    @classmethod
    def load(cls, path: Path) -> Users:
        """Read and check the file; :class:`SettingsError` names the entry and field at fault."""
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise SettingsError(_VARIABLE, f"cannot read {str(path)!r}: {error}") from None
        entries = raw.get("users") if isinstance(raw, dict) else None
        if not isinstance(entries, list):
            raise SettingsError(_VARIABLE, 'the file must be {"users": [...]}')
        users = []
        for index, entry in enumerate(entries):
            where = f"users[{index}]"
            if not isinstance(entry, dict):
                raise SettingsError(_VARIABLE, f"{where} must be an object")
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip() or len(name) > 64:
                raise SettingsError(_VARIABLE, f"{where}.name must be 1-64 characters")
            role = entry.get("role")
            if role not in {r.value for r in Role}:
                raise SettingsError(_VARIABLE, f"{where}.role must be viewer, operator or approver")
            digest = entry.get("token_sha256")
            if not isinstance(digest, str) or not _HEX.fullmatch(digest):
                raise SettingsError(_VARIABLE, f"{where}.token_sha256 must be 64 lowercase hex")
            users.append(User(name.strip(), Role(role), digest))
        names = [user.name for user in users]
        if len(set(names)) != len(names):
            raise SettingsError(_VARIABLE, "a name appears twice")
        return cls(tuple(users))

    def authenticate(self, token: Secret | None) -> User | None:
        """The user whose token this is, or None; every entry is compared, in constant time."""
        if token is None:
            return None
        digest = token_hash(token.reveal())
        found = None
        for user in self.users:
            if hmac.compare_digest(user.token_sha256, digest):
                found = user
        return found
