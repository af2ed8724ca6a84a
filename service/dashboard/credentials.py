"""Whose token is this: the shared admin token, the shared viewer token, or a person's own.

Three kinds of credentials open the dashboard and ``/migration/status``:

============================  =========  ========  ==========================================
token                         name       role      may
============================  =========  ========  ==========================================
``SWITCHYARD_VIEWER_TOKEN``   viewer     viewer    read
``SWITCHYARD_ADMIN_TOKEN``    admin      operator  read and act; never approve (it is shared)
a person's own token          theirs     theirs    what the users file's role says
(``SWITCHYARD_USERS_FILE``)
============================  =========  ========  ==========================================

The name is the one every action, audit entry and notification carries: a person cannot type
another name. :meth:`Credentials.identify` compares the candidate with every token (the users
file holds only SHA-256 hashes) in constant time and without stopping at the first match.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from flags.secret import Secret
from service.errors import SettingsError
from service.plan.users import Role, User, Users, token_hash

__all__ = ["ADMIN_NAME", "VIEWER_NAME", "Credentials", "Identity"]

ADMIN_NAME = "admin"
VIEWER_NAME = "viewer"
_SESSION_LABEL = b"switchyard dashboard credentials v1"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is reading or acting: the name for the audit trail and the role."""

    name: str
    role: Role
    shared: bool = False  # the shared admin or viewer token, not a person

    @property
    def may_act(self) -> bool:
        return self.role.may_act

    @property
    def may_approve(self) -> bool:
        """Approvers only, and never a shared token: four eyes need two people."""
        return self.role.may_approve and not self.shared


class Credentials:
    """The tokens this service accepts; pure, no I/O once built."""

    def __init__(
        self,
        *,
        admin_token: Secret | None = None,
        viewer_token: Secret | None = None,
        users: Users | None = None,
    ) -> None:
        self._admin = admin_token
        self._viewer = viewer_token
        self._users = users or Users(())
        for user in self._users.users:
            if user.name in (ADMIN_NAME, VIEWER_NAME):
                raise SettingsError(
                    "SWITCHYARD_USERS_FILE",
                    f"the name {user.name!r} is the shared token's; give the person another",
                )

    @classmethod
    def from_settings(
        cls, *, admin_token: Secret | None, viewer_token: Secret | None, users_file: Path | None
    ) -> Credentials:
        """Read the users file once, at start (:class:`SettingsError` when it is malformed)."""
        users = Users.load(users_file) if users_file is not None else None
        return cls(admin_token=admin_token, viewer_token=viewer_token, users=users)

    @property
    def configured(self) -> bool:
        """Anyone at all can log in; False means the dashboard and status are closed."""
        return bool(self._admin or self._viewer or self._users.users)

    def identify(self, token: str) -> Identity | None:
        """The identity ``token`` belongs to, or None. Every credential is compared."""
        if not token:
            return None
        found: Identity | None = None
        if self._admin is not None and self._admin.matches(token):
            found = Identity(ADMIN_NAME, Role.OPERATOR, shared=True)
        if self._viewer is not None and self._viewer.matches(token):
            found = Identity(VIEWER_NAME, Role.VIEWER, shared=True)
        user: User | None = self._users.authenticate(Secret(token))
        if user is not None:
            found = Identity(user.name, user.role)
        return found

    def session_secret(self) -> Secret | None:
        """The key sessions are signed with: derived from every credential, so a new token or a
        changed users file voids every session (and a removed person's)."""
        if not self.configured:
            return None
        digest = hmac.new(_SESSION_LABEL, digestmod=hashlib.sha256)
        for part in (self._admin, self._viewer):
            digest.update(token_hash(part.reveal() if part else "").encode())
        for user in self._users.users:
            digest.update(f"\0{user.name}\0{user.role.value}\0{user.token_sha256}".encode())
        return Secret(digest.hexdigest())
